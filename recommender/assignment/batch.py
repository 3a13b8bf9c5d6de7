"""Batch assignment: offers for every customer, as a run.

Each customer is decided in the context they will use the offers in: their usual store and
channel, at a representative local time of their usual daypart (the chain's most common one
for a customer without orders) on the batch's first valid day; not at the instant the run
happens to start, which is evening in one time zone and morning in another. The batch's
validity window (first day and number of days, or until the next batch) is chosen when the
run starts and stored with the batch.

Rows of the new batch are written chunk by chunk while it is inactive (no page or API reads
an inactive batch), then the batch becomes active in one transaction. A failed or killed run
leaves the previous batch active; its rows are removed by the next run.

A random holdout per segment (5% by default) gets each slot's fallback, or random eligible
offers, instead of the model's picks, so that lift over the rules alone can be measured.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import secrets
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from deepflame_web.core.bulk import bulk_insert, tables_analyze
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import (
    RunError,
    run_advance,
    run_commit_point,
    run_execute,
    run_start,
)
from offers.dayparts import MINUTES_PER_DAY, Window, daypart_at
from offers.models import Store
from recommender.errors import RecommenderError
from recommender.models import Assignment, AssignmentBatch, CustomerState, Decision

from .engine import Engine, Outcome, Situation, decide, model_logits
from .inputs import customer_inputs, store_weather
from .performance import performance_refresh
from .receipts import batch_decisions_write, outcome_context
from .state import EngineUnavailable, engine_current, snapshot_dayparts

ASSIGN_TASK = "recommender.tasks.heavy_assign_offers"
DEFAULT_HOLDOUT_SHARE = 0.05
CHUNK = 10_000
MAX_VALID_DAYS = 366
MAX_START_OFFSET_DAYS = 366
"""How far from the run's instant the first valid day may be, either way."""
T = TypeVar("T")
R = TypeVar("R")


def assignment_run_start(
    *,
    at: dt.datetime | None = None,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    seed: int | None = None,
    valid_from: dt.date | None = None,
    valid_days: int | None = None,
    started_by: Any = None,
    enqueue: bool = True,
) -> Run:
    """Queue a batch; `valid_from` (default: the UTC date of `at`) is the first day its
    offers are meant for and the day customers are decided on, `valid_days` how many days
    they are valid (default: until the next batch replaces them)."""
    if not 0 <= holdout_share < 1:
        raise RecommenderError("holdout share must be at least 0 and below 1")
    at = at or timezone.now()
    if at.tzinfo is None:
        raise RecommenderError("the assignment time needs a time zone (or is taken as UTC)")
    valid_from = valid_from or at.astimezone(dt.UTC).date()
    if abs((valid_from - at.astimezone(dt.UTC).date()).days) > MAX_START_OFFSET_DAYS:
        raise RecommenderError(
            f"valid from: {valid_from} is more than {MAX_START_OFFSET_DAYS} days from the "
            f"assignment's instant ({at:%Y-%m-%d})"
        )
    if valid_days is not None and not 1 <= valid_days <= MAX_VALID_DAYS:
        raise RecommenderError(f"valid days: must be from 1 to {MAX_VALID_DAYS}, not {valid_days}")
    return run_start(
        kind=RunKind.ASSIGNMENT,
        task_name=ASSIGN_TASK,
        parameters={
            "at": at.isoformat(),
            "holdout_share": holdout_share,
            "seed": secrets.randbelow(2**31) if seed is None else seed,
            "valid_from": valid_from.isoformat(),
            "valid_days": valid_days,
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


def representative_minute(name: str, dayparts: dict[str, Window]) -> int:
    """A local minute that stands for a daypart: the middle of its window (wrapping
    midnight), or where another daypart covers the middle, its first minute that is its own."""
    start, end = dayparts[name]
    length = (end - start) % MINUTES_PER_DAY or MINUTES_PER_DAY
    middle = (start + length // 2) % MINUTES_PER_DAY
    for step in range(length):
        minute = (middle + step) % MINUTES_PER_DAY if step else middle
        if daypart_at(dt.time(minute // 60, minute % 60), dayparts) == name:
            return minute
    return middle


def decision_instants(
    frame: pd.DataFrame,
    *,
    valid_from: dt.date,
    dayparts: dict[str, Window],
    stores: dict[str, Store],
    fallback: dt.datetime,
) -> np.ndarray:
    """Each customer's decision instant: the representative minute of their usual daypart on
    `valid_from` in their usual store's time zone (UTC without a store); `fallback` for a
    customer without a daypart. Computed once per (time zone, daypart), not per customer."""
    zone_of = {store_id: store.timezone or "UTC" for store_id, store in stores.items()}
    keys = pd.DataFrame(
        {
            "zone": frame["home_store"].map(zone_of).fillna("UTC").to_numpy(),
            "daypart": frame["usual_daypart"].to_numpy(),
        }
    )
    pairs = keys.drop_duplicates().reset_index(drop=True)
    instants = []
    for zone, name in pairs.itertuples(index=False):
        if name not in dayparts:
            instants.append(fallback)
            continue
        minute = representative_minute(name, dayparts)
        local = dt.datetime.combine(valid_from, dt.time(minute // 60, minute % 60))
        instants.append(local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC))
    pairs["instant"] = pd.Series(instants, dtype=object)
    return keys.merge(pairs, on=["zone", "daypart"], how="left")["instant"].to_numpy()


BASIS_WORDS = {
    "usual": "the customer's usual daypart",
    "chain": "the chain's most common daypart (no order of the customer's is in a daypart yet)",
    "": "the batch's instant (no order of the chain is in a daypart)",
}


def _decided_for(situation: Situation, context: dict[str, Any], basis: str) -> dict[str, Any]:
    """What a batch receipt says about the context it was decided in, and why."""
    return {
        "daypart": context.get("daypart") or "",
        "store_id": situation.store_id,
        "channel": situation.channel,
        "at": situation.at.isoformat(),
        "basis": basis,
        "reason": BASIS_WORDS.get(basis, basis),
    }


def batch_situations(
    frame: pd.DataFrame, *, at: dt.datetime, stores: dict[str, Store], weather: dict[str, str]
) -> list[Situation]:
    """A chunk's situations, each at the customer's own decision instant (column
    `decided_at`) when the frame has one, else at `at`."""
    instants = frame["decided_at"] if "decided_at" in frame else [at] * len(frame)
    situations = []
    for row, when in zip(frame.itertuples(index=False), instants, strict=True):
        store = stores.get(row.home_store)
        situations.append(
            Situation(
                customer_id=row.customer_id,
                known_customer=True,
                at=when,
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


def _states_write(
    frame: pd.DataFrame, documents: dict[str, list[str]], batch: AssignmentBatch
) -> None:
    bulk_insert(
        table=CustomerState._meta.db_table,
        frame=pd.DataFrame(
            {
                "batch_id": batch.pk,
                "customer_id": frame["customer_id"].to_numpy(),
                "home_store": frame["home_store"].to_numpy(),
                "channel": frame["channel"].to_numpy(),
                **documents,
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
        valid_from=(
            dt.date.fromisoformat(params["valid_from"])
            if params.get("valid_from")
            else at.astimezone(dt.UTC).date()
        ),
        valid_days=params.get("valid_days"),
        definition=definition,
        rule_version_id=_published(engine),
        model_id=engine.model_id,
        scorer=engine.scorer_name,
        catalog=snapshot,
    )
    try:
        counts = _assign_all(run, batch, engine, definition=definition, echo=echo)
        tables_analyze(
            {
                Decision._meta.db_table: ["id", "batch_id"],
                Assignment._meta.db_table: ["batch_id", "decision_id", "customer_id", "offer_id"],
            }
        )
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
    return {
        "batch": batch.pk,
        "at": at.isoformat(),
        "valid_from": batch.valid_from.isoformat() if batch.valid_from else None,
        "valid_days": batch.valid_days,
        **counts,
    }


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
    dayparts = snapshot_dayparts(batch.catalog)
    frame = customer_inputs(
        definition=definition,
        at=batch.at,
        history_length=engine.history_length,
        dayparts=dayparts,
    )
    frame["holdout"] = holdout_flags(
        frame["segment_key"], share=batch.holdout_share, seed=batch.seed
    )
    stores = {s.store_id: s for s in Store.objects.all()}
    valid_from = batch.valid_from or batch.at.astimezone(dt.UTC).date()
    frame["decided_at"] = decision_instants(
        frame, valid_from=valid_from, dayparts=dayparts, stores=stores, fallback=batch.at
    )
    weather = store_weather(at=batch.at, stores=stores, on=valid_from)
    validity = {"from": valid_from.isoformat(), "days": batch.valid_days}
    sheets: dict[str, int] = {}
    total = len(frame)

    def written(done: int, assigned: int) -> None:
        line = f"{done:,} of {total:,} customers, {assigned:,} offers"
        run_advance(run=run, stage=f"assigning: {line}", progress=10 + int(85 * done / total))
        if echo is not None:
            echo(line)

    def scored(chunk: pd.DataFrame) -> tuple[list[Situation], np.ndarray]:
        situations = batch_situations(chunk, at=batch.at, stores=stores, weather=weather)
        return situations, model_logits(engine, situations, dayparts)

    chunks = [frame.iloc[start : start + CHUNK] for start in range(0, total, CHUNK)]
    with (
        _collector_paused(),
        ChunkWriter() as writer,
        contextlib.closing(_ahead(scored, chunks)) as ahead,
    ):
        done = 0
        for chunk, (situations, logits) in zip(chunks, ahead, strict=True):
            gc.collect(1)  # the previous chunks' young objects, not the inputs
            outcomes = decide(engine, situations, dayparts, logits=logits)
            job = functools.partial(_chunk_write, outcomes, chunk, engine, batch, sheets, validity)
            done += len(chunk)
            writer.write(job, then=functools.partial(written, done))
    return {
        "customers": total,
        "holdout_customers": int(frame["holdout"].sum()),
        "assignments": writer.written,
    }


def _chunk_write(
    outcomes: list[Outcome],
    chunk: pd.DataFrame,
    engine: Engine,
    batch: AssignmentBatch,
    sheets: dict[str, int],
    validity: dict[str, Any],
) -> int:
    documents = customer_documents(chunk)
    assigned = batch_decisions_write(
        outcomes=outcomes,
        engine=engine,
        batch=batch,
        sheets=sheets,
        contexts=receipt_contexts(outcomes, chunk["daypart_basis"].tolist(), validity, engine),
        documents=documents,
    )
    _states_write(chunk, documents, batch)
    return assigned


def customer_documents(chunk: pd.DataFrame) -> dict[str, list[str]]:
    """Each customer's history, trajectory and purchases as JSON, once for both the receipt
    and the customer state."""
    return {
        "history": [json.dumps(list(h)) for h in chunk["history"]],
        "trajectory": [json.dumps([[p, int(k)] for p, k in t]) for t in chunk["trajectory"]],
        "purchases": [json.dumps(p) for p in chunk["purchases"]],
    }


def receipt_contexts(
    outcomes: list[Outcome], bases: list[str], validity: dict[str, Any], engine: Engine
) -> list[str]:
    """Each receipt's context as JSON: what it was decided for and why, and the batch's
    window. Customers of the same store, channel, instant, weather, segment and basis share
    one context, built once (a chunk of 10,000 customers has a few hundred)."""
    built: dict[tuple, str] = {}
    contexts = []
    for outcome, basis in zip(outcomes, bases, strict=True):
        s = outcome.situation
        key = (s.store_id, s.tier, s.timezone, s.channel, s.at, s.weather, s.cart, s.segment_key)
        context = built.get((key, basis))
        if context is None:
            parts = outcome_context(outcome, engine)
            parts["decided_for"] = _decided_for(s, parts, basis)
            parts["validity"] = validity
            context = built[(key, basis)] = json.dumps(parts)
        contexts.append(context)
    return contexts


def _ahead(work: Callable[[T], R], items: list[T]) -> Generator[R]:
    """`work` of each item in order, the next item's computed in a thread while the caller
    uses this one's. For the model's scores: torch computes without the interpreter lock, so
    the next chunk's scores use the cores that this chunk's decisions and writes (Python,
    taking turns on the lock) leave idle. Closing it early waits for the item in flight."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        previous: Future[R] | None = None
        for item in items:
            current = pool.submit(work, item)
            if previous is not None:
                yield previous.result()
            previous = current
        if previous is not None:
            yield previous.result()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the chunks are decided and written, and
    everything alive before (every customer's inputs: millions of objects that live for the
    whole run) frozen out of its scans; the loop collects young objects once per chunk. Its
    full passes scanned the inputs again and again: 2.4 s of an 18 s run at 50,000
    customers, and they grow with the customers."""
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class ChunkWriter:
    """Writes a chunk's receipts, assignments and customer states while the next chunk is
    decided: in a thread with its own database connection, so PostgreSQL ingests one chunk's
    COPY while Python and torch score the next (one chunk in flight, in order). Inline on
    SQLite (one writer at a time) and inside a caller's transaction (another connection would
    not see the batch). A write that fails fails the run at the next chunk or at the end;
    leaving the block waits for the last write, so nothing writes after a failed run's
    clean-up."""

    def __init__(self) -> None:
        overlap = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.pool = ThreadPoolExecutor(max_workers=1) if overlap else None
        self.pending: tuple[Future[int], Callable[[int], None]] | None = None
        self.written = 0

    def write(self, job: Callable[[], int], *, then: Callable[[int], None]) -> None:
        """Run `job` (it returns the offers it wrote); once it is done, `then` gets the
        offers written so far, in this thread (a chunk's progress is reported once it is
        written)."""
        self._wait()
        if self.pool is None:
            self.written += job()
            then(self.written)
        else:
            self.pending = (self.pool.submit(_in_own_connection, job), then)

    def _wait(self) -> None:
        if self.pending is not None:
            (future, then), self.pending = self.pending, None
            self.written += future.result()
            then(self.written)

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self._wait()
            elif self.pending is not None:
                wait([self.pending[0]])  # its outcome no longer matters: the run failed
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)


def _in_own_connection(job: Callable[[], int]) -> int:
    """Run in the writer's thread; its connection (Django's, per thread) closes after.

    Its commits do not wait for the WAL flush: nothing reads an inactive batch's rows, and
    the activation's own (synchronous) commit flushes the WAL written before it, so a batch
    that becomes active has every row on disk; a database crash before then fails the run,
    whose rows the next run removes."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
        return job()
    finally:
        connection.close()


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
