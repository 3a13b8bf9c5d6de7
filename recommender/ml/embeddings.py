"""Offer embeddings: encode the catalog, train the autoencoder, keep one space active.

`embedding_space_build` trains a new space on every offer and activates it in one
transaction; `offer_embedding_refresh` gives one new or edited offer its embedding in the
active space with the frozen encoder (no training), which is how an offer unseen by the model
still gets a meaningful score.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from offers.models import Offer
from offers.selectors import offer_image_path
from recommender.ml.autoencoder import (
    autoencoder_load,
    autoencoder_save,
    autoencoder_train,
    offer_embeddings,
)
from recommender.ml.encoders import image_encoder, text_encoder
from recommender.models import EmbeddingSpace, OfferEmbedding, OfferEncoding
from recommender.selectors import embedding_space_active


class EmbeddingError(Exception):
    """A clear reason why embeddings cannot be made (shown to the user as is)."""


def offer_text(offer: Offer) -> str:
    """What the text encoder reads: the offer's name, description and category."""
    parts = [offer.name, offer.description, offer.category]
    return ". ".join(part.strip() for part in parts if part and part.strip())


@dataclass(frozen=True)
class Encoded:
    """Encoder features of offers, row by row, and the content hash each row stands for."""

    text: np.ndarray
    image: np.ndarray
    content: list[str]


def offer_encodings(offers: list[Offer]) -> Encoded:
    """Text and image features of each offer, encoding only content not encoded before.

    An offer without an image gets zero image features (its text still places it)."""
    contents = {offer.pk: _content(offer) for offer in offers}
    keys = [(offer.pk, contents[offer.pk][0]) for offer in offers]
    known = {
        (e.offer_id, e.content_sha256): e
        for e in OfferEncoding.objects.filter(
            offer__in=offers, content_sha256__in=[key[1] for key in keys]
        )
    }
    missing = [offer for offer, key in zip(offers, keys, strict=True) if key not in known]
    known.update(_encode(missing, contents))
    text_width = text_encoder().info.dimensions
    image_width = image_encoder().info.dimensions
    text = np.asarray([known[key].text for key in keys], np.float32)
    image = np.asarray([known[key].image or [0.0] * image_width for key in keys], np.float32)
    return Encoded(
        text.reshape(len(offers), text_width),
        image.reshape(len(offers), image_width),
        [key[1] for key in keys],
    )


def _content(offer: Offer) -> tuple[str, bytes | None]:
    """(hash of what the encoders see and of which encoders see it, the image bytes)."""
    path = offer_image_path(offer=offer)
    image = path.read_bytes() if path is not None else None
    digest = hashlib.sha256()
    for part in (
        offer_text(offer).encode(),
        image or b"",
        text_encoder().path.encode(),
        image_encoder().info.path.encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest(), image


def _encode(
    offers: list[Offer], contents: dict[int, tuple[str, bytes | None]]
) -> dict[tuple[int, str], OfferEncoding]:
    if not offers:
        return {}
    text = text_encoder().encode([offer_text(o) for o in offers])
    with_image = [o for o in offers if contents[o.pk][1] is not None]
    pictures = image_encoder().encode([contents[o.pk][1] or b"" for o in with_image])
    image_of = {o.pk: row.tolist() for o, row in zip(with_image, pictures, strict=True)}
    created = OfferEncoding.objects.bulk_create(
        OfferEncoding(
            offer=o,
            content_sha256=contents[o.pk][0],
            text=row.tolist(),
            image=image_of.get(o.pk, []),
        )
        for o, row in zip(offers, text, strict=True)
    )
    return {(e.offer_id, e.content_sha256): e for e in created}


def embedding_space_build(*, dimensions: int | None = None) -> EmbeddingSpace:
    """Train a space on the whole catalog and make it active, with every offer's embedding."""
    offers = list(Offer.objects.order_by("offer_id"))
    if len(offers) < 2:
        raise EmbeddingError("At least two offers are needed to train offer embeddings.")
    dimensions = dimensions or settings.OFFER_EMBEDDING_DIM
    encoded = offer_encodings(offers)
    trained = autoencoder_train(encoded.text, encoded.image, embedding_dim=dimensions)
    vectors = offer_embeddings(trained.model, encoded.text, encoded.image)
    version = (EmbeddingSpace.objects.aggregate(top=Max("version"))["top"] or 0) + 1
    relative = f"embeddings/space-{version}.pt"
    autoencoder_save(trained.model, Path(settings.MODEL_DIR) / relative)
    with transaction.atomic():
        space = EmbeddingSpace.objects.create(
            version=version,
            artifact=relative,
            text_encoder=asdict(text_encoder().info),
            image_encoder=asdict(image_encoder().info),
            dimensions=dimensions,
            offers=len(offers),
            first_loss=trained.first_loss,
            final_loss=trained.final_loss,
        )
        OfferEmbedding.objects.bulk_create(
            OfferEmbedding(space=space, offer=o, vector=v.tolist(), content_sha256=content)
            for o, v, content in zip(offers, vectors, encoded.content, strict=True)
        )
        EmbeddingSpace.objects.filter(is_active=True).update(is_active=False)
        EmbeddingSpace.objects.filter(pk=space.pk).update(is_active=True)
    space.refresh_from_db()
    return space


def offer_embedding_refresh(*, offer: Offer) -> OfferEmbedding:
    """The offer's embedding in the active space, from the frozen encoder (no training)."""
    space = embedding_space_active()
    if space is None:
        raise EmbeddingError("No offer embedding space is active yet; build one first.")
    model = autoencoder_load(Path(settings.MODEL_DIR) / space.artifact)
    encoded = offer_encodings([offer])
    vector = offer_embeddings(model, encoded.text, encoded.image)[0]
    embedding, _ = OfferEmbedding.objects.update_or_create(
        space=space,
        offer=offer,
        defaults={"vector": vector.tolist(), "content_sha256": encoded.content[0]},
    )
    return embedding


def offer_vectors_blind(*, offer_ids: list[str], hidden: set[str], dimensions: int) -> np.ndarray:
    """Embeddings of `offer_ids` (rows in that order) from an autoencoder fitted without the
    hidden offers, as if they had been added to the catalog after it: each hidden offer is
    then embedded by the frozen encoder, exactly as a new offer is."""
    by_id = {offer.offer_id: offer for offer in Offer.objects.filter(offer_id__in=offer_ids)}
    encoded = offer_encodings([by_id[offer_id] for offer_id in offer_ids])
    seen = np.array([offer_id not in hidden for offer_id in offer_ids])
    trained = autoencoder_train(encoded.text[seen], encoded.image[seen], embedding_dim=dimensions)
    return offer_embeddings(trained.model, encoded.text, encoded.image)


def offer_vectors(*, space: EmbeddingSpace) -> tuple[list[str], np.ndarray]:
    """(offer ids, their embeddings as rows) of a space, in offer id order."""
    rows = OfferEmbedding.objects.filter(space=space).order_by("offer__offer_id")
    pairs = list(rows.values_list("offer__offer_id", "vector"))
    ids = [offer_id for offer_id, _ in pairs]
    vectors = np.asarray([vector for _, vector in pairs], np.float32)
    return ids, vectors.reshape(len(ids), space.dimensions)
