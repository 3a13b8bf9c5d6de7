"""Decision receipts: writing them (one at a time or millions by COPY) and replaying them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from deepflame_web.core.bulk import bulk_insert
from recommender.models import (
    Assignment,
    AssignmentBatch,
    Decision,
    DecisionSource,
    ExclusionSheet,
)
from segments.models import Segment

from . import receipt_queue
from .engine import Engine, Outcome, Situation, decide
from .state import engine_for_decision, snapshot_dayparts


def sheets_ensure(outcomes: list[Outcome], known: dict[str, int] | None = None) -> dict[str, int]:
    """sha256 -> ExclusionSheet id for every outcome's exclusions, creating the new ones.

    `known` is a cache the caller keeps between calls (a serving process)."""
    known = {} if known is None else known
    missing = {
        o.exclusions_sha256: o.excluded for o in outcomes if o.exclusions_sha256 not in known
    }
    if missing:
        ExclusionSheet.objects.bulk_create(
            [ExclusionSheet(sha256=sha, excluded=excluded) for sha, excluded in missing.items()],
            ignore_conflicts=True,
        )
        known.update(
            ExclusionSheet.objects.filter(sha256__in=list(missing)).values_list("sha256", "id")
        )
    return known


def outcome_context(outcome: Outcome, engine: Engine) -> dict[str, Any]:
    return {
        **outcome.context,
        "usual_categories": engine.usual_categories.get(outcome.situation.segment_key, []),
    }


def _trajectory(situation: Situation) -> list[list[Any]]:
    return [[period, key] for period, key in situation.trajectory]


ASSIGNMENT_CASTS = (
    ("customer_id", "varchar"),
    ("offer_id", "varchar"),
    ("segment_key", "integer"),
    ("slot", "smallint"),
    ("slot_label", "varchar"),
    ("score", "double precision"),
    ("goal_value", "double precision"),
    ("fallback", "boolean"),
    ("holdout", "boolean"),
    ("at", "timestamptz"),
)


def decision_record(
    *, outcome: Outcome, engine: Engine, model_id: int, catalog_id: int, sheets: dict[str, int]
) -> int:
    """One real-time receipt and its assignments, all or nothing; returns the receipt's id.

    With the receipt queue (`receipt_queue`), the receipt is queued and written moments later."""
    situation = outcome.situation
    decision = Decision(
        source=DecisionSource.API,
        customer_id=situation.customer_id,
        known_customer=situation.known_customer,
        at=situation.at,
        context=outcome_context(outcome, engine),
        segment_key=situation.segment_key,
        trajectory=_trajectory(situation),
        rule_version_id=engine.rule_version_id,
        model_id=model_id,
        scorer=engine.scorer_name,
        catalog_id=catalog_id,
        history=list(situation.history),
        purchases=situation.purchases,
        slots=outcome.slots,
        holdout=False,
        note=outcome.note,
        created_at=timezone.now(),
    )
    if receipt_queue.queue_enabled():
        return receipt_queue.receipt_submit(
            decision,
            outcome.picks,
            outcome_sheet=(outcome.exclusions_sha256, outcome.excluded),
            sheets=sheets,
        )
    rows = [
        (
            situation.customer_id,
            pick.offer_id,
            situation.segment_key,
            pick.slot,
            pick.slot_label,
            pick.score,
            pick.goal_value,
            pick.fallback,
            False,
            situation.at,
        )
        for pick in outcome.picks
    ]
    if connection.vendor == "postgresql":
        return _decision_insert_one_statement(decision, rows, outcome=outcome, sheets=sheets)
    sheets_ensure([outcome], sheets)
    decision.exclusions_id = sheets[outcome.exclusions_sha256]
    with transaction.atomic():
        decision.save()
        Assignment.objects.bulk_create(
            [
                Assignment(decision=decision, **dict(zip(_ASSIGNMENT_FIELDS, row, strict=True)))
                for row in rows
            ]
        )
    return int(decision.pk)


_ASSIGNMENT_FIELDS = [name for name, _ in ASSIGNMENT_CASTS]


def _sheet_insert(outcome: Outcome) -> tuple[str, list[Any]]:
    excluded = ExclusionSheet._meta.get_field("excluded")
    return (
        f'INSERT INTO "{ExclusionSheet._meta.db_table}" ("sha256", "excluded", "created_at") '
        'VALUES (%s, %s, %s) ON CONFLICT ("sha256") DO NOTHING; ',
        [
            outcome.exclusions_sha256,
            excluded.get_db_prep_save(outcome.excluded, connection),
            timezone.now(),
        ],
    )


def _decision_insert_one_statement(
    decision: Decision, rows: list[tuple], *, outcome: Outcome, sheets: dict[str, int]
) -> int:
    """The exclusion sheet (when this process has not written it yet), the receipt and its
    assignments in one round trip besides the transaction's: the real-time endpoint's budget
    is a few milliseconds. The receipt finds its sheet by content hash."""
    fields = [f for f in Decision._meta.concrete_fields if f.name not in ("id", "batch")]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    marks, params = [], []
    for f in fields:
        if f.name == "exclusions":
            marks.append(f'(SELECT id FROM "{ExclusionSheet._meta.db_table}" WHERE sha256 = %s)')
            params.append(outcome.exclusions_sha256)
        else:
            marks.append("%s")
            params.append(f.get_db_prep_save(getattr(decision, f.attname), connection))
    sql = (
        f'WITH d AS (INSERT INTO "{Decision._meta.db_table}" ({columns}) '
        f"VALUES ({', '.join(marks)}) RETURNING id)"
    )
    if rows:
        row_marks = "(" + ", ".join(f"%s::{cast}" for _, cast in ASSIGNMENT_CASTS) + ")"
        names = ", ".join(f'"{name}"' for name in _ASSIGNMENT_FIELDS)
        sql += (
            f', a AS (INSERT INTO "{Assignment._meta.db_table}" ("decision_id", {names}) '
            f"SELECT d.id, v.* FROM d, (VALUES {', '.join([row_marks] * len(rows))}) "
            f"AS v({names}))"
        )
        params += [value for row in rows for value in row]
    prefix: str = ""
    prefix_params: list[Any] = []
    known = outcome.exclusions_sha256 in sheets
    if not known:
        prefix, prefix_params = _sheet_insert(outcome)
    # One round trip: PostgreSQL runs a string of statements as one implicit transaction,
    # all or nothing, so no BEGIN and COMMIT of their own (0.3 of 1.4 ms a receipt). The
    # commit does not wait for the WAL flush: a database crash may lose the receipts of its
    # last moment (never corrupt them); every other write keeps synchronous commits.
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL synchronous_commit TO off; " + prefix + sql + " SELECT id FROM d",
            prefix_params + params,
        )
        decision_id = int(cursor.fetchone()[0])
    if not known:
        sheets[outcome.exclusions_sha256] = 0  # written: the id is looked up by hash
    return decision_id


def _stored(value: dt.datetime) -> Any:
    """A datetime as the database stores it (bulk rows bypass the ORM's conversion)."""
    return connection.ops.adapt_datetimefield_value(value)


def _reserve_ids(table: str, count: int) -> list[int]:
    """`count` new primary keys of `table`, safe beside concurrent inserts (PostgreSQL) or
    inside the caller's write transaction (SQLite, one writer at a time)."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + count))


def batch_decisions_write(
    *,
    outcomes: list[Outcome],
    engine: Engine,
    batch: AssignmentBatch,
    sheets: dict[str, int],
    contexts: list[str],
    documents: dict[str, list[str]],
) -> int:
    """Receipts and assignments of a batch chunk, by COPY; returns assignments written.

    `contexts` are the receipts' contexts as JSON, `documents` each customer's history,
    trajectory and purchases as JSON (batch.customer_documents), in the outcomes' order."""
    sheets_ensure(outcomes, sheets)
    ids = _reserve_ids(Decision._meta.db_table, len(outcomes))
    now = _stored(timezone.now())
    decisions = pd.DataFrame(
        {
            "id": ids,
            "batch_id": batch.pk,
            "source": DecisionSource.BATCH.value,
            "customer_id": [o.situation.customer_id for o in outcomes],
            "known_customer": True,
            "at": _stored(batch.at),
            "context": contexts,
            "segment_key": pd.array([o.situation.segment_key for o in outcomes], dtype="Int64"),
            "trajectory": documents["trajectory"],
            "rule_version_id": engine.rule_version_id,
            "model_id": batch.model_id,
            "scorer": engine.scorer_name,
            "catalog_id": batch.catalog_id,
            "exclusions_id": [sheets[o.exclusions_sha256] for o in outcomes],
            "history": documents["history"],
            "purchases": documents["purchases"],
            "slots": [json.dumps(o.slots) for o in outcomes],
            "holdout": [o.situation.holdout for o in outcomes],
            "note": [o.note for o in outcomes],
            "created_at": now,
        }
    )
    bulk_insert(table=Decision._meta.db_table, frame=decisions)
    rows = [
        (decision_id, o.situation, pick)
        for decision_id, o in zip(ids, outcomes, strict=True)
        for pick in o.picks
    ]
    assignments = pd.DataFrame(
        {
            "decision_id": [r[0] for r in rows],
            "batch_id": batch.pk,
            "customer_id": [r[1].customer_id for r in rows],
            "offer_id": [r[2].offer_id for r in rows],
            "segment_key": pd.array([r[1].segment_key for r in rows], dtype="Int64"),
            "slot": [r[2].slot for r in rows],
            "slot_label": [r[2].slot_label for r in rows],
            "score": [r[2].score for r in rows],
            "goal_value": [r[2].goal_value for r in rows],
            "fallback": [r[2].fallback for r in rows],
            "holdout": [r[1].holdout for r in rows],
            "at": _stored(batch.at),
        }
    )
    return bulk_insert(table=Assignment._meta.db_table, frame=assignments)


def situation_of(decision: Decision) -> Situation:
    """The situation a receipt was decided in, from the receipt alone (a batch receipt was
    decided at the instant it names in `decided_for`, not at the batch's)."""
    context = decision.context
    decided_for = context.get("decided_for") or {}
    return Situation(
        customer_id=decision.customer_id,
        known_customer=decision.known_customer,
        at=dt.datetime.fromisoformat(decided_for["at"]) if "at" in decided_for else decision.at,
        store_id=context["store_id"],
        tier=context["tier"],
        timezone=context["timezone"],
        channel=context["channel"],
        segment_key=decision.segment_key,
        history=tuple(decision.history),
        cart=tuple(context.get("cart", [])),
        weather=context["weather"],
        trajectory=tuple((period, key) for period, key in decision.trajectory),
        holdout=decision.holdout,
        purchases=decision.purchases,
    )


@dataclass(frozen=True)
class Replay:
    decision_id: int
    same: bool
    recorded: list[dict[str, Any]]
    replayed: list[dict[str, Any]]


def decision_replay(decision: Decision) -> Replay:
    """Decide again from the receipt's inputs (model version, rule version, catalog snapshot,
    situation) and compare with what was recorded: the same offers in the same slots, the
    same runners-up and exclusions, scores equal to the receipt's 6 decimals within float32
    noise (a model's output can differ in its last bits with the batch it was computed in)."""
    engine = engine_for_decision(decision)
    outcome = decide(engine, [situation_of(decision)], snapshot_dayparts(decision.catalog))[0]
    same = slots_match(decision.slots, outcome.slots) and (
        outcome.exclusions_sha256 == decision.exclusions.sha256
    )
    return Replay(decision.pk, same, decision.slots, outcome.slots)


SCORE_TOLERANCE = 2e-6


def _entries_match(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> bool:
    return len(first) == len(second) and all(
        a["offer_id"] == b["offer_id"]
        and abs(a["score"] - b["score"]) <= SCORE_TOLERANCE
        and abs(a["goal_value"] - b["goal_value"])
        <= SCORE_TOLERANCE * max(1.0, abs(a["goal_value"]) * 1e3)
        for a, b in zip(first, second, strict=True)
    )


def slots_match(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> bool:
    if len(recorded) != len(replayed):
        return False
    for a, b in zip(recorded, replayed, strict=True):
        plain = {k: v for k, v in a.items() if k not in ("chosen", "runners_up")}
        if plain != {k: v for k, v in b.items() if k not in ("chosen", "runners_up")}:
            return False
        if not (
            _entries_match(a["chosen"], b["chosen"])
            and _entries_match(a["runners_up"], b["runners_up"])
        ):
            return False
    return True


def validity_text(valid_from: str | None, days: int | None) -> str:
    """A batch's validity window in words: "from 2026-12-06 for 7 days (through
    2026-12-12)", or "... until the next batch"."""
    if valid_from is None:
        return "until the next batch"
    if days is None:
        return f"from {valid_from} until the next batch"
    last = dt.date.fromisoformat(valid_from) + dt.timedelta(days=days - 1)
    return f"from {valid_from} for {days} day{'s' if days != 1 else ''} (through {last})"


def decided_for_text(context: dict[str, Any], store_name: str | None = None) -> str:
    """ "decided for breakfast at Store X, drive_thru: the customer's usual daypart"; empty
    for a receipt without it (real time, or a batch from before it was recorded)."""
    decided_for = context.get("decided_for")
    if not decided_for:
        return ""
    store = store_name or decided_for.get("store_id") or "no usual store"
    daypart = decided_for.get("daypart") or "no daypart"
    channel = decided_for.get("channel") or "no usual channel"
    return f"decided for {daypart} at {store}, {channel}: {decided_for.get('reason', '')}"


def receipt_segment_names(decision: Decision) -> dict[int | None, str]:
    """Names of the segments a receipt mentions, from the segmentation it was decided under
    (its batch's, or the active one for a real-time decision)."""

    definition_id = decision.batch.definition_id if decision.batch is not None else None
    segments = (
        Segment.objects.filter(definition_id=definition_id)
        if definition_id
        else Segment.objects.filter(definition__is_active=True)
    )
    names: dict[int | None, str] = dict(segments.values_list("key", "name"))
    names[None] = "No segment yet"
    return names
