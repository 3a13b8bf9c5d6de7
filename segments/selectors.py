from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from django.db.models import QuerySet, Sum

from deepflame_web.core.lake import lake_root
from deepflame_web.core.models import LakeFile
from segments.models import (
    Customer,
    CustomerSegment,
    CustomerTotal,
    Segment,
    SegmentDefinition,
    SegmentFlow,
    SegmentSize,
)
from segments.segmentation.definition import FrozenTransform
from segments.segmentation.writer import MEMBERSHIPS


def customer_count() -> int:
    """Every customer the chain has imported, from the total kept by the imports."""
    total = CustomerTotal.objects.filter(pk=1).values_list("customers", flat=True).first()
    return total or 0


def segment_current_sizes(definition: SegmentDefinition) -> dict[int | None, int]:
    """Customers per segment key by their latest period, and (key None) those with no
    segment yet; counted at segmentation time."""
    sizes: dict[int | None, int] = dict(definition.segments.values_list("key", "current_customers"))
    sizes[None] = max(customer_count() - sum(n for n in sizes.values()), 0)
    return sizes


def segmentation_active() -> SegmentDefinition | None:
    """The active segment definition (the home page shows it); None before the first run."""
    return SegmentDefinition.objects.filter(is_active=True).select_related("run").first()


def _definition(definition: SegmentDefinition | None) -> SegmentDefinition | None:
    return definition if definition is not None else segmentation_active()


INCOMPLETE_PERIOD = "incomplete_period"
"""The key of a segmentation run's result that names its latest period when that month was
incomplete (not over, or the lake's orders stopped before its last day)."""


@dataclass(frozen=True)
class Period:
    """A month of a segmentation, and whether it held all of its orders when segmented."""

    month: str
    complete: bool = True

    @property
    def label(self) -> str:
        return self.month if self.complete else f"{self.month} (to date, incomplete)"


def segmentation_periods(*, definition: SegmentDefinition) -> list[Period]:
    """The definition's periods, each once, in order, the incomplete one marked."""
    incomplete = (definition.run.result or {}).get(INCOMPLETE_PERIOD)
    return [Period(month, month != incomplete) for month in sorted(set(definition.periods))]


def period_pair_default(periods: list[Period]) -> tuple[str, str] | None:
    """The two periods pages open on: the last two complete ones, so a month still under way
    is never compared with whole ones by default; the last two at all when fewer than two are
    complete; None with fewer than two periods."""
    complete = [p.month for p in periods if p.complete]
    months = complete if len(complete) >= 2 else [p.month for p in periods]
    if len(months) < 2:
        return None
    return months[-2], months[-1]


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
    files = membership_files(definition=chosen)
    if not files:
        return []
    names = chosen.transform.get("names", [])
    segments = {s.key: s for s in chosen.segments.all()}
    with duckdb.connect() as db:
        rows = db.execute(
            f"""SELECT month, segment_key, distance, features FROM read_parquet({_sql_list(files)})
                WHERE customer_id = ? ORDER BY month""",
            [customer_id],
        ).fetchall()
    return [
        {
            "period": period,
            "segment_key": key,
            "segment_name": segments[key].name,
            "distance": float(distance),
            "features": dict(zip(names, [float(v) for v in values], strict=False)),
        }
        for period, key, distance, values in rows
    ]


def membership_files(
    *, definition: SegmentDefinition, periods: list[str] | None = None
) -> list[str]:
    """The lake files of a definition's memberships (all periods, or the ones asked for)."""
    files = LakeFile.objects.filter(table=MEMBERSHIPS, run_id=definition.run_id)
    if periods is not None:
        files = files.filter(month__in=periods)
    return [str(lake_root() / path) for path in files.values_list("path", flat=True)]


def memberships_frame(*, definition: SegmentDefinition) -> pd.DataFrame:
    """Every customer-period of a definition: customer_id, period, segment (its key)."""
    files = membership_files(definition=definition)
    if not files:
        return pd.DataFrame(columns=["customer_id", "period", "segment"])
    with duckdb.connect() as db:
        return db.sql(
            f"""SELECT customer_id, month AS period, segment_key AS segment
                FROM read_parquet({_sql_list(files)}) ORDER BY period, customer_id"""
        ).df()


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def segment_flows(
    *, period_from: str, period_to: str, definition: SegmentDefinition | None = None
) -> dict[tuple[int | None, int | None], int] | None:
    """Customers by (segment key then, segment key later), from the rows written with the
    definition (stored earlier to later; a backward pair reads them transposed); None when
    the definition was written before flows were."""
    chosen = _definition(definition)
    if chosen is None:
        return {}
    if not SegmentFlow.objects.filter(definition=chosen).exists():
        return None
    backward = period_from > period_to
    earlier, later = sorted((period_from, period_to))
    rows = SegmentFlow.objects.filter(
        definition=chosen, period_from=earlier, period_to=later
    ).values_list("from_segment__key", "to_segment__key", "customers")
    return {((b, a) if backward else (a, b)): n for a, b, n in rows}


MOVERS_BATCH = 10_000


ANY_SEGMENT = "any"
Side = int | None | str
"""One side of a movement matrix cell: a segment key, None (not active in that month) or
ANY_SEGMENT (in any segment)."""
Cell = tuple[Side, Side]


def _side_condition(alias: str, side: Side) -> str:
    if side is None:
        return f"{alias}.segment_key IS NULL"
    if side == ANY_SEGMENT:
        return f"{alias}.segment_key IS NOT NULL"
    return f"{alias}.segment_key = {int(side)}"


def _movers_sql(
    definition: SegmentDefinition, period_from: str, period_to: str, cell: Cell | None
) -> str | None:
    """By customer id: the customers of a matrix cell, or without one those active in both
    periods whose segment differs."""
    before = membership_files(definition=definition, periods=[period_from])
    after = membership_files(definition=definition, periods=[period_to])
    if not before or not after:
        return None
    if cell is None:
        where = "a.segment_key IS NOT NULL AND b.segment_key IS NOT NULL "
        where += "AND a.segment_key <> b.segment_key"
    else:
        where = f"{_side_condition('a', cell[0])} AND {_side_condition('b', cell[1])}"
    return f"""SELECT customer_id, a.segment_key, b.segment_key
        FROM (SELECT customer_id, segment_key FROM read_parquet({_sql_list(before)})) a
        FULL OUTER JOIN (SELECT customer_id, segment_key FROM read_parquet({_sql_list(after)})) b
        USING (customer_id)
        WHERE {where} ORDER BY customer_id"""


def _key(value: Any) -> int | None:
    return None if value is None else int(value)


def segment_movers_page(
    *,
    period_from: str,
    period_to: str,
    offset: int,
    limit: int,
    definition: SegmentDefinition | None = None,
    cell: Cell | None = None,
) -> list[tuple[str, int | None, int | None]]:
    """One page of movers (customer id, key then, key later; None: not active), read from
    the two periods' membership files: the one list not pre-aggregated, since it is a
    million rows at most."""
    chosen = _definition(definition)
    sql = _movers_sql(chosen, period_from, period_to, cell) if chosen is not None else None
    if sql is None:
        return []
    with duckdb.connect() as db:
        rows = db.execute(f"{sql} LIMIT ? OFFSET ?", [int(limit), int(offset)]).fetchall()
    return [(c, _key(a), _key(b)) for c, a, b in rows]


def segment_movers_all(
    *,
    period_from: str,
    period_to: str,
    definition: SegmentDefinition | None = None,
    cell: Cell | None = None,
) -> Iterator[tuple[str, int | None, int | None]]:
    """Every mover of the pair (of the cell), fetched in batches so an export never holds
    them all."""
    chosen = _definition(definition)
    sql = _movers_sql(chosen, period_from, period_to, cell) if chosen is not None else None
    if sql is None:
        return
    with duckdb.connect() as db:
        result = db.execute(sql)
        while batch := result.fetchmany(MOVERS_BATCH):
            for c, a, b in batch:
                yield (c, _key(a), _key(b))


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
    """Customer-periods placed by a definition."""
    files = LakeFile.objects.filter(table=MEMBERSHIPS, run_id=definition.run_id)
    return int(files.aggregate(rows=Sum("rows"))["rows"] or 0)


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
        # Every id starting with the prefix sorts at or after it in any collation: the bound
        # lets a page start its ordered index scan there instead of at the first customer.
        customers = customers.filter(customer_id__startswith=prefix, customer_id__gte=prefix)
    return customers


def customers_latest_segment(
    *, customer_ids: list[str], definition: SegmentDefinition | None = None
) -> dict[str, tuple[str, Segment]]:
    """Each customer's last period and segment under the (active) definition."""
    chosen = _definition(definition)
    if chosen is None or not customer_ids:
        return {}
    rows = CustomerSegment.objects.filter(
        definition=chosen, customer_id__in=customer_ids
    ).select_related("segment")
    return {row.customer_id: (row.period, row.segment) for row in rows}


def customer_trajectory_explained(
    *, customer_id: str, definition: SegmentDefinition | None = None, reasons: int = 3
) -> list[dict[str, Any]]:
    """The trajectory, each period with the features that placed the customer there.

    A feature places a customer when the customer and the segment's centroid both sit on the
    same side of average, far from it (the product of their scaled values): the segment's
    distinctive traits that this customer showed that month.
    """
    # Imported here: the definition module loads scikit-learn, which other pages never need.

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
