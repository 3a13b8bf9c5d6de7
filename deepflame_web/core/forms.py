from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from deepflame_web.core.login_guard import (
    SignInLocked,
    client_address,
    sign_in_check,
    sign_in_failed,
    sign_in_succeeded,
)


class GuardedAuthenticationForm(AuthenticationForm):
    """Django's sign-in form behind the lockout of core.login_guard."""

    locked = False

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()
        address = client_address(self.request)
        try:
            sign_in_check(username=username, address=address)
        except SignInLocked as locked:
            self.locked = True
            raise ValidationError(str(locked), code="locked") from locked
        try:
            cleaned = super().clean()
        except ValidationError:
            sign_in_failed(username=username, address=address)
            raise
        sign_in_succeeded(username=username, address=address)
        return cleaned
