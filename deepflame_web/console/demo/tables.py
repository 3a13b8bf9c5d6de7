"""Arrow building blocks for the big tables: ids and timestamps made from numpy byte arrays.

Formatting tens of millions of ids and timestamps with Python strings would dominate the run;
fixed-width ASCII built with integer arithmetic and handed to Arrow as buffers costs next to
nothing, and `take` from a small string array covers repeated values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepflame_web.console.demo.period import Period, time_of_day_chars

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("store_id", pa.string()),
        ("ordered_at", pa.string()),
        ("channel", pa.string()),
        ("total", pa.float64()),
        ("gross_margin", pa.float64()),
    ]
)
ORDER_LINES_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("item_id", pa.string()),
        ("quantity", pa.int32()),
        ("amount", pa.float64()),
        ("offer_id", pa.string()),
    ]
)
ASSIGNMENTS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("offer_id", pa.string()), ("assigned_at", pa.string())]
)
REDEMPTIONS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("offer_id", pa.string()),
        ("redeemed_at", pa.string()),
        ("order_id", pa.string()),
        ("store_id", pa.string()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("joined_at", pa.string()),
        ("loyalty_tier", pa.string()),
        ("home_zip", pa.string()),
    ]
)
PERSONAS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("month", pa.string()), ("persona", pa.string())]
)


def strings_from_chars(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII codes, one string per row."""
    n, width = chars.shape
    data = np.ascontiguousarray(chars, dtype=np.uint8).reshape(-1)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def digit_chars(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) ASCII matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(numbers, dtype=np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Ids like C0000042: a prefix and a zero-padded number."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    chars[:, : len(head)] = head
    chars[:, len(head) :] = digit_chars(numbers, width)
    return strings_from_chars(chars)


def local_timestamps(period: Period, day: np.ndarray, second: np.ndarray) -> pa.Array:
    """ISO 8601 local times without offset ("2025-03-04T07:45:12"), as the contract reads
    a timestamp without offset as the store's local time."""
    chars = np.concatenate([period.date_chars[day], time_of_day_chars()[second]], axis=1)
    return strings_from_chars(chars)


def take_strings(values: Sequence[str], index: np.ndarray) -> pa.Array:
    """values[index] as a plain Arrow string array."""
    return pc.take(pa.array(list(values), type=pa.string()), pa.array(index, type=pa.int64()))
