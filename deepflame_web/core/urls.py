from django.urls import path

from deepflame_web.core import apis, views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
]

api_urlpatterns = [
    path("runs/", apis.RunListApi.as_view(), name="api_run_list"),
    path("runs/<int:pk>/", apis.RunDetailApi.as_view(), name="api_run_detail"),
    path("auth/token/", apis.TokenObtainApi.as_view(), name="api_token"),
]
