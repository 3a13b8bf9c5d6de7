import logging

from celery import shared_task

from deepflame_web.core.services import RunAlreadyActive
from offers.models import Offer
from offers.services import offer_embedding_started
from recommender.assignment.batch import assignment_run_execute
from recommender.assignment.feedback import feedback_to_lake as land
from recommender.assignment.performance import performance_refresh
from recommender.assignment.preview import rule_preview_execute
from recommender.ml.embeddings import offer_embedding_refresh
from recommender.models import AssignmentBatch
from recommender.selectors import batch_active, embedding_space_active
from recommender.services import training_run_execute

logger = logging.getLogger(__name__)


@shared_task(name="recommender.tasks.heavy_refresh_offer_embedding")
def heavy_refresh_offer_embedding(offer_pk: int) -> None:
    """An edited or new offer's embedding in the active space (heavy queue: loads encoders)."""
    offer_embedding_started(offer_pk=offer_pk)
    offer = Offer.objects.filter(pk=offer_pk).first()
    if offer is None or embedding_space_active() is None:
        logger.info("offer %s: no offer or no active embedding space, nothing to embed", offer_pk)
        return
    offer_embedding_refresh(offer=offer)


@shared_task(name="recommender.tasks.heavy_train_recommender")
def heavy_train_recommender(run_id: int) -> None:
    training_run_execute(run_id=run_id)


PREVIEW_TIME_LIMIT = 30 * 60


@shared_task(
    name="recommender.tasks.heavy_rule_preview",
    time_limit=PREVIEW_TIME_LIMIT,
    soft_time_limit=PREVIEW_TIME_LIMIT - 30,
)
def heavy_rule_preview(run_id: int) -> None:
    """Preview a draft with the assignment engine (see recommender.assignment.preview)."""
    rule_preview_execute(run_id=run_id)


@shared_task(name="recommender.tasks.heavy_assign_offers")
def heavy_assign_offers(run_id: int) -> None:
    assignment_run_execute(run_id=run_id)


@shared_task(name="recommender.tasks.feedback_to_lake")
def feedback_to_lake() -> None:
    """Land feedback not yet in the lake; while an import runs, the next call does it."""

    try:
        land()
    except RunAlreadyActive as exc:
        logger.info("feedback stays out of the lake for now: %s", exc)


@shared_task(name="recommender.tasks.heavy_refresh_performance")
def heavy_refresh_performance(batch_id: int | None = None) -> None:
    """Recount the offer performance of a batch (the active one when none is given)."""

    batches = AssignmentBatch.objects.filter(activated_at__isnull=False)
    batch = batches.filter(pk=batch_id).first() if batch_id is not None else batch_active()
    if batch is None:
        logger.info("no batch %s to count performance of", batch_id or "active")
        return
    performance_refresh(batch=batch)
