"""Batch assignment: offers for every customer at one instant, as a run.

Rows of the new batch are written chunk by chunk while it is inactive (no page or API reads
an inactive batch), then the batch becomes active in one transaction. A failed or killed run
leaves the previous batch active; its rows are removed by the next run.

A random holdout per segment (5% by default) gets each slot's fallback, or random eligible
offers, instead of the model's picks, so that lift over the rules alone can be measured.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from deepflame_web.core.bulk import bulk_insert
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import (
    RunError,
    run_advance,
    run_commit_point,
    run_execute,
    run_start,
)
from offers.models import Store
from recommender.errors import RecommenderError
from recommender.models import AssignmentBatch, CustomerState, Decision

from .engine import Engine, Situation, decide
from .inputs import customer_inputs, store_weather
from .performance import performance_refresh
from .receipts import batch_decisions_write
from .state import EngineUnavailable, engine_current, snapshot_dayparts

ASSIGN_TASK = "recommender.tasks.heavy_assign_offers"
DEFAULT_HOLDOUT_SHARE = 0.05
CHUNK = 10_000


def assignment_run_start(
    *,
    at: dt.datetime | None = None,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    seed: int | None = None,
    started_by: Any = None,
    enqueue: bool = True,
) -> Run:
    if not 0 <= holdout_share < 1:
        raise RecommenderError("holdout share must be at least 0 and below 1")
    at = at or timezone.now()
    if at.tzinfo is None:
        raise RecommenderError("the assignment time needs a time zone (or is taken as UTC)")
    return run_start(
        kind=RunKind.ASSIGNMENT,
        task_name=ASSIGN_TASK,
        parameters={
            "at": at.isoformat(),
            "holdout_share": holdout_share,
            "seed": secrets.randbelow(2**31) if seed is None else seed,
        },
        started_by=started_by,
        enqueue=enqueue,
    )


def assignment_run_execute(*, run_id: int, echo: Callable[[str], None] | None = None) -> Run | None:
    return run_execute(run_id=run_id, work=functools.partial(_assignment_work, echo=echo))


def holdout_flags(segment_keys: pd.Series, *, share: float, seed: int) -> np.ndarray:
    """round(share x size) customers of each segment (and of those without one), at random."""
    flags = np.zeros(len(segment_keys), dtype=bool)
    generator = np.random.default_rng(seed)
    groups = segment_keys.fillna(-1).to_numpy(np.int64)
    for key in np.unique(groups):
        members = np.flatnonzero(groups == key)
        chosen = generator.choice(len(members), size=round(share * len(members)), replace=False)
        flags[members[chosen]] = True
    return flags


def batches_remove_unfinished() -> int:
    """Rows of batches that never became active (a failed or killed run)."""
    unfinished = AssignmentBatch.objects.filter(activated_at__isnull=True)
    count = 0
    for batch in unfinished:
        CustomerState.objects.filter(batch=batch).delete()
        Decision.objects.filter(batch=batch).delete()
        batch.delete()
        count += 1
    return count


def _situations(
    frame: pd.DataFrame, *, at: dt.datetime, stores: dict[str, Store], weather: dict[str, str]
) -> list[Situation]:
    situations = []
    for row in frame.itertuples(index=False):
        store = stores.get(row.home_store)
        situations.append(
            Situation(
                customer_id=row.customer_id,
                known_customer=True,
                at=at,
                store_id=row.home_store,
                tier=store.pricing_tier if store else "",
                timezone=store.timezone if store else "UTC",
                channel=row.channel,
                segment_key=None if pd.isna(row.segment_key) else int(row.segment_key),
                history=tuple(row.history),
                weather=weather.get(row.home_store, "none"),
                trajectory=tuple((p, int(k)) for p, k in row.trajectory),
                holdout=bool(row.holdout),
                purchases=row.purchases,
            )
        )
    return situations


def _states_write(frame: pd.DataFrame, batch: AssignmentBatch) -> None:
    bulk_insert(
        table=CustomerState._meta.db_table,
        frame=pd.DataFrame(
            {
                "batch_id": batch.pk,
                "customer_id": frame["customer_id"].to_numpy(),
                "home_store": frame["home_store"].to_numpy(),
                "channel": frame["channel"].to_numpy(),
                "history": [json.dumps(list(h)) for h in frame["history"]],
                "trajectory": [
                    json.dumps([[p, int(k)] for p, k in t]) for t in frame["trajectory"]
                ],
                "purchases": [json.dumps(p) for p in frame["purchases"]],
            }
        ),
    )


def _assignment_work(run: Run, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    params = run.parameters
    at = dt.datetime.fromisoformat(params["at"])
    run_advance(run=run, stage="loading the model, rules and catalog", progress=2)
    try:
        engine, definition, snapshot = engine_current(seed=int(params["seed"]))
    except EngineUnavailable as exc:
        raise RunError(str(exc)) from exc
    removed = batches_remove_unfinished()
    if removed:
        run_advance(run=run, log=f"removed {removed} unfinished batch(es) of earlier runs")
    batch = AssignmentBatch.objects.create(
        run=run,
        at=at,
        holdout_share=float(params["holdout_share"]),
        seed=int(params["seed"]),
        definition=definition,
        rule_version_id=_published(engine),
        model_id=engine.model_id,
        catalog=snapshot,
    )
    try:
        counts = _assign_all(run, batch, engine, definition=definition, echo=echo)
        _activate(run, batch, counts)
    except BaseException:
        batches_remove_unfinished()
        raise
    run_advance(
        run=run,
        stage=f"batch #{batch.pk} is active; counting offer performance",
        progress=97,
        log=f"batch #{batch.pk} is active and serves; the run can no longer be cancelled",
    )
    performance_refresh(batch=batch)
    return {"batch": batch.pk, "at": at.isoformat(), **counts}


def _published(engine: Engine) -> int:
    if engine.rule_version_id is None:
        raise RunError("No offer rules are published; publish rules first.")
    return engine.rule_version_id


def _assign_all(
    run: Run,
    batch: AssignmentBatch,
    engine: Engine,
    *,
    definition: Any,
    echo: Callable[[str], None] | None,
) -> dict[str, int]:
    run_advance(run=run, stage="reading every customer's history from the lake", progress=5)
    frame = customer_inputs(
        definition=definition, at=batch.at, history_length=engine.history_length
    )
    frame["holdout"] = holdout_flags(
        frame["segment_key"], share=batch.holdout_share, seed=batch.seed
    )
    stores = {s.store_id: s for s in Store.objects.all()}
    weather = store_weather(at=batch.at, stores=stores)
    dayparts = snapshot_dayparts(batch.catalog)
    sheets: dict[str, int] = {}
    assigned = 0
    total = len(frame)
    for start in range(0, total, CHUNK):
        chunk = frame.iloc[start : start + CHUNK]
        outcomes = decide(
            engine, _situations(chunk, at=batch.at, stores=stores, weather=weather), dayparts
        )
        assigned += batch_decisions_write(
            outcomes=outcomes, engine=engine, batch=batch, sheets=sheets
        )
        _states_write(chunk, batch)
        done = min(start + CHUNK, total)
        line = f"{done:,} of {total:,} customers, {assigned:,} offers"
        run_advance(run=run, stage=f"assigning: {line}", progress=10 + int(85 * done / total))
        if echo is not None:
            echo(line)
    return {
        "customers": total,
        "holdout_customers": int(frame["holdout"].sum()),
        "assignments": assigned,
    }


def _activate(run: Run, batch: AssignmentBatch, counts: dict[str, int]) -> None:
    """Switch to the new batch unless the run was cancelled; once this commits, a cancel is
    refused (the batch serves customers, so the run must not read as cancelled)."""
    with transaction.atomic():
        run_commit_point(run=run)
        AssignmentBatch.objects.filter(is_active=True).update(is_active=False)
        batch.is_active = True
        batch.activated_at = timezone.now()
        batch.customers = counts["customers"]
        batch.holdout_customers = counts["holdout_customers"]
        batch.assignments = counts["assignments"]
        batch.save()
