"""API tokens for machine clients: issue, look up, revoke.

Only a token's SHA-256 is stored (the client keeps the token), with its first characters to
tell tokens apart in the admin; a token expires API_TOKEN_TTL_DAYS after it is issued, and a
user's tokens are revoked when their password changes.
"""

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deepflame_web.core.models import ApiToken

PREFIX_CHARS = 8


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_issue(*, user: Any) -> tuple[ApiToken, str]:
    """A new token for the user, and its key (shown once, never stored)."""
    now = timezone.now()
    ApiToken.objects.filter(user=user, expires_at__lte=now).delete()
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user,
        prefix=key[:PREFIX_CHARS],
        key_sha256=api_token_digest(key),
        expires_at=now + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    return token, key


def api_token_find(*, key: str) -> ApiToken | None:
    """The unexpired token with this key, with its user; None for an unknown or old key."""
    return (
        ApiToken.objects.select_related("user")
        .filter(key_sha256=api_token_digest(key), expires_at__gt=timezone.now())
        .first()
    )


def api_tokens_revoke(*, user: Any) -> int:
    """Delete every token of the user; how many there were."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted
