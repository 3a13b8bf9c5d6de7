from django.urls import path

from segments import views

urlpatterns = [
    path("imports/new/", views.import_upload, name="import_upload"),
]
