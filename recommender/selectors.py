from django.db.models import OuterRef, Prefetch, Subquery

from offers.models import Item, Offer
from recommender.models import (
    Assignment,
    AssignmentBatch,
    CustomerState,
    Decision,
    EmbeddingSpace,
    RecommenderModel,
)

RECENT_DECISIONS = 5


def model_active() -> RecommenderModel | None:
    """The model that serves now; the one reader of it."""
    return RecommenderModel.objects.filter(is_active=True).first()


def batch_active() -> AssignmentBatch | None:
    """The batch whose offers customers hold now; the one reader of it."""
    return AssignmentBatch.objects.filter(is_active=True).first()


def embedding_space_active() -> EmbeddingSpace | None:
    """The offer embedding space new offers are embedded in; the one reader of it."""
    return EmbeddingSpace.objects.filter(is_active=True).first()


def customer_decisions(*, customer_id: str) -> list[Decision]:
    """The customer's current offers (the active batch's receipt), then their latest
    real-time receipts, newest first."""
    named = Assignment.objects.annotate(
        offer_name=Subquery(Offer.objects.filter(offer_id=OuterRef("offer_id")).values("name")[:1])
    ).order_by("slot", "id")
    decisions = Decision.objects.filter(customer_id=customer_id).prefetch_related(
        Prefetch("assignments", queryset=named)
    )
    batch = batch_active()
    current = list(decisions.filter(batch=batch)[:1]) if batch else []
    recent = list(decisions.filter(batch__isnull=True).order_by("-at", "-id")[:RECENT_DECISIONS])
    return current + recent


def customer_recent_events(*, customer_id: str) -> list[dict[str, str]]:
    """The customer's last events as the active batch read them (oldest first), named:
    what they ordered and which offers they redeemed, without reading the lake."""

    batch = batch_active()
    state = (
        CustomerState.objects.filter(batch=batch, customer_id=customer_id).first()
        if batch
        else None
    )
    if state is None:
        return []
    events = [event.partition(":") for event in state.history]
    items = dict(
        Item.objects.filter(item_id__in=[v for k, _, v in events if k == "item"]).values_list(
            "item_id", "name"
        )
    )
    offers = dict(
        Offer.objects.filter(offer_id__in=[v for k, _, v in events if k == "offer"]).values_list(
            "offer_id", "name"
        )
    )
    return [
        {
            "kind": kind,
            "id": value,
            "name": (items if kind == "item" else offers).get(value, value),
            "home_store": state.home_store,
            "channel": state.channel,
        }
        for kind, _, value in events
    ]
