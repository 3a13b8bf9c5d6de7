from django.urls import path

from segments import apis, views

urlpatterns = [
    path("imports/new/", views.import_upload, name="import_upload"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/movements/", views.movements, name="segment_movements"),
    path("segments/movements/movers.csv", views.movers_csv, name="segment_movers_csv"),
    path("segments/run/", views.segmentation_run_new, name="segmentation_run_new"),
    path("segments/<int:key>/", views.segment_detail, name="segment_detail"),
]

api_urlpatterns = [
    path("segments/", apis.SegmentListApi.as_view(), name="api_segment_list"),
    path(
        "customers/<str:customer_id>/trajectory/",
        apis.CustomerTrajectoryApi.as_view(),
        name="api_customer_trajectory",
    ),
]
