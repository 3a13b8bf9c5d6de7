"""Building an `Engine`: from what is active now, or from a receipt (to replay it).

The catalog goes through a content-addressed `CatalogSnapshot` either way, so a decision
made now and its replay next year read the same offers, values and vectors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from offers.dayparts import daypart_minutes
from offers.eligibility import EligibilityTable
from offers.models import Item, Offer, RuleVersion
from offers.rules.document import RulesDocument, document_parse
from offers.rules.history import segment_history
from offers.rules.services import rule_version_latest
from offers.rules.slots import OfferCatalog, catalog_load
from recommender.ml.affinity import OfferIncidence, Popularity, incidence_build
from recommender.ml.scorers import NEURAL_FILES, Baseline, baseline_load, is_neural
from recommender.ml.training import model_load
from recommender.ml.training_data import Vocabulary, offer_feature_rows
from recommender.models import (
    AssignmentBatch,
    CatalogSnapshot,
    Decision,
    OfferEmbedding,
    RecommenderModel,
)
from recommender.registry import model_path
from recommender.selectors import model_active
from segments.models import SegmentDefinition
from segments.selectors import segmentation_active

from .engine import Engine


class EngineUnavailable(Exception):
    """What is missing before offers can be assigned (shown to the user as is)."""


def snapshot_current(*, model_row: RecommenderModel) -> CatalogSnapshot:
    """The catalog as it is now, with each offer's vector in the model's embedding space."""

    catalog = catalog_load()
    vectors = dict(
        OfferEmbedding.objects.filter(space_id=model_row.embedding_space_id).values_list(
            "offer__offer_id", "vector"
        )
    )
    offers = [
        {
            "offer_id": o.offer_id,
            "name": o.name,
            "category": o.category,
            "pricing_tiers": list(o.pricing_tiers),
            "dayparts": list(o.dayparts),
            "channels": list(o.channels),
            "item_ids": list(o.item_ids),
            "tags": list(o.tags),
            "valid_from": o.valid_from.isoformat() if o.valid_from else None,
            "valid_to": o.valid_to.isoformat() if o.valid_to else None,
            "revenue": round(float(catalog.revenue[row]), 4),
            "margin": round(float(catalog.margin[row]), 4),
            "high_margin": bool(catalog.high_margin[row]),
            "win_back": bool(catalog.win_back[row]),
            "vector": vectors.get(o.offer_id),
        }
        for row, o in enumerate(catalog.offers)
    ]
    dayparts = {name: list(window) for name, window in daypart_minutes().items()}
    content = json.dumps({"offers": offers, "dayparts": dayparts}, sort_keys=True)
    sha = hashlib.sha256(content.encode()).hexdigest()
    snapshot, _ = CatalogSnapshot.objects.get_or_create(
        sha256=sha, defaults={"offers": offers, "dayparts": dayparts}
    )
    return snapshot


def _offer(data: dict[str, Any]) -> Offer:
    return Offer(
        offer_id=data["offer_id"],
        name=data["name"],
        category=data["category"],
        pricing_tiers=data["pricing_tiers"],
        dayparts=data["dayparts"],
        channels=data["channels"],
        item_ids=data["item_ids"],
        tags=data["tags"],
        valid_from=dt.date.fromisoformat(data["valid_from"]) if data["valid_from"] else None,
        valid_to=dt.date.fromisoformat(data["valid_to"]) if data["valid_to"] else None,
    )


def snapshot_catalog(snapshot: CatalogSnapshot) -> OfferCatalog:
    offers = [_offer(data) for data in snapshot.offers]
    dayparts = {name: (start, end) for name, (start, end) in snapshot.dayparts.items()}
    categories = np.array([o.category for o in offers], dtype=object)
    return OfferCatalog(
        offers=offers,
        table=EligibilityTable(offers, dayparts=dayparts),
        index={o.offer_id: row for row, o in enumerate(offers)},
        categories=categories,
        high_margin=np.array([d["high_margin"] for d in snapshot.offers], dtype=bool),
        win_back=np.array([d["win_back"] for d in snapshot.offers], dtype=bool),
        revenue=np.array([d["revenue"] for d in snapshot.offers], dtype=np.float64),
        margin=np.array([d["margin"] for d in snapshot.offers], dtype=np.float64),
        known_categories={c for c in categories if c},
        tiers=[],
        daypart_names=list(dayparts),
    )


def snapshot_dayparts(snapshot: CatalogSnapshot) -> dict[str, tuple[int, int]]:
    return {name: (start, end) for name, (start, end) in snapshot.dayparts.items()}


@lru_cache(maxsize=4)
def _loaded_model(artifact: str, file: str) -> tuple[Any, dict]:
    """A registered model's weights, once per process (artifacts never change)."""
    path = model_path_for(artifact) / file
    if not path.is_file():
        raise EngineUnavailable(
            f"The files of model {artifact} are missing ({file}); retrain or restore them."
        )
    try:
        model, saved = model_load(path=path)
    except pickle.UnpicklingError as refused:
        raise EngineUnavailable(f"Model {artifact}: {refused}") from refused
    return model, saved


def _neural_file(scorer: str) -> str:
    """The neural model a version's engine encodes inputs with: its champion when neural,
    else its TxT (whose vocabulary codes history and context for the baseline)."""
    return NEURAL_FILES[scorer] if is_neural(scorer) else NEURAL_FILES["TxT"]


def catalog_incidence(catalog: OfferCatalog) -> OfferIncidence:
    """The catalog offers' items and categories against every item of the chain."""
    categories = dict(Item.objects.values_list("item_id", "category"))
    return incidence_build(
        items=sorted(categories),
        offer_items=[list(o.item_ids) for o in catalog.offers],
        offer_categories=[o.category or "" for o in catalog.offers],
        item_categories=categories,
    )


def _serving_baseline(
    model_row: RecommenderModel, scorer: str, catalog: OfferCatalog
) -> Baseline | None:
    if is_neural(scorer):
        return None
    return baseline_load(
        folder=model_path(model_row),
        name=scorer,
        offers=[o.offer_id for o in catalog.offers],
        offer_items=[list(o.item_ids) for o in catalog.offers],
    )


def model_path_for(artifact: str) -> Any:
    return model_path(RecommenderModel(artifact=artifact))


def _offer_input(
    snapshot: CatalogSnapshot, catalog: OfferCatalog, vocabulary: Vocabulary, width: int
) -> tuple[np.ndarray, torch.Tensor]:
    """(scorable per offer, the model's offer vectors: content vector then features)."""
    windows = snapshot_dayparts(snapshot)
    features = offer_feature_rows(
        offers=list(catalog.offers), vocabulary=vocabulary, windows=windows
    )
    content_width = width - features.shape[1]
    scorable = np.array(
        [d["vector"] is not None and len(d["vector"]) == content_width for d in snapshot.offers],
        dtype=bool,
    )
    content = np.zeros((len(snapshot.offers), content_width), np.float32)
    for row, data in enumerate(snapshot.offers):
        if scorable[row]:
            content[row] = data["vector"]
    return scorable, torch.as_tensor(np.hstack([content, features]), dtype=torch.float32)


def engine_build(
    *,
    model_row: RecommenderModel,
    snapshot: CatalogSnapshot,
    rule_version: RuleVersion | None,
    usual_categories: dict[int | None, list[str]],
    seed: int = 0,
    scorer: str | None = None,
) -> Engine:
    """The engine of a model version serving `scorer` (default: the method it serves now)."""
    scorer = scorer or model_row.scorer
    model, saved = _loaded_model(model_row.artifact, _neural_file(scorer))
    vocabulary = Vocabulary.from_dict(saved["vocabulary"])
    catalog = snapshot_catalog(snapshot)
    scorable, offer_input = _offer_input(snapshot, catalog, vocabulary, int(model.config.offer_dim))
    rules = document_parse(rule_version.document) if rule_version else RulesDocument()
    return Engine(
        model=model,
        model_id=model_row.pk,
        model_version=model_row.version,
        vocabulary=vocabulary,
        catalog=catalog,
        catalog_sha256=snapshot.sha256,
        scorable=scorable,
        offer_input=offer_input,
        rules=rules,
        rule_version_id=rule_version.pk if rule_version else None,
        rule_version_number=rule_version.number if rule_version else None,
        incidence=catalog_incidence(catalog),
        scorer_name=scorer,
        popularity=Popularity.from_dict(saved["popularity"]).for_offers(
            [o.offer_id for o in catalog.offers]
        )
        if "popularity" in saved
        else None,
        baseline=_serving_baseline(model_row, scorer, catalog),
        usual_categories=usual_categories,
        seed=seed,
    )


def usual_categories_of(definition: SegmentDefinition) -> dict[int | None, list[str]]:
    """Per segment key, the categories it usually redeems (cross-category slots avoid them)."""
    history = segment_history(definition=definition)
    keys = [*definition.segments.values_list("key", flat=True), None]
    return {key: sorted(history.usual_categories(key)) for key in keys}


def published_rules(definition: SegmentDefinition) -> RuleVersion | None:
    rule_set = getattr(definition, "rule_set", None)
    return rule_version_latest(rule_set=rule_set) if rule_set is not None else None


def engine_current(*, seed: int = 0) -> tuple[Engine, SegmentDefinition, CatalogSnapshot]:
    """The engine of what is active now; raises EngineUnavailable naming what is missing."""
    model_row = model_active()
    if model_row is None:
        raise EngineUnavailable("No recommender model is active; train one first.")
    definition = segmentation_active()
    if definition is None:
        raise EngineUnavailable("No segmentation is active; run a segmentation first.")
    rule_version = published_rules(definition)
    if rule_version is None:
        raise EngineUnavailable(
            f"No offer rules are published for segmentation v{definition.version}; "
            "publish rules first."
        )
    snapshot = snapshot_current(model_row=model_row)
    engine = engine_build(
        model_row=model_row,
        snapshot=snapshot,
        rule_version=rule_version,
        usual_categories=usual_categories_of(definition),
        seed=seed,
    )
    return engine, definition, snapshot


def engine_for_batch(
    batch: AssignmentBatch, *, usual_categories: dict[int | None, list[str]]
) -> Engine:
    """The engine a batch decided with (its model, catalog, rules and seed)."""
    return engine_build(
        model_row=batch.model,
        snapshot=batch.catalog,
        rule_version=batch.rule_version,
        usual_categories=usual_categories,
        seed=batch.seed,
        scorer=batch.scored_by,
    )


def engine_for_decision(decision: Decision) -> Engine:
    """The engine exactly as it was for a receipt (for replay)."""
    usual = decision.context.get("usual_categories", [])
    return engine_build(
        model_row=decision.model,
        snapshot=decision.catalog,
        rule_version=decision.rule_version,
        usual_categories={decision.segment_key: usual},
        seed=decision.batch.seed if decision.batch is not None else 0,
        scorer=decision.scored_by,
    )
