"""Where a segmentation's rows go: every customer-period to the lake, the current one to the
database.

Memberships (millions of customer-periods, each with the features that placed it) are staged
as Parquet, one file per period sorted by customer, and join the lake through the manifest in
the transaction that activates the definition; each customer's latest membership is copied
into the database (COPY on PostgreSQL) for the pages and the assignment engine. A failed or
killed run leaves staged files nobody lists, removed by the next import.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from deepflame_web.core.bulk import bulk_insert
from deepflame_web.core.lake import LakeStage
from segments.models import CustomerSegment, Segment, SegmentDefinition, SegmentFlow

MEMBERSHIPS = "segment_memberships"
"""The lake table of memberships; its `month` column is the period."""
ROW_GROUP_ROWS = 50_000
"""Small row groups sorted by customer: a trajectory reads one group per period."""


def memberships_stage(
    *,
    stage: LakeStage,
    customer_ids: np.ndarray,
    periods: np.ndarray,
    segment_keys: np.ndarray,
    distances: np.ndarray,
    features: np.ndarray,
) -> int:
    """Stage one membership per row; `features` holds the values that placed the customer."""
    rows, width = features.shape
    values = np.asarray(features, dtype=np.float32)
    if np.isnan(values).any():
        values = np.nan_to_num(values)
    flat = pa.array(values.ravel())
    table = pa.table(
        {
            "customer_id": pa.array(customer_ids, pa.string()),
            "month": pa.array(periods, pa.string()),
            "segment_key": pa.array(segment_keys.astype(np.int32)),
            "distance": pa.array(distances.astype(np.float32)),
            "features": pa.FixedSizeListArray.from_arrays(flat, width),
        }
    )
    if not _in_period_and_customer_order(table):
        keys = [("month", "ascending"), ("customer_id", "ascending")]
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    return stage.write(table=MEMBERSHIPS, data=table, row_group_rows=ROW_GROUP_ROWS)


def _in_period_and_customer_order(table: pa.Table) -> bool:
    """The feature job hands rows over sorted already; checking costs a fraction of a sort."""
    if table.num_rows < 2:
        return True
    month, customer = table.column("month"), table.column("customer_id")
    earlier_month = pc.less(month[:-1], month[1:])
    same_month = pc.equal(month[:-1], month[1:])
    customer_order = pc.less_equal(customer[:-1], customer[1:])
    ordered = pc.or_(earlier_month, pc.and_(same_month, customer_order))
    return bool(pc.all(ordered).as_py())


def current_segments_write(
    *,
    definition_id: int,
    customer_ids: np.ndarray,
    periods: np.ndarray,
    segment_ids: np.ndarray,
    distances: np.ndarray,
) -> int:
    """Each customer's latest period and segment, in bulk, inside the caller's transaction,
    and each segment's count of them (read by pages instead of counting these rows)."""
    latest = _latest_rows(customer_ids, periods)
    segment_ids_now, counts = np.unique(segment_ids[latest], return_counts=True)
    for segment_id, customers in zip(segment_ids_now, counts, strict=True):
        Segment.objects.filter(pk=int(segment_id)).update(current_customers=int(customers))
    frame = pd.DataFrame(
        {
            "definition_id": definition_id,
            "customer_id": customer_ids[latest],
            "period": periods[latest],
            "segment_id": segment_ids[latest],
            "distance": np.round(distances[latest], 6),
        }
    )
    return bulk_insert(table=CustomerSegment._meta.db_table, frame=frame)


def _latest_rows(customer_ids: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """The index of each customer's row in their latest period."""
    customer_codes, customers = pd.factorize(customer_ids)
    period_codes, _ = pd.factorize(periods, sort=True)
    by_period = np.argsort(period_codes, kind="stable")
    latest = np.full(len(customers), -1, dtype=np.int64)
    np.maximum.at(latest, customer_codes[by_period], np.arange(len(by_period)))
    return by_period[latest]


FlowKey = tuple[str, str, int | None, int | None]


def segment_flows_write(
    *,
    definition: SegmentDefinition,
    customer_ids: np.ndarray,
    periods: np.ndarray,
    segment_keys: np.ndarray,
) -> int:
    """Customers per (segment then, segment later) for every pair of the definition's periods,
    from the memberships it stages (one row per customer-period). Returns rows written."""
    counts = flow_counts(
        customer_ids=customer_ids,
        periods=periods,
        segment_keys=segment_keys,
        all_periods=list(definition.periods),
    )
    segments = {s.key: s for s in definition.segments.filter(is_vanished=False)}
    rows = [
        SegmentFlow(
            definition=definition,
            period_from=period_from,
            period_to=period_to,
            from_segment=segments[source] if source is not None else None,
            to_segment=segments[target] if target is not None else None,
            customers=customers,
        )
        for (period_from, period_to, source, target), customers in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1], str(item[0][2:]))
        )
    ]
    SegmentFlow.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def flow_counts(
    *,
    customer_ids: np.ndarray,
    periods: np.ndarray,
    segment_keys: np.ndarray,
    all_periods: list[str],
) -> dict[FlowKey, int]:
    """(period, later period, segment key or None, segment key or None) -> customers, zeros
    left out; None -> None (active in neither) is never counted.

    A grid of each customer's segment per period (a code past the last segment where absent)
    makes every pair of periods one bincount of its two rows: exact, and without a self-join
    of millions of rows.
    """
    if len(customer_ids) == 0:
        return {}
    customer_codes, customers = pd.factorize(customer_ids)
    period_codes, seen_periods = pd.factorize(periods)
    key_codes, keys = pd.factorize(segment_keys)
    names = sorted(set(all_periods) | set(seen_periods))
    absent = len(keys)
    grid = np.full((len(names), len(customers)), absent, dtype=np.int32)
    grid[pd.Index(names).get_indexer(seen_periods)[period_codes], customer_codes] = key_codes
    side = absent + 1
    key_of = [*(int(key) for key in keys), None]
    counts: dict[FlowKey, int] = {}
    for before, after in combinations(range(len(names)), 2):
        cells = np.bincount(grid[before] * side + grid[after], minlength=side * side)
        cells[-1] = 0  # absent in both: not a flow
        for cell in np.flatnonzero(cells):
            source, target = divmod(int(cell), side)
            counts[(names[before], names[after], key_of[source], key_of[target])] = int(cells[cell])
    return counts
