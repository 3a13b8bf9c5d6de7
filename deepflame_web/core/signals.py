"""A changed password revokes the user's API tokens, wherever it was changed (the password
change page, Django admin, create_admin --reset-password, set_password in a shell)."""

from typing import Any

from deepflame_web.core.api_tokens import api_tokens_revoke
from deepflame_web.core.authentication import token_cache_clear


def password_change_revokes_tokens(sender: Any, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        api_tokens_revoke(user=instance)
        token_cache_clear()
