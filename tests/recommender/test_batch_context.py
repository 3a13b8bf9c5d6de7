"""A batch decides each customer in the context they will use the offers in (their usual
store, channel and daypart on the batch's first valid day), not at the instant the run
starts; the validity window the Admin chose is stored with the batch and on each receipt."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.test import Client

from deepflame_web.core.lake import lake_root
from deepflame_web.core.lake_tables import LOCAL, UTC
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from offers.models import Store
from recommender.assignment import batch as batch_module
from recommender.assignment.batch import assignment_run_execute, assignment_run_start
from recommender.assignment.engine import decide
from recommender.assignment.receipts import situation_of
from recommender.errors import RecommenderError
from recommender.models import AssignmentBatch, CatalogSnapshot, Decision
from segments.models import Customer
from tests.recommender.assignment_data import world_create
from tests.recommender.test_assignment_engine import CATALOG, DAYPARTS, make_engine

pytestmark = pytest.mark.django_db(transaction=True)
# 02:28 UTC on 6 December: 21:28 on 5 December in New York, dinner there.
AT = dt.datetime(2026, 12, 6, 2, 28, tzinfo=dt.UTC)
NEW_YORK = "America/New_York"
DAYPARTS_OF = {o["offer_id"]: o["dayparts"] for o in CATALOG}


def _orders_write(rows: list[tuple[str, str, str, dt.datetime]]) -> None:
    """(customer, store, channel, local time in New York) orders, straight into the lake."""
    zone = dt.timezone(dt.timedelta(hours=-5))  # New York's offset in November
    table = pa.table(
        {
            "order_id": [f"o{n}" for n in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "store_id": [r[1] for r in rows],
            "ordered_at": pa.array([r[3].replace(tzinfo=zone) for r in rows], UTC),
            "ordered_at_local": pa.array([r[3] for r in rows], LOCAL),
            "channel": [r[2] for r in rows],
        }
    )
    path = Path("orders") / "month=2026-11" / "test.parquet"
    (lake_root() / path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, lake_root() / path)
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="t")
    LakeFile.objects.create(
        run=run, table="orders", month="2026-11", path=str(path), rows=len(rows)
    )


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The hand-made engine (breakfast, lunch and dinner offers) behind the batch, a store in
    New York, a breakfast-only customer and one who never ordered."""
    world = world_create()
    snapshot = CatalogSnapshot.objects.create(sha256="t" * 64, offers=CATALOG, dayparts=DAYPARTS)
    engine = make_engine()
    engine.model_id, engine.rule_version_id = world.model.pk, world.rule_version.pk
    monkeypatch.setattr(
        batch_module, "engine_current", lambda seed: (engine, world.definition, snapshot)
    )
    monkeypatch.setattr(batch_module, "performance_refresh", lambda batch: 0)
    Store.objects.create(
        store_id="NY1", name="Times Square", pricing_tier="value", timezone=NEW_YORK
    )
    Customer.objects.create(customer_id="BREAKFAST")
    Customer.objects.create(customer_id="NEWCOMER")
    _orders_write(
        [
            ("BREAKFAST", "NY1", "drive_thru", dt.datetime(2026, 11, day, 7, 40))
            for day in range(2, 12)
        ]
    )
    return engine


def _assign(**window: Any) -> AssignmentBatch:
    run = assignment_run_start(at=AT, holdout_share=0.0, seed=1, enqueue=False, **window)
    done = assignment_run_execute(run_id=run.pk)
    assert done is not None and done.status == RunStatus.SUCCEEDED, done and done.error
    return AssignmentBatch.objects.get(run=run)


def test_a_breakfast_customer_assigned_in_the_us_evening_gets_breakfast_offers(
    engine: Any,
) -> None:
    batch = _assign()

    receipt = Decision.objects.get(batch=batch, customer_id="BREAKFAST")
    context = receipt.context
    assert context["daypart"] == "breakfast"
    assert context["local_time"] == "2026-12-06 07:45"  # breakfast's middle, first valid day
    assert context["store_id"] == "NY1" and context["channel"] == "drive_thru"
    assert context["decided_for"] == {
        "daypart": "breakfast",
        "store_id": "NY1",
        "channel": "drive_thru",
        "at": "2026-12-06T12:45:00+00:00",
        "basis": "usual",
        "reason": "the customer's usual daypart",
    }
    assert receipt.at == AT  # when it was decided; the receipt names what it was decided for
    given = list(receipt.assignments.values_list("offer_id", flat=True))
    assert given
    assert all(not DAYPARTS_OF[o] or "breakfast" in DAYPARTS_OF[o] for o in given)
    excluded = receipt.exclusions.excluded
    assert "breakfast-muffin" not in excluded
    assert excluded["dinner-box"] == "daypart: runs dinner; it is breakfast at the store"

    newcomer = Decision.objects.get(batch=batch, customer_id="NEWCOMER").context
    assert newcomer["daypart"] == "breakfast"  # the chain's most common daypart
    assert newcomer["decided_for"]["basis"] == "chain"

    # A replay decides at the receipt's own instant: the same slots.
    replayed = decide(engine, [situation_of(receipt)], {k: tuple(v) for k, v in DAYPARTS.items()})
    assert replayed[0].slots == receipt.slots


def test_the_validity_window_chosen_is_stored_and_on_every_receipt(
    engine: Any, client: Client, admin_user: Any
) -> None:
    batch = _assign(valid_from=dt.date(2026, 12, 8), valid_days=7)

    assert (batch.valid_from, batch.valid_days) == (dt.date(2026, 12, 8), 7)
    assert batch.run.parameters["valid_from"] == "2026-12-08"
    assert batch.run.parameters["valid_days"] == 7
    receipt = Decision.objects.get(batch=batch, customer_id="BREAKFAST")
    assert receipt.context["validity"] == {"from": "2026-12-08", "days": 7}
    assert receipt.context["local_time"] == "2026-12-08 07:45"  # decided on the first day
    client.force_login(admin_user)
    api = client.get(f"/api/v1/receipts/{receipt.pk}/").json()["context"]
    assert api["validity"] == {"from": "2026-12-08", "days": 7}
    assert api["decided_for"]["daypart"] == "breakfast"
    assert api["decided_for"]["reason"] == "the customer's usual daypart"


def test_without_a_window_the_batch_runs_from_its_day_until_the_next_batch(engine: Any) -> None:
    batch = _assign()

    assert (batch.valid_from, batch.valid_days) == (dt.date(2026, 12, 6), None)
    receipt = Decision.objects.get(batch=batch, customer_id="BREAKFAST")
    assert receipt.context["validity"] == {"from": "2026-12-06", "days": None}


def test_the_command_takes_the_window(engine: Any) -> None:
    out = StringIO()
    call_command(
        "assign_offers",
        at=AT,
        holdout=0.0,
        seed=1,
        valid_from=dt.date(2026, 12, 7),
        valid_days=3,
        stdout=out,
    )

    batch = AssignmentBatch.objects.get(is_active=True)
    assert (batch.valid_from, batch.valid_days) == (dt.date(2026, 12, 7), 3)
    assert "valid from 2026-12-07 for 3 days (through 2026-12-09)." in out.getvalue()


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"valid_days": 0}, "valid days: must be from 1 to 366, not 0"),
        ({"valid_from": dt.date(2028, 1, 1)}, "valid from: 2028-01-01 is more than 366 days"),
    ],
)
def test_a_bad_window_is_refused_and_nothing_is_queued(
    window: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecommenderError, match=message):
        assignment_run_start(at=AT, enqueue=False, **window)
    assert not Run.objects.filter(kind=RunKind.ASSIGNMENT).exists()
