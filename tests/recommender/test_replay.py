"""A decision receipt is self-contained: it replays the same after the rules, the active model
and the catalog moved on, and a receipt changed after the fact replays as not matching."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from io import StringIO

import pytest
import torch
from django.core.management import call_command
from django.db.models import Max

from offers.models import Offer
from offers.rules.selectors import rule_set_for_definition
from offers.rules.services import rule_set_draft_update, rule_set_publish
from offers.services import offer_update
from recommender.assignment.receipts import decision_replay
from recommender.ml.scorers import NEURAL_FILES
from recommender.models import Decision, RecommenderModel
from recommender.registry import model_activate, model_path
from segments.selectors import segmentation_active

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
AT = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)


def _decisions() -> list[Decision]:
    call_command("assign_offers", at=AT, seed=3, stdout=StringIO())
    decisions = list(Decision.objects.filter(batch__is_active=True).order_by("id")[:12])
    assert decisions and all(d.slots for d in decisions)
    return decisions


def _publish_other_rules() -> None:
    definition = segmentation_active()
    rule_set = rule_set_for_definition(definition=definition)
    assert rule_set is not None
    keys = [*definition.segments.values_list("key", flat=True), None]  # type: ignore[union-attr]
    document = {
        "segments": [
            {"segment_key": key, "slots": [{"label": "Margin", "count": 3, "goal": "margin"}]}
            for key in keys
        ]
    }
    rule_set = rule_set_draft_update(
        rule_set=rule_set, document=document, expected_revision=rule_set.revision, user=None
    )
    rule_set_publish(rule_set=rule_set, author=None, note="a different rule")


def _activate_another_model() -> RecommenderModel:
    """Another version, made active: the active one's files with every TxT weight moved, so
    it scores differently."""
    active = RecommenderModel.objects.get(is_active=True)
    version = RecommenderModel.objects.aggregate(top=Max("version"))["top"] + 1
    folder = model_path(active).parent / f"v{version}"
    shutil.copytree(model_path(active), folder)
    artifact = torch.load(folder / NEURAL_FILES["TxT"], map_location="cpu", weights_only=False)
    generator = torch.Generator().manual_seed(1)
    for name, weights in artifact["state_dict"].items():
        if weights.is_floating_point() and name != "offer_vectors":
            weights.add_(torch.randn(weights.shape, generator=generator) * 0.5)
    torch.save(artifact, folder / NEURAL_FILES["TxT"])
    copy = RecommenderModel.objects.get(pk=active.pk)
    copy.pk, copy.version, copy.is_active = None, version, False
    copy.artifact = str(folder.relative_to(model_path(active).parent.parent))
    copy.save()
    return model_activate(version=version)


def _edit_every_assigned_offer(decisions: list[Decision]) -> None:
    """New text and a doubled discount: the revenue goal of a replay that read the live
    catalog would differ."""
    offered = {a.offer_id for d in decisions for a in d.assignments.all()}
    for offer in Offer.objects.filter(offer_id__in=offered):
        offer_update(
            offer=offer,
            fields={
                "description": f"{offer.description} (new recipe)",
                "discount_value": (offer.discount_value or Decimal(1)) * 2,
            },
        )


def test_receipts_replay_the_same_after_rules_model_and_offers_changed(served: None) -> None:
    decisions = _decisions()
    model_versions = {d.model_id for d in decisions}

    _publish_other_rules()
    _activate_another_model()
    _edit_every_assigned_offer(decisions)

    assert RecommenderModel.objects.get(is_active=True).pk not in model_versions
    for decision in decisions:
        replay = decision_replay(Decision.objects.get(pk=decision.pk))
        assert replay.same, (decision.pk, replay.recorded, replay.replayed)


def test_a_receipt_changed_after_the_fact_does_not_replay_as_the_same(served: None) -> None:
    decision = _decisions()[0]
    slots = decision.slots
    chosen = slots[0]["chosen"][0]
    chosen["score"] = round(chosen["score"] + 0.01, 6)
    Decision.objects.filter(pk=decision.pk).update(slots=slots)

    replay = decision_replay(Decision.objects.get(pk=decision.pk))

    assert not replay.same
    assert replay.replayed[0]["chosen"][0]["offer_id"] == chosen["offer_id"]
