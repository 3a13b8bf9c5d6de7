"""The guided first page: what the segments are, what changed since the last period, and
where a marketer should act. Reads only small, pre-aggregated tables (segment sizes and
flows, rules, batches, offer performance), so it stays fast at any customer count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, Sum

from offers.rules.document import document_parse
from offers.rules.selectors import rule_set_for_definition
from recommender.models import OfferPerformance
from recommender.selectors import batch_active, model_active
from segments.models import SegmentFlow, SegmentSize
from segments.selectors import period_pair_default, segmentation_active, segmentation_periods

MOVES_SHOWN = 5


@dataclass
class Guide:
    periods: tuple[str, str] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)


def _segments_now(definition: Any, periods: list[str]) -> list[dict[str, Any]]:
    last, previous = periods[-1], (periods[-2] if len(periods) > 1 else None)
    sizes: dict[tuple[int, str], int] = {
        (row["segment__key"], row["period"]): row["customers"]
        for row in SegmentSize.objects.filter(
            definition=definition, period__in=[p for p in (last, previous) if p]
        ).values("segment__key", "period", "customers")
    }
    rows = []
    for segment in definition.segments.filter(is_vanished=False).order_by("key"):
        now = sizes.get((segment.key, last), 0)
        before = sizes.get((segment.key, previous), 0) if previous else None
        rows.append(
            {
                "key": segment.key,
                "name": segment.name,
                "description": segment.description,
                "customers": now,
                "change": None if before is None else now - before,
                "change_share": None if not before else (now - before) / before,
                # Every segment of a first segmentation is new: only a refit's new ones count.
                "is_new": segment.is_new and definition.previous_id is not None,
            }
        )
    return rows


def _moves(definition: Any, periods: list[str]) -> list[dict[str, Any]]:
    if len(periods) < 2:
        return []
    rows = (
        SegmentFlow.objects.filter(
            definition=definition,
            period_from=periods[-2],
            period_to=periods[-1],
            from_segment__isnull=False,
            to_segment__isnull=False,
        )
        .exclude(from_segment=F("to_segment"))
        .select_related("from_segment", "to_segment")
        .order_by("-customers")[:MOVES_SHOWN]
    )
    return [
        {
            "from_key": t.from_segment.key,
            "from_name": t.from_segment.name,
            "to_key": t.to_segment.key,
            "to_name": t.to_segment.name,
            "customers": t.customers,
        }
        for t in rows
        if t.from_segment is not None and t.to_segment is not None
    ]


def _actions(definition: Any, segments: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What needs a marketer, most pressing first; each with the page to act on."""
    actions: list[dict[str, str]] = []
    rule_set = rule_set_for_definition(definition=definition)
    published = rule_set.versions.order_by("-number").first() if rule_set else None
    if published is None:
        actions.append(
            {
                "text": "No offer rules are published for these segments: write and publish them.",
                "url": "rules",
            }
        )
    else:
        rules = document_parse(published.document).segments
        ruled = {r.segment_key for r in rules if r.slots}
        missing = [s for s in segments if s["key"] not in ruled]
        for segment in missing:
            actions.append(
                {
                    "text": f"{segment['name']} (#{segment['key']}) has no rule in v"
                    f"{published.number}: its customers get no offers.",
                    "url": "rules",
                }
            )
        if rule_set is not None and rule_set.revision != published.draft_revision:
            actions.append(
                {
                    "text": f"The rules draft has changes not published since v{published.number}.",
                    "url": "rules",
                }
            )
    for segment in segments:
        if segment["is_new"]:
            actions.append(
                {
                    "text": f"{segment['name']} (#{segment['key']}) is new in this segmentation: "
                    "check its rule.",
                    "url": "segment_list",
                }
            )
    if model_active() is None:
        actions.append({"text": "No recommender model is active: train one.", "url": "model_list"})
    batch = batch_active()
    if batch is None:
        actions.append(
            {"text": "No offers are assigned yet: run an assignment.", "url": "run_list"}
        )
    elif published is not None and batch.rule_version_id != published.pk:
        actions.append(
            {
                "text": f"Offers were assigned under older rules; rules v{published.number} "
                "apply from the next assignment.",
                "url": "run_list",
            }
        )
    if batch is not None:
        actions.extend(_losing_segments(batch))
    return actions


def _losing_segments(batch: Any) -> list[dict[str, str]]:
    rows = (
        OfferPerformance.objects.filter(batch=batch)
        .values("segment_key")
        .annotate(
            treated=Sum("assignments", filter=Q(holdout=False)),
            treated_hits=Sum("redemptions", filter=Q(holdout=False)),
            held=Sum("assignments", filter=Q(holdout=True)),
            held_hits=Sum("redemptions", filter=Q(holdout=True)),
        )
    )
    actions = []
    for row in rows:
        if not row["treated"] or not row["held"] or not row["held_hits"]:
            continue
        treated_rate = (row["treated_hits"] or 0) / row["treated"]
        held_rate = row["held_hits"] / row["held"]
        if treated_rate < held_rate:
            key = row["segment_key"]
            who = "customers without a segment" if key is None else f"segment #{key}"
            actions.append(
                {
                    "text": f"For {who} the model's offers redeem less than the holdout's "
                    f"({treated_rate:.1%} vs {held_rate:.1%}): review its rule.",
                    "url": "offer_performance",
                }
            )
    return actions


def guide() -> Guide:
    definition = segmentation_active()
    if definition is None:
        return Guide()
    months = segmentation_periods(definition=definition)
    if not months:
        return Guide()
    # The last two complete periods: a month still under way is not "your segments now".
    pair = period_pair_default(months)
    periods = list(pair) if pair is not None else [months[-1].month]
    segments = _segments_now(definition, periods)
    return Guide(
        periods=(periods[-2] if len(periods) > 1 else periods[-1], periods[-1]),
        segments=segments,
        moves=_moves(definition, periods),
        actions=_actions(definition, segments),
    )
