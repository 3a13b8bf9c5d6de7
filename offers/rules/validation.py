"""Validation of a rules document against the catalog: every issue carries its segment, slot
and field, and names them in its message.

Errors block publishing (an unknown offer, category or daypart, a slot no offer can fill);
warnings do not (an expired offer, more slots than eligible offers, a tier or daypart where a
slot stays empty, a segment without a rule).
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np

from offers.rules.document import DocumentInvalid, Problem, RulesDocument, Slot, document_parse
from offers.rules.slots import (
    OfferCatalog,
    catalog_load,
    slot_candidates,
    slot_filter,
    slot_window,
)
from segments.models import Segment, SegmentDefinition

ERROR = "error"
WARNING = "warning"
SCHEMA = "schema"


@dataclass(frozen=True)
class Issue:
    """One finding, placed so a page shows it beside its input: the rule's segment key (None:
    the rule for customers with no segment yet), the slot's position from 1 and the slot's
    field, each None when the finding is wider; `whole_document` when no segment rule owns it.
    The message names the place in words too."""

    level: str
    code: str
    message: str
    segment: int | None = None
    slot: int | None = None
    field: str | None = None
    whole_document: bool = False
    segment_name: str = ""
    slot_label: str = ""

    def as_json(self) -> dict[str, Any]:
        """The API's shape, as it was before issues carried their place: a schema problem is
        not placed there (its message names the place)."""
        placed = self.code != SCHEMA
        return {
            "level": self.level,
            "code": self.code,
            "segment_key": self.segment if placed else None,
            "segment": self.segment_name,
            "slot": self.slot if placed else None,
            "slot_label": self.slot_label,
            "message": self.message,
        }


def _schema_issue(problem: Problem) -> Issue:
    return Issue(
        level=ERROR,
        code=SCHEMA,
        message=problem.message,
        segment=problem.segment,
        slot=problem.slot,
        field=problem.field,
        whole_document=problem.whole_document,
    )


class _Collector:
    def __init__(self, names: dict[int, str]):
        self.names = names
        self.issues: list[Issue] = []

    def segment_name(self, key: int | None) -> str:
        if key is None:
            return "No segment yet"
        return f"{self.names.get(key, 'Unknown segment')} (#{key})"

    def add(
        self,
        level: str,
        code: str,
        text: str,
        *,
        key: int | None,
        position: int | None = None,
        slot: Slot | None = None,
        field: str | None = None,
    ) -> None:
        segment = self.segment_name(key)
        where = f"{segment}, slot {position} \u201c{slot.label}\u201d" if slot else segment
        self.issues.append(
            Issue(
                level=level,
                code=code,
                message=f"{where}: {text}",
                segment=key,
                slot=position,
                field=field,
                segment_name=segment,
                slot_label=slot.label if slot else "",
            )
        )


def rules_validate(
    *,
    document: Any,
    definition: SegmentDefinition,
    on: dt.date | None = None,
    catalog: OfferCatalog | None = None,
) -> list[Issue]:
    """All errors and warnings of a document, as of `on` (default today)."""
    on = on or dt.date.today()
    segments = {s.key: s for s in Segment.objects.filter(definition=definition)}
    collector = _Collector({key: s.name for key, s in segments.items()})
    try:
        parsed = document_parse(document)
    except DocumentInvalid as invalid:
        return [_schema_issue(problem) for problem in invalid.problems]
    catalog = catalog or catalog_load()
    _check_coverage_of_segments(collector, parsed, segments)
    for rule in parsed.segments:
        key = rule.segment_key
        if key is not None and key not in segments:
            collector.add(
                ERROR, "unknown_segment", "no such segment in this segmentation.", key=key
            )
            continue
        if key is not None and segments[key].is_vanished:
            collector.add(
                WARNING, "vanished_segment", "this segment has no customers any more.", key=key
            )
        if not rule.slots:
            collector.add(WARNING, "no_slots", "the rule has no slots, so gives no offer.", key=key)
        union = np.zeros(len(catalog.offers), dtype=bool)
        for position, slot in enumerate(rule.slots, start=1):
            union |= _check_slot(collector, catalog, slot, key=key, position=position, on=on)
        wanted = sum(slot.count for slot in rule.slots)
        available = int(union.sum())
        if len(rule.slots) > 1 and 0 < available < wanted:
            collector.add(
                WARNING,
                "more_slots_than_offers",
                f"the slots ask for {wanted} offers but only {available} different offers are "
                "eligible, so customers get fewer.",
                key=key,
            )
    return collector.issues


def _check_coverage_of_segments(
    collector: _Collector, parsed: RulesDocument, segments: dict[int, Segment]
) -> None:
    ruled = {rule.segment_key for rule in parsed.segments}
    for key, segment in sorted(segments.items()):
        if key not in ruled and not segment.is_vanished:
            collector.add(
                WARNING, "segment_without_rule", "no rule, so its customers get no offer.", key=key
            )
    if None not in ruled:
        collector.add(
            WARNING,
            "no_rule_for_unsegmented",
            "no rule, so customers without a segment get no offer.",
            key=None,
        )


def _check_slot(
    collector: _Collector,
    catalog: OfferCatalog,
    slot: Slot,
    *,
    key: int | None,
    position: int,
    on: dt.date,
) -> np.ndarray:
    def add(level: str, code: str, text: str, *, field: str | None = None) -> None:
        collector.add(level, code, text, key=key, position=position, slot=slot, field=field)

    unknown_offers = [
        offer_id
        for offer_id in [*slot.include_offers, *slot.exclude_offers, slot.fallback_offer]
        if offer_id and offer_id not in catalog.index
    ]
    if unknown_offers:
        names = _with_guesses(unknown_offers, list(catalog.index))
        add(ERROR, "unknown_offer", f"unknown offers {names}.")
    unknown_categories = [c for c in slot.categories if c not in catalog.known_categories]
    if unknown_categories:
        names = _with_guesses(unknown_categories, sorted(catalog.known_categories))
        add(ERROR, "unknown_category", f"unknown categories {names}.", field="categories")
    unknown_dayparts = [d for d in slot.dayparts if ":" not in d and d not in catalog.daypart_names]
    if unknown_dayparts:
        names = _with_guesses(unknown_dayparts, sorted(catalog.daypart_names))
        add(ERROR, "unknown_daypart", f"unknown dayparts {names}.", field="dayparts")
    unknown_tiers = [t for t in slot.tiers if t not in catalog.tiers]
    if unknown_tiers:
        names = ", ".join(unknown_tiers)
        add(WARNING, "unknown_tier", f"no store has pricing tier {names}.", field="tiers")
    for offer_id in [*slot.include_offers, slot.fallback_offer]:
        if offer_id in catalog.index:
            offer = catalog.offers[catalog.index[offer_id]]
            if offer.valid_to is not None and offer.valid_to < on:
                named = f"{offer_id} “{offer.name}”" if offer.name else offer_id
                add(WARNING, "expired_offer", f"offer {named} expired on {offer.valid_to}.")

    candidates = slot_candidates(catalog, slot, on=on)
    count = int(candidates.sum())
    if count == 0:
        filtered = int(slot_filter(catalog, slot).sum())
        reason = (
            "no offer matches its filter"
            if filtered == 0
            else f"its filter matches {filtered} offer(s) but none may run within its "
            "tiers, dayparts, channels and dates"
        )
        add(ERROR, "slot_unfillable", f"no offer can fill this slot: {reason}.")
        return candidates
    if count < slot.count:
        add(
            WARNING,
            "more_slots_than_offers",
            f"asks for {slot.count} offers but only {count} are eligible.",
            field="count",
        )
    gaps = _coverage_gaps(catalog, slot, candidates)
    if gaps:
        add(
            WARNING,
            "coverage_gap",
            "no offer can fill it in " + ", ".join(f"tier {t} at {d}" for t, d in gaps) + ".",
        )
    fallback = catalog.index.get(slot.fallback_offer or "")
    if (
        fallback is not None
        and not candidates[fallback]
        and not slot_candidates(catalog, slot_window(slot), on=on)[fallback]
    ):
        offer = catalog.offers[fallback]
        named = f"{offer.offer_id} “{offer.name}”" if offer.name else offer.offer_id
        add(
            WARNING,
            "fallback_not_eligible",
            f"fallback offer {named} may not run within the slot's "
            "tiers, dayparts, channels and dates.",
            field="fallback_offer",
        )
    return candidates


def _coverage_gaps(
    catalog: OfferCatalog, slot: Slot, candidates: np.ndarray
) -> list[tuple[str, str]]:
    """(tier, daypart) pairs of the slot's reach where none of its candidates may run."""
    tiers = slot.tiers or catalog.tiers
    dayparts = slot.dayparts or catalog.daypart_names
    table = catalog.table
    in_tier = np.array([candidates & table.runs_in_tiers([t]) for t in tiers], dtype=np.int64)
    in_daypart = np.array([table.overlaps_dayparts([d]) for d in dayparts], dtype=np.int64)
    if not len(in_tier) or not len(in_daypart):
        return []
    fillers = in_tier.reshape(len(tiers), -1) @ in_daypart.reshape(len(dayparts), -1).T
    return [(tiers[i], dayparts[j]) for i, j in zip(*np.nonzero(fillers == 0), strict=True)]


def issues_have_errors(issues: list[Issue]) -> bool:
    return any(issue.level == ERROR for issue in issues)


def _with_guesses(unknown: list[str], known: list[str]) -> str:
    """ "OF-1O1 (did you mean OF-101?), X": the closest known value for a likely typo."""
    by_case = {k.casefold(): k for k in known}
    shown = []
    for value in unknown:
        close = difflib.get_close_matches(value.casefold(), list(by_case), n=1, cutoff=0.75)
        shown.append(f"{value} (did you mean {by_case[close[0]]}?)" if close else value)
    return ", ".join(shown)
