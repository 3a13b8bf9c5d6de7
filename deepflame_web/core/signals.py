"""A changed password revokes the user's API tokens, wherever it was changed (the password
change page, Django admin, create_admin --reset-password, set_password in a shell).

`run_started` and `schedule_changed` tell whoever keeps the audit log (offers.audit) that a
person started a run or changed the schedule; core itself knows nothing of the log."""

from typing import Any

from django.dispatch import Signal

from deepflame_web.core.api_tokens import api_tokens_revoke
from deepflame_web.core.authentication import token_cache_clear

run_started = Signal()
"""Sent with `run` and `user` (who started it, None for the system) when a run is created."""
schedule_changed = Signal()
"""Sent with `name`, `before`, `after` (the entry's timing and state) and `user`."""


def password_change_revokes_tokens(sender: Any, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        api_tokens_revoke(user=instance)
        token_cache_clear()
