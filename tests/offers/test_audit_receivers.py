"""What other apps report to the audit log: runs a person starts, schedule edits."""

from typing import Any

import pytest

from deepflame_web.core.models import RunKind
from deepflame_web.core.services import SCRATCH, run_start
from offers.models import AuditEntry

pytestmark = pytest.mark.django_db
TASK = "deepflame_web.core.tasks.system_check"


def test_a_run_a_person_starts_is_audited_without_its_scratch_and_a_system_run_is_not(
    admin_user: Any,
) -> None:
    started = run_start(
        kind=RunKind.SYSTEM_CHECK,
        task_name=TASK,
        parameters={"source": "browser", SCRATCH: ["/var/uploads/a.zip"]},
        started_by=admin_user,
        enqueue=False,
    )
    run_start(kind=RunKind.IMPORT, task_name=TASK, enqueue=False)

    [entry] = AuditEntry.objects.filter(action="run_start")
    assert (entry.username, entry.object_type, entry.object_id) == (
        admin_user.username,
        "run",
        str(started.pk),
    )
    assert entry.after == {"kind": "system_check", "parameters": {"source": "browser"}}
