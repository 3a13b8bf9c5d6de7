"""API routes of the segments app (its pages' routes are in segments/urls.py)."""

from django.urls import path

from segments import apis

api_urlpatterns = [
    path("segments/", apis.SegmentListApi.as_view(), name="api_segment_list"),
    path(
        "customers/<str:customer_id>/trajectory/",
        apis.CustomerTrajectoryApi.as_view(),
        name="api_customer_trajectory",
    ),
]
