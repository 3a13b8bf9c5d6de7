"""Bulk writes of a segmentation's memberships (COPY on PostgreSQL).

Called inside the transaction that activates the definition, so readers see the old
segmentation or the whole new one, never a half-written one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepflame_web.core.bulk import bulk_insert
from segments.models import SegmentMembership

COPY_CHUNK = 250_000


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
        bulk_insert(table=SegmentMembership._meta.db_table, frame=chunk)
    return rows


def _json_lists(values: np.ndarray) -> list[str]:
    """Rows of floats as JSON arrays, formatted by pandas' C writer instead of a Python loop."""
    if values.shape[1] == 0:
        return ["[]"] * len(values)
    text = pd.DataFrame(np.round(values, 4)).to_csv(header=False, index=False, na_rep="null")
    return ["[" + line + "]" for line in text.splitlines()]
