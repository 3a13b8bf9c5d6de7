"""Bulk writes of a segmentation's results: COPY on PostgreSQL, batched inserts on SQLite.

Called inside the transaction that activates the definition, so readers see the old
segmentation or the whole new one, never a half-written one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
from django.db import connection

from segments.models import SegmentMembership

COPY_CHUNK = 250_000
INSERT_BATCH = 5_000
MEMBERSHIP_COLUMNS = ("definition_id", "customer_id", "period", "segment_id", "distance", "features")


def memberships_write(
    *,
    definition_id: int,
    customer_ids: np.ndarray,
    periods: np.ndarray,
    segment_ids: np.ndarray,
    distances: np.ndarray,
    features: np.ndarray,
) -> int:
    """Write one membership per row; `features` holds the values that placed the customer."""
    rows = len(customer_ids)
    for start in range(0, rows, COPY_CHUNK):
        end = min(start + COPY_CHUNK, rows)
        chunk = pd.DataFrame(
            {
                "definition_id": definition_id,
                "customer_id": customer_ids[start:end],
                "period": periods[start:end],
                "segment_id": segment_ids[start:end],
                "distance": np.round(distances[start:end], 6),
                "features": _json_lists(features[start:end]),
            }
        )
        if connection.vendor == "postgresql":
            _copy(chunk)
        else:
            _insert(chunk)
    return rows


def _json_lists(values: np.ndarray) -> list[str]:
    """Rows of floats as JSON arrays, formatted by pandas' C writer instead of a Python loop."""
    if values.shape[1] == 0:
        return ["[]"] * len(values)
    text = pd.DataFrame(np.round(values, 4)).to_csv(header=False, index=False, na_rep="null")
    return ["[" + line + "]" for line in text.splitlines()]


def _copy(chunk: pd.DataFrame) -> None:
    buffer = io.StringIO()
    chunk.to_csv(buffer, header=False, index=False)
    buffer.seek(0)
    columns = ", ".join(MEMBERSHIP_COLUMNS)
    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def _insert(chunk: pd.DataFrame) -> None:
    for batch in _batches(chunk):
        SegmentMembership.objects.bulk_create(batch)


def _batches(chunk: pd.DataFrame) -> Iterator[list[SegmentMembership]]:
    import json

    batch: list[SegmentMembership] = []
    for row in chunk.itertuples(index=False):
        batch.append(
            SegmentMembership(
                definition_id=row.definition_id,
                customer_id=row.customer_id,
                period=row.period,
                segment_id=row.segment_id,
                distance=float(row.distance),
                features=json.loads(row.features),
            )
        )
        if len(batch) >= INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
