from django.urls import path

from recommender import views

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/train/", views.model_train, name="model_train"),
    path("models/<int:version>/activate/", views.model_activate_view, name="model_activate"),
]
