from typing import Any

from django.http import HttpRequest

from deepflame_web.core.access import ADMIN, ANALYST, MARKETER, user_roles


def roles(request: HttpRequest) -> dict[str, Any]:
    current = user_roles(request.user)
    return {
        "user_roles": sorted(current),
        "is_admin": ADMIN in current,
        "can_edit_offers": bool({ADMIN, MARKETER} & current),
        "is_analyst_only": current == {ANALYST},
    }


def csp_nonce(request: HttpRequest) -> dict[str, Any]:
    """The nonce that lets this response's inline scripts run (core.middleware)."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
