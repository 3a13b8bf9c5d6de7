from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from deepflame_web.core.models import Run


def runs_recent(*, kind: str | None = None, limit: int = 50) -> QuerySet[Run]:
    runs = Run.objects.select_related("started_by")
    if kind:
        runs = runs.filter(kind=kind)
    return runs[:limit]


@dataclass(frozen=True)
class SystemOverview:
    counts: list[tuple[str, int]]
    active_segmentation: Any
    active_model: Any
    last_runs: list[Run]


def system_overview() -> SystemOverview:
    """What the system holds, for the home page; each app contributes its own counts."""
    from offers.selectors import catalog_counts
    from recommender.selectors import model_version_active
    from segments.selectors import customer_count, segmentation_active

    counts = [*catalog_counts().items(), ("customers", customer_count())]
    return SystemOverview(
        counts=counts,
        active_segmentation=segmentation_active(),
        active_model=model_version_active(),
        last_runs=list(runs_recent(limit=8)),
    )
