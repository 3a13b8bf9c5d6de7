from django.urls import path

from deepflame_web.core import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("favicon.ico", views.favicon_view, name="favicon"),
]
