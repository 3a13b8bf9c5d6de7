from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from deepflame_web.core.models import ApiToken

SHOWN = ("prefix", "user", "created_at", "expires_at")  # never key_sha256


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens by prefix, owner and expiry; the secret is never stored, so never shown. An
    Admin revokes a token by deleting it; clients get new ones from /api/v1/auth/token/."""

    list_display = SHOWN
    list_filter = ["expires_at"]
    search_fields = ["prefix", "user__username"]
    fields = SHOWN
    readonly_fields = SHOWN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
