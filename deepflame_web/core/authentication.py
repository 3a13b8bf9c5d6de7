"""Token authentication against hashed, expiring tokens (core.api_tokens), remembering a
token's user briefly in each process.

A machine client calls the real-time endpoint hundreds of times a second with the same
token; looking the token and the user's roles up each time costs two queries per request.
A changed role therefore takes effect within TOKEN_CACHE_SECONDS; a revoked token at once in
the process that revoked it, within TOKEN_CACHE_SECONDS in the others.
"""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from deepflame_web.core.access import user_roles
from deepflame_web.core.api_tokens import api_token_digest, api_token_find

TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_SIZE = 1_000


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's TokenAuthentication reads it."""

    cache: dict[str, tuple[float, Any, Any]] = {}

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        now = time.monotonic()
        digest = api_token_digest(key)
        hit = self.cache.get(digest)
        if (
            hit is not None
            and now - hit[0] < TOKEN_CACHE_SECONDS
            and hit[2].expires_at > timezone.now()
        ):
            return hit[1], hit[2]
        token = api_token_find(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user_roles(token.user)  # cached on the user object, so the roles are remembered too
        if len(self.cache) >= TOKEN_CACHE_SIZE:
            self.cache.clear()
        self.cache[digest] = (now, token.user, token)
        return token.user, token


def token_cache_clear() -> None:
    CachedTokenAuthentication.cache.clear()
