from django.db.models import QuerySet

from deepflame_web.core.models import Run


def runs_recent(*, kind: str | None = None, limit: int = 50) -> QuerySet[Run]:
    runs = Run.objects.select_related("started_by")
    if kind:
        runs = runs.filter(kind=kind)
    return runs[:limit]
