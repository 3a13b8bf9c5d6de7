"""Offer performance of a batch: how its assignments were answered, treated against holdout.

An assignment counts as redeemed (clicked, seen) when its customer redeemed (clicked, saw)
its offer in the batch's window: from the batch's instant until the next batch's, or now for
the latest. Redemptions come from the lake (imports and landed feedback) plus feedback not
landed yet; a redemption known both ways counts once, since what is counted is assignments.
The counting runs in the database and DuckDB; no row passes through a Python loop.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import pandas as pd
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from deepflame_web.core.bulk import bulk_insert
from deepflame_web.core.lake import lake_paths
from recommender.models import (
    Assignment,
    AssignmentBatch,
    Decision,
    FeedbackEvent,
    FeedbackKind,
    OfferPerformance,
)
from segments.models import Segment

HITS = "feedback_performance_hits"
MIN_REDEMPTIONS = 30
"""Below this many redemptions in the treated or the holdout group, a lift is too uncertain
to read as a finding: the page says so beside it."""
Z_95 = 1.959964
GROUPS = ("treated", "holdout")
COUNTS = ("assignments", "redemptions", "clicks", "impressions")


def performance_window(*, batch: AssignmentBatch) -> tuple[dt.datetime, dt.datetime]:
    """[batch.at, the next activated batch's at), or until now for the latest batch."""
    later = (
        AssignmentBatch.objects.filter(activated_at__isnull=False, at__gt=batch.at)
        .exclude(pk=batch.pk)
        .order_by("at", "pk")
        .first()
    )
    return batch.at, later.at if later is not None else timezone.now()


def performance_refresh(*, batch: AssignmentBatch) -> int:
    """Recompute the batch's OfferPerformance rows in one transaction; returns rows written."""
    start, end = performance_window(batch=batch)
    now = timezone.now()
    with transaction.atomic():
        # Two refreshes of one batch at once would each insert their rows: one waits.
        AssignmentBatch.objects.select_for_update().filter(pk=batch.pk).exists()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {HITS}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {HITS} "
                "(customer_id VARCHAR(100), offer_id VARCHAR(100), kind VARCHAR(20))"
            )
            # Feedback first, then the lake: a landing committed in between is then seen
            # twice (harmless), never not at all.
            cursor.execute(
                f"""INSERT INTO {HITS} (customer_id, offer_id, kind)
                    SELECT DISTINCT customer_id, offer_id, kind
                    FROM {FeedbackEvent._meta.db_table}
                    WHERE at >= %s AND at < %s AND (kind <> %s OR in_lake = %s)""",
                [_db_time(start), _db_time(end), FeedbackKind.REDEMPTION.value, False],
            )
        bulk_insert(table=HITS, frame=_lake_redemptions(start, end))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {HITS}")  # autovacuum never analyzes a temp table
        OfferPerformance.objects.filter(batch=batch).delete()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Millions of assignments: group in memory rather than by an external sort.
                cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(_aggregate_sql(), [_db_time(now), batch.pk, batch.pk])
            written = cursor.rowcount
            cursor.execute(f"DROP TABLE {HITS}")
    return int(written)


def _db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _months(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Lake months that can hold an instant of the window (months are store-local, so one
    more on each side)."""
    first = start.year * 12 + start.month - 2
    last = end.year * 12 + end.month
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


def _lake_redemptions(start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Distinct (customer, offer) pairs redeemed in the window, by DuckDB over the lake."""
    paths = [str(p) for p in lake_paths(table="offer_redemptions", months=_months(start, end))]
    if not paths:
        return pd.DataFrame({"customer_id": [], "offer_id": [], "kind": []})
    listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    with duckdb.connect() as db:
        frame = db.execute(
            f"""SELECT DISTINCT customer_id, offer_id FROM read_parquet({listed})
                WHERE customer_id IS NOT NULL AND redeemed_at >= $start AND redeemed_at < $end""",
            {"start": start, "end": end},
        ).df()
    frame["kind"] = FeedbackKind.REDEMPTION.value
    return frame


def batch_redeemed_pairs(*, batch: AssignmentBatch) -> set[tuple[str, str]]:
    """(customer, offer) pairs redeemed in the batch's window: landed or not, counted once."""
    start, end = performance_window(batch=batch)
    received = FeedbackEvent.objects.filter(
        kind=FeedbackKind.REDEMPTION, at__gte=start, at__lt=end
    ).values_list("customer_id", "offer_id")
    landed = _lake_redemptions(start, end)
    return set(received) | set(zip(landed["customer_id"], landed["offer_id"], strict=True))


def _context_text(key: str) -> str:
    if connection.vendor == "postgresql":
        return f"COALESCE(d.context ->> '{key}', '')"
    return f"COALESCE(json_extract(d.context, '$.{key}'), '')"


def _aggregate_sql() -> str:
    """Assignments of the batch grouped, each flagged by whether its pair was hit."""
    kinds = {
        "redeemed": FeedbackKind.REDEMPTION.value,
        "clicked": FeedbackKind.CLICK.value,
        "seen": FeedbackKind.IMPRESSION.value,
    }
    flags = ", ".join(
        f"MAX(CASE WHEN kind = '{kind}' THEN 1 ELSE 0 END) AS {name}"
        for name, kind in kinds.items()
    )
    return f"""
        INSERT INTO {OfferPerformance._meta.db_table}
            (batch_id, segment_key, slot, slot_label, offer_id, holdout, daypart, tier,
             assignments, redemptions, clicks, impressions, computed_at)
        SELECT a.batch_id, a.segment_key, a.slot, a.slot_label, a.offer_id, a.holdout,
               {_context_text("daypart")}, {_context_text("tier")},
               COUNT(*), SUM(COALESCE(h.redeemed, 0)), SUM(COALESCE(h.clicked, 0)),
               SUM(COALESCE(h.seen, 0)), %s
        FROM {Assignment._meta.db_table} a
        JOIN {Decision._meta.db_table} d ON d.id = a.decision_id
        LEFT JOIN (SELECT customer_id, offer_id, {flags} FROM {HITS}
                   GROUP BY customer_id, offer_id) h
               ON h.customer_id = a.customer_id AND h.offer_id = a.offer_id
        WHERE a.batch_id = %s AND d.batch_id = %s
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"""


# -- the summary -------------------------------------------------------------------------


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _lift(treated: float | None, holdout: float | None) -> float | None:
    """treated / holdout - 1; None without holdout redemptions (no baseline to compare)."""
    if treated is None or not holdout:
        return None
    return treated / holdout - 1


def _lift_interval(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """95% interval of the lift: the rate ratio's, on the log scale (Katz), minus 1; none
    while either group has no redemption."""
    treated, holdout = row["treated_redemptions"], row["holdout_redemptions"]
    treated_n, holdout_n = row["treated_assignments"], row["holdout_assignments"]
    if not (treated and holdout and treated_n and holdout_n):
        return None, None
    ratio = (treated / treated_n) / (holdout / holdout_n)
    spread = Z_95 * math.sqrt(1 / treated - 1 / treated_n + 1 / holdout - 1 / holdout_n)
    return ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1


def _sums() -> dict[str, Any]:
    return {
        f"{group}_{count}": Coalesce(Sum(count, filter=Q(holdout=(group == "holdout"))), 0)
        for group in GROUPS
        for count in COUNTS
    }


def rates_and_lift(row: dict[str, Any]) -> dict[str, Any]:
    for group in GROUPS:
        row[f"{group}_rate"] = _rate(row[f"{group}_redemptions"], row[f"{group}_assignments"])
    row["lift"] = _lift(row["treated_rate"], row["holdout_rate"])
    row["lift_low"], row["lift_high"] = _lift_interval(row)
    row["too_few"] = min(row["treated_redemptions"], row["holdout_redemptions"]) < MIN_REDEMPTIONS
    return row


def _grouped(rows: QuerySet[OfferPerformance], fields: list[str]) -> list[dict[str, Any]]:
    grouped = [rates_and_lift(row) for row in rows.values(*fields).annotate(**_sums()).order_by()]
    grouped.sort(key=lambda r: tuple((r[f] is None, r[f]) for f in fields))
    return grouped


def performance_summary(*, batch: AssignmentBatch) -> dict[str, Any]:
    """Treated and holdout counts, redemption rates and lift of the batch: in all, per
    segment, slot, offer, daypart and tier; read from OfferPerformance only."""
    rows = OfferPerformance.objects.filter(batch=batch)
    computed_at = rows.aggregate(at=Max("computed_at"))["at"]
    names = dict(
        Segment.objects.filter(definition_id=batch.definition_id).values_list("key", "name")
    )
    segments = _grouped(rows, ["segment_key"])
    for row in segments:
        row["segment_name"] = names.get(row["segment_key"])
    return {
        "batch": batch.pk,
        "at": batch.at.isoformat(),
        "computed_at": computed_at.isoformat() if computed_at else None,
        "total": rates_and_lift(rows.aggregate(**_sums())) if computed_at else None,
        "feedback_not_counted": _feedback_not_counted(batch, computed_at),
        "min_redemptions": MIN_REDEMPTIONS,
        "segments": segments,
        "slots": _grouped(rows, ["segment_key", "slot", "slot_label"]),
        "offers": _grouped(rows, ["offer_id"]),
        "dayparts": _grouped(rows, ["daypart"]),
        "tiers": _grouped(rows, ["tier"]),
    }


def _feedback_not_counted(batch: AssignmentBatch, computed_at: dt.datetime | None) -> int:
    """Feedback events of the batch's window received after its figures were counted."""
    start, end = performance_window(batch=batch)
    events = FeedbackEvent.objects.filter(at__gte=start, at__lt=end)
    if computed_at is not None:
        events = events.filter(received_at__gt=computed_at)
    return events.count()


HISTORY_BATCHES = 30


def performance_history(*, batches: QuerySet[AssignmentBatch]) -> list[dict[str, Any]]:
    """Treated and holdout redemption rate of the latest counted batches, oldest first: one
    point per batch, from OfferPerformance totals (batches not counted yet have no point)."""
    counted = Exists(OfferPerformance.objects.filter(batch=OuterRef("pk")))
    latest = list(
        batches.filter(counted)
        .order_by("-at", "-pk")
        .values_list("pk", flat=True)[:HISTORY_BATCHES]
    )
    totals = (
        OfferPerformance.objects.filter(batch__in=latest)
        .values("batch", "batch__at")
        .annotate(**_sums())
        .order_by("batch__at", "batch")
    )
    return [
        {
            "batch": row["batch"],
            "label": f"{row['batch__at']:%Y-%m-%d} #{row['batch']}",
            "treated_rate": row["treated_rate"],
            "holdout_rate": row["holdout_rate"],
            "lift": row["lift"],
            "treated_assignments": row["treated_assignments"],
            "holdout_assignments": row["holdout_assignments"],
        }
        for row in (rates_and_lift(dict(r)) for r in totals)
    ]


def performance_refresh_queue(*, batch: AssignmentBatch) -> None:
    """A recount of the batch's figures by the worker (heavy queue), once the caller's
    transaction commits."""
    from celery import current_app

    batch_id = batch.pk
    transaction.on_commit(
        lambda: current_app.send_task(
            "recommender.tasks.heavy_refresh_performance", kwargs={"batch_id": batch_id}
        )
    )
