from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from deepflame_web.core.access import PUBLIC, role_required
from deepflame_web.core.forms import GuardedAuthenticationForm


class LoginView(auth_views.LoginView):
    """Django's login page; a locked-out sign-in answers 429 with the time to retry."""

    form_class = GuardedAuthenticationForm
    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "locked", False):
            response.status_code = 429
        return response


login_view = role_required(PUBLIC)(LoginView.as_view())
logout_view = role_required(PUBLIC)(auth_views.LogoutView.as_view())


@role_required(PUBLIC)
@require_GET
def favicon_view(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico before they read a page's icon link."""
    return redirect(static("favicon.svg"))
