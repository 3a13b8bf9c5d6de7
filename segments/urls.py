from django.urls import path

from segments import views

urlpatterns = [
    path("imports/new/", views.import_upload, name="import_upload"),
    path("imports/format/", views.import_contract, name="import_contract"),
    path("imports/example-data.zip", views.import_example, name="import_example"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/movements/", views.movements, name="segment_movements"),
    path("segments/movements/movers.csv", views.movers_csv, name="segment_movers_csv"),
    path("segments/run/", views.segmentation_run_new, name="segmentation_run_new"),
    path("segments/<int:key>/", views.segment_detail, name="segment_detail"),
]
