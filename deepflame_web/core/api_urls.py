"""API routes of core: runs and API tokens."""

from django.urls import path

from deepflame_web.core import apis

api_urlpatterns = [
    path("runs/", apis.RunListApi.as_view(), name="api_run_list"),
    path("runs/<int:pk>/", apis.RunDetailApi.as_view(), name="api_run_detail"),
    path("auth/token/", apis.TokenObtainApi.as_view(), name="api_token"),
]
