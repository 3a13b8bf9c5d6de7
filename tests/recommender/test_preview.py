"""The rule preview decides with the assignment engine (model, inputs and context of a batch)
and estimates what a draft would do from the randomized holdout; the simulate box shows one
customer's offers under the draft and the rules in force."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pytest
from django.db.models import Count
from django.test import Client

from deepflame_web.core.models import RunStatus
from offers.models import RuleSet, Store
from offers.rules.services import rule_preview_start, rule_set_draft_update
from recommender.assignment import impact
from recommender.assignment.batch import assignment_run_execute, assignment_run_start
from recommender.assignment.preview import preview_engines, rule_preview_execute
from recommender.assignment.receipts import situation_of
from recommender.models import (
    AssignmentBatch,
    Decision,
    RecommenderModel,
)
from segments.models import Customer
from tests.factories import UserFactory
from tests.recommender.conftest import redeem_shown

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
ON = dt.date(2025, 4, 1)
AT = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)  # the preview of a past day reads history up to it


def _batch(share: float = 0.3) -> AssignmentBatch:
    run = assignment_run_start(at=AT, holdout_share=share, seed=3, valid_from=ON, enqueue=False)
    finished = assignment_run_execute(run_id=run.pk)
    assert finished is not None
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    return AssignmentBatch.objects.get(run=run)


def _preview(rule_set: RuleSet) -> dict[str, Any]:
    run = rule_preview_start(rule_set=rule_set, user=None, on=ON, enqueue=False)
    finished = rule_preview_execute(run_id=run.pk)
    assert finished is not None
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    return finished.result


def _draft(document: dict[str, Any]) -> RuleSet:
    rule_set = RuleSet.objects.get()
    return rule_set_draft_update(
        rule_set=rule_set, document=document, expected_revision=rule_set.revision, user=None
    )


def _chosen(decision: Decision) -> list[str]:
    return [entry["offer_id"] for slot in decision.slots for entry in slot["chosen"]]


def test_the_preview_gives_each_customer_what_assignment_gives(served: None) -> None:
    batch = _batch(share=0.0)

    result = _preview(RuleSet.objects.get())

    model = RecommenderModel.objects.get(is_active=True)
    assert result["ranking"].startswith(f"the active model v{model.version} ({model.scorer})")
    assert (result["customers"], result["sampled"]) == (Customer.objects.count(), False)
    assert result["changed_customers"] == 0  # the draft is the version in force
    samples = [c for s in result["segments"] for c in s["samples"]]
    assert len(samples) >= 3
    for sample in samples:
        decision = Decision.objects.get(batch=batch, customer_id=sample["customer_id"])
        assert [p["offer_id"] for p in sample["draft"]] == _chosen(decision)
        assert sample["in_force"] == sample["draft"]
        assert sample["daypart"] == decision.context["decided_for"]["daypart"]


def test_a_draft_without_a_segments_rule_changes_exactly_that_segments_customers(
    served: None,
) -> None:
    _batch()
    document = copy.deepcopy(RuleSet.objects.get().document)
    dropped = next(r for r in document["segments"] if r["segment_key"] is not None)
    document["segments"].remove(dropped)

    result = _preview(_draft(document))

    rows = {s["segment_key"]: s for s in result["segments"]}
    gone = rows[dropped["segment_key"]]
    assert (gone["has_rule"], gone["offers"], gone["changed_customers"]) == (
        False, [], gone["customers"]
    )  # fmt: skip
    assert gone["published_offers"], "the rules in force gave that segment offers"
    assert result["changed_customers"] == gone["customers"] > 0
    others = [s for key, s in rows.items() if key != dropped["segment_key"]]
    assert all(s["changed_customers"] == 0 for s in others)
    estimate = result["impact"]["draft"]["segments"][str(dropped["segment_key"])]["holdout"]
    assert estimate["per_customer"]["redemptions"]["value"] in (0.0, None)


def test_holdout_propensities_are_the_holdouts_own_chances(served: None) -> None:
    """Served rules: a slot of 2 and a slot of 1 over the same offers, so each of n
    candidates is shown with chance 2/n + (1 - 2/n) / (n - 2) = 3/n."""
    batch = _batch()
    decision = Decision.objects.filter(batch=batch, holdout=True).first()
    assert decision is not None
    rule_set = RuleSet.objects.get()
    _, in_force, dayparts = preview_engines(rule_set, rule_set.document)
    situation = situation_of(decision)

    chances = impact.holdout_propensities(in_force, [situation], dayparts)[0]

    candidates = decision.slots[0]["candidates"]
    assert candidates >= 3 and len(chances) == candidates
    assert np.allclose(list(chances.values()), 3 / candidates, atol=0.015)
    assert set(_chosen(decision)) <= set(chances)


def test_every_shown_offer_redeemed_estimates_one_redemption_per_offer_given(
    served: None,
) -> None:
    batch = _batch()
    assert redeem_shown(batch) > 0

    result = _preview(RuleSet.objects.get())

    total = result["impact"]["in_force"]["total"]
    holdout = total["holdout"]
    # Self-normalized: a weighted rate of 1 per offer given, times the 3 offers per customer.
    assert holdout["per_customer"]["redemptions"] == pytest.approx(
        {"value": 3.0, "low": 3.0, "high": 3.0}
    )
    assert (holdout["too_small"], holdout["support"]) == (False, 1.0)
    assert holdout["holdout_customers"] == batch.holdout_customers
    assert result["impact"]["draft"]["total"] == total  # the draft is the version in force
    expected = result["expected_redemptions"]
    assert expected["draft"]["value"] == pytest.approx(3.0 * Customer.objects.count())


def test_without_holdout_redemptions_the_preview_says_it_cannot_tell(served: None) -> None:
    batch = _batch()
    run = rule_preview_start(rule_set=RuleSet.objects.get(), user=None, on=ON, enqueue=False)
    result = rule_preview_execute(run_id=run.pk)
    assert result is not None
    client = client_for(UserFactory(role="Marketer"))

    card = client.get(f"/rules/preview/{run.pk}/").content.decode()
    page = client.get(f"/rules/preview/{run.pk}/page/").content.decode()

    assert result.result["impact"]["in_force"]["total"]["holdout"]["too_small"] is True
    assert result.result["expected_redemptions"]["too_small"] is True
    holdout = batch.holdout_customers
    assert f"the active batch's holdout ({holdout} customers) has 0 redemptions" in card
    assert 'data-estimate="draft"' not in card  # no figure that reads as a finding
    assert page.count("too few holdout redemptions to tell") == 2 * (
        1 + len(result.result["segments"])
    )  # every row of both tables
    assert "0 to 0" not in page


def test_without_a_batch_the_preview_decides_and_says_where_the_estimate_comes_from(
    served: None,
) -> None:
    result = _preview(RuleSet.objects.get())

    assert result["customers"] == Customer.objects.count()
    assert result["impact"] == {
        "available": False,
        "why": "No active batch with a holdout: assign offers first.",
    }


def test_the_preview_page_shows_the_estimates_and_offers_by_name(served: None) -> None:
    batch = _batch()
    redeem_shown(batch)
    run = rule_preview_start(rule_set=RuleSet.objects.get(), user=None, on=ON, enqueue=False)
    rule_preview_execute(run_id=run.pk)
    marketer = UserFactory(role="Marketer")

    page = client_for(marketer).get(f"/rules/preview/{run.pk}/page/").content.decode()

    assert '<table class="impact" id="impact-holdout">' in page
    assert '<table class="impact" id="impact-model">' in page
    assert "From the randomized holdout" in page and "From the model&#x27;s scores" in page
    assert f"{3 * Customer.objects.count():,}" in page  # all customers, redemptions
    assert 'id="simulate-form"' in page


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _simulate(client: Client, **fields: str) -> str:
    return client.post("/rules/simulate/", fields).content.decode()


def test_simulate_shows_the_draft_beside_the_rules_in_force(served: None) -> None:
    document = copy.deepcopy(RuleSet.objects.get().document)
    for rule in document["segments"]:
        rule["slots"] = rule["slots"][:1]
    _draft(document)
    store = Store.objects.order_by("store_id").first()
    assert store is not None
    customer = Customer.objects.order_by("customer_id").first()
    assert customer is not None
    client = client_for(UserFactory(role="Analyst"))

    page = _simulate(
        client,
        customer_id=customer.customer_id,
        store_id=store.store_id,
        local_time="2025-03-28T12:30",
        channel="",
    )

    assert 'data-side="in-force"' in page and 'data-side="draft"' in page
    in_force, draft = page.split('data-side="draft"')
    assert in_force.count('<tr data-slot="') == 2 and draft.count('<tr data-slot="') == 1
    assert "The draft (revision 2), rule for segment" in draft
    assert "2025-03-28 12:30" in draft
    assert Decision.objects.filter(customer_id=customer.customer_id).count() == 0  # nothing written


def test_simulate_names_what_is_wrong(served: None) -> None:
    client = client_for(UserFactory(role="Marketer"))

    page = _simulate(client, store_id="NOPE", local_time="tomorrow", channel="fax")

    assert "&quot;tomorrow&quot; is not a date and time" in page
    assert "Unknown channel &quot;fax&quot;." in page
    unknown_store = _simulate(client, store_id="NOPE", local_time="2025-03-28T12:30")
    assert "Unknown store &quot;NOPE&quot;." in unknown_store


def test_counts_per_segment_add_up(served: None) -> None:
    _batch()
    result = _preview(RuleSet.objects.get())
    counted = dict(
        Decision.objects.filter(batch__is_active=True)
        .values_list("segment_key")
        .annotate(n=Count("id"))
    )
    assert {s["segment_key"]: s["customers"] for s in result["segments"]} == counted
