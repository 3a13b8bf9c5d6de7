from django.urls import path

from offers import views

urlpatterns = [
    path("offers/", views.offer_list, name="offer_list"),
    path("offers/new/", views.offer_create, name="offer_create"),
    path("offers/new/validate/", views.offer_validate, name="offer_validate_new"),
    path("offers/<int:pk>/", views.offer_detail, name="offer_detail"),
    path("offers/<int:pk>/edit/", views.offer_edit, name="offer_edit"),
    path("offers/<int:pk>/validate/", views.offer_validate, name="offer_validate"),
    path("offers/<int:pk>/image/", views.offer_image, name="offer_image"),
    path("stores/", views.store_list, name="store_list"),
    path("dayparts/", views.daypart_list, name="daypart_list"),
]
