"""Token authentication that remembers a token's user briefly in each process.

A machine client calls the real-time endpoint hundreds of times a second with the same
token; looking the token and the user's roles up each time costs two queries per request.
A revoked token or a changed role therefore takes effect within TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import time
from typing import Any

from rest_framework.authentication import TokenAuthentication

from deepflame_web.core.access import user_roles

TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_SIZE = 1_000


class CachedTokenAuthentication(TokenAuthentication):
    cache: dict[str, tuple[float, Any, Any]] = {}

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        now = time.monotonic()
        hit = self.cache.get(key)
        if hit is not None and now - hit[0] < TOKEN_CACHE_SECONDS:
            return hit[1], hit[2]
        user, token = super().authenticate_credentials(key)
        user_roles(user)  # cached on the user object, so the roles are remembered too
        if len(self.cache) >= TOKEN_CACHE_SIZE:
            self.cache.clear()
        self.cache[key] = (now, user, token)
        return user, token
