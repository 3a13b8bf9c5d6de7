from recommender.models import AssignmentBatch, Decision, RecommenderModel

RECENT_DECISIONS = 5


def model_version_active() -> RecommenderModel | None:
    return RecommenderModel.objects.filter(is_active=True).first()


def batch_active() -> AssignmentBatch | None:
    return AssignmentBatch.objects.filter(is_active=True).first()


def customer_decisions(*, customer_id: str) -> list[Decision]:
    """The customer's current offers (the active batch's receipt), then their latest
    real-time receipts, newest first."""
    decisions = Decision.objects.filter(customer_id=customer_id).prefetch_related("assignments")
    batch = batch_active()
    current = list(decisions.filter(batch=batch)[:1]) if batch else []
    recent = list(decisions.filter(batch__isnull=True).order_by("-at", "-id")[:RECENT_DECISIONS])
    return current + recent
