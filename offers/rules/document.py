"""The rules document: the schema of a draft and of every published version, checked in code.

A document is plain JSON so that a save, a version and a diff are the same shape:

    {"segments": [{"segment_key": 3 | null, "slots": [{"label": ..., "count": 2, ...}]}]}

`segment_key` null is the rule for customers who have no segment yet. Parsing fills every
default, so two documents that mean the same thing are equal as JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from offers.models import OfferTag
from offers.validators import validate_daypart_entries

GOALS = ("redemption", "revenue", "margin")
MAX_SLOT_OFFERS = 20
MAX_SLOTS = 30
LIST_FIELDS = (
    "categories",
    "include_offers",
    "exclude_offers",
    "tags",
    "tiers",
    "dayparts",
    "channels",
)
SLOT_FIELDS = (
    "label",
    "count",
    "goal",
    *LIST_FIELDS,
    "valid_from",
    "valid_to",
    "min_score",
    "fallback_offer",
)


@dataclass
class Slot:
    label: str
    count: int = 1
    goal: str = "redemption"
    categories: list[str] = field(default_factory=list)
    include_offers: list[str] = field(default_factory=list)
    exclude_offers: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    dayparts: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    valid_from: str | None = None
    valid_to: str | None = None
    min_score: float | None = None
    fallback_offer: str | None = None

    @property
    def valid_from_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.valid_from) if self.valid_from else None

    @property
    def valid_to_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.valid_to) if self.valid_to else None


@dataclass
class SegmentRule:
    segment_key: int | None
    slots: list[Slot] = field(default_factory=list)


@dataclass
class RulesDocument:
    segments: list[SegmentRule] = field(default_factory=list)

    def rule_for(self, segment_key: int | None) -> SegmentRule | None:
        for rule in self.segments:
            if rule.segment_key == segment_key:
                return rule
        return None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class DocumentInvalid(ValidationError):
    """The document does not follow the schema; each message names the segment and slot."""

    def __init__(self, messages: list[str]):
        self.problems = messages
        super().__init__(messages)


def segment_label(segment_key: int | None) -> str:
    return "no segment yet" if segment_key is None else f"segment {segment_key}"


def document_parse(data: Any) -> RulesDocument:
    """Check `data` against the schema and return it with defaults filled; raise on any error."""
    problems: list[str] = []
    if not isinstance(data, dict) or set(data) - {"segments"}:
        raise DocumentInvalid(['The document must be an object with one key, "segments".'])
    raw_segments = data.get("segments", [])
    if not isinstance(raw_segments, list):
        raise DocumentInvalid(['"segments" must be a list.'])
    rules: list[SegmentRule] = []
    seen: set[int | None] = set()
    for index, raw in enumerate(raw_segments, start=1):
        where = f"Segment rule {index}"
        if not isinstance(raw, dict) or set(raw) - {"segment_key", "slots"}:
            problems.append(f'{where}: must be an object with "segment_key" and "slots".')
            continue
        key = raw.get("segment_key")
        if key is not None and (isinstance(key, bool) or not isinstance(key, int) or key < 0):
            problems.append(f"{where}: segment_key must be a segment's key or null.")
            continue
        where = f"Rule for {segment_label(key)}"
        if key in seen:
            problems.append(f"{where}: appears twice; keep one rule per segment.")
            continue
        seen.add(key)
        raw_slots = raw.get("slots", [])
        if not isinstance(raw_slots, list):
            problems.append(f'{where}: "slots" must be a list.')
            continue
        if len(raw_slots) > MAX_SLOTS:
            problems.append(f"{where}: at most {MAX_SLOTS} slots.")
            continue
        slots = []
        for position, raw_slot in enumerate(raw_slots, start=1):
            slot = _slot_parse(raw_slot, f"{where}, slot {position}", problems)
            if slot is not None:
                slots.append(slot)
        rules.append(SegmentRule(segment_key=key, slots=slots))
    if problems:
        raise DocumentInvalid(problems)
    return RulesDocument(segments=rules)


def _slot_parse(raw: Any, where: str, problems: list[str]) -> Slot | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object.")
        return None
    before = len(problems)
    unknown = sorted(set(raw) - set(SLOT_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown fields {', '.join(unknown)}.")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 100:
        problems.append(f"{where}: label must be a text of 1 to 100 characters.")
        label = ""
    where = f'{where} "{label.strip()}"' if label else where
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SLOT_OFFERS:
        problems.append(f"{where}: count must be a whole number from 1 to {MAX_SLOT_OFFERS}.")
    goal = raw.get("goal", "redemption")
    if goal not in GOALS:
        problems.append(f"{where}: goal must be one of {', '.join(GOALS)}.")
    lists: dict[str, list[str]] = {}
    for name in LIST_FIELDS:
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where}: {name} must be a list of texts.")
            continue
        lists[name] = sorted(set(value), key=value.index)
    for tag in lists.get("tags", []):
        if tag not in OfferTag.values:
            problems.append(f'{where}: unknown tag "{tag}" (known: {", ".join(OfferTag.values)}).')
    try:
        validate_daypart_entries(lists.get("dayparts", []))
    except ValidationError as error:
        problems.append(f"{where}: dayparts: {' '.join(error.messages)}")
    dates: dict[str, str | None] = {}
    for name in ("valid_from", "valid_to"):
        value = raw.get(name)
        if value in (None, ""):
            dates[name] = None
            continue
        try:
            dates[name] = dt.date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            problems.append(f"{where}: {name} must be a date like 2026-01-31.")
    start, end = dates.get("valid_from"), dates.get("valid_to")
    if start and end and start > end:
        problems.append(f"{where}: valid_to is before valid_from.")
    min_score = raw.get("min_score")
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not 0 <= min_score <= 1
    ):
        problems.append(f"{where}: min_score must be a number from 0 to 1, or empty.")
    fallback = raw.get("fallback_offer") or None
    if fallback is not None and not isinstance(fallback, str):
        problems.append(f"{where}: fallback_offer must be an offer id or empty.")
    if len(problems) > before:
        return None
    return Slot(
        label=label.strip(),
        count=count,
        goal=goal,
        valid_from=dates["valid_from"],
        valid_to=dates["valid_to"],
        min_score=float(min_score) if min_score is not None else None,
        fallback_offer=fallback,
        **lists,
    )


def document_normalize(data: Any) -> dict[str, Any]:
    """The canonical JSON of a valid document (defaults filled), as stored."""
    return document_parse(data).as_json()


def empty_document() -> dict[str, Any]:
    return {"segments": []}
