from typing import Any

from django.db.models import QuerySet

from deepflame_web.core.access import ADMIN, user_roles
from deepflame_web.core.models import Run

RUN_ERROR_PLAIN = "The run failed. An Admin can read the details on this page."


def runs_recent(*, kind: str | None = None, limit: int = 50) -> QuerySet[Run]:
    runs = Run.objects.select_related("started_by")
    if kind:
        runs = runs.filter(kind=kind)
    return runs[:limit]


def run_error_shown(*, run: Run, user: Any) -> str:
    """The run's error as this user may read it ("" when it has none).

    An error can carry a traceback and server paths (an upload's folder, the lake's): Admins,
    who act on it, get it whole; the other roles a plain sentence.
    """
    if not run.error:
        return ""
    return run.error if ADMIN in user_roles(user) else RUN_ERROR_PLAIN
