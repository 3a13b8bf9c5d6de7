"""The offer performance page: the figures of a batch read from OfferPerformance (rows written
here through the ORM, no assignment or counting run), the history of batches, the empty state,
a bad ?batch, and the Admin's recount."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from celery.app.base import Celery
from django.db.models import Max
from django.test import Client

from recommender.assignment.performance import rates_and_lift
from recommender.models import (
    AssignmentBatch,
    FeedbackEvent,
    FeedbackKind,
    OfferPerformance,
)
from tests.recommender.assignment_data import World, world_create
from tests.recommender.assignment_data import batch_create as create_batch

pytestmark = pytest.mark.django_db
UTC = dt.UTC
COMPUTED = dt.datetime(2025, 3, 10, 6, 30, tzinfo=UTC)


def batch_create(world: World, at: dt.datetime, *, activated: bool = True) -> AssignmentBatch:
    return create_batch(
        world, at, activated=activated, customers=20, holdout_customers=4, assignments=32
    )


# (segment, slot, label, offer, holdout, daypart, tier, assignments, redemptions)
ROWS = [
    (1, 1, "Best", "O1", False, "breakfast", "value", 8, 3),
    (1, 1, "Best", "O1", True, "breakfast", "value", 4, 1),
    (1, 2, "Revenue", "O2", False, "lunch", "premium", 6, 0),
    (1, 2, "Revenue", "O2", True, "lunch", "premium", 2, 0),
    (2, 1, "Best", "O3", False, "lunch", "value", 5, 2),
    (2, 1, "Best", "O3", True, "lunch", "value", 5, 0),
    (None, 1, "Best", "O1", False, "", "", 2, 1),
]


def counted(batch: AssignmentBatch, rows: list[tuple[Any, ...]], at: dt.datetime) -> None:
    OfferPerformance.objects.bulk_create(
        OfferPerformance(
            batch=batch,
            segment_key=segment,
            slot=slot,
            slot_label=label,
            offer_id=offer,
            holdout=holdout,
            daypart=daypart,
            tier=tier,
            assignments=assignments,
            redemptions=redemptions,
            computed_at=at,
        )
        for segment, slot, label, offer, holdout, daypart, tier, assignments, redemptions in rows
    )


@pytest.fixture
def batches() -> tuple[AssignmentBatch, AssignmentBatch, AssignmentBatch]:
    """An older batch (10% both ways), the active one (ROWS) and one never activated."""
    world = world_create()
    old = batch_create(world, dt.datetime(2025, 3, 1, tzinfo=UTC))
    counted(old, [(1, 1, "Best", "O1", h, "", "", 10, 1) for h in (False, True)], COMPUTED)
    active = batch_create(world, dt.datetime(2025, 3, 8, tzinfo=UTC))
    counted(active, ROWS, COMPUTED)
    unfinished = batch_create(world, dt.datetime(2025, 3, 9, tzinfo=UTC), activated=False)
    counted(unfinished, ROWS[:1], COMPUTED)
    return old, active, unfinished


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def cells(html: str, section: str, key: str) -> list[str]:
    """The shown cells of one table row: `<section id=section>` … `<tr data-key=key>`."""
    part = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    row = part.split(f'data-key="{key}"', 1)[1].split("</tr>", 1)[0]
    return [text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def tile(html: str, name: str) -> str:
    block = html.split(f'data-total="{name}"', 1)[1].split("</div>", 1)[0]
    return re.search(r'class="value">([^<]*)<', block).group(1)  # type: ignore[union-attr]


def chart_data(html: str, element_id: str) -> Any:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert found is not None
    return json.loads(found.group(1))


def test_the_active_batch_shows_totals_breakdowns_and_history(
    client: Client, analyst: Any, batches: tuple[AssignmentBatch, ...]
) -> None:
    old, active, unfinished = batches
    client.force_login(analyst)

    response = client.get("/performance/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"batch #{active.pk}" in html
    assert "Figures computed</dt><dd" in html and "2025-03-10 06:30 UTC" in html
    # treated 21 assignments, 6 redeemed; holdout 11, 1 redeemed
    shown = {
        name: tile(html, name)
        for name in (
            "treated_assignments",
            "holdout_assignments",
            "treated_redemptions",
            "holdout_redemptions",
            "treated_rate",
            "holdout_rate",
            "lift",
        )
    }
    assert shown == {
        "treated_assignments": "21",
        "holdout_assignments": "11",
        "treated_redemptions": "6",
        "holdout_redemptions": "1",
        "treated_rate": "28.6%",
        "holdout_rate": "9.1%",
        "lift": "+214.3%",  # (6/21) / (1/11) - 1
    }
    # The rate ratio's 95% interval on the log scale (Katz), and the warning: 1 holdout
    # redemption is far below the 30 per group a lift needs.
    assert "-56.9% to +2193.1%" in html.split('data-total="lift_interval">', 1)[1][:40]
    assert 'id="too-few"' in html and "6 treated and 1 holdout" in html
    assert cells(html, "by-segment", "1") == [
        "Regulars (#1)", "14", "3", "21.4%", "6", "1", "16.7%", "+28.6% too few",
        "-83.5% to +899.9%",
    ]  # fmt: skip
    assert cells(html, "by-segment", "2") == [
        "Lapsing (#2)", "5", "2", "40.0%", "5", "0", "0.0%", "— too few", "—",
    ]  # fmt: skip
    assert cells(html, "by-segment", "None") == [
        "no segment", "2", "1", "50.0%", "0", "0", "—", "— too few", "—",
    ]  # fmt: skip
    assert cells(html, "by-slot", "1-2") == [
        "Regulars (#1) · 2. Revenue", "6", "0", "0.0%", "2", "0", "0.0%", "— too few", "—",
    ]  # fmt: skip
    assert cells(html, "by-daypart", "lunch") == [
        "lunch", "11", "2", "18.2%", "7", "0", "0.0%", "— too few", "—",
    ]  # fmt: skip
    assert cells(html, "by-tier", "premium")[1:4] == ["6", "0", "0.0%"]
    assert cells(html, "by-daypart", "")[0] == "no daypart"
    offers = html.split('id="by-offer"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'data-key="(O\d)"', offers) == ["O1", "O3", "O2"]  # treated redemptions
    assert cells(html, "by-offer", "O1") == [
        "Morning Coffee (O1)", "10", "4", "40.0%", "4", "1", "25.0%", "+60.0% too few",
        "-75.1% to +927.2%",
    ]  # fmt: skip
    lift = chart_data(html, "lift-data")["segments"]
    assert [(s["label"], s["lift_text"]) for s in lift] == [
        ("Regulars (#1)", "+28.6%"),
        ("Lapsing (#2)", "—"),
        ("no segment", "—"),
    ]
    history = chart_data(html, "history-data")
    assert history["current"] == active.pk
    assert [(b["batch"], b["treated_rate"], b["holdout_rate"]) for b in history["batches"]] == [
        (old.pk, 0.1, 0.1),
        (active.pk, 6 / 21, 1 / 11),
    ]  # the batch never activated has no point
    assert 'data-chart="performanceLift"' in html and 'data-chart="performanceHistory"' in html
    assert "Recount now" not in html


def test_an_older_batch_is_shown_when_asked_for(
    client: Client, marketer: Any, batches: tuple[AssignmentBatch, ...]
) -> None:
    old, active, _ = batches
    client.force_login(marketer)

    html = client.get(f"/performance/?batch={old.pk}").content.decode()

    assert f"batch #{old.pk}" in html
    assert tile(html, "treated_assignments") == "10" and tile(html, "lift") == "+0.0%"
    assert chart_data(html, "history-data")["current"] == old.pk


@pytest.mark.parametrize(
    ("value", "status", "message"),
    [
        ("first", 400, "“first” is not a batch number"),
        ("99999999999999999999", 400, "is not a batch number"),
        ("999999", 404, "There is no activated assignment batch #999999"),
        ("unfinished", 404, "There is no activated assignment batch #{unfinished}"),
    ],
)
def test_a_bad_batch_is_named_and_nothing_is_shown_for_it(
    client: Client,
    analyst: Any,
    batches: tuple[AssignmentBatch, ...],
    value: str,
    status: int,
    message: str,
) -> None:
    unfinished = batches[2]
    value = str(unfinished.pk) if value == "unfinished" else value
    client.force_login(analyst)

    response = client.get(f"/performance/?batch={value}")

    assert response.status_code == status
    html = response.content.decode()
    assert message.format(unfinished=unfinished.pk) in html
    assert 'id="totals"' not in html
    assert 'id="batch-picker"' in html  # the batches one can pick instead


def test_without_a_batch_the_page_says_how_to_assign_offers(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    response = client.get("/performance/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "No offers assigned yet" in html and "reassigns offers from the Runs page" in html
    assert "manage.py" not in html
    assert 'id="totals"' not in html and "data-chart" not in html


def test_a_batch_not_counted_yet_says_so(client: Client, admin_user: Any) -> None:
    batch = batch_create(world_create(), dt.datetime(2025, 3, 8, tzinfo=UTC))
    client.force_login(admin_user)

    html = client.get("/performance/").content.decode()

    assert f"batch #{batch.pk}" in html and "Not counted yet" in html
    assert 'id="computed-at">not yet<' in html
    assert 'id="totals"' not in html and "Recount now" in html


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What would go to the broker."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def send_task(app: Celery, name: str, args: Any = None, kwargs: Any = None, **_: Any) -> None:
        calls.append((name, kwargs or {}))

    monkeypatch.setattr(Celery, "send_task", send_task)
    return calls


def test_an_admin_queues_a_recount_of_the_batch_shown(
    client: Client,
    admin_user: Any,
    batches: tuple[AssignmentBatch, ...],
    sent: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    old = batches[0]
    client.force_login(admin_user)
    html = client.get(f"/performance/?batch={old.pk}").content.decode()
    assert f'name="batch" value="{old.pk}"' in html and "Recount now" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/performance/recount/", {"batch": str(old.pk)})

    assert response.status_code == 302
    assert response["Location"] == f"/performance/?batch={old.pk}"
    assert sent == [("recommender.tasks.heavy_refresh_performance", {"batch_id": old.pk})]
    followed = client.get(response["Location"]).content.decode()
    assert f"Recount of batch #{old.pk} is queued" in followed


def test_a_recount_of_a_batch_never_activated_is_refused(
    client: Client,
    admin_user: Any,
    batches: tuple[AssignmentBatch, ...],
    sent: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/performance/recount/", {"batch": str(batches[2].pk)}, follow=True)

    assert "There is no activated assignment batch" in response.content.decode()
    assert sent == []


def test_marketers_and_analysts_cannot_recount(
    client: Client,
    marketer: Any,
    analyst: Any,
    batches: tuple[AssignmentBatch, ...],
    sent: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    for user in (marketer, analyst):
        client.force_login(user)
        assert "Recount now" not in client.get("/performance/").content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/performance/recount/", {"batch": str(batches[1].pk)})
        assert response.status_code == 403
    assert sent == []


def test_a_lift_with_enough_redemptions_gets_its_interval_and_no_warning() -> None:
    row = {
        "treated_assignments": 400,
        "treated_redemptions": 40,
        "holdout_assignments": 400,
        "holdout_redemptions": 30,
    }

    shown = rates_and_lift(row)

    assert shown["lift"] == pytest.approx(1 / 3)
    # RR 1.333, se(log RR) = sqrt(1/40 - 1/400 + 1/30 - 1/400) = 0.2309
    assert (shown["lift_low"], shown["lift_high"]) == pytest.approx((-0.1521, 1.0966), abs=1e-4)
    assert shown["too_few"] is False
    assert rates_and_lift({**row, "holdout_redemptions": 29})["too_few"] is True


def test_feedback_received_after_the_count_is_announced(
    client: Client, analyst: Any, batches: tuple[AssignmentBatch, ...]
) -> None:
    _, active, _ = batches
    computed_at = OfferPerformance.objects.filter(batch=active).aggregate(at=Max("computed_at"))
    for number in range(3):
        FeedbackEvent.objects.create(
            event_id=f"late-{number}",
            kind=FeedbackKind.REDEMPTION,
            customer_id="C1",
            offer_id="O1",
            at=active.at + dt.timedelta(hours=1),
        )
    client.force_login(analyst)

    html = client.get("/performance/").content.decode()

    assert computed_at["at"] is not None
    assert "3 feedback events received since these figures were counted" in html
