from django.contrib.auth import views as auth_views

from deepflame_web.core.access import PUBLIC, role_required

login_view = role_required(PUBLIC)(
    auth_views.LoginView.as_view(template_name="core/login.html", redirect_authenticated_user=True)
)
logout_view = role_required(PUBLIC)(auth_views.LogoutView.as_view())
