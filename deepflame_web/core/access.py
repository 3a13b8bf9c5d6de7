"""Roles and the access rule every page and API endpoint declares.

Each view carries an `access` attribute: which roles may read (GET/HEAD) and which may write
(any other method). The URL-conf test walks every route and fails on a view without one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission

ADMIN = "Admin"
MARKETER = "Marketer"
ANALYST = "Analyst"
# A machine client (a POS or an app): asks for recommendations and reports feedback with an
# API token, and opens no page.
MACHINE = "Machine client"
ROLES = (ADMIN, MARKETER, ANALYST, MACHINE)
PEOPLE = {ADMIN, MARKETER, ANALYST}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Access:
    read: frozenset[str]
    write: frozenset[str]
    public: bool = False

    def allows(self, user: AbstractBaseUser | AnonymousUser, method: str) -> bool:
        if self.public:
            return True
        if not user.is_authenticated:
            return False
        needed = self.read if method in SAFE_METHODS else self.write
        return bool(needed & user_roles(user))


def _access(read: set[str], write: set[str]) -> Access:
    return Access(read=frozenset(read), write=frozenset(write))


PUBLIC = Access(read=frozenset(), write=frozenset(), public=True)
EVERYONE_READS = _access({ADMIN, MARKETER, ANALYST}, set())
MARKETERS_WRITE = _access({ADMIN, MARKETER, ANALYST}, {ADMIN, MARKETER})
ADMINS_WRITE = _access({ADMIN, MARKETER, ANALYST}, {ADMIN})
ADMINS_ONLY = _access({ADMIN}, {ADMIN})
# Replaying a receipt changes nothing a marketer owns: any person may.
PEOPLE_WRITE = _access(PEOPLE, PEOPLE)
# Asking for a recommendation: any person, and machine clients.
RECOMMENDATIONS = _access(PEOPLE | {MACHINE}, PEOPLE | {MACHINE})
# Reporting impressions and redemptions feeds training and the performance figures: machine
# clients, and Admins and Marketers who test an integration; Analysts only read.
FEEDBACK_WRITES = _access(PEOPLE | {MACHINE}, {ADMIN, MARKETER, MACHINE})


def user_roles(user: Any) -> set[str]:
    """The user's roles; cached on the user object for the request."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_deepflame_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._deepflame_roles = cached
    return set(cached)


def role_required(access: Access) -> Callable[[Callable[..., HttpResponseBase]], Any]:
    """Guard a page view: anonymous users go to the login page, others need the role."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Any:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not access.public and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not access.allows(request.user, request.method or "GET"):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        guarded.access = access  # type: ignore[attr-defined]
        return guarded

    return decorate


class RolePermission(BasePermission):
    """DRF side of the same rule: the API view's `access` attribute decides."""

    message = "Your role does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        access: Access | None = getattr(view, "access", None)
        if access is None:
            return False
        return access.allows(request.user, request.method)
