from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from segments.models import (
    Customer,
    Segment,
    SegmentDefinition,
    SegmentMembership,
    SegmentSize,
)


def customer_count() -> int:
    return Customer.objects.count()


def segmentation_active() -> SegmentDefinition | None:
    """The active segment definition (the home page shows it); None before the first run."""
    return SegmentDefinition.objects.filter(is_active=True).select_related("run").first()


def _definition(definition: SegmentDefinition | None) -> SegmentDefinition | None:
    return definition if definition is not None else segmentation_active()


def segments_current(*, definition: SegmentDefinition | None = None) -> list[Segment]:
    """The definition's live segments, then the vanished ones, by stable key."""
    chosen = _definition(definition)
    if chosen is None:
        return []
    return list(chosen.segments.order_by("is_vanished", "key"))


def customer_trajectory(
    *, customer_id: str, definition: SegmentDefinition | None = None
) -> list[dict[str, Any]]:
    """A customer's segment period by period, with the features that placed them there."""
    chosen = _definition(definition)
    if chosen is None:
        return []
    names = chosen.transform.get("names", [])
    rows = (
        SegmentMembership.objects.filter(definition=chosen, customer_id=customer_id)
        .select_related("segment")
        .order_by("period")
    )
    return [
        {
            "period": m.period,
            "segment_key": m.segment.key,
            "segment_name": m.segment.name,
            "distance": m.distance,
            "features": dict(zip(names, m.features, strict=False)),
        }
        for m in rows
    ]


@dataclass(frozen=True)
class Movements:
    """Customers by (segment key then, segment key now); None means not active that period."""

    matrix: dict[tuple[int | None, int | None], int]
    movers: list[tuple[str, int, int]]


def segment_movements(
    *,
    period_from: str,
    period_to: str,
    definition: SegmentDefinition | None = None,
    movers_limit: int = 200,
) -> Movements:
    """Who moved between two periods: the full matrix and a sample of movers."""
    chosen = _definition(definition)
    if chosen is None:
        return Movements({}, [])
    before = dict(
        SegmentMembership.objects.filter(definition=chosen, period=period_from).values_list(
            "customer_id", "segment__key"
        )
    )
    after = dict(
        SegmentMembership.objects.filter(definition=chosen, period=period_to).values_list(
            "customer_id", "segment__key"
        )
    )
    matrix: dict[tuple[int | None, int | None], int] = {}
    movers: list[tuple[str, int, int]] = []
    for customer in sorted(before.keys() | after.keys()):
        pair = (before.get(customer), after.get(customer))
        matrix[pair] = matrix.get(pair, 0) + 1
        if None not in pair and pair[0] != pair[1] and len(movers) < movers_limit:
            movers.append((customer, pair[0], pair[1]))  # type: ignore[arg-type]
    return Movements(matrix, movers)


def segment_profile_over_time(
    *, segment_key: int, definition: SegmentDefinition | None = None
) -> list[dict[str, Any]]:
    """Size and feature means of one segment in each period."""
    chosen = _definition(definition)
    if chosen is None:
        return []
    sizes = SegmentSize.objects.filter(definition=chosen, segment__key=segment_key).order_by(
        "period"
    )
    return [{"period": s.period, "customers": s.customers, "means": s.means} for s in sizes]


def segment_sizes_by_period(
    *, definition: SegmentDefinition | None = None
) -> dict[str, dict[int, int]]:
    chosen = _definition(definition)
    if chosen is None:
        return {}
    table: dict[str, dict[int, int]] = {}
    for period, key, customers in SegmentSize.objects.filter(definition=chosen).values_list(
        "period", "segment__key", "customers"
    ):
        table.setdefault(period, {})[key] = customers
    return table


def membership_count(*, definition: SegmentDefinition) -> int:
    return SegmentMembership.objects.filter(definition=definition).aggregate(n=Count("id"))["n"]
