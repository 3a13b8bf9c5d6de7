"""What the first page shows of the whole system; each app contributes its own counts."""

from dataclasses import dataclass
from typing import Any

from deepflame_web.core.models import Run
from deepflame_web.core.selectors import runs_recent
from offers.selectors import catalog_counts
from recommender.selectors import model_active
from segments.selectors import customer_count, segmentation_active


@dataclass(frozen=True)
class SystemOverview:
    counts: list[tuple[str, int]]
    active_segmentation: Any
    active_model: Any
    last_runs: list[Run]


def system_overview() -> SystemOverview:
    """What the system holds, for the home page; each app contributes its own counts."""
    counts = [*catalog_counts().items(), ("customers", customer_count())]
    return SystemOverview(
        counts=counts,
        active_segmentation=segmentation_active(),
        active_model=model_active(),
        last_runs=list(runs_recent(limit=8)),
    )
