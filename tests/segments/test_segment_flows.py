"""Flows between every pair of periods, written with the definition, and the movements page
that reads them (the movers list and its CSV read the lake)."""

import csv
import io
import re
from typing import Any

import numpy as np
import pytest
from django.test import Client

from segments.models import SegmentDefinition, SegmentFlow
from segments.segmentation.writer import flow_counts
from tests.segments.segmentation_data import (
    DRIFTERS,
    LATE_STARTERS,
    LEAVERS,
    PERIODS,
    segmentation_create,
)
from tests.segments.test_segment_pages import cell, html_of

MEMBERSHIPS = {
    # period: {customer: segment key}
    "2025-01": {"A": 1, "B": 1, "E": 2},
    "2025-02": {"A": 2, "C": 3, "E": 2},
    "2025-03": {"A": 2, "C": 1, "D": 2},
}


def _rows() -> dict[str, np.ndarray]:
    """One row per customer-period, as the run stages its memberships."""
    rows = [(c, p, k) for p, members in MEMBERSHIPS.items() for c, k in members.items()]
    customers, periods, keys = zip(*rows, strict=True)
    return {
        "customer_ids": np.asarray(customers, dtype=object),
        "periods": np.asarray(periods, dtype=object),
        "segment_keys": np.asarray(keys),
    }


def test_flows_count_every_pair_with_entries_and_exits() -> None:
    counts = flow_counts(**_rows(), all_periods=list(MEMBERSHIPS))

    assert counts == {
        # 01 -> 02: A 1->2, B leaves 1, E stays 2, C enters 3
        ("2025-01", "2025-02", 1, 2): 1,
        ("2025-01", "2025-02", 1, None): 1,
        ("2025-01", "2025-02", 2, 2): 1,
        ("2025-01", "2025-02", None, 3): 1,
        # 01 -> 03 (not consecutive): A 1->2, B and E leave, C and D enter
        ("2025-01", "2025-03", 1, 2): 1,
        ("2025-01", "2025-03", 1, None): 1,
        ("2025-01", "2025-03", 2, None): 1,
        ("2025-01", "2025-03", None, 1): 1,
        ("2025-01", "2025-03", None, 2): 1,
        # 02 -> 03: A stays 2, C 3->1, E leaves, D enters
        ("2025-02", "2025-03", 2, 2): 1,
        ("2025-02", "2025-03", 3, 1): 1,
        ("2025-02", "2025-03", 2, None): 1,
        ("2025-02", "2025-03", None, 2): 1,
    }


def test_flows_of_no_memberships_are_empty() -> None:
    nothing = np.asarray([], dtype=object)
    assert (
        flow_counts(
            customer_ids=nothing,
            periods=nothing,
            segment_keys=np.asarray([], dtype=np.int32),
            all_periods=["2025-01", "2025-02"],
        )
        == {}
    )


def test_a_period_nobody_was_active_in_counts_everyone_as_leaving_or_entering() -> None:
    counts = flow_counts(**_rows(), all_periods=["2024-12", *MEMBERSHIPS])

    assert counts[("2024-12", "2025-01", None, 1)] == 2
    assert counts[("2024-12", "2025-01", None, 2)] == 1
    assert counts[("2025-01", "2025-02", 1, 2)] == 1
    assert not any(source is not None for (before, _, source, _) in counts if before == "2024-12")


@pytest.fixture
def segmentation(db: None) -> SegmentDefinition:
    return segmentation_create()


def _stored(definition: SegmentDefinition, period_from: str, period_to: str) -> dict[Any, int]:
    rows = SegmentFlow.objects.filter(
        definition=definition, period_from=period_from, period_to=period_to
    ).values_list("from_segment__key", "to_segment__key", "customers")
    return {(a, b): n for a, b, n in rows}


@pytest.mark.django_db
def test_flows_are_written_for_every_pair_of_the_definitions_periods(
    segmentation: SegmentDefinition,
) -> None:
    pairs = set(SegmentFlow.objects.values_list("period_from", "period_to"))
    assert pairs == {(a, b) for a in PERIODS for b in PERIODS if a < b}

    first_to_last = _stored(segmentation, "2025-01", "2025-04")
    # C001..C040 minus the 6 drifters stay; drifters move one persona on; 4 leave, 4 enter
    assert sum(n for (a, b), n in first_to_last.items() if a == b) == 40 - len(DRIFTERS)
    assert sum(n for (a, b), n in first_to_last.items() if a and b and a != b) == len(DRIFTERS)
    assert sum(n for (a, b), n in first_to_last.items() if b is None) == len(LEAVERS)
    assert sum(n for (a, b), n in first_to_last.items() if a is None) == len(LATE_STARTERS)
    assert first_to_last[(1, 2)] == 2  # C001, C005

    assert _stored(segmentation, "2025-03", "2025-04")[(1, 1)] == 12 - 2 - 1


@pytest.mark.django_db
def test_page_shows_the_stored_flows_charts_and_profile_cards(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/?from=2025-01&to=2025-04")

    stored = _stored(segmentation, "2025-01", "2025-04")
    for key_from in (1, 2, 3, 4, "none"):
        for key_to in (1, 2, 3, 4, "none"):
            if key_from == key_to == "none":
                continue
            pair = (
                None if key_from == "none" else key_from,
                None if key_to == "none" else key_to,
            )
            assert cell(html, key_from, key_to) == stored.get(pair, 0), pair
    for chart in ("movementSankey", "movementHeatmap", "sizes"):
        assert f'data-chart="{chart}"' in html
    assert re.findall(r'<article class="card segment-card" data-segment="(\d+)"', html) == [
        "1",
        "2",
        "3",
        "4",
    ]
    assert re.findall(r'<tr data-customer="(C\d+)"', html) == DRIFTERS
    assert "1–6 of 6" in html
    assert 'href="/segments/movements/movers.csv?from=2025-01&amp;to=2025-04"' in html


@pytest.mark.django_db
def test_a_backward_pair_reads_the_flows_transposed(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/?from=2025-04&to=2025-01")

    stored = _stored(segmentation, "2025-01", "2025-04")
    assert cell(html, 2, 1) == stored[(1, 2)]
    assert cell(html, "none", 1) == stored.get((1, None), 0)
    assert cell(html, 1, "none") == stored.get((None, 1), 0)


@pytest.mark.django_db
def test_movers_are_paged(
    client: Client, analyst: Any, segmentation: SegmentDefinition, monkeypatch: Any
) -> None:
    monkeypatch.setattr("segments.views.MOVERS_PER_PAGE", 4)
    client.force_login(analyst)

    second = html_of(client, "/segments/movements/?from=2025-03&to=2025-04&page=2")
    beyond = html_of(client, "/segments/movements/?from=2025-03&to=2025-04&page=9")

    assert re.findall(r'<tr data-customer="(C\d+)"', second) == DRIFTERS[4:]
    assert "5–6 of 6" in second
    assert "Page 2 of 2" in second
    assert re.findall(r'<tr data-customer="(C\d+)"', beyond) == DRIFTERS[4:]


@pytest.mark.django_db
def test_csv_lists_every_mover_of_the_pair(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    response = client.get("/segments/movements/movers.csv?from=2025-03&to=2025-04")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "movers-2025-03-to-2025-04.csv" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    names = {s.key: s.name for s in segmentation.segments.all()}
    assert rows[0] == [
        "customer_id",
        "segment_key_2025-03",
        "segment_2025-03",
        "segment_key_2025-04",
        "segment_2025-04",
    ]
    assert [r[0] for r in rows[1:]] == DRIFTERS
    for customer, before, before_name, after, after_name in rows[1:]:
        base = (int(customer[1:]) - 1) % 4 + 1
        assert (int(before), int(after)) == (base, base % 4 + 1)
        assert (before_name, after_name) == (names[int(before)], names[int(after)])


@pytest.mark.django_db
def test_csv_of_a_period_outside_the_segmentation_is_a_404(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    assert client.get("/segments/movements/movers.csv?from=2030-01&to=2025-04").status_code == 404


@pytest.mark.django_db
def test_a_definition_written_before_flows_asks_for_a_new_run(client: Client, analyst: Any) -> None:
    definition = segmentation_create()
    SegmentFlow.objects.filter(definition=definition).delete()  # as before flows existed
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/")

    assert "run a segmentation again" in html
    assert 'id="movement-matrix"' not in html


@pytest.mark.django_db
def test_a_cell_of_the_matrix_lists_its_customers_and_the_lapsed_ones_export(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)
    names = {s.key: s.name for s in segmentation.segments.all()}
    pair = "from=2025-03&to=2025-04"

    matrix = client.get(f"/segments/movements/?{pair}").content.decode()
    drilled = client.get(f"/segments/movements/?{pair}&cell=1-2").content.decode()
    lapsed = client.get(f"/segments/movements/movers.csv?{pair}&cell=any-none")

    assert f'href="?{pair.replace("&", "&amp;")}&amp;cell=1-2#movers-card"' in matrix
    assert f"In {names[1]} in 2025-03, {names[2]} in 2025-04" in drilled
    assert re.findall(r'<tr data-customer="(C\d+)"', drilled) == ["C001", "C005"]
    assert "1–2 of 2." in drilled
    assert "movers-2025-03-to-2025-04-any-none.csv" in lapsed["Content-Disposition"]
    body = b"".join(lapsed.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert [r[0] for r in rows] == LEAVERS
    assert {(r[3], r[4]) for r in rows} == {("", "not active")}


@pytest.mark.django_db
def test_a_cell_that_is_not_the_segmentations_is_refused(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = client.get("/segments/movements/?cell=99-1").content.decode()
    export = client.get("/segments/movements/movers.csv?from=2025-03&to=2025-04&cell=1-2-3")

    assert "That cell of the matrix is not one of this segmentation&#x27;s." in html
    assert export.status_code == 404
