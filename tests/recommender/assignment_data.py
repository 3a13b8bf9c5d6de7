"""What a batch, a receipt and its assignments point at, written straight into the database
(no segmentation, training or assignment run): for tests of what reads them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import RuleSet, RuleVersion
from recommender.models import (
    Assignment,
    AssignmentBatch,
    CatalogSnapshot,
    Decision,
    DecisionSource,
    ExclusionSheet,
    RecommenderModel,
)
from segments.models import SegmentDefinition
from tests.offers.factories import OfferFactory
from tests.segments.segmentation_data import segmentation_create

OFFER_NAMES = (("O1", "Morning Coffee"), ("O2", "Burger Duo"), ("O3", "Fries Free"))


@dataclass
class World:
    definition: SegmentDefinition
    rule_version: RuleVersion
    model: RecommenderModel
    catalog: CatalogSnapshot
    sheet: ExclusionSheet


def world_create() -> World:
    """Offers O1-O3, segments 1 Regulars and 2 Lapsing, and what a decision points at."""
    for offer_id, name in OFFER_NAMES:
        OfferFactory(offer_id=offer_id, name=name)
    definition = segmentation_create(segments={1: ("Regulars", {}), 2: ("Lapsing", {})})
    rule_set = RuleSet.objects.create(definition=definition, document={})
    return World(
        definition=definition,
        rule_version=RuleVersion.objects.create(rule_set=rule_set, number=1, document={}),
        model=RecommenderModel.objects.create(version=1, artifact="v1"),
        catalog=CatalogSnapshot.objects.create(sha256="c" * 64, offers=[], dayparts={}),
        sheet=ExclusionSheet.objects.create(sha256="e" * 64, excluded={}),
    )


def batch_create(
    world: World,
    at: dt.datetime,
    *,
    activated: bool = True,
    customers: int = 0,
    holdout_customers: int = 0,
    assignments: int = 0,
) -> AssignmentBatch:
    """A batch as a finished assignment run leaves it: activated (and active) or not."""
    run = Run.objects.create(kind=RunKind.ASSIGNMENT, status=RunStatus.SUCCEEDED, task_name="t")
    if activated:
        AssignmentBatch.objects.filter(is_active=True).update(is_active=False)
    return AssignmentBatch.objects.create(
        run=run,
        at=at,
        holdout_share=0.2,
        seed=1,
        definition=world.definition,
        rule_version=world.rule_version,
        model=world.model,
        catalog=world.catalog,
        customers=customers,
        holdout_customers=holdout_customers,
        assignments=assignments,
        is_active=activated,
        activated_at=at if activated else None,
    )


def decision_create(
    world: World,
    customer: str,
    offers: list[str],
    *,
    batch: AssignmentBatch | None = None,
    at: dt.datetime | None = None,
    segment: int | None = 1,
    holdout: bool = False,
    daypart: str = "breakfast",
    tier: str = "value",
    labels: tuple[str, ...] = ("Best", "Revenue", "Extra"),
) -> Decision:
    """A receipt and its assignments, slot n holding the n-th offer (labelled labels[n-1])."""
    when = batch.at if batch is not None else at
    assert when is not None
    decision = Decision.objects.create(
        batch=batch,
        source=DecisionSource.BATCH if batch else DecisionSource.API,
        customer_id=customer,
        known_customer=True,
        at=when,
        context={"daypart": daypart, "tier": tier},
        segment_key=segment,
        rule_version=world.rule_version,
        model=world.model,
        catalog=world.catalog,
        exclusions=world.sheet,
        slots=[],
        holdout=holdout,
    )
    Assignment.objects.bulk_create(
        Assignment(
            decision=decision,
            batch=batch,
            customer_id=customer,
            offer_id=offer,
            segment_key=segment,
            slot=slot,
            slot_label=labels[slot - 1],
            score=0.5,
            goal_value=1.0,
            holdout=holdout,
            at=when,
        )
        for slot, offer in enumerate(offers, start=1)
    )
    return decision
