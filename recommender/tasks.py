import logging

from celery import shared_task

from offers.models import Offer
from recommender.embeddings import offer_embedding_refresh
from recommender.models import EmbeddingSpace

logger = logging.getLogger(__name__)


@shared_task(name="recommender.tasks.heavy_refresh_offer_embedding")
def heavy_refresh_offer_embedding(offer_pk: int) -> None:
    """An edited or new offer's embedding in the active space (heavy queue: loads encoders)."""
    offer = Offer.objects.filter(pk=offer_pk).first()
    if offer is None or not EmbeddingSpace.objects.filter(is_active=True).exists():
        logger.info("offer %s: no offer or no active embedding space, nothing to embed", offer_pk)
        return
    offer_embedding_refresh(offer=offer)


@shared_task(name="recommender.tasks.heavy_train_recommender")
def heavy_train_recommender(run_id: int) -> None:
    from recommender.services import training_run_execute

    training_run_execute(run_id=run_id)


@shared_task(name="recommender.tasks.heavy_assign_offers")
def heavy_assign_offers(run_id: int) -> None:
    from recommender.assignment.batch import assignment_run_execute

    assignment_run_execute(run_id=run_id)
