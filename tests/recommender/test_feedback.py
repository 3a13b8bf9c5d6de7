"""Feedback: events stored once and joined to the assignment they answer, the REST API, the
landing in the lake (all or nothing), and offer performance against a hand count."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from deepflame_web.core.hashing import hash_rows
from deepflame_web.core.lake import LakeStage, lake_read, lake_root
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from deepflame_web.core.services import RunAlreadyActive, run_cancel, runs_fail_stale
from offers.models import Store
from recommender.assignment.feedback import (
    FEEDBACK_LAKE_TASK,
    FeedbackConflict,
    FeedbackInvalid,
    feedback_record,
    feedback_to_lake,
)
from recommender.assignment.performance import performance_refresh, performance_summary
from recommender.models import (
    Assignment,
    FeedbackEvent,
    OfferPerformance,
)
from segments.services import history_import_start
from tests.recommender.assignment_data import (
    World,
    batch_create,
    decision_create,
    world_create,
)
from tests.segments.contract_folder import copy_tables, write_folder
from tests.worker import ROOT, worker_database_url

pytestmark = pytest.mark.django_db
UTC = dt.UTC
REDEMPTION_COLUMNS = ["customer_id", "offer_id", "order_id", "store_id", "redeemed_at", "month"]


def day(number: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 3, number, hour, tzinfo=UTC)


@pytest.fixture
def world() -> World:
    """Two stores, offers O1-O3, two segments, and what a decision points at (no model run)."""
    for store_id, tier, zone in (
        ("NY1", "value", "America/New_York"),
        ("LA1", "premium", "America/Los_Angeles"),
    ):
        Store.objects.create(store_id=store_id, name=store_id, pricing_tier=tier, timezone=zone)
    return world_create()


_ids = itertools.count()


def record(kind: str, customer: str, offer: str, at: dt.datetime, **extra: Any) -> FeedbackEvent:
    return feedback_record(
        event_id=f"e{next(_ids)}", kind=kind, customer_id=customer, offer_id=offer, at=at, **extra
    ).event


def lake_import_redemptions(rows: list[tuple[str, str, dt.datetime, str, str]]) -> None:
    """(customer, offer, instant, order, store) into the lake as an import writes them."""
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="t")
    zones = dict(Store.objects.values_list("store_id", "timezone"))
    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "offer_id": [r[1] for r in rows],
            "order_id": [r[3] for r in rows],
            "store_id": [r[4] for r in rows],
            "redeemed_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "month": [r[2].astimezone(ZoneInfo(zones[r[4]])).strftime("%Y-%m") for r in rows],
        }
    )
    content = ["customer_id", "offer_id", "order_id", "store_id", "redeemed_at"]
    table = table.append_column("row_hash", pa.array(hash_rows(table, content)))
    table = table.append_column(
        "row_key", pa.array(hash_rows(table, ["customer_id", "offer_id", "redeemed_at"]))
    )
    stage = LakeStage(run.pk)
    stage.write(table="offer_redemptions", data=table)
    LakeFile.objects.bulk_create(stage.files)


# -- storing an event once -------------------------------------------------------------


REDEMPTION: dict[str, Any] = {
    "event_id": "pos-77",
    "kind": "redemption",
    "customer_id": "C1",
    "offer_id": "O1",
    "at": dt.datetime(2025, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "order_id": "A1",
    "store_id": "NY1",
}


def test_the_same_event_twice_is_stored_once(world: World) -> None:
    first = feedback_record(**REDEMPTION)
    same_instant_in_utc = {**REDEMPTION, "at": dt.datetime(2025, 3, 2, 13, 0, tzinfo=UTC)}
    again = feedback_record(**same_instant_in_utc)

    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.event.pk == first.event.pk
    assert FeedbackEvent.objects.count() == 1
    assert FeedbackEvent.objects.get().at == dt.datetime(2025, 3, 2, 13, 0, tzinfo=UTC)


def test_a_repeat_with_other_content_is_refused_naming_the_fields(world: World) -> None:
    feedback_record(**REDEMPTION)

    with pytest.raises(FeedbackConflict) as refused:
        feedback_record(**{**REDEMPTION, "order_id": "A2", "at": day(3)})

    assert refused.value.fields == ["at", "order_id"]
    assert "different at, order_id" in str(refused.value)
    stored = FeedbackEvent.objects.get()
    assert (stored.order_id, stored.at) == ("A1", dt.datetime(2025, 3, 2, 13, 0, tzinfo=UTC))


def test_a_naive_time_is_utc_and_bad_fields_are_each_named(world: World) -> None:
    naive = feedback_record(**{**REDEMPTION, "at": dt.datetime(2025, 3, 2, 13, 0)}).event
    assert naive.at == dt.datetime(2025, 3, 2, 13, 0, tzinfo=UTC)

    with pytest.raises(FeedbackInvalid) as invalid:
        feedback_record(**{**REDEMPTION, "event_id": "x", "kind": "purchase", "customer_id": ""})
    assert sorted(invalid.value.problems) == ["customer_id", "kind"]

    with pytest.raises(FeedbackInvalid) as unknown:
        feedback_record(**{**REDEMPTION, "event_id": "y", "offer_id": "NOPE", "store_id": "XX"})
    assert unknown.value.problems == {
        "offer_id": ["unknown offer 'NOPE'"],
        "store_id": ["unknown store 'XX'"],
    }
    assert FeedbackEvent.objects.count() == 1


# -- the join to an assignment ------------------------------------------------------------


def test_an_event_answers_the_latest_visible_assignment_before_it(world: World) -> None:
    old = batch_create(world, day(1, 0))
    current = batch_create(world, day(8, 0))
    unfinished = batch_create(world, day(10, 0), activated=False)
    in_old = decision_create(world, "C1", ["O1", "O2"], batch=old)
    in_current = decision_create(world, "C1", ["O2", "O1"], batch=current)
    decision_create(world, "C1", ["O1"], batch=unfinished)
    live = decision_create(world, "C1", ["O1"], at=day(9))

    def answered(at: dt.datetime, **extra: Any) -> Assignment | None:
        return record("click", "C1", "O1", at, **extra).assignment

    during_old = answered(day(5))
    during_current = answered(day(8, 6))
    after_live = answered(day(11))  # the unfinished batch's assignment is later, not visible
    named = answered(day(11), decision_id=in_old.pk)
    before_any = answered(day(1, 0) - dt.timedelta(seconds=1))

    assert during_old is not None and during_old.decision_id == in_old.pk
    assert during_current is not None and during_current.decision_id == in_current.pk
    assert during_current.slot == 2
    assert after_live is not None and after_live.decision_id == live.pk
    assert named is not None and named.decision_id == in_old.pk
    assert before_any is None
    assert record("redemption", "C9", "O1", day(9)).assignment is None
    assert FeedbackEvent.objects.count() == 6


def test_a_decision_that_did_not_assign_the_offer_is_refused(world: World) -> None:
    batch = batch_create(world, day(1, 0))
    decision = decision_create(world, "C1", ["O1"], batch=batch)
    unfinished = decision_create(
        world, "C1", ["O2"], batch=batch_create(world, day(2, 0), activated=False)
    )

    for decision_id, problem in (
        (decision.pk, f"decision {decision.pk} did not assign offer 'O2'"),
        (unfinished.pk, f"no decision {unfinished.pk}"),
    ):
        with pytest.raises(FeedbackInvalid) as invalid:
            record("redemption", "C1", "O2", day(3), decision_id=decision_id)
        assert invalid.value.problems == {"decision_id": [problem]}
    with pytest.raises(FeedbackInvalid) as other_customer:
        record("redemption", "C2", "O1", day(3), decision_id=decision.pk)
    assert other_customer.value.problems == {
        "decision_id": [f"decision {decision.pk} was made for another customer"]
    }
    assert FeedbackEvent.objects.count() == 0


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
def api(roles: None) -> Client:
    """A machine client (the POS): the role that reports feedback."""
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory.create(role="Machine client"))
    return client


@pytest.fixture
def reader(analyst: Any) -> Client:
    client = Client()
    client.force_login(analyst)
    return client


GOOD = {
    "/api/v1/events/": {
        "event_id": "app-1",
        "kind": "impression",
        "customer_id": "C1",
        "offer_id": "O1",
        "at": "2025-03-02T13:00:00Z",
    },
    "/api/v1/redemptions/": {
        "event_id": "pos-1",
        "customer_id": "C1",
        "offer_id": "O1",
        "redeemed_at": "2025-03-02T08:00:00-05:00",
        "order_id": "A1",
        "store_id": "NY1",
    },
}


def test_the_redemption_api_stores_once_and_refuses_a_changed_repeat(
    world: World, api: Client
) -> None:
    decision = decision_create(world, "C1", ["O2", "O1"], batch=batch_create(world, day(1, 0)))
    body = GOOD["/api/v1/redemptions/"]

    first = api.post("/api/v1/redemptions/", body, content_type="application/json")
    repeat = api.post("/api/v1/redemptions/", body, content_type="application/json")
    changed = api.post(
        "/api/v1/redemptions/",
        {**body, "store_id": "LA1", "redeemed_at": "2025-03-02T09:00:00-05:00"},
        content_type="application/json",
    )

    assert first.status_code == 201, first.json()
    assert first.json()["duplicate"] is False
    assert first.json()["at"] == "2025-03-02T13:00:00+00:00"
    assert first.json()["assignment"] == {
        "decision_id": decision.pk,
        "batch": decision.batch_id,
        "slot": 2,
        "slot_label": "Revenue",
        "holdout": False,
    }
    assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
    assert changed.status_code == 409
    assert changed.json()["fields"] == ["redeemed_at", "store_id"]
    assert FeedbackEvent.objects.count() == 1
    assert FeedbackEvent.objects.get().store_id == "NY1"


def test_the_event_api_stores_an_impression_and_a_click(world: World, api: Client) -> None:
    body = GOOD["/api/v1/events/"]

    seen = api.post("/api/v1/events/", body, content_type="application/json")
    clicked = api.post(
        "/api/v1/events/",
        {**body, "event_id": "app-2", "kind": "click"},
        content_type="application/json",
    )

    assert (seen.status_code, clicked.status_code) == (201, 201)
    assert sorted(FeedbackEvent.objects.values_list("event_id", "kind")) == [
        ("app-1", "impression"),
        ("app-2", "click"),
    ]
    assert seen.json()["assignment"] is None


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("/api/v1/events/", {"kind": "redemption"}, "kind"),
        ("/api/v1/events/", {"at": "yesterday"}, "at"),
        ("/api/v1/events/", {"customer_id": ""}, "customer_id"),
        ("/api/v1/events/", {"offer_id": "NOPE"}, "offer_id"),
        ("/api/v1/events/", {"event_id": None}, "event_id"),
        ("/api/v1/redemptions/", {"redeemed_at": "2025-13-01T00:00:00Z"}, "redeemed_at"),
        ("/api/v1/redemptions/", {"store_id": "NOWHERE"}, "store_id"),
        ("/api/v1/redemptions/", {"order_id": "x" * 101}, "order_id"),
        ("/api/v1/redemptions/", {"decision_id": 999_999}, "decision_id"),
        ("/api/v1/redemptions/", {"decision_id": "first"}, "decision_id"),
    ],
)
def test_each_bad_field_gets_a_400_naming_it_and_nothing_is_stored(
    world: World, api: Client, path: str, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**GOOD[path], **change}.items() if v is not None}

    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert FeedbackEvent.objects.count() == 0


def test_the_performance_api_reads_the_active_or_a_named_batch(
    world: World, reader: Client
) -> None:
    assert reader.get("/api/v1/performance/").status_code == 404
    old = batch_create(world, day(1, 0))
    decision_create(world, "C1", ["O1"], batch=old)
    unfinished = batch_create(world, day(5, 0), activated=False)
    performance_refresh(batch=old)

    active = reader.get("/api/v1/performance/")
    named = reader.get(f"/api/v1/performance/?batch={old.pk}")

    assert active.status_code == 200 and active.json() == named.json()
    assert active.json()["batch"] == old.pk
    assert active.json()["segments"][0]["treated_assignments"] == 1
    assert reader.get(f"/api/v1/performance/?batch={unfinished.pk}").status_code == 404
    assert reader.get("/api/v1/performance/?batch=first").json() == {
        "batch": ["must be a batch number"]
    }


# -- the lake -----------------------------------------------------------------------------


def _sorted_rows(table: str, columns: list[str]) -> list[dict[str, Any]]:
    rows = lake_read(table=table, columns=columns).to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[c]) for c in columns))


@pytest.mark.django_db(transaction=True)
def test_feedback_lands_in_the_lake_once_beside_what_an_import_brought(
    tmp_path: Path, api: Client
) -> None:
    call_command("import_data", str(write_folder(tmp_path / "first")), stdout=StringIO())
    imported_again = {  # the extract's redemption, now also reported by the point of sale
        **GOOD["/api/v1/redemptions/"],
        "redeemed_at": "2025-02-01T07:15:00-08:00",
        "order_id": "A2",
        "store_id": "LA1",
    }
    new = {  # 21:00 on Jan 31 in Los Angeles: a January redemption there
        **GOOD["/api/v1/redemptions/"],
        "event_id": "pos-2",
        "customer_id": "C2",
        "offer_id": "O2",
        "redeemed_at": "2025-02-01T05:00:00Z",
        "order_id": "A3",
        "store_id": "LA1",
    }
    for path, body in (
        ("/api/v1/redemptions/", imported_again),
        ("/api/v1/redemptions/", new),
        ("/api/v1/events/", {**GOOD["/api/v1/events/"], "offer_id": "O2"}),
    ):
        assert api.post(path, body, content_type="application/json").status_code == 201

    run = feedback_to_lake()

    assert run is not None and run.status == RunStatus.SUCCEEDED, run and run.error
    assert run.kind == RunKind.FEEDBACK_LANDING and run.parameters == {"source": "feedback"}
    assert run.result["rows_added"] == {"offer_redemptions": 1, "offer_events": 1}
    assert "1 redemption(s) were in the lake already" in run.result["warnings"][0]
    redemptions = _sorted_rows("offer_redemptions", REDEMPTION_COLUMNS)
    assert redemptions == [
        {"customer_id": "C1", "offer_id": "O1", "order_id": "A2", "store_id": "LA1",
         "redeemed_at": dt.datetime(2025, 2, 1, 15, 15, tzinfo=UTC), "month": "2025-02"},
        {"customer_id": "C2", "offer_id": "O2", "order_id": "A3", "store_id": "LA1",
         "redeemed_at": dt.datetime(2025, 2, 1, 5, 0, tzinfo=UTC), "month": "2025-01"},
    ]  # fmt: skip
    events = lake_read(
        table="offer_events", columns=["event_id", "kind", "customer_id", "offer_id", "month"]
    ).to_pylist()
    assert events == [
        {"event_id": "app-1", "kind": "impression", "customer_id": "C1", "offer_id": "O2",
         "month": "2025-03"}
    ]  # fmt: skip
    assert not FeedbackEvent.objects.filter(in_lake=False).exists()

    manifest = list(LakeFile.objects.values_list("path", flat=True))
    assert feedback_to_lake() is None
    assert list(LakeFile.objects.values_list("path", flat=True)) == manifest

    # The same redemption in a later extract is skipped by the importer: same key and hash.
    tables = copy_tables()
    tables["offer_redemptions"].append(
        {"customer_id": "C2", "offer_id": "O2", "redeemed_at": "2025-02-01T05:00:00Z",
         "order_id": "A3", "store_id": "LA1"}
    )  # fmt: skip
    second = write_folder(tmp_path / "second", tables)
    call_command("import_data", str(second), stdout=StringIO())
    assert _sorted_rows("offer_redemptions", REDEMPTION_COLUMNS) == redemptions


@pytest.mark.django_db(transaction=True)
def test_a_landing_and_an_import_never_run_together(world: World, tmp_path: Path) -> None:
    record("redemption", "C1", "O1", day(2), store_id="NY1")
    importing = history_import_start(folder=tmp_path, enqueue=False)

    with pytest.raises(RunAlreadyActive, match=f"run #{importing.pk}"):
        feedback_to_lake()
    assert FeedbackEvent.objects.get().in_lake is False

    run_cancel(run=importing)
    landing = Run.objects.create(kind=RunKind.FEEDBACK_LANDING, task_name=FEEDBACK_LAKE_TASK)

    with pytest.raises(RunAlreadyActive, match=f"run #{landing.pk}"):
        history_import_start(folder=tmp_path, enqueue=False)
    assert Run.objects.filter(kind=RunKind.IMPORT, status=RunStatus.QUEUED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_landing_that_fails_midway_leaves_nothing_visible(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    record("redemption", "C1", "O1", day(2), store_id="NY1")
    record("click", "C1", "O2", day(2))

    def broken(event_ids: list[int]) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("recommender.assignment.feedback._mark_in_lake", broken)
    failed = feedback_to_lake()

    assert failed is not None and failed.status == RunStatus.FAILED
    assert "the database went away" in failed.error
    assert LakeFile.objects.count() == 0
    assert FeedbackEvent.objects.filter(in_lake=True).count() == 0
    assert not list(lake_root().rglob("*.parquet"))

    monkeypatch.undo()
    landed = feedback_to_lake()

    assert landed is not None and landed.status == RunStatus.SUCCEEDED
    assert lake_read(table="offer_redemptions", columns=["customer_id"]).num_rows == 1
    assert FeedbackEvent.objects.filter(in_lake=True).count() == 2


KILLED_LANDING = """
import os, signal, django
django.setup()
from recommender.assignment import feedback
feedback._mark_in_lake = lambda ids: os.kill(os.getpid(), signal.SIGKILL)
feedback.feedback_to_lake()
"""


@pytest.mark.django_db(transaction=True)
def test_a_killed_landing_leaves_nothing_visible_and_the_next_one_lands(world: World) -> None:
    record("redemption", "C1", "O1", day(2), store_id="NY1")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
        "DATABASE_URL": worker_database_url(),
        "VAR_DIR": str(settings.VAR_DIR),
        "LAKE_URI": str(settings.LAKE_URI),
    }

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LANDING], cwd=ROOT, env=env, timeout=120, check=False
    )

    assert killed.returncode == -9
    assert list(lake_root().rglob("*.parquet"))  # staged, but no manifest row lists it
    assert LakeFile.objects.count() == 0
    assert FeedbackEvent.objects.get().in_lake is False
    landing = Run.objects.get(kind=RunKind.FEEDBACK_LANDING)
    assert runs_fail_stale(stale_after_seconds=-1) == [landing.pk]

    landed = feedback_to_lake()

    assert landed is not None and landed.status == RunStatus.SUCCEEDED
    assert lake_read(table="offer_redemptions", columns=["customer_id"]).num_rows == 1
    on_disk = {str(p.relative_to(lake_root())) for p in lake_root().rglob("*.parquet")}
    assert on_disk == set(LakeFile.objects.values_list("path", flat=True))


def treated(row: dict[str, Any]) -> tuple[int, int]:
    return row["treated_assignments"], row["treated_redemptions"]


# -- performance --------------------------------------------------------------------------


def test_performance_matches_a_hand_count(world: World) -> None:
    first = batch_create(world, day(1, 0))
    second = batch_create(world, day(8, 0))  # ends the first batch's window
    treated_dayparts = {"T1": "breakfast", "T2": "breakfast", "T3": "lunch", "T4": "lunch"}
    for customer, daypart in treated_dayparts.items():
        decision_create(world, customer, ["O1", "O2"], batch=first, daypart=daypart)
    for customer, daypart in (("H1", "breakfast"), ("H2", "lunch")):
        decision_create(world, customer, ["O1", "O2"], batch=first, holdout=True, daypart=daypart)
    decision_create(world, "T5", ["O1"], batch=first, segment=2, tier="premium")
    decision_create(world, "H3", ["O1"], batch=first, segment=2, tier="premium", holdout=True)
    decision_create(world, "T1", ["O1"], batch=second)

    record("redemption", "T2", "O1", day(3), store_id="NY1")
    assert feedback_to_lake() is not None  # T2's redemption is now in the lake, not pending
    lake_import_redemptions([("T1", "O1", day(2), "A1", "NY1"), ("T3", "O1", day(3), "A3", "NY1")])
    record("redemption", "T2", "O1", day(4))  # a second redemption of the same assignment
    record("redemption", "T3", "O1", day(3), order_id="A3", store_id="NY1")  # imported too
    record("redemption", "H1", "O1", day(5))
    record("redemption", "T5", "O1", day(6))
    record("redemption", "T4", "O2", day(9))  # after the window
    record("redemption", "T4", "O2", dt.datetime(2025, 2, 28, tzinfo=UTC))  # before it
    record("redemption", "T2", "O3", day(3))  # not assigned
    record("redemption", "T1", "O1", day(9))  # the second batch's
    record("click", "T1", "O2", day(2))
    record("impression", "T1", "O2", day(2))
    record("impression", "T2", "O2", day(2))
    record("impression", "H2", "O1", day(2))

    written = performance_refresh(batch=first)
    assert performance_refresh(batch=first) == written  # recomputed, not added
    performance_refresh(batch=second)
    summary = performance_summary(batch=first)

    assert OfferPerformance.objects.filter(batch=first).count() == written
    by_segment = {row["segment_key"]: row for row in summary["segments"]}
    regulars, lapsing = by_segment[1], by_segment[2]
    assert regulars["segment_name"] == "Regulars"
    assert (regulars["treated_assignments"], regulars["treated_redemptions"]) == (8, 3)
    assert (regulars["holdout_assignments"], regulars["holdout_redemptions"]) == (4, 1)
    assert regulars["treated_rate"] == 3 / 8 and regulars["holdout_rate"] == 1 / 4
    assert regulars["lift"] == pytest.approx(0.5)
    assert (regulars["treated_clicks"], regulars["treated_impressions"]) == (1, 2)
    assert regulars["holdout_impressions"] == 1
    assert (lapsing["treated_rate"], lapsing["holdout_rate"], lapsing["lift"]) == (1.0, 0.0, None)
    total = summary["total"]
    assert (total["treated_assignments"], total["treated_redemptions"]) == (9, 4)
    assert (total["holdout_assignments"], total["holdout_redemptions"]) == (5, 1)
    assert total["lift"] == pytest.approx((4 / 9) / (1 / 5) - 1)
    slots = {(r["segment_key"], r["slot"]): r for r in summary["slots"]}
    assert (slots[1, 1]["treated_redemptions"], slots[1, 1]["holdout_redemptions"]) == (3, 1)
    assert slots[1, 2]["treated_rate"] == 0.0 and slots[1, 2]["lift"] is None
    offers = {r["offer_id"]: r for r in summary["offers"]}
    assert (offers["O1"]["treated_assignments"], offers["O1"]["treated_redemptions"]) == (5, 4)
    assert offers["O1"]["lift"] == pytest.approx((4 / 5) / (1 / 3) - 1)
    dayparts = {r["daypart"]: r for r in summary["dayparts"]}
    assert treated(dayparts["breakfast"]) == (5, 3) and treated(dayparts["lunch"]) == (4, 1)
    tiers = {r["tier"]: r for r in summary["tiers"]}
    assert (tiers["premium"]["treated_rate"], tiers["premium"]["holdout_rate"]) == (1.0, 0.0)
    later = performance_summary(batch=second)["total"]
    assert (later["treated_assignments"], later["treated_redemptions"]) == (1, 1)
