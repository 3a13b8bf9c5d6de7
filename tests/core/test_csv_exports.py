"""Pen-test finding 5 (issue 15): a CSV export never hands a spreadsheet a formula."""

import csv
import io
from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.exports import csv_cell, csv_row
from segments.models import SegmentDefinition
from tests.segments.segmentation_data import segmentation_create

FORMULAS = ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_cells_that_would_start_a_formula_get_a_quote_and_others_stay() -> None:
    assert [csv_cell(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    plain = ["Lapsing", "", "a=b", " =x", 42, -3, 1.5, None]
    assert [csv_cell(v) for v in plain] == plain
    assert csv_row(["=1", 2]) == ["'=1", 2]


@pytest.mark.django_db
def test_the_movers_export_neutralises_formula_segment_names(client: Client, analyst: Any) -> None:
    # Given segments a Marketer named like formulas
    definition: SegmentDefinition = segmentation_create()
    segments = list(definition.segments.order_by("key"))
    for segment, name in zip(segments, FORMULAS, strict=False):
        segment.name = name
        segment.save(update_fields=["name"])
    client.force_login(analyst)

    # When an Analyst exports the movers
    response = client.get("/segments/movements/movers.csv?from=2025-03&to=2025-04")

    # Then no cell starts a formula, and the names read as typed after the quote
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) > 1
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    named = {row[2] for row in rows[1:]} | {row[4] for row in rows[1:]}
    quoted = {"'" + s.name for s in segments if s.name in FORMULAS}
    assert named & quoted and named <= quoted | {s.name for s in segments}
