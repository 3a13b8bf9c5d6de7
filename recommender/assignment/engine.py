"""The assignment engine: customer -> segment -> published rule -> slots in order -> eligible
offers -> the serving scorer's score -> goal value -> the best offers, none twice -> the slot's
fallback.

Pure computation over an `Engine` (the model, the catalog snapshot and the rules, loaded once,
see `recommender.assignment.state`) and a list of `Situation`s (who, where, when). Batch and
real time call the same `decide`, and replaying a receipt does too, so all three agree.

The serving scorer is the active version's champion: TxT (or another neural model), or the
simple baseline that beat them on the holdout (recommender.registry). Scores are its
probabilities over the offers available in the situation (softmax of its logits over them;
a count baseline's logits are the log of its counts); the goal value is the score times the
offer's expected revenue or gross margin when the slot's goal says so, else the score itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch
from scipy import sparse
from torch import nn

from offers.dayparts import daypart_at
from offers.eligibility import store_local_time
from offers.models import OfferTag
from offers.rules.document import RulesDocument, Slot, segment_label
from offers.rules.slots import OfferCatalog, slot_constraints, slot_filter
from recommender.ml.affinity import (
    COUNT_FEATURES,
    LIFECYCLE_FEATURES,
    PURCHASE_MEASURES,
    OfferIncidence,
    Popularity,
    Purchases,
    affinity_features,
    offer_lifecycle,
)
from recommender.ml.scorers import COUNT_SCALE, Baseline, baseline_logits
from recommender.ml.training_data import CONTEXT_FIELDS, UNKNOWN, Examples, Vocabulary

RUNNERS_UP = 3
SCORE_DIGITS = 6


@dataclass(frozen=True)
class Situation:
    """One customer at one store, time and channel; `history` is oldest first, each event
    "item:<item_id>" or "offer:<offer_id>"."""

    customer_id: str
    known_customer: bool
    at: dt.datetime
    store_id: str
    tier: str
    timezone: str
    channel: str
    segment_key: int | None
    history: tuple[str, ...] = ()
    cart: tuple[str, ...] = ()
    weather: str = UNKNOWN
    trajectory: tuple[tuple[str, int], ...] = ()
    holdout: bool = False
    purchases: dict[str, list[float]] = field(default_factory=dict)
    """item -> the customer's purchases before `at`, one value per PURCHASE_MEASURES."""

    @cached_property
    def local(self) -> dt.datetime:
        return store_local_time(instant=self.at, timezone=self.timezone or "UTC")

    @property
    def events(self) -> tuple[str, ...]:
        """History then the current cart (the most recent events)."""
        return self.history + tuple(f"item:{item}" for item in self.cart)


@dataclass
class Engine:
    """Everything a decision depends on, loaded once per process (or from a receipt)."""

    model: nn.Module
    model_id: int
    model_version: int
    vocabulary: Vocabulary
    catalog: OfferCatalog
    catalog_sha256: str
    scorable: np.ndarray
    """Per catalog offer: it has a content vector in the model's embedding space."""
    offer_input: torch.Tensor
    rules: RulesDocument
    rule_version_id: int | None
    rule_version_number: int | None
    incidence: OfferIncidence
    """The catalog offers' items and categories against every item (the purchase inputs)."""
    scorer_name: str = "TxT"
    popularity: Popularity | None = None
    """The neural scorer's redemption counts over the catalog (its popularity inputs)."""
    baseline: Baseline | None = None
    """The fitted baseline that scores, over the catalog, when the version serves one."""
    usual_categories: dict[int | None, list[str]] = field(default_factory=dict)
    seed: int = 0
    rules_name: str = ""
    """What the rules are called in notes when they are not a published version (a draft)."""
    eligibility_cache: dict[tuple, Any] = field(default_factory=dict, repr=False)
    exclusion_reasons: dict[tuple, str] = field(default_factory=dict, repr=False)
    """An offer's context exclusion text per constraint and context value, kept like
    eligibility_cache: most offers are excluded on most requests, for the same few reasons."""
    scorer: Any = field(default=None, repr=False)
    offer_dates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    """The catalog offers' valid_from, valid_to and item counts, read once (lifecycle_inputs)."""

    @property
    def offer_ids(self) -> list[str]:
        return [o.offer_id for o in self.catalog.offers]

    @property
    def history_length(self) -> int:
        config: Any = self.model.config
        return int(config.history_length)


@dataclass
class Pick:
    offer_id: str
    slot: int
    slot_label: str
    score: float
    goal_value: float
    fallback: bool = False


@dataclass
class Outcome:
    """One situation's decision: the picks in slot order and the receipt's parts."""

    situation: Situation
    picks: list[Pick]
    slots: list[dict[str, Any]]
    excluded: dict[str, str]
    exclusions_sha256: str
    context: dict[str, Any]
    note: str


# -- model inputs -------------------------------------------------------------------------


def history_codes(events: list[tuple[str, ...]], vocabulary: Vocabulary, length: int) -> np.ndarray:
    """Right-aligned token codes of each event list (events the model never saw are dropped)."""
    items = {item: i + 1 for i, item in enumerate(vocabulary.items)}
    offers = {o: vocabulary.offer_offset + j for j, o in enumerate(vocabulary.offers)}
    codes = np.zeros((len(events), length), np.int64)
    for row, sequence in enumerate(events):
        known = [
            code
            for code in (_token_code(event, items, offers) for event in sequence)
            if code is not None
        ][-length:]
        if known:
            codes[row, length - len(known) :] = known
    return codes


def _token_code(event: str, items: dict[str, int], offers: dict[str, int]) -> int | None:
    kind, _, value = event.partition(":")
    return items.get(value) if kind == "item" else offers.get(value)


def context_values(situation: Situation, dayparts: dict[str, tuple[int, int]]) -> dict[str, str]:
    """The context fields TxT reads, as the training examples spell them."""
    local = situation.local
    return {
        "store": situation.store_id or UNKNOWN,
        "tier": situation.tier or UNKNOWN,
        "daypart": daypart_at(local, dayparts) or UNKNOWN,
        "weekday": str(local.isoweekday() % 7),  # DuckDB's dayofweek: Sunday is 0
        "channel": situation.channel or UNKNOWN,
        "weather": situation.weather or UNKNOWN,
        "segment": UNKNOWN if situation.segment_key is None else str(situation.segment_key),
    }


def context_codes(values: list[dict[str, str]], vocabulary: Vocabulary) -> np.ndarray:
    lookups = {
        name: {value: code for code, value in enumerate(vocabulary.context[name])}
        for name in CONTEXT_FIELDS
    }
    return np.array(
        [[lookups[name].get(v[name], 0) for name in CONTEXT_FIELDS] for v in values], np.int64
    ).reshape(len(values), len(CONTEXT_FIELDS))


def model_scorer(engine: Engine) -> Any:
    """The neural scorer over this engine's catalog as a traced graph, built once per engine:
    the same numbers as the eager model (a test compares them), three times faster on one
    request, where Python's per-module overhead is most of the cost. torch.jit.trace is
    deprecated in the pinned torch 2.13 but works; torch.export's graph measured slower than
    eager here."""
    if engine.scorer is None:
        model, vectors = engine.model.eval(), engine.offer_input
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        example = (
            torch.zeros((1, engine.history_length), dtype=torch.int64),
            torch.zeros((1, len(CONTEXT_FIELDS)), dtype=torch.int64),
            torch.zeros((1, len(vectors), _affinity_width(engine)), dtype=torch.float32),
        )
        # The tracer warns about Python values it records as constants (shapes of the catalog,
        # which is constant for this engine): expected here.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            if _affinity_width(engine):
                engine.scorer = torch.jit.trace(
                    lambda history, context, affinity: model(history, context, vectors, affinity),
                    example,
                    check_trace=False,
                )
            else:
                traced = torch.jit.trace(
                    lambda history, context: model(history, context, vectors),
                    example[:2],
                    check_trace=False,
                )
                engine.scorer = lambda history, context, affinity: traced(history, context)
    return engine.scorer


def _affinity_width(engine: Engine) -> int:
    config: Any = engine.model.config
    return int(getattr(config, "affinity_features", 0))


def situation_purchases(situations: list[Situation], items: list[str]) -> Purchases:
    """Each situation's purchases over `items` (others dropped), the cart counted as bought
    now: one more of each measure per cart line. Built as CSR directly (a real-time request
    builds one per measure; the COO route cost five times as much)."""
    column = {item: i for i, item in enumerate(items)}
    pointer: list[int] = [0]
    indices: list[int] = []
    values: list[list[float]] = []
    for situation in situations:
        bought = {item: list(v) for item, v in situation.purchases.items()}
        for item in situation.cart:
            bought[item] = [a + 1.0 for a in bought.get(item, [0.0] * len(PURCHASE_MEASURES))]
        row = sorted(
            (column[item], measures) for item, measures in bought.items() if item in column
        )
        indices.extend(position for position, _ in row)
        values.extend(measures for _, measures in row)
        pointer.append(len(indices))
    table = np.asarray(values, np.float64).reshape(len(values), len(PURCHASE_MEASURES))
    index, offsets = np.asarray(indices, np.int32), np.asarray(pointer, np.int32)
    shape = (len(situations), len(items))
    return Purchases(
        items,
        {
            measure: sparse.csr_matrix((table[:, m], index, offsets), shape=shape)
            for m, measure in enumerate(PURCHASE_MEASURES)
        },
    )


def _reads_purchases(engine: Engine) -> bool:
    """Whether the scorer reads the customer's purchases (building them for one request
    costs as much as a popularity scorer's whole decision)."""
    if engine.baseline is not None:
        return engine.scorer_name in COUNT_SCALE
    return _affinity_width(engine) > 0


def _baseline_logits(
    engine: Engine, history: np.ndarray, context: np.ndarray, purchases: Purchases | None
) -> np.ndarray:
    assert engine.baseline is not None
    n, offers = len(history), len(engine.catalog.offers)
    examples = Examples(
        customer_id=np.array([""] * n),
        at=np.zeros(n, "datetime64[us]"),
        history=history,
        history_at=np.zeros(history.shape, "datetime64[us]"),
        context=context,
        target=np.zeros(n, np.int64),
        valid=np.ones((n, offers), bool),
        purchases=purchases,
    )
    return baseline_logits(engine.scorer_name, engine.baseline.scores(examples))


def count_inputs(
    engine: Engine,
    purchases: Purchases | None,
    context: np.ndarray,
    days: np.ndarray | None = None,
) -> np.ndarray:
    """[situation, catalog offer, feature]: what the neural scorer's head reads, as in
    training: purchase affinities, then popularities in the situation's segment, then (for a
    scorer with a count ranker) where each offer stands in its life on the situations' `days`."""
    width = _affinity_width(engine)
    if not width:
        return np.zeros((len(context), len(engine.catalog.offers), 0), np.float32)
    assert purchases is not None
    parts = [affinity_features(purchases, engine.incidence)]
    if width >= COUNT_FEATURES:
        if engine.popularity is None:
            raise ValueError("this model reads popularities but its files have none")
        segment = context[:, CONTEXT_FIELDS.index("segment")]
        parts.append(engine.popularity.features(segment))
    if width == COUNT_FEATURES + LIFECYCLE_FEATURES:
        if days is None:
            raise ValueError("this model reads the offers' lifecycle: pass the days")
        parts.append(lifecycle_inputs(engine, days))
    return np.concatenate(parts, axis=-1)


def lifecycle_inputs(engine: Engine, days: np.ndarray) -> np.ndarray:
    """[situation, catalog offer, LIFECYCLE_FEATURES] on `days` (datetime64[D]), as training
    reads them (recommender.ml.training_data.lifecycle_of): open dates read as always."""
    if engine.offer_dates is None:
        offers = engine.catalog.offers
        engine.offer_dates = (
            np.array([str(o.valid_from or "1900-01-01") for o in offers], "datetime64[D]"),
            np.array([str(o.valid_to or "2999-12-31") for o in offers], "datetime64[D]"),
            np.array([len(o.item_ids or []) for o in offers], np.float64),
        )
    start, end, sizes = engine.offer_dates
    return offer_lifecycle(day=days, start=start, end=end, sizes=sizes)


def _utc_days(situations: list[Situation]) -> np.ndarray:
    """Each situation's UTC date, the day training reads an example's lifecycle on."""
    return np.array(
        [s.at.astimezone(dt.UTC).date() if s.at.tzinfo else s.at.date() for s in situations],
        "datetime64[D]",
    )


@torch.inference_mode()
def model_logits(engine: Engine, situations: list[Situation], dayparts: dict) -> np.ndarray:
    """[situation, catalog offer] logits of the engine's scorer (offers without a vector:
    -inf)."""
    history = history_codes(
        [s.events for s in situations], engine.vocabulary, engine.history_length
    )
    context = context_codes([context_values(s, dayparts) for s in situations], engine.vocabulary)
    purchases = (
        situation_purchases(situations, engine.incidence.items)
        if _reads_purchases(engine)
        else None
    )
    if engine.baseline is not None:
        logits = _baseline_logits(engine, history, context, purchases)
    else:
        days = (
            _utc_days(situations)
            if _affinity_width(engine) > COUNT_FEATURES
            else np.zeros(len(situations), "datetime64[D]")
        )
        logits = _neural_logits(engine, history, context, purchases, days)
    return np.where(engine.scorable[None, :], logits, -np.inf)


SCORING_CELLS = 65_536
"""Situation x offer cells scored at once. A batch chunk's intermediate tensors (situations x
offers x width) would be hundreds of MB: the allocator maps and unmaps each from the kernel,
whose page faults took a third of the scores' time; slices this size reuse the same memory
(50,000 customers, 67 offers: 8.2 s of scores at once, 5.0 s in slices of 65,536 cells,
5.1 s at half and 5.3 s at twice that)."""


def _neural_logits(
    engine: Engine,
    history: np.ndarray,
    context: np.ndarray,
    purchases: Purchases | None,
    days: np.ndarray,
) -> np.ndarray:
    """The neural scorer's logits, a slice of situations at a time (their count inputs too:
    dense [situation, offer, feature], they are the largest input)."""
    scorer = model_scorer(engine)
    rows = max(1, SCORING_CELLS // max(1, len(engine.catalog.offers)))
    slices = [np.zeros((0, len(engine.catalog.offers)), np.float32)]
    for start in range(0, len(history), rows):
        part = np.arange(start, min(start + rows, len(history)))
        affinity = count_inputs(
            engine,
            purchases.take(part) if purchases is not None else None,
            context[part],
            days[part],
        )
        logits = scorer(
            torch.as_tensor(history[part]),
            torch.as_tensor(context[part]),
            torch.as_tensor(affinity),
        )
        slices.append(logits.numpy())
    return np.concatenate(slices).astype(np.float64)


def available_probabilities(logits: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Softmax of each row over the available offers (0 elsewhere)."""
    masked = np.where(available, logits, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weights = np.where(available, np.exp(masked - top), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


# -- exclusions ---------------------------------------------------------------------------


def _listed(values: list[str]) -> str:
    return ", ".join(values) if values else "none"


def _context_reason(offer: Any, constraint: str, context: dict[str, Any]) -> str:
    if constraint == "tier":
        return (
            f"pricing tier: runs in {_listed(offer.pricing_tiers)}; "
            f"the store's tier is {context['tier'] or 'unknown'}"
        )
    if constraint == "dates":
        return (
            f"dates: valid {offer.valid_from or 'always'} to {offer.valid_to or 'open'}; "
            f"local date {context['local_date']}"
        )
    if constraint == "daypart":
        # Named by the daypart, not the minute: one sheet serves a whole daypart of requests.
        now = context["daypart"] or "outside every daypart"
        return f"daypart: runs {_listed(offer.dayparts)}; it is {now} at the store"
    channel = context["channel"]
    here = f"this is {channel}" if channel else "the channel is unknown"
    return f"channel: runs on {_listed(offer.channels)}; {here}"


def slot_filter_reason(catalog: OfferCatalog, row: int, slot: Slot, usual: list[str]) -> str:
    """Why a slot's filter leaves this offer out (the first check that fails)."""
    offer = catalog.offers[row]
    if slot.categories and offer.category not in slot.categories:
        return f"category {offer.category or '(none)'} not in {_listed(slot.categories)}"
    if slot.include_offers and offer.offer_id not in slot.include_offers:
        return "not in the slot's offer list"
    if offer.offer_id in slot.exclude_offers:
        return "excluded by the slot"
    if OfferTag.HIGH_MARGIN in slot.tags and not catalog.high_margin[row]:
        return "not high margin"
    if OfferTag.WIN_BACK in slot.tags and not catalog.win_back[row]:
        return "not a win-back offer"
    if OfferTag.CROSS_CATEGORY in slot.tags and offer.category in usual:
        return f"category {offer.category} is one the segment usually redeems"
    return "outside the slot's tiers, dayparts, channels or dates"


EXCLUSION_REASONS_KEPT = 200_000
_CONTEXT_VALUE = {"tier": "tier", "dates": "local_date", "daypart": "daypart", "channel": "channel"}
"""The context value each constraint's exclusion text depends on."""


def _context_reason_kept(engine: Engine, row: int, constraint: str, context: dict[str, Any]) -> str:
    key = (row, constraint, context[_CONTEXT_VALUE[constraint]])
    reason = engine.exclusion_reasons.get(key)
    if reason is None:
        if len(engine.exclusion_reasons) >= EXCLUSION_REASONS_KEPT:
            engine.exclusion_reasons.clear()
        offer = engine.catalog.offers[row]
        reason = engine.exclusion_reasons[key] = _context_reason(offer, constraint, context)
    return reason


def _exclusions(
    engine: Engine,
    *,
    context_masks: dict[str, np.ndarray],
    slot_masks: list[np.ndarray],
    slots: list[Slot],
    context: dict[str, Any],
    usual: list[str],
) -> dict[str, str]:
    """offer id -> the constraint that excluded it, for offers no slot could give."""
    catalog = engine.catalog
    names = list(context_masks)  # every constraint, in the order the first failure is named
    failing = np.stack([~context_masks[name] for name in names])
    first_failed = np.where(failing.any(axis=0), failing.argmax(axis=0), -1)
    in_some_slot = (
        np.logical_or.reduce(slot_masks) if slot_masks else np.zeros(len(catalog.offers), bool)
    )
    out = (first_failed >= 0) | ~engine.scorable | ~in_some_slot
    excluded: dict[str, str] = {}
    for row in np.flatnonzero(out).tolist():
        offer_id = catalog.offers[row].offer_id
        if first_failed[row] >= 0:
            constraint = names[first_failed[row]]
            excluded[offer_id] = _context_reason_kept(engine, row, constraint, context)
        elif not engine.scorable[row]:
            excluded[offer_id] = "no content vector in the model's embedding space"
        elif not slots:
            excluded[offer_id] = "no rule slot for this segment"
        else:
            excluded[offer_id] = "; ".join(
                f'slot {i} "{slot.label}": {slot_filter_reason(catalog, row, slot, usual)}'
                for i, slot in enumerate(slots, start=1)
            )
    return excluded


def sheet_sha256(excluded: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(excluded, sort_keys=True).encode()).hexdigest()


# -- the decision -------------------------------------------------------------------------


def local_fields(local: dt.datetime, dayparts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """What a receipt's context says of the store's local time."""
    return {
        "local_time": local.strftime("%Y-%m-%d %H:%M"),
        "local_date": local.date().isoformat(),
        "daypart": daypart_at(local, dayparts),
        "weekday": local.strftime("%A"),
    }


def situation_context(situation: Situation, local: dict[str, Any]) -> dict:
    """A receipt's context; `local` is local_fields of the situation's local time (shared
    by a group of situations at the same local minute)."""
    return {
        "store_id": situation.store_id,
        "tier": situation.tier,
        "timezone": situation.timezone or "UTC",
        "channel": situation.channel,
        **local,
        "weather": situation.weather,
        "cart": list(situation.cart),
    }


def _group_key(situation: Situation) -> tuple:
    """What the eligible offers and exclusion reasons depend on (nothing else may enter them:
    the exclusion sheet is shared by the group)."""
    local = situation.local
    return (
        situation.segment_key,
        situation.tier,
        local.hour * 60 + local.minute,
        local.date(),
        situation.channel,
    )


def decide(
    engine: Engine,
    situations: list[Situation],
    dayparts: dict,
    *,
    logits: np.ndarray | None = None,
) -> list[Outcome]:
    """Each situation's offers, slot by slot, with its receipt parts (in input order).
    `logits`: the situations' `model_logits`, when computed already (a batch scores its next
    chunk while it decides this one)."""
    if not situations:
        return []
    if logits is None:
        logits = model_logits(engine, situations, dayparts)
    groups: dict[tuple, list[int]] = {}
    for index, situation in enumerate(situations):
        groups.setdefault(_group_key(situation), []).append(index)
    outcomes: list[Outcome | None] = [None] * len(situations)
    for rows in groups.values():
        for index, outcome in zip(
            rows,
            _decide_group(engine, [situations[i] for i in rows], logits[rows], dayparts),
            strict=True,
        ):
            outcomes[index] = outcome
    return [o for o in outcomes if o is not None]


@dataclass(frozen=True)
class Eligibility:
    """What a situation's slots may give and what is excluded, shared by every situation
    with the same segment, tier, channel, date, daypart and eligible minute pattern."""

    available: np.ndarray
    slots: list[Slot]
    slot_masks: list[np.ndarray]
    excluded: dict[str, str]
    sha256: str
    has_rule: bool


ELIGIBILITY_CACHE = 20_000


def _eligibility_key(engine: Engine, situation: Situation, dayparts: dict) -> tuple:
    local = situation.local
    minute_pattern = np.packbits(engine.catalog.table.minutes[:, local.hour * 60 + local.minute])
    return (
        situation.segment_key,
        situation.tier,
        situation.channel,
        local.date(),
        daypart_at(local, dayparts),
        minute_pattern.tobytes(),
    )


def situation_eligibility(engine: Engine, situation: Situation, dayparts: dict) -> Eligibility:
    """Computed once per key and kept on the engine (a serving process sees the same few
    situations over and over)."""
    key = _eligibility_key(engine, situation, dayparts)
    found = engine.eligibility_cache.get(key)
    if found is None:
        if len(engine.eligibility_cache) >= ELIGIBILITY_CACHE:
            engine.eligibility_cache.clear()
        found = engine.eligibility_cache[key] = _eligibility_compute(engine, situation, dayparts)
    return found


def _eligibility_compute(engine: Engine, first: Situation, dayparts: dict) -> Eligibility:
    local = first.local
    catalog = engine.catalog
    context_masks = {
        name: mask[:, 0]
        for name, mask in catalog.table.constraint_masks(
            tiers=[first.tier],
            minutes=[local.hour * 60 + local.minute],
            channels=[first.channel],
            dates=[local.date()],
        ).items()
    }
    available = np.logical_and.reduce(list(context_masks.values())) & engine.scorable
    rule = engine.rules.rule_for(first.segment_key)
    slots = rule.slots if rule is not None else []
    usual = engine.usual_categories.get(first.segment_key, [])
    slot_masks = [
        slot_filter(catalog, slot, usual_categories=set(usual) or None)
        & slot_constraints(catalog, slot, on=local.date())
        for slot in slots
    ]
    excluded = _exclusions(
        engine,
        context_masks=context_masks,
        slot_masks=slot_masks,
        slots=slots,
        context=situation_context(first, local_fields(first.local, dayparts)),
        usual=usual,
    )
    return Eligibility(
        available, slots, slot_masks, excluded, sheet_sha256(excluded), rule is not None
    )


def _decide_group(
    engine: Engine, situations: list[Situation], logits: np.ndarray, dayparts: dict
) -> list[Outcome]:
    """Situations that share segment, tier, local minute, date and channel: the same offers
    are eligible for all of them; only the scores (and holdout draws) differ."""
    first = situations[0]
    eligibility = situation_eligibility(engine, first, dayparts)
    available, slots, slot_masks = eligibility.available, eligibility.slots, eligibility.slot_masks
    excluded, sha = eligibility.excluded, eligibility.sha256
    note = _rule_note(engine, first, has_rule=eligibility.has_rule)
    scores = available_probabilities(logits, available[None, :])
    fills = _fill_slots(engine, situations, scores, available, slots, slot_masks)
    local = local_fields(first.local, dayparts)
    return [
        Outcome(
            situation=situation,
            picks=picks,
            slots=slot_entries,
            excluded=excluded,
            exclusions_sha256=sha,
            context=situation_context(situation, local),
            note=note,
        )
        for situation, (picks, slot_entries) in zip(situations, fills, strict=True)
    ]


def _rule_note(engine: Engine, situation: Situation, *, has_rule: bool) -> str:
    if engine.rule_version_number is None and not engine.rules_name:
        return "No rules are published for the active segmentation: no offers."
    rules = engine.rules_name or f"rules v{engine.rule_version_number}"
    who = (
        "A new customer (not in the customer list)"
        if not situation.known_customer
        else ("A customer without a segment yet" if situation.segment_key is None else "")
    )
    rule = f"{rules}, rule for {segment_label(situation.segment_key)}"
    if not has_rule:
        return (
            f"{who or 'This segment'}: {rules} have no rule for "
            f"{segment_label(situation.segment_key)}, so no offers."
        )
    return f"{who}: {rule}." if who else f"{rule[0].upper()}{rule[1:]}."


def _goal_values(engine: Engine, scores: np.ndarray, goal: str) -> np.ndarray:
    if goal == "revenue":
        return scores * engine.catalog.revenue[None, :]
    if goal == "margin":
        return scores * engine.catalog.margin[None, :]
    return scores


def _fill_slots(
    engine: Engine,
    situations: list[Situation],
    scores: np.ndarray,
    available: np.ndarray,
    slots: list[Slot],
    slot_masks: list[np.ndarray],
) -> list[tuple[list[Pick], list[dict[str, Any]]]]:
    n = len(situations)
    offer_ids = engine.offer_ids
    shown_scores = np.round(scores, SCORE_DIGITS)
    taken = np.zeros_like(scores, dtype=bool)
    picks: list[list[Pick]] = [[] for _ in range(n)]
    entries: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for position, (slot, mask) in enumerate(zip(slots, slot_masks, strict=True), start=1):
        candidates = (mask & available)[None, :] & ~taken
        below = np.zeros_like(candidates)
        if slot.min_score is not None:
            below = candidates & (scores < slot.min_score)
            candidates &= ~below
        values = _goal_values(engine, scores, slot.goal)
        shown_values = np.round(values, SCORE_DIGITS)
        order = _ranked_order(values, candidates, slot.count + RUNNERS_UP)
        order_rows = order.tolist()
        ranked_rows = _kept(order_rows, np.take_along_axis(candidates, order, axis=1))
        # Every row's shown scores in ranked order, gathered at once: most rows show their
        # ranked offers, and a gather per row cost a third of the slot filling.
        ranked_scores = np.take_along_axis(shown_scores, order, axis=1).tolist()
        ranked_values = np.take_along_axis(shown_values, order, axis=1).tolist()
        candidate_counts = candidates.sum(axis=1).tolist()
        taken_rows: list[int] = []
        taken_columns: list[int] = []
        for r, situation in enumerate(situations):
            ranked = ranked_rows[r]
            chosen = (
                _holdout_choice(engine, situation, position, candidates[r], slot.count)
                if situation.holdout
                else ranked[: slot.count]
            )
            fallback = _fallback_row(engine, slot, available, taken[r])
            if situation.holdout and fallback is not None:
                chosen = [fallback, *(c for c in chosen if c != fallback)][: slot.count]
            elif len(chosen) < slot.count and fallback is not None and fallback not in chosen:
                chosen = [*chosen, fallback]
            used_fallback = fallback if fallback in chosen else None
            runners = [c for c in ranked if c not in chosen][:RUNNERS_UP]
            shown = chosen + runners
            if shown == order_rows[r][: len(shown)]:
                row_scores = ranked_scores[r][: len(shown)]
                row_values = ranked_values[r][: len(shown)]
            else:  # a holdout draw or a fallback
                row_scores = shown_scores[r, shown].tolist()
                row_values = shown_values[r, shown].tolist()
            offered = [
                {"offer_id": offer_ids[c], "score": score, "goal_value": value}
                for c, score, value in zip(shown, row_scores, row_values, strict=True)
            ]
            # Marked once the slot's rows are filled: each row reads only its own marks.
            taken_rows.extend([r] * len(chosen))
            taken_columns.extend(chosen)
            picks[r].extend(
                Pick(
                    entry["offer_id"],
                    position,
                    slot.label,
                    entry["score"],
                    entry["goal_value"],
                    fallback=c == used_fallback,
                )
                for c, entry in zip(chosen, offered, strict=False)
            )
            entries[r].append(
                {
                    "slot": position,
                    "label": slot.label,
                    "goal": slot.goal,
                    "count": slot.count,
                    "candidates": candidate_counts[r],
                    "chosen": offered[: len(chosen)],
                    "runners_up": offered[len(chosen) :],
                    "fallback": offer_ids[used_fallback] if used_fallback is not None else None,
                    "short": len(chosen) < slot.count,
                    "below_min_score": engine_ids(engine, np.flatnonzero(below[r]))
                    if slot.min_score is not None
                    else [],
                }
            )
        taken[taken_rows, taken_columns] = True
    return list(zip(picks, entries, strict=True))


def _ranked_order(values: np.ndarray, candidates: np.ndarray, length: int) -> np.ndarray:
    """Each row's first `length` offers, candidates first, by goal value, best first; ties go
    to the lower offer id (catalog order: a stable sort)."""
    return np.argsort(-np.where(candidates, values, -np.inf), axis=1, kind="stable")[:, :length]


def _kept(order_rows: list[list[int]], candidate: np.ndarray) -> list[list[int]]:
    """Each row's ranked offers that are candidates (`candidate`: in the order's shape)."""
    return [
        [c for c, ok in zip(row, flags, strict=True) if ok]
        for row, flags in zip(order_rows, candidate.tolist(), strict=True)
    ]


def engine_ids(engine: Engine, rows: np.ndarray) -> list[str]:
    return [engine.catalog.offers[int(r)].offer_id for r in rows]


def _fallback_row(
    engine: Engine, slot: Slot, available: np.ndarray, taken: np.ndarray
) -> int | None:
    """The slot's fallback offer, when it may run here and now and is not given already."""
    row = engine.catalog.index.get(slot.fallback_offer or "")
    if row is None or not available[row] or taken[row]:
        return None
    return row


def _holdout_choice(
    engine: Engine, situation: Situation, slot: int, candidates: np.ndarray, count: int
) -> list[int]:
    """A holdout customer's random eligible offers for a slot, drawn from a generator seeded
    by the batch seed, customer and slot (a replay draws the same)."""
    rows = np.flatnonzero(candidates)
    if not len(rows):
        return []
    digest = hashlib.sha256(f"{engine.seed}:{situation.customer_id}:{slot}".encode()).digest()
    generator = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return [int(r) for r in generator.permutation(rows)[:count]]
