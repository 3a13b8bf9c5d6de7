"""Offer assignment end to end on a generated chain: import -> segments -> model -> published
rules -> a batch in a real Celery worker -> receipts that replay -> the real-time API with
token authentication, and a new rule version served without a restart."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.models import F, ForeignKey, ProtectedError
from django.test import Client

from deepflame_web.core.api_tokens import api_token_issue
from deepflame_web.core.lake import lake_read
from deepflame_web.core.models import RunStatus
from deepflame_web.core.services import RunError
from offers.rules.services import rule_set_draft_create, rule_set_publish
from recommender.assignment import batch as batch_module
from recommender.assignment import serving
from recommender.assignment.batch import assignment_run_start
from recommender.assignment.receipts import decision_replay
from recommender.models import (
    Assignment,
    AssignmentBatch,
    CustomerState,
    Decision,
    RecommenderModel,
)
from recommender.registry import model_scorer_choose
from segments.models import Customer, CustomerSegment
from segments.selectors import segmentation_active
from tests.worker import celery_worker, run_wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
AT = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)


def _last_events_before(at: dt.datetime, length: int = 20) -> dict[str, list[str]]:
    """Each customer's last events before `at`, oldest first, computed here from the lake
    with pandas (items ordered; offers redeemed first at the same instant)."""
    lines = lake_read(table="order_lines", columns=["customer_id", "ordered_at", "item_id"])
    redemptions = lake_read(
        table="offer_redemptions", columns=["customer_id", "redeemed_at", "offer_id"]
    )
    items = lines.to_pandas().rename(columns={"ordered_at": "t", "item_id": "id"})
    offers = redemptions.to_pandas().rename(columns={"redeemed_at": "t", "offer_id": "id"})
    items["token"], items["rank"] = "item:" + items["id"], 1
    offers["token"], offers["rank"] = "offer:" + offers["id"], 0
    events = pd.concat([items, offers], ignore_index=True)
    events = events[(events["customer_id"] != "") & (events["t"] < pd.Timestamp(at))]
    events = events.sort_values(
        ["customer_id", "t", "rank", "token"], ascending=[True, False, True, False]
    )
    latest = events.groupby("customer_id").head(length)
    return {
        customer: list(reversed(group["token"].tolist()))
        for customer, group in latest.groupby("customer_id", sort=False)
    }


def _purchases_before(at: dt.datetime) -> dict[str, dict[str, tuple[int, float]]]:
    """Each customer's (count, 14-day decayed count) per item of every order line before
    `at`, computed here from the lake with pandas."""
    lines = lake_read(table="order_lines", columns=["customer_id", "ordered_at", "item_id"])
    frame = lines.to_pandas()
    frame = frame[(frame["customer_id"] != "") & (frame["ordered_at"] < pd.Timestamp(at))]
    age_days = (pd.Timestamp(at) - frame["ordered_at"]).dt.total_seconds() / 86400
    frame = frame.assign(decay_14=0.5 ** (age_days / 14))
    counted = frame.groupby(["customer_id", "item_id"])["decay_14"].agg(["size", "sum"])
    bought: dict[str, dict[str, tuple[int, float]]] = {}
    for (customer, item), row in counted.iterrows():
        bought.setdefault(customer, {})[item] = (int(row["size"]), float(row["sum"]))
    return bought


def _loose_keys() -> list[tuple[str, str, str]]:
    """(table, column, referenced table) of each foreign key that the database does not
    check (recommender.models.Decision.batch)."""
    return [
        (model._meta.db_table, field.column, field.target_field.model._meta.db_table)
        for model in (Decision, Assignment, CustomerState)
        for field in model._meta.concrete_fields
        if isinstance(field, ForeignKey) and not field.db_constraint  # type: ignore[attr-defined]
    ]


def _dangling_keys() -> dict[str, int]:
    """Rows whose loose key names a row that does not exist, per table and key."""
    keys = _loose_keys()
    assert len(keys) == 8
    found = {}
    with connection.cursor() as cursor:
        for table, key, target in keys:
            cursor.execute(
                f"SELECT count(*) FROM {table} AS r WHERE r.{key} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {target} AS t WHERE t.id = r.{key})"
            )
            found[f"{table}.{key}"] = cursor.fetchone()[0]
    return {name: count for name, count in found.items() if count}


def test_a_batch_in_the_worker_assigns_everyone_holds_out_five_percent_and_replays(
    served: None, tmp_path: Path
) -> None:
    with celery_worker(tmp_path / "worker.log"):
        run = run_wait(assignment_run_start(at=AT, seed=7))
    assert run.status == RunStatus.SUCCEEDED, run.error
    batch = AssignmentBatch.objects.get(is_active=True)
    customers = Customer.objects.count()
    assert run.result["customers"] == batch.customers == customers
    decisions = Decision.objects.filter(batch=batch)
    assert decisions.count() == customers
    assert decisions.values("customer_id").distinct().count() == customers
    assert CustomerState.objects.filter(batch=batch).count() == customers
    assert Assignment.objects.filter(batch=batch).count() == batch.assignments > customers
    assert batch.scorer == batch.model.scorer
    assert set(decisions.values_list("scorer", flat=True)) == {batch.model.scorer}

    definition = segmentation_active()
    sizes = Counter(
        CustomerSegment.objects.filter(definition=definition).values_list("segment__key", flat=True)
    )
    held = Counter(decisions.filter(holdout=True).values_list("segment_key", flat=True))
    for key, size in sizes.items():
        assert held[key] == round(0.05 * size), (key, size)

    expected = _last_events_before(AT)
    with_history = [d for d in decisions if d.customer_id in expected]
    assert len(with_history) > customers / 3
    for decision in with_history[:50]:
        assert decision.history == expected[decision.customer_id], decision.customer_id
    bought = _purchases_before(AT)
    for decision in with_history[:50]:
        assert decision.purchases.keys() == bought[decision.customer_id].keys()
        for item, (count, decay_14) in bought[decision.customer_id].items():
            assert decision.purchases[item][:2] == pytest.approx([count, decay_14], abs=1e-4)

    for decision in decisions.order_by("?")[:25]:
        replay = decision_replay(decision)
        assert replay.same, (replay.recorded, replay.replayed)
        offers = [a.offer_id for a in decision.assignments.order_by("slot", "id")]
        assert len(offers) == len(set(offers))
        assert decision.rule_version_id == batch.rule_version_id
        assert decision.context["local_time"].startswith("2025-03-")
    assert _dangling_keys() == {}
    mismatched = Assignment.objects.filter(batch=batch).exclude(
        decision__batch=batch, decision__customer_id=F("customer_id")
    )
    assert not mismatched.exists()
    with pytest.raises(ProtectedError):
        batch.model.delete()


def test_a_failed_batch_leaves_the_previous_one_active_and_nothing_of_its_own(
    served: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_command("assign_offers", at=AT, seed=1, stdout=StringIO())
    first = AssignmentBatch.objects.get(is_active=True)
    rows = Decision.objects.count()
    written = batch_module.batch_decisions_write

    def fail_on_second_chunk(**kwargs: Any) -> int:
        if Decision.objects.count() > rows:
            raise RunError("disk full")
        return written(**kwargs)

    monkeypatch.setattr(batch_module, "CHUNK", 50)
    monkeypatch.setattr(batch_module, "batch_decisions_write", fail_on_second_chunk)
    with pytest.raises(Exception, match="disk full"):
        call_command("assign_offers", at=AT, seed=2, stdout=StringIO())

    assert list(AssignmentBatch.objects.values_list("pk", "is_active")) == [(first.pk, True)]
    assert Decision.objects.count() == rows
    assert not CustomerState.objects.exclude(batch=first).exists()
    assert not Assignment.objects.exclude(batch=first).exists()
    assert _dangling_keys() == {}


def _client() -> Client:
    user = User.objects.create_user("pos-terminal")
    user.groups.add(Group.objects.get_or_create(name="Analyst")[0])
    _, key = api_token_issue(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _request_at_home(state: CustomerState) -> dict[str, str]:
    """A recommendation request for the customer at their usual store and channel, the
    morning after the batch."""
    return {
        "customer_id": state.customer_id,
        "store_id": state.home_store,
        "at": "2025-03-21T08:15:00+00:00",
        "channel": state.channel,
    }


def test_the_api_recommends_with_a_receipt_and_serves_new_rules_and_scorers_without_a_restart(
    served: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_command("assign_offers", at=AT, seed=1, stdout=StringIO())
    monkeypatch.setattr(serving, "CHECK_SECONDS", 0.0)
    client = _client()
    member = CustomerSegment.objects.select_related("segment").order_by("customer_id").first()
    assert member is not None
    state = CustomerState.objects.get(customer_id=member.customer_id)
    body = _request_at_home(state)

    response = client.post("/api/v1/recommendations/", body, content_type="application/json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["customer"]["segment_key"] == member.segment.key
    assert data["customer"]["known"] is True and data["rule_version"] == 1
    assert data["offers"] and data["context"]["store_id"] == state.home_store
    receipt = client.get(f"/api/v1/receipts/{data['decision_id']}/").json()
    assert receipt["history"] == state.history and receipt["trajectory"] == state.trajectory
    active = RecommenderModel.objects.get(is_active=True)
    assert data["scorer"] == receipt["scorer"] == active.scorer
    # The batch's purchases, decayed from its instant to the request's (20 h 15 min later).
    assert receipt["purchases"].keys() == state.purchases.keys() and state.purchases
    item, as_of_batch = next(iter(state.purchases.items()))
    assert receipt["purchases"][item][0] == as_of_batch[0]
    assert receipt["purchases"][item][1] == pytest.approx(
        as_of_batch[1] * 0.5 ** (20.25 / 24 / 14), abs=1e-4
    )
    assert [c["offer_id"] for s in receipt["slots"] for c in s["chosen"]] == [
        o["offer_id"] for o in data["offers"]
    ]
    assert len(receipt["excluded"]) == data["excluded_count"]
    replay = client.post(f"/api/v1/receipts/{data['decision_id']}/replay/").json()
    assert replay["same"] is True

    new = client.post(
        "/api/v1/recommendations/",
        {**body, "customer_id": "never-seen"},
        content_type="application/json",
    ).json()
    assert new["customer"]["new_customer"] is True and new["customer"]["segment_key"] is None
    assert new["note"].startswith("A new customer")

    bad = client.post(
        "/api/v1/recommendations/",
        {"store_id": "nowhere", "at": "2025-03-21T08:15:00+00:00", "channel": "x", "cart": ["?"]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"store_id", "cart", "channel"}
    assert "nowhere" in bad.json()["store_id"][0]
    missing = client.post("/api/v1/recommendations/", {}, content_type="application/json")
    assert missing.status_code == 400 and {"store_id", "at", "channel"} <= set(missing.json())
    several = client.post(
        "/api/v1/recommendations/",
        {"store_id": "nowhere", "at": "yesterday", "channel": "", "cart": ["?"]},
        content_type="application/json",
    ).json()
    assert set(several) == {"store_id", "at", "channel", "cart"}
    assert "nowhere" in several["store_id"][0] and "?" in several["cart"][0]
    assert Client().post("/api/v1/recommendations/", body).status_code in (401, 403)

    definition = segmentation_active()
    assert definition is not None
    rule_set = rule_set_draft_create(definition=definition, user=None)
    rule_set.document = {
        "segments": [
            {"segment_key": member.segment.key, "slots": [{"label": "Just one", "count": 1}]}
        ]
    }
    rule_set.save()
    rule_set_publish(rule_set=rule_set, author=None, note="one offer only")

    again = client.post("/api/v1/recommendations/", body, content_type="application/json").json()
    assert again["rule_version"] == 2
    assert [o["slot_label"] for o in again["offers"]] == ["Just one"]

    # An Admin makes the version serve another of its methods: the API decides and names it
    # at once; the earlier receipt still names, and replays with, the scorer that decided it.
    other = next(name for name in ("Global popularity", "TxT") if name != active.scorer)
    model_scorer_choose(version=active.version, scorer=other)
    chosen = client.post("/api/v1/recommendations/", body, content_type="application/json")
    assert chosen.json()["scorer"] == other
    assert client.get(f"/api/v1/receipts/{chosen.json()['decision_id']}/").json()["scorer"] == other
    assert client.get(f"/api/v1/receipts/{data['decision_id']}/").json()["scorer"] == active.scorer
    assert client.post(f"/api/v1/receipts/{data['decision_id']}/replay/").json()["same"] is True
    assert Decision.objects.filter(source="api").count() >= 4
    assert _dangling_keys() == {}


def test_txt_with_its_count_ranker_serves_a_batch_and_the_api_and_its_receipts_replay(
    served: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = RecommenderModel.objects.get(is_active=True)
    model_scorer_choose(version=active.version, scorer="TxT + count ranker")
    call_command("assign_offers", at=AT, seed=1, stdout=StringIO())
    batch = AssignmentBatch.objects.get(is_active=True)
    decisions = Decision.objects.filter(batch=batch)
    assert batch.scorer == "TxT + count ranker"
    assert set(decisions.values_list("scorer", flat=True)) == {"TxT + count ranker"}
    for decision in decisions.order_by("?")[:10]:
        replay = decision_replay(decision)
        assert replay.same, (replay.recorded, replay.replayed)

    monkeypatch.setattr(serving, "CHECK_SECONDS", 0.0)
    client = _client()
    state = CustomerState.objects.filter(batch=batch).order_by("customer_id").first()
    assert state is not None
    answer = client.post(
        "/api/v1/recommendations/", _request_at_home(state), content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["scorer"] == "TxT + count ranker" and data["offers"]
    receipt = f"/api/v1/receipts/{data['decision_id']}/"
    assert client.get(receipt).json()["scorer"] == "TxT + count ranker"
    assert client.post(f"{receipt}replay/").json()["same"] is True
