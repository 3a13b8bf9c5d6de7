"""Bulk inserts (COPY on PostgreSQL, executemany on SQLite) store every value as given:
awkward text, JSON documents with escapes, missing values, exact floats and instants."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from deepflame_web.core.bulk import bulk_insert

AWKWARD_TEXTS = [
    "tab\there",
    "two\nlines",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    'quote " and comma ,',
    "Café 漢字 🍔",
    "",
]


@pytest.fixture
def scratch_table() -> str:
    timestamp = "timestamptz" if connection.vendor == "postgresql" else "timestamp"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bulk_scratch (position integer, label text, document text,"
            f" amount double precision, flag boolean, count integer, at {timestamp})"
        )
    return "bulk_scratch"


def _as_stored(value: dt.datetime) -> object:
    """As callers give instants (the SQLite driver takes no datetime objects)."""
    return connection.ops.adapt_datetimefield_value(value)


def _stored(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT label, document, amount, flag, count, at FROM {table} ORDER BY position"
        )
        return cursor.fetchall()


@pytest.mark.django_db
def test_every_value_comes_back_as_it_was_given(scratch_table: str) -> None:
    n = len(AWKWARD_TEXTS)
    instant = dt.datetime(2026, 10, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
    frame = pd.DataFrame(
        {
            "position": range(n),
            "label": AWKWARD_TEXTS,
            "document": [json.dumps({"text": text, "list": [1, 2]}) for text in AWKWARD_TEXTS],
            "amount": [1 / 3, 1e-20, np.nan, 123456789.12345679, -0.0, 2.5, 7.0, 0.1],
            "flag": [True, False] * (n // 2),
            "count": pd.array([1, None, 3, 4, 5, 6, 7, 8], dtype="Int64"),
            "at": [_as_stored(instant + dt.timedelta(hours=h)) for h in range(n)],
        }
    )

    assert bulk_insert(table=scratch_table, frame=frame) == n

    rows = _stored(scratch_table)
    assert [row[0] for row in rows] == AWKWARD_TEXTS
    assert [json.loads(row[1])["text"] for row in rows] == AWKWARD_TEXTS
    assert rows[0][2] == 1 / 3 and rows[3][2] == 123456789.12345679
    assert rows[2][2] is None, "a missing float is NULL"
    assert [bool(row[3]) for row in rows] == [True, False] * (n // 2)
    assert rows[1][4] is None and rows[2][4] == 3, "a missing integer is NULL"
    assert rows[7][0] == "", "an empty text stays an empty text, not NULL"
    if connection.vendor == "postgresql":
        assert rows[0][5] == instant and rows[7][5] == instant + dt.timedelta(hours=7)


@pytest.mark.django_db
def test_a_missing_text_is_null(scratch_table: str) -> None:
    frame = pd.DataFrame({"position": [1, 2], "label": ["kept", None]})

    bulk_insert(table=scratch_table, frame=frame)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT label FROM {scratch_table} ORDER BY position")
        assert cursor.fetchall() == [("kept",), (None,)]
