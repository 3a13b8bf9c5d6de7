"""Sign-in lockout, shared by the login page and the API token endpoint.

Failed sign-ins are counted in the cache per username and per client address for
LOGIN_FAILURE_WINDOW_SECONDS; at LOGIN_FAILURE_LIMIT both are locked until the window has
passed, the right password included, so guessing gets LIMIT tries per window. A successful
sign-in clears its username's and address's counts.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone


class SignInLocked(Exception):
    def __init__(self, until: dt.datetime):
        self.until = until
        minutes = max(1, -(-int((until - timezone.now()).total_seconds()) // 60))
        super().__init__(
            "Too many failed sign-ins for this account or from this address. Try again at "
            f"{until:%H:%M} UTC (in {minutes} minute{'s' if minutes != 1 else ''})."
        )

    @property
    def retry_after_seconds(self) -> int:
        return max(1, int((self.until - timezone.now()).total_seconds()) + 1)


def client_address(request: HttpRequest) -> str:
    """The address the request came from (REMOTE_ADDR: the proxy in front sets it)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _keys(*, username: str, address: str) -> list[str]:
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"signin:user:{user}", f"signin:addr:{address}"]


def sign_in_check(*, username: str, address: str) -> None:
    """Raise SignInLocked while the username or the address is locked out."""
    locked = [
        until
        for key in _keys(username=username, address=address)
        if (until := cache.get(f"{key}:until")) is not None and until > timezone.now()
    ]
    if locked:
        raise SignInLocked(max(locked))


def sign_in_failed(*, username: str, address: str) -> None:
    """Count a failed sign-in; the one that reaches the limit starts the lockout."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _keys(username=username, address=address):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= settings.LOGIN_FAILURE_LIMIT:
            until = timezone.now() + dt.timedelta(seconds=window)
            cache.set(f"{key}:until", until, timeout=window)


def sign_in_succeeded(*, username: str, address: str) -> None:
    cache.delete_many(
        [k for key in _keys(username=username, address=address) for k in (key, f"{key}:until")]
    )
