"""Expected impact of a set of rules before it goes live: redemptions, revenue, margin and
discount cost per customer, per segment and in total, each with a 95% interval.

Two estimates, each labelled where it is shown:

- **From the randomized holdout.** The active batch's holdout customers got random eligible
  offers (each slot's fallback first), so every offer the holdout could have shown a
  customer had a known chance of being shown: its propensity, computed by drawing the
  holdout's own procedure `DRAWS` times per eligibility sheet. A rule set's value per
  customer is estimated by inverse-propensity weighting over the (customer, offer) pairs the
  holdout showed and the rule set would also give, self-normalized (the weighted value per
  offer given, times the offers per customer the rule set gives), with a bootstrap interval
  over holdout customers and the effective sample size of the weights. It assumes an offer
  is redeemed or not whatever else was given with it. Offers the holdout could never have
  shown (another rule allows them, a new offer) cannot be estimated from it: `support` is the
  share of the rule set's offers the holdout could show, and the estimate is of those.
- **From the model's scores.** The scorer's probabilities of the offers given, scaled so that
  on the holdout the scores of the offers shown add up to the redemptions observed (a
  direct-method estimate: as good as the model's calibration), bootstrap interval over the
  holdout customers for the scale.

Values are over the active batch's window (its instant until now or the next batch), the
window the holdout's redemptions were counted in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from offers.models import Offer
from recommender.models import AssignmentBatch, Decision

from .engine import Engine, Outcome, Situation, decide, situation_eligibility
from .performance import batch_redeemed_pairs
from .receipts import situation_of
from .state import engine_for_batch

DRAWS = 10_000
BOOTSTRAPS = 500
MAX_HOLDOUT = 20_000
"""Holdout customers read at most (a random subset beyond: unbiased, bounded memory)."""
MIN_MATCHED_REDEMPTIONS = 10
"""Below this many holdout redemptions of offers a rule set would also give, its holdout
estimate is too uncertain to read: the page says so."""
MIN_HOLDOUT_CUSTOMERS = 30
METRICS = ("redemptions", "revenue", "margin", "discount_cost")


@dataclass(frozen=True)
class Holdout:
    """The active batch's holdout customers: what each was shown, with which propensity,
    and which shown offers they redeemed."""

    batch: AssignmentBatch
    situations: list[Situation]
    segment_keys: np.ndarray
    propensities: list[dict[str, float]]
    """Per customer: offer -> chance that the holdout procedure shows it (every offer with
    a chance above 0, shown or not)."""
    shown: list[list[str]]
    shown_scores: list[list[float]]
    redeemed: list[set[str]]


def holdout_read(batch: AssignmentBatch, dayparts: dict) -> Holdout:
    """The batch's holdout receipts (a random MAX_HOLDOUT of them when more), their
    propensities under the engine the batch decided with, and their redemptions."""
    decisions = list(Decision.objects.filter(batch=batch, holdout=True).order_by("?")[:MAX_HOLDOUT])
    usual = {d.segment_key: d.context.get("usual_categories", []) for d in decisions}
    logging_engine = engine_for_batch(batch, usual_categories=usual)
    pairs = batch_redeemed_pairs(batch=batch)
    situations = [situation_of(d) for d in decisions]
    chosen = [[entry for slot in d.slots for entry in slot["chosen"]] for d in decisions]
    shown = [[e["offer_id"] for e in entries] for entries in chosen]
    return Holdout(
        batch=batch,
        situations=situations,
        segment_keys=np.array([-1 if d.segment_key is None else d.segment_key for d in decisions]),
        propensities=holdout_propensities(logging_engine, situations, dayparts),
        shown=shown,
        shown_scores=[[float(e["score"]) for e in entries] for entries in chosen],
        redeemed=[
            {offer for offer in offers if (d.customer_id, offer) in pairs}
            for d, offers in zip(decisions, shown, strict=True)
        ],
    )


# -- the logging policy's propensities ----------------------------------------------------


def holdout_propensities(
    engine: Engine, situations: list[Situation], dayparts: dict, draws: int = DRAWS
) -> list[dict[str, float]]:
    """Each holdout situation's chance of being shown each offer, once per eligibility
    sheet (situations that share one share their chances)."""
    known: dict[int, dict[str, float]] = {}
    result = []
    for situation in situations:
        eligibility = situation_eligibility(engine, situation, dayparts)
        key = id(eligibility)
        if key not in known:
            known[key] = _inclusion(engine, eligibility, draws)
        result.append(known[key])
    return result


def _inclusion(engine: Engine, eligibility: Any, draws: int) -> dict[str, float]:
    """Draw the holdout's procedure (engine._fill_slots for a holdout situation): per slot,
    a uniform random order of its remaining candidates; the slot's fallback, when it may run
    and is not given already, first, then the first of the order up to the slot's count."""
    generator = np.random.default_rng(0)
    available = eligibility.available
    taken = np.zeros((draws, len(available)), dtype=bool)
    for slot, mask in zip(eligibility.slots, eligibility.slot_masks, strict=True):
        candidates = (mask & available)[None, :] & ~taken
        fallback = engine.catalog.index.get(slot.fallback_offer or "")
        usable = (
            ~taken[:, fallback] & bool(available[fallback])
            if fallback is not None
            else np.zeros(draws, dtype=bool)
        )
        if fallback is not None:
            candidates[usable, fallback] = False
        keys = np.where(candidates, generator.random(candidates.shape), np.inf)
        wanted = np.where(usable, slot.count - 1, slot.count)
        chosen = _first_in_order(keys, wanted)
        if fallback is not None:
            chosen[usable, fallback] = True
        taken |= chosen
    rates = taken.mean(axis=0)
    return {engine.catalog.offers[row].offer_id: float(rates[row]) for row in np.flatnonzero(rates)}


def _first_in_order(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """[draw, offer]: the `wanted[draw]` offers with the smallest finite keys of each draw."""
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    return (ranks < wanted[:, None]) & np.isfinite(keys)


# -- what a rule set would give ------------------------------------------------------------


def rule_set_outcomes(engine: Engine, situations: list[Situation], dayparts: dict) -> list[Outcome]:
    """The engine's decisions for these situations as for a treated customer."""
    treated = [dataclasses.replace(s, holdout=False) for s in situations]
    return decide(engine, treated, dayparts)


def offer_values(engine: Engine) -> dict[str, np.ndarray]:
    """metric -> per catalog offer, what one redemption of it is worth."""
    discounts = dict(Offer.objects.values_list("offer_id", "discount_value"))
    return {
        "redemptions": np.ones(len(engine.catalog.offers)),
        "revenue": engine.catalog.revenue,
        "margin": engine.catalog.margin,
        "discount_cost": np.array(
            [float(discounts.get(o.offer_id) or 0) for o in engine.catalog.offers]
        ),
    }


# -- estimates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Weighted:
    """Per holdout customer: the rule set's offers the holdout showed, weighted (1 / the
    propensity), their weighted values per metric, and how many offers the rule set gives."""

    weight: np.ndarray
    value: dict[str, np.ndarray]
    given: np.ndarray
    supported: np.ndarray
    matched_redemptions: np.ndarray
    weight_squares: np.ndarray


def weighted(
    holdout: Holdout, outcomes: list[Outcome], engine: Engine, values: dict[str, np.ndarray]
) -> Weighted:
    """`values`: `offer_values` of the engine's catalog."""
    row_of = engine.catalog.index
    n = len(outcomes)
    weight, given, supported, matched = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    value = {metric: np.zeros(n) for metric in METRICS}
    squares = np.zeros(n)
    for i, outcome in enumerate(outcomes):
        propensity, shown = holdout.propensities[i], set(holdout.shown[i])
        offers = [pick.offer_id for pick in outcome.picks]
        given[i] = len(offers)
        supported[i] = sum(1 for offer in offers if propensity.get(offer, 0.0) > 0)
        for offer in offers:
            if offer not in shown or propensity.get(offer, 0.0) <= 0:
                continue
            w = 1.0 / propensity[offer]
            weight[i] += w
            squares[i] += w * w
            if offer in holdout.redeemed[i]:
                matched[i] += 1
                for metric in METRICS:
                    value[metric][i] += w * values[metric][row_of[offer]]
    return Weighted(weight, value, given, supported, matched, squares)


def _resamples(n: int, seed: int) -> np.ndarray:
    """[bootstrap, customer]: how often each customer is drawn in each resample."""
    generator = np.random.default_rng(seed)
    counts = np.zeros((BOOTSTRAPS, n), dtype=np.int32)
    if n:
        picks = generator.integers(0, n, size=(BOOTSTRAPS, n))
        np.add.at(counts, (np.arange(BOOTSTRAPS)[:, None], picks), 1)
    return counts


def _interval(replicates: np.ndarray) -> tuple[float | None, float | None]:
    finite = replicates[np.isfinite(replicates)]
    if len(finite) < BOOTSTRAPS // 2:
        return None, None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def ipw_estimate(part: Weighted, rows: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Self-normalized IPW per customer for the holdout customers `rows` (an index array)."""
    n = len(rows)
    counts = _resamples(n, seed)
    weight, given = part.weight[rows], part.given[rows]
    matched = int(part.matched_redemptions[rows].sum())
    metrics = {}
    for metric in METRICS:
        value = part.value[metric][rows]
        point = _ratio(np.array([value.sum()]), np.array([weight.sum()]))[0] * (
            given.mean() if n else np.nan
        )
        replicates = _ratio(counts @ value, counts @ weight) * (counts @ given) / max(n, 1)
        low, high = _interval(replicates)
        metrics[metric] = _figure(point, low, high)
    return {
        "holdout_customers": n,
        "matched_redemptions": matched,
        "effective_sample_size": _effective_size(weight, part.weight_squares[rows]),
        "support": float(part.supported[rows].sum() / part.given[rows].sum())
        if part.given[rows].sum()
        else None,
        "too_small": n < MIN_HOLDOUT_CUSTOMERS or matched < MIN_MATCHED_REDEMPTIONS,
        "per_customer": metrics,
    }


def _effective_size(weights: np.ndarray, squares: np.ndarray) -> float:
    """Of the weighted (customer, offer) pairs: (sum of weights)^2 / sum of squared weights."""
    return float(weights.sum() ** 2 / squares.sum()) if squares.sum() else 0.0


def _figure(point: float, low: float | None, high: float | None) -> dict[str, float | None]:
    return {
        "value": None if not np.isfinite(point) else float(point),
        "low": low,
        "high": high,
    }


def model_scale(holdout: Holdout, rows: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray]:
    """Observed holdout redemptions of shown offers per unit of the model's score on them,
    and its bootstrap replicates."""
    redeemed = np.array([len(holdout.redeemed[i]) for i in rows], dtype=float)
    scores = np.array([sum(holdout.shown_scores[i]) for i in rows], dtype=float)
    counts = _resamples(len(rows), seed)
    point = _ratio(np.array([redeemed.sum()]), np.array([scores.sum()]))[0]
    return float(point), _ratio(counts @ redeemed, counts @ scores)


def model_estimate(
    outcomes: Iterable[Outcome],
    engine: Engine,
    scale: tuple[float, np.ndarray],
    values: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Per customer: the scale times the mean over `outcomes` of the scores of the offers
    given (times each offer's value per metric)."""
    row_of = engine.catalog.index
    totals = dict.fromkeys(METRICS, 0.0)
    count = 0
    for outcome in outcomes:
        count += 1
        for pick in outcome.picks:
            for metric in METRICS:
                totals[metric] += pick.score * values[metric][row_of[pick.offer_id]]
    point, replicates = scale
    metrics = {}
    for metric in METRICS:
        mean = totals[metric] / count if count else np.nan
        low, high = _interval(replicates * mean)
        metrics[metric] = _figure(point * mean, low, high)
    return {"customers": count, "per_customer": metrics}
