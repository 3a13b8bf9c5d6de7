"""Feedback from the channels: impressions, clicks and redemptions, each joined to the
assignment it answers, and landed in the lake where training reads redemptions.

A client may send an event twice (a retry): `event_id` makes the second one a no-op, and a
second one with other content is refused rather than overwriting the first. The landing is
one run: files are staged through the lake's one way in (`lake_append`, which dedupes
redemptions by the contract's key as an import does), then their manifest rows and the events'
`in_lake` flags commit in one transaction, so a failed or killed landing leaves nothing visible
and no event marked.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from deepflame_web.core.lake import (
    LakeStage,
    lake_append,
    lake_remove_orphans,
    lake_root,
)
from deepflame_web.core.lake_tables import OFFER_EVENTS, OFFER_REDEMPTIONS, UTC
from deepflame_web.core.models import LakeFile, Run, RunKind
from deepflame_web.core.services import run_advance, run_execute, run_start
from offers.models import Offer, Store
from recommender.models import Assignment, Decision, FeedbackEvent, FeedbackKind

from .receipt_queue import receipts_flush

logger = logging.getLogger(__name__)

FEEDBACK_LAKE_TASK = "recommender.tasks.feedback_to_lake"
REDEMPTIONS = OFFER_REDEMPTIONS.name
EVENTS = OFFER_EVENTS.name
COMPARED = ("kind", "customer_id", "offer_id", "at", "order_id", "store_id")
MARK_CHUNK = 5_000
EARLIEST_WITHOUT_ORDERS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""The earliest event time accepted while the lake holds no order yet."""


class FeedbackInvalid(Exception):
    """Bad input: field -> messages, as a 400 response gives them."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()))


class FeedbackConflict(Exception):
    """The event id is taken by an event with other content; an event never changes."""

    def __init__(self, event: FeedbackEvent, fields: list[str]):
        self.event = event
        self.fields = fields
        super().__init__(
            f"event_id {event.event_id!r} was recorded with a different "
            f"{', '.join(fields)}; an event cannot change (send a new event_id)"
        )


@dataclass(frozen=True)
class Recorded:
    event: FeedbackEvent
    duplicate: bool


def _utc(value: dt.datetime) -> dt.datetime:
    """The instant in UTC; a naive time is taken as UTC."""
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def feedback_record(
    *,
    event_id: str,
    kind: str,
    customer_id: str,
    offer_id: str,
    at: dt.datetime,
    order_id: str = "",
    store_id: str = "",
    decision_id: int | None = None,
) -> Recorded:
    """Store one event once, joined to its assignment (None when nothing was assigned: an
    unassigned redemption is still a redemption).

    The assignment is the `decision_id`'s one for this offer when given, else the latest
    visible assignment of the offer to the customer at or before the event."""
    if not isinstance(at, dt.datetime):
        raise FeedbackInvalid({"at": ["must be a date and time"]})
    try:
        at = _utc(at)
    except OverflowError:
        raise FeedbackInvalid({"at": ["is out of range"]}) from None
    _check_bounds(at)
    candidate = FeedbackEvent(
        event_id=event_id,
        kind=kind,
        customer_id=customer_id,
        offer_id=offer_id,
        at=at,
        order_id=order_id or "",
        store_id=store_id or "",
    )
    try:
        candidate.full_clean(exclude=["assignment"], validate_unique=False)
    except ValidationError as exc:
        raise FeedbackInvalid(exc.message_dict) from None
    existing = _existing(event_id)
    if existing is not None:
        return _repeat(existing, candidate, decision_id)
    candidate.assignment = _assignment_for(candidate, decision_id)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        # The same event_id arrived at the same moment from another request.
        existing = _existing(event_id)
        if existing is None:
            raise
        return _repeat(existing, candidate, decision_id)
    return Recorded(candidate, duplicate=False)


def _check_bounds(at: dt.datetime) -> None:
    """Refuse a time before the chain's first order or ahead of now plus the clock skew: it
    would land in the lake as a month of its own that training cannot use."""
    skew = settings.FEEDBACK_CLOCK_SKEW_SECONDS
    latest = timezone.now() + dt.timedelta(seconds=skew)
    if at > latest:
        raise FeedbackInvalid(
            {
                "at": [
                    f"{at.isoformat()} is in the future: it may be at most {skew // 60} "
                    f"minute(s) ahead of the server's clock (latest {latest:%Y-%m-%dT%H:%M:%SZ})"
                ]
            }
        )
    first_order = first_order_at()
    earliest = first_order or EARLIEST_WITHOUT_ORDERS
    if at < earliest:
        what = "the chain's first order" if first_order else "the earliest time accepted"
        raise FeedbackInvalid(
            {
                "at": [
                    f"{at.isoformat()} is before {what} ({earliest:%Y-%m-%dT%H:%M:%SZ}): "
                    "an offer cannot be seen or redeemed before then"
                ]
            }
        )


def first_order_at() -> dt.datetime | None:
    """The instant of the chain's first order in the lake, None before any import. Months
    are store-local, so the files of the two earliest months are read."""
    months = sorted(set(LakeFile.objects.filter(table="orders").values_list("month", flat=True)))
    paths = LakeFile.objects.filter(table="orders", month__in=months[:2]).values_list(
        "path", flat=True
    )
    return _earliest_order(str(lake_root()), tuple(sorted(paths)))


@functools.lru_cache(maxsize=8)
def _earliest_order(root: str, paths: tuple[str, ...]) -> dt.datetime | None:
    """Cached per set of files: a lake file never changes once its manifest row commits."""
    earliest = None
    for path in paths:
        column = pq.read_table(f"{root}/{path}", columns=["ordered_at"])["ordered_at"]
        smallest = pc.min(column).as_py()
        if smallest is not None and (earliest is None or smallest < earliest):
            earliest = smallest
    return None if earliest is None else _utc(earliest)


def _existing(event_id: str) -> FeedbackEvent | None:
    return FeedbackEvent.objects.select_related("assignment").filter(event_id=event_id).first()


def _repeat(existing: FeedbackEvent, candidate: FeedbackEvent, decision_id: int | None) -> Recorded:
    differ = [f for f in COMPARED if getattr(existing, f) != getattr(candidate, f)]
    if decision_id is not None and (
        existing.assignment is None or existing.assignment.decision_id != decision_id
    ):
        differ.append("decision_id")
    if differ:
        raise FeedbackConflict(existing, differ)
    return Recorded(existing, duplicate=True)


def visible_assignments() -> QuerySet[Assignment]:
    """Real-time assignments and those of batches that were activated (an unfinished
    batch's rows are invisible)."""
    return Assignment.objects.filter(Q(batch__isnull=True) | Q(batch__activated_at__isnull=False))


def _assignment_for(event: FeedbackEvent, decision_id: int | None) -> Assignment | None:
    problems: dict[str, list[str]] = {}
    if not Offer.objects.filter(offer_id=event.offer_id).exists():
        problems["offer_id"] = [f"unknown offer {event.offer_id!r}"]
    if event.store_id and not Store.objects.filter(store_id=event.store_id).exists():
        problems["store_id"] = [f"unknown store {event.store_id!r}"]
    assignment = None
    if decision_id is not None:
        assignment, problem = _decision_assignment(event, decision_id)
        if problem and receipts_flush():  # a real-time decision may still be queued
            assignment, problem = _decision_assignment(event, decision_id)
        if problem:
            problems["decision_id"] = [problem]
    else:
        receipts_flush()  # the latest assignment may be a real-time one still queued
    if problems:
        raise FeedbackInvalid(problems)
    if decision_id is not None:
        return assignment
    return (
        visible_assignments()
        .filter(customer_id=event.customer_id, offer_id=event.offer_id, at__lte=event.at)
        .order_by("-at", "-id")
        .first()
    )


def _decision_assignment(
    event: FeedbackEvent, decision_id: int
) -> tuple[Assignment | None, str | None]:
    decision = (
        Decision.objects.select_related("batch")
        .only("customer_id", "batch", "batch__activated_at")
        .filter(pk=decision_id)
        .first()
    )
    if decision is None or (decision.batch is not None and decision.batch.activated_at is None):
        return None, f"no decision {decision_id}"
    if decision.customer_id and decision.customer_id != event.customer_id:
        return None, f"decision {decision_id} was made for another customer"
    assignment = decision.assignments.filter(offer_id=event.offer_id).first()
    if assignment is None:
        return None, f"decision {decision_id} did not assign offer {event.offer_id!r}"
    return assignment, None


# -- the lake ----------------------------------------------------------------------------


def feedback_to_lake(*, started_by: Any = None) -> Run | None:
    """Land every event not yet in the lake, all or nothing, as a landing run (a lake writer,
    so it never runs beside an import that writes the same tables). None when there was
    nothing to land.

    Raises RunAlreadyActive while an import (or another landing) runs."""
    if not FeedbackEvent.objects.filter(in_lake=False).exists():
        return None
    run = run_start(
        kind=RunKind.FEEDBACK_LANDING,
        task_name=FEEDBACK_LAKE_TASK,
        parameters={"source": "feedback"},
        started_by=started_by,
        enqueue=False,
    )
    return run_execute(run_id=run.pk, work=_landing_work)


def _landing_work(run: Run) -> dict[str, Any]:
    run_advance(run=run, stage="reading feedback events", progress=5)
    lake_remove_orphans()
    pending = _pending()
    zones = dict(Store.objects.values_list("store_id", "timezone"))
    stage = LakeStage(run.pk)
    try:
        redemptions = pending[pending["kind"] == FeedbackKind.REDEMPTION.value]
        others = pending[pending["kind"] != FeedbackKind.REDEMPTION.value]
        run_advance(run=run, stage="staging redemptions", progress=20)
        landed = lake_append(
            table=OFFER_REDEMPTIONS,
            rows=_redemptions_table(redemptions),
            stage=stage,
            store_zones=zones,
        )
        run_advance(run=run, stage="staging impressions and clicks", progress=60)
        lake_append(table=OFFER_EVENTS, rows=_events_table(others), stage=stage, store_zones=zones)
        run_advance(run=run, stage="making it visible", progress=90)
        _commit(stage.files, [int(i) for i in pending["id"]])
    except BaseException:
        stage.discard()
        raise
    known, changed = int(landed.known.sum()), int(landed.conflicts.sum())
    warnings = []
    if known:
        warnings.append(
            f"{known} redemption(s) were in the lake already (imported), "
            f"{changed} of them with another order or store; the lake's rows were kept"
        )
    for warning in warnings:
        run_advance(run=run, log=f"warning: {warning}")
    return {
        "source": "feedback",
        "rows_in_files": {REDEMPTIONS: len(redemptions), EVENTS: len(others)},
        "rows_added": {REDEMPTIONS: stage.rows(REDEMPTIONS), EVENTS: stage.rows(EVENTS)},
        "warnings": warnings,
    }


def _pending() -> pd.DataFrame:
    columns = [
        "id",
        "event_id",
        "kind",
        "customer_id",
        "offer_id",
        "at",
        "order_id",
        "store_id",
        "assignment__decision_id",
        "assignment__slot",
        "assignment__holdout",
    ]
    rows = (
        FeedbackEvent.objects.filter(in_lake=False)
        .order_by("id")
        .values_list(*columns)
        .iterator(chunk_size=20_000)
    )
    return pd.DataFrame(list(rows), columns=columns, dtype=object)


def _strings(values: pd.Series) -> pa.Array:
    """Empty text becomes null, as the importer reads an empty cell."""
    return pa.array([v or None for v in values], pa.string())


def _instants(values: pd.Series) -> pa.Array:
    return pa.array([_utc(v) for v in values], UTC)


def _redemptions_table(frame: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "customer_id": _strings(frame["customer_id"]),
            "offer_id": _strings(frame["offer_id"]),
            "order_id": _strings(frame["order_id"]),
            "store_id": _strings(frame["store_id"]),
            "redeemed_at": _instants(frame["at"]),
        }
    )


def _events_table(frame: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "event_id": _strings(frame["event_id"]),
            "kind": _strings(frame["kind"]),
            "customer_id": _strings(frame["customer_id"]),
            "offer_id": _strings(frame["offer_id"]),
            "at": _instants(frame["at"]),
            "store_id": _strings(frame["store_id"]),
            "decision_id": pa.array(_optional(frame["assignment__decision_id"]), pa.int64()),
            "slot": pa.array(_optional(frame["assignment__slot"]), pa.int16()),
            "holdout": pa.array(_optional(frame["assignment__holdout"]), pa.bool_()),
        }
    )


def _optional(values: pd.Series) -> list[Any]:
    return [None if v is None else v for v in values]


def _commit(files: list[LakeFile], event_ids: list[int]) -> None:
    """One transaction: the staged files become visible and their events are marked."""
    with transaction.atomic():
        LakeFile.objects.bulk_create(files, batch_size=1000)
        _mark_in_lake(event_ids)


def _mark_in_lake(event_ids: list[int]) -> None:
    for start in range(0, len(event_ids), MARK_CHUNK):
        FeedbackEvent.objects.filter(pk__in=event_ids[start : start + MARK_CHUNK]).update(
            in_lake=True
        )
