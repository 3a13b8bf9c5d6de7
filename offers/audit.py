"""The audit log hears what other apps do that a person should be accountable for: runs a
person started and schedule changes (sent by deepflame_web.core, which sits below offers and
so cannot write the log itself)."""

from __future__ import annotations

from typing import Any

from deepflame_web.core.models import Run
from deepflame_web.core.services import SCRATCH
from offers.services import audit_record


def run_start_audit(sender: Any, *, run: Run, user: Any, **kwargs: Any) -> None:
    """A run a person started (the system's own runs, scheduled or from a command, are not
    entries: the runs page lists them)."""
    if user is None:
        return
    parameters = {k: v for k, v in run.parameters.items() if k != SCRATCH}
    audit_record(
        user=user,
        action="run_start",
        object_type="run",
        object_id=run.pk,
        object_repr=str(run),
        after={"kind": run.kind, "parameters": parameters},
    )


def schedule_change_audit(
    sender: Any, *, name: str, before: Any, after: Any, user: Any, **kwargs: Any
) -> None:
    audit_record(
        user=user,
        action="schedule_update",
        object_type="schedule",
        object_id=name,
        object_repr=name,
        before=before,
        after=after,
    )
