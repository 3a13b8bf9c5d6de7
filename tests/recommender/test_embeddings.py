"""Offer embeddings from the real encoders (all-MiniLM-L6-v2 and EfficientNet-Lite0, loaded
from their package folders) on a generated catalog, and a new offer placed without training."""

import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from deepflame_web.console.demo import demo_chain_generate
from offers.models import Offer
from offers.services import offer_update
from recommender.ml.embeddings import (
    EmbeddingError,
    embedding_space_build,
    offer_embedding_refresh,
    offer_vectors,
    offer_vectors_blind,
)
from recommender.ml.encoders import image_encoder, text_encoder
from recommender.models import EmbeddingSpace, OfferEmbedding, OfferEncoding
from tests.worker import celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


@pytest.fixture
def catalog(tmp_path: Path) -> list[Offer]:
    folder = tmp_path / "chain"
    demo_chain_generate(out_dir=folder, customers=100, months=1, seed=3, start=date(2025, 1, 1))
    call_command("import_data", str(folder))
    return list(Offer.objects.order_by("offer_id"))


def nearest_category_rate(ids: list[str], vectors: np.ndarray, category: dict[str, str]) -> float:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    return float(np.mean([category[ids[i]] == category[ids[j]] for i, j in enumerate(nearest)]))


def chance_rate(category: dict[str, str]) -> float:
    counts = np.unique(list(category.values()), return_counts=True)[1]
    return float(((counts / counts.sum()) ** 2).sum())


def test_text_encoder_puts_similar_offers_close() -> None:
    vectors = text_encoder().encode(
        [
            "$3 Croissan'wich meal, 6-10:30am",
            "Breakfast croissant sandwich combo in the morning",
            "Large frozen lemonade, cool down on hot days",
        ]
    )

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_a_space_embeds_every_offer_and_neighbors_share_a_category(catalog: list[Offer]) -> None:
    space = embedding_space_build(dimensions=32)

    assert EmbeddingSpace.objects.get(is_active=True) == space
    assert space.offers == len(catalog) and space.final_loss < space.first_loss / 4
    assert space.text_encoder["dimensions"] == 384
    assert space.image_encoder["name"] == image_encoder().info.name
    ids, vectors = offer_vectors(space=space)
    assert ids == [o.offer_id for o in catalog] and vectors.shape == (len(catalog), 32)
    category = {o.offer_id: o.category for o in catalog}
    assert nearest_category_rate(ids, vectors, category) >= 3 * chance_rate(category)


def test_a_second_build_reuses_encodings_and_switches_the_active_space(
    catalog: list[Offer],
) -> None:
    first = embedding_space_build(dimensions=16)
    encodings = OfferEncoding.objects.count()

    second = embedding_space_build(dimensions=16)

    assert OfferEncoding.objects.count() == encodings == len(catalog)
    assert second.version == first.version + 1
    assert list(EmbeddingSpace.objects.filter(is_active=True)) == [second]


def test_an_offer_added_later_is_placed_among_its_category_without_training(
    catalog: list[Offer],
) -> None:
    held_out = _one_offer_per_category(catalog)
    kept: list[dict[str, Any]] = [_fields(o) for o in held_out]
    Offer.objects.filter(pk__in=[o.pk for o in held_out]).delete()
    space = embedding_space_build(dimensions=32)
    artifact_before = (space.artifact, space.final_loss)
    ids, vectors = offer_vectors(space=space)
    category = {o.offer_id: o.category for o in catalog}

    hits = []
    for fields in kept:
        offer = Offer.objects.create(**fields)
        vector = np.asarray(offer_embedding_refresh(offer=offer).vector, np.float32)
        hits.append(category[ids[int((vectors @ vector).argmax())]] == offer.category)

    space.refresh_from_db()
    assert (space.artifact, space.final_loss) == artifact_before
    assert OfferEmbedding.objects.filter(space=space).count() == len(catalog)
    assert np.mean(hits) >= 3 * chance_rate(category), hits


def test_no_embeddings_without_a_catalog_or_an_active_space(catalog: list[Offer]) -> None:
    with pytest.raises(EmbeddingError, match="No offer embedding space is active"):
        offer_embedding_refresh(offer=catalog[0])
    Offer.objects.all().delete()
    with pytest.raises(EmbeddingError, match="At least two offers"):
        embedding_space_build()


def _one_offer_per_category(catalog: list[Offer]) -> list[Offer]:
    chosen: dict[str, Offer] = {}
    for offer in catalog:
        chosen.setdefault(offer.category, offer)
    return list(chosen.values())


def _fields(offer: Offer) -> dict[str, Any]:
    names = [f.name for f in Offer._meta.concrete_fields if f.name != "id"]
    return {name: getattr(offer, name) for name in names}


@pytest.mark.integration
def test_an_edited_offer_is_re_embedded_by_the_worker(catalog: list[Offer], tmp_path: Path) -> None:
    space = embedding_space_build(dimensions=16)
    offer = catalog[0]
    before = OfferEmbedding.objects.get(space=space, offer=offer)

    offer_update(offer=offer, fields={"description": "Two hot apple pies, all day"})
    with celery_worker(tmp_path / "worker.log"):
        deadline = time.monotonic() + 120
        after = before
        while after.content_sha256 == before.content_sha256 and time.monotonic() < deadline:
            time.sleep(0.5)
            after = OfferEmbedding.objects.get(pk=before.pk)

    assert after.content_sha256 != before.content_sha256
    assert after.vector != before.vector
    space.refresh_from_db()
    assert space.is_active and OfferEmbedding.objects.filter(space=space).count() == len(catalog)


def test_a_blind_space_is_fitted_without_the_hidden_offers(catalog: list[Offer]) -> None:
    ids = [offer.offer_id for offer in catalog]
    hidden = {ids[0], ids[3]}
    before = offer_vectors_blind(offer_ids=ids, hidden=hidden, dimensions=16)

    offer_update(
        offer=catalog[0], fields={"description": "A completely different treat for night owls"}
    )
    after = offer_vectors_blind(offer_ids=ids, hidden=hidden, dimensions=16)

    seen = [i for i, offer_id in enumerate(ids) if offer_id not in hidden]
    # The fit never saw the hidden offers: editing one moves only its own embedding.
    assert np.allclose(before[seen], after[seen], atol=1e-6)
    assert not np.allclose(before[0], after[0], atol=1e-3)
