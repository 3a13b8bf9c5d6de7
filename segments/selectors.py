from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Count, F, OuterRef, QuerySet, Subquery

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
    """Who moved between two periods: the full matrix and the first movers by customer id.

    Counted by the database (millions of memberships a period never come to Python)."""
    chosen = _definition(definition)
    if chosen is None:
        return Movements({}, [])
    members = SegmentMembership.objects.filter(definition=chosen)
    to_key = _segment_key_in(members, period_to)
    from_key = _segment_key_in(members, period_from)
    stayed_or_moved = (
        members.filter(period=period_from)
        .annotate(now=to_key)
        .values("segment__key", "now")
        .annotate(customers=Count("id"))
    )
    entered = (
        members.filter(period=period_to)
        .annotate(before=from_key)
        .filter(before__isnull=True)
        .values("segment__key")
        .annotate(customers=Count("id"))
    )
    matrix: dict[tuple[int | None, int | None], int] = {
        (row["segment__key"], row["now"]): row["customers"] for row in stayed_or_moved
    }
    for row in entered:
        matrix[(None, row["segment__key"])] = row["customers"]
    movers = (
        members.filter(period=period_from)
        .annotate(now=to_key)
        .exclude(now__isnull=True)
        .exclude(now=F("segment__key"))
        .order_by("customer_id")
        .values_list("customer_id", "segment__key", "now")[:movers_limit]
    )
    return Movements(matrix, [(c, a, b) for c, a, b in movers])


def _segment_key_in(members: Any, period: str) -> Subquery:
    """The segment key of the same customer in `period` (NULL when not active then)."""
    return Subquery(
        members.filter(customer_id=OuterRef("customer_id"), period=period).values("segment__key")[
            :1
        ]
    )


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


def segment_get(*, key: int, definition: SegmentDefinition | None = None) -> Segment | None:
    """A segment of the (active) definition by its stable key."""
    chosen = _definition(definition)
    if chosen is None:
        return None
    return chosen.segments.filter(key=key).first()


def population_means(*, definition: SegmentDefinition) -> dict[str, float]:
    """Feature means over every customer-period, from the per-period segment means."""
    return _weighted_means(
        SegmentSize.objects.filter(definition=definition).values_list("customers", "means")
    )


def population_means_by_period(*, definition: SegmentDefinition) -> dict[str, dict[str, float]]:
    """Feature means over all customers of each period: the line a segment is compared to."""
    rows: dict[str, list[tuple[int, dict[str, float | None]]]] = {}
    for period, customers, means in SegmentSize.objects.filter(definition=definition).values_list(
        "period", "customers", "means"
    ):
        rows.setdefault(period, []).append((customers, means))
    return {period: _weighted_means(rows[period]) for period in sorted(rows)}


def _weighted_means(rows: Iterable[tuple[int, dict[str, float | None]]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for customers, means in rows:
        for name, value in means.items():
            if value is None:
                continue
            totals[name] = totals.get(name, 0.0) + value * customers
            counts[name] = counts.get(name, 0) + customers
    return {name: totals[name] / counts[name] for name in totals if counts[name]}


def customers_search(*, prefix: str = "") -> QuerySet[Customer]:
    customers = Customer.objects.order_by("customer_id")
    if prefix:
        customers = customers.filter(customer_id__startswith=prefix)
    return customers


def customers_latest_segment(
    *, customer_ids: list[str], definition: SegmentDefinition | None = None
) -> dict[str, tuple[str, Segment]]:
    """Each customer's last period and segment under the (active) definition."""
    chosen = _definition(definition)
    if chosen is None or not customer_ids:
        return {}
    latest: dict[str, tuple[str, Segment]] = {}
    rows = (
        SegmentMembership.objects.filter(definition=chosen, customer_id__in=customer_ids)
        .select_related("segment")
        .order_by("period")
    )
    for membership in rows:
        latest[membership.customer_id] = (membership.period, membership.segment)
    return latest


def customer_trajectory_explained(
    *, customer_id: str, definition: SegmentDefinition | None = None, reasons: int = 3
) -> list[dict[str, Any]]:
    """The trajectory, each period with the features that placed the customer there.

    A feature places a customer when the customer and the segment's centroid both sit on the
    same side of average, far from it (the product of their scaled values): the segment's
    distinctive traits that this customer showed that month.
    """
    # Imported here: the definition module loads scikit-learn, which other pages never need.
    from segments.segmentation.definition import FrozenTransform

    chosen = _definition(definition)
    steps = customer_trajectory(customer_id=customer_id, definition=chosen)
    if chosen is None or not steps or not chosen.transform:
        return steps
    transform = FrozenTransform.from_json(chosen.transform)
    centroids = np.asarray(chosen.centroids, dtype=np.float64)
    positions = dict(chosen.segments.filter(position__isnull=False).values_list("key", "position"))
    scaled = transform.apply(pd.DataFrame([step["features"] for step in steps]))
    for step, values in zip(steps, scaled, strict=True):
        position = positions.get(step["segment_key"])
        shared = values * centroids[position] if position is not None else np.abs(values)
        order = [i for i in np.argsort(-shared) if shared[i] > 0][:reasons]
        step["reasons"] = [
            {
                "feature": transform.names[i],
                "value": step["features"].get(transform.names[i]),
                "z": round(float(values[i]), 2),
            }
            for i in order
        ]
    return steps
