"""Preview a draft with the engine that assigns offers: what each customer would get, how
that differs from the rules in force, and what it is expected to do.

The draft and the rules in force are each decided by the active model's engine, with the
same inputs and context as a batch (each customer's history and purchases from the lake, at
their usual store, channel and a representative time of their usual daypart on the preview's
day), for the whole customer base, or a random `SAMPLE` of it when larger (said so). The
expected impact of both comes from the active batch's randomized holdout and from the model's
scores (`recommender.assignment.impact`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd
from django.utils import timezone

from deepflame_web.core.models import Run
from deepflame_web.core.services import RunError, run_advance, run_execute
from offers.models import Offer, RuleSet, Store
from offers.rules.document import document_parse
from offers.rules.services import rule_version_latest
from recommender.selectors import batch_active, model_active
from segments.models import Segment

from . import impact, serving
from .batch import batch_situations, decision_instants
from .engine import Engine, Outcome, decide
from .inputs import customer_inputs, store_weather
from .state import (
    EngineUnavailable,
    engine_build,
    snapshot_current,
    snapshot_dayparts,
    usual_categories_of,
)

SAMPLE = 20_000
"""Customers decided at most; a larger base is previewed on a random sample of this size."""
SAMPLE_CUSTOMERS = 3
CHUNK = 5_000
TOP_OFFERS = 8


def rule_preview_execute(*, run_id: int) -> Run | None:
    return run_execute(run_id=run_id, work=_preview)


def preview_engines(
    rule_set: RuleSet, document: dict[str, Any]
) -> tuple[Engine, Engine, dict[str, tuple[int, int]]]:
    """(the draft's engine, the engine of the rules in force, the dayparts): one model, one
    catalog snapshot."""
    model_row = model_active()
    if model_row is None:
        raise RunError(
            "No recommender model is active: the preview decides with the engine that "
            "assigns offers, so train a model first (Runs page)."
        )
    definition = rule_set.definition
    if not definition.is_active:
        raise RunError("This draft belongs to a segmentation that is no longer active.")
    snapshot = snapshot_current(model_row=model_row)
    in_force = engine_build(
        model_row=model_row,
        snapshot=snapshot,
        rule_version=rule_version_latest(rule_set=rule_set),
        usual_categories=usual_categories_of(definition),
    )
    return draft_engine(in_force, rule_set, document), in_force, snapshot_dayparts(snapshot)


def draft_engine(in_force: Engine, rule_set: RuleSet, document: dict[str, Any]) -> Engine:
    """The engine of the rules in force with the draft's rules instead (the same model,
    catalog and compiled scorer)."""
    return dataclasses.replace(
        in_force,
        rules=document_parse(document),
        rule_version_id=None,
        rule_version_number=None,
        rules_name=f"the draft (revision {rule_set.revision})",
        eligibility_cache={},
    )


def preview_instant(on: dt.date) -> dt.datetime:
    """What the preview reads history up to: now, or for a day in the past the start of it
    (as a batch for that day started then would have)."""
    now = timezone.now()
    return (
        now if on >= now.astimezone(dt.UTC).date() else dt.datetime.combine(on, dt.time(), dt.UTC)
    )


def _customers(rule_set: RuleSet, engine: Engine, on: dt.date, dayparts: dict) -> pd.DataFrame:
    """Every customer's batch inputs (or a random SAMPLE), with their decision instant."""
    at = preview_instant(on)
    frame = customer_inputs(
        definition=rule_set.definition,
        at=at,
        history_length=engine.history_length,
        dayparts=dayparts,
    )
    frame.attrs["base"] = len(frame)
    frame.attrs["segment_sizes"] = Counter(
        None if pd.isna(k) else int(k) for k in frame["segment_key"]
    )
    if len(frame) > SAMPLE:
        frame = frame.sample(n=SAMPLE, random_state=0).sort_values("customer_id")
    frame["holdout"] = False
    stores = {s.store_id: s for s in Store.objects.all()}
    frame["decided_at"] = decision_instants(
        frame, valid_from=on, dayparts=dayparts, stores=stores, fallback=at
    )
    frame.attrs["at"] = at
    frame.attrs["stores"] = stores
    frame.attrs["weather"] = store_weather(at=at, stores=stores, on=on)
    return frame


def _decide_all(run: Run, engines: dict[str, Engine], frame: pd.DataFrame, dayparts: dict) -> dict:
    decided: dict[str, list[Outcome]] = {name: [] for name in engines}
    at = frame.attrs["at"]
    for start in range(0, len(frame), CHUNK):
        chunk = frame.iloc[start : start + CHUNK]
        situations = batch_situations(
            chunk, at=at, stores=frame.attrs["stores"], weather=frame.attrs["weather"]
        )
        for name, engine in engines.items():
            decided[name].extend(decide(engine, situations, dayparts))
        done = min(start + CHUNK, len(frame))
        run_advance(
            run=run,
            stage=f"deciding: {done:,} of {len(frame):,} customers",
            progress=10 + int(50 * done / len(frame)),
        )
    return decided


def _offer_set(outcome: Outcome) -> tuple[str, ...]:
    return tuple(sorted(p.offer_id for p in outcome.picks))


def _picks(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        {
            "offer_id": p.offer_id,
            "slot": p.slot,
            "slot_label": p.slot_label,
            "score": p.score,
            "fallback": p.fallback,
        }
        for p in outcome.picks
    ]


def _segment_rows(
    decided: dict[str, list[Outcome]],
    draft_engine: Engine,
    names: dict[int, str],
    base_sizes: Counter,
) -> list[dict[str, Any]]:
    by_segment: dict[int | None, list[int]] = defaultdict(list)
    for index, outcome in enumerate(decided["draft"]):
        by_segment[outcome.situation.segment_key].append(index)
    rows = []
    for key in sorted(by_segment, key=lambda k: (k is not None, k or 0)):
        indexes = by_segment[key]
        given = [decided["draft"][i] for i in indexes]
        in_force = [decided["in_force"][i] for i in indexes]
        changed = sum(_offer_set(a) != _offer_set(b) for a, b in zip(given, in_force, strict=True))
        rows.append(
            {
                "segment_key": key,
                "segment": "No segment yet" if key is None else names.get(key, f"#{key}"),
                "customers": len(indexes),
                "base_customers": base_sizes.get(key, len(indexes)),
                "has_rule": draft_engine.rules.rule_for(key) is not None,
                "offer_sets": len({_offer_set(o) for o in given}),
                "offers": _offer_counts(given),
                "published_offers": _offer_counts(in_force),
                "changed_customers": changed,
                "samples": [
                    {
                        "customer_id": a.situation.customer_id,
                        "daypart": a.context.get("daypart") or "",
                        "store_id": a.situation.store_id,
                        "channel": a.situation.channel,
                        "draft": _picks(a),
                        "in_force": _picks(b),
                    }
                    for a, b in list(zip(given, in_force, strict=True))[:SAMPLE_CUSTOMERS]
                ],
            }
        )
    return rows


def _offer_counts(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """The offers given most in a segment: customers who get each, their mean score."""
    counts: Counter[str] = Counter()
    scores: dict[str, float] = defaultdict(float)
    for outcome in outcomes:
        for pick in outcome.picks:
            counts[pick.offer_id] += 1
            scores[pick.offer_id] += pick.score
    return [
        {"offer_id": offer, "customers": n, "mean_score": round(scores[offer] / n, 6)}
        for offer, n in counts.most_common(TOP_OFFERS)
    ]


def _impact(
    run: Run,
    engines: dict[str, Engine],
    decided: dict[str, list[Outcome]],
    dayparts: dict,
) -> dict[str, Any]:
    """Expected impact of both rule sets, per segment and in total, from the active batch's
    holdout and from the model's scores."""
    batch = batch_active()
    if batch is None or not batch.holdout_customers:
        return {"available": False, "why": "No active batch with a holdout: assign offers first."}
    run_advance(run=run, stage="estimating the expected impact from the holdout", progress=65)
    holdout = impact.holdout_read(batch, snapshot_dayparts(batch.catalog))
    keys = holdout.segment_keys
    segments = sorted({int(k) for k in keys}, key=lambda k: (k >= 0, k))
    everyone = np.arange(len(keys))
    scale = impact.model_scale(holdout, everyone)  # the holdout's, whatever the rules
    values = impact.offer_values(engines["in_force"])  # one catalog for both rule sets
    estimates: dict[str, Any] = {}
    for name, engine in engines.items():
        outcomes = impact.rule_set_outcomes(engine, holdout.situations, dayparts)
        part = impact.weighted(holdout, outcomes, engine, values)
        estimates[name] = {
            "total": {
                "holdout": impact.ipw_estimate(part, everyone),
                "model": impact.model_estimate(decided[name], engine, scale, values),
            },
            "segments": {
                str(None if key < 0 else key): {
                    "holdout": impact.ipw_estimate(part, np.flatnonzero(keys == key)),
                    "model": impact.model_estimate(
                        (o for o in decided[name] if _key(o) == key), engine, scale, values
                    ),
                }
                for key in segments
            },
        }
    return {
        "available": True,
        "batch": batch.pk,
        "window_from": batch.at.isoformat(),
        "holdout_customers": len(keys),
        "holdout_redemptions": sum(len(r) for r in holdout.redeemed),
        "min_matched_redemptions": impact.MIN_MATCHED_REDEMPTIONS,
        **estimates,
    }


def _headline(expected: dict[str, Any], customers: int) -> dict[str, Any]:
    """Expected redemptions over the whole base from the holdout, for the rules page."""
    if not expected.get("available"):
        return {"available": False, "why": expected["why"]}
    draft = expected["draft"]["total"]["holdout"]
    headline: dict[str, Any] = {
        "available": True,
        "too_small": False,
        "holdout_customers": draft["holdout_customers"],
        "matched_redemptions": draft["matched_redemptions"],
        "min_matched_redemptions": expected["min_matched_redemptions"],
    }
    for name in ("draft", "in_force"):
        holdout = expected[name]["total"]["holdout"]
        headline["too_small"] |= holdout["too_small"]
        figure = holdout["per_customer"]["redemptions"]
        headline[name] = {
            key: None if value is None else round(value * customers, 1)
            for key, value in figure.items()
        }
    return headline


def _key(outcome: Outcome) -> int:
    key = outcome.situation.segment_key
    return -1 if key is None else key


def _preview(run: Run) -> dict[str, Any]:
    parameters = run.parameters
    rule_set = (
        RuleSet.objects.select_related("definition").filter(pk=parameters["rule_set_id"]).first()
    )
    if rule_set is None:
        raise RunError("The rule set of this preview no longer exists.")
    on = dt.date.fromisoformat(parameters["on"])
    run_advance(run=run, stage="loading the model, the draft and the rules in force", progress=2)
    try:
        draft, in_force, dayparts = preview_engines(rule_set, parameters["document"])
    except EngineUnavailable as exc:
        raise RunError(str(exc)) from exc
    run_advance(run=run, stage="reading every customer's history from the lake", progress=5)
    frame = _customers(rule_set, draft, on, dayparts)
    engines = {"draft": draft, "in_force": in_force}
    decided = _decide_all(run, engines, frame, dayparts)
    names = dict(Segment.objects.filter(definition=rule_set.definition).values_list("key", "name"))
    segments = _segment_rows(decided, draft, names, frame.attrs["segment_sizes"])
    expected = _impact(run, engines, decided, dayparts)
    run_advance(run=run, stage="summarizing", progress=95)
    published = rule_version_latest(rule_set=rule_set)
    offer_names = dict(Offer.objects.values_list("offer_id", "name"))
    used = {o["offer_id"] for s in segments for o in s["offers"] + s["published_offers"]}
    return {
        "rule_set_id": rule_set.pk,
        "revision": parameters["revision"],
        "on": on.isoformat(),
        "published_version": published.number if published else None,
        "model_version": draft.model_version,
        "scorer": draft.scorer_name,
        "customers": len(frame),
        "base_customers": int(frame.attrs["base"]),
        "sampled": len(frame) < frame.attrs["base"],
        "changed_customers": sum(s["changed_customers"] for s in segments),
        "segments": segments,
        "offer_names": {o: offer_names.get(o, "") for o in sorted(used)},
        "impact": expected,
        "expected_redemptions": _headline(expected, int(frame.attrs["base"])),
        "ranking": (
            f"the active model v{draft.model_version} ({draft.scorer_name}) with the assignment "
            "engine: each customer's history, usual store, channel and daypart"
        ),
    }


# -- simulate one customer ----------------------------------------------------------------


def simulate(
    *, rule_set: RuleSet, customer_id: str, store_id: str, at: dt.datetime, channel: str
) -> dict[str, Outcome]:
    """What the draft and the rules in force give one customer at a store, instant and
    channel, decided by the serving engine as a real-time request is (no receipt written)."""
    state = serving.serving_current()
    situation = serving.situation_for(
        state, customer_id=customer_id or None, store_id=store_id, at=at, channel=channel, cart=[]
    )
    draft = draft_engine(state.engine, rule_set, rule_set.document)
    return {
        "draft": decide(draft, [situation], state.dayparts)[0],
        "in_force": decide(state.engine, [situation], state.dayparts)[0],
    }
