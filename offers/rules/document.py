"""The rules document: the schema of a draft and of every published version, checked in code.

A document is plain JSON so that a save, a version and a diff are the same shape:

    {"segments": [{"segment_key": 3 | null, "slots": [{"label": ..., "count": 2, ...}]}]}

`segment_key` null is the rule for customers who have no segment yet. Parsing fills every
default, so two documents that mean the same thing are equal as JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
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


@dataclass(frozen=True)
class Problem:
    """One way a document breaks the schema, placed so a page can show it beside its input:
    the rule's segment key (None: the rule for customers with no segment yet), the slot's
    position from 1 and the slot's field, each None when the problem is wider.
    `whole_document` marks a problem no segment rule owns (the document's shape, or a rule
    whose segment cannot be read). The message names the place in words too."""

    message: str
    segment: int | None = None
    slot: int | None = None
    field: str | None = None
    whole_document: bool = False


class DocumentInvalid(ValidationError):
    """The document does not follow the schema; each problem says where."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__([problem.message for problem in problems])


@dataclass(frozen=True)
class _Place:
    """Where in the document the parser is: it files each problem with that place and starts
    the problem's message with the place in words."""

    problems: list[Problem]
    words: str
    segment: int | None = None
    slot: int | None = None
    whole_document: bool = False

    def add(self, text: str, *, field: str | None = None) -> None:
        self.problems.append(
            Problem(
                message=f"{self.words}: {text}",
                segment=self.segment,
                slot=self.slot,
                field=field,
                whole_document=self.whole_document,
            )
        )

    def slot_at(self, position: int) -> _Place:
        return replace(self, words=f"{self.words}, slot {position}", slot=position)

    def labelled(self, label: str) -> _Place:
        """The same place, its words naming the slot's label once the label is known good."""
        return replace(self, words=f'{self.words} "{label}"')


def segment_label(segment_key: int | None) -> str:
    return "no segment yet" if segment_key is None else f"segment {segment_key}"


def document_parse(data: Any) -> RulesDocument:
    """Check `data` against the schema and return it with defaults filled; raise on any error."""
    if not isinstance(data, dict) or set(data) - {"segments"}:
        message = 'The document must be an object with one key, "segments".'
        raise DocumentInvalid([Problem(message, whole_document=True)])
    raw_segments = data.get("segments", [])
    if not isinstance(raw_segments, list):
        raise DocumentInvalid([Problem('"segments" must be a list.', whole_document=True)])
    problems: list[Problem] = []
    rules: list[SegmentRule] = []
    seen: set[int | None] = set()
    for index, raw in enumerate(raw_segments, start=1):
        rule = _rule_parse(raw, index, seen, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise DocumentInvalid(problems)
    return RulesDocument(segments=rules)


def _rule_parse(
    raw: Any, index: int, seen: set[int | None], problems: list[Problem]
) -> SegmentRule | None:
    """One segment rule; `seen` collects the segment keys so far, to refuse a second rule."""
    unread = _Place(problems, f"Segment rule {index}", whole_document=True)
    if not isinstance(raw, dict) or set(raw) - {"segment_key", "slots"}:
        unread.add('must be an object with "segment_key" and "slots".')
        return None
    key = raw.get("segment_key")
    if key is not None and (isinstance(key, bool) or not isinstance(key, int) or key < 0):
        unread.add("segment_key must be a segment's key or null.")
        return None
    where = _Place(problems, f"Rule for {segment_label(key)}", segment=key)
    if key in seen:
        where.add("appears twice; keep one rule per segment.")
        return None
    seen.add(key)
    raw_slots = raw.get("slots", [])
    if not isinstance(raw_slots, list):
        where.add('"slots" must be a list.')
        return None
    if len(raw_slots) > MAX_SLOTS:
        where.add(f"at most {MAX_SLOTS} slots.")
        return None
    slots = [_slot_parse(raw_slot, where.slot_at(n)) for n, raw_slot in enumerate(raw_slots, 1)]
    return SegmentRule(segment_key=key, slots=[s for s in slots if s is not None])


def _slot_parse(raw: Any, where: _Place) -> Slot | None:
    if not isinstance(raw, dict):
        where.add("must be an object.")
        return None
    before = len(where.problems)
    unknown = sorted(set(raw) - set(SLOT_FIELDS))
    if unknown:
        where.add(f"unknown fields {', '.join(unknown)}.")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 100:
        where.add("label must be a text of 1 to 100 characters.", field="label")
        label = ""
    where = where.labelled(label.strip()) if label else where
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SLOT_OFFERS:
        where.add(f"count must be a whole number from 1 to {MAX_SLOT_OFFERS}.", field="count")
    goal = raw.get("goal", "redemption")
    if goal not in GOALS:
        where.add(f"goal must be one of {', '.join(GOALS)}.", field="goal")
    lists: dict[str, list[str]] = {}
    for name in LIST_FIELDS:
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            where.add(f"{name} must be a list of texts.", field=name)
            continue
        lists[name] = sorted(set(value), key=value.index)
    for tag in lists.get("tags", []):
        if tag not in OfferTag.values:
            known = ", ".join(OfferTag.values)
            where.add(f'unknown tag "{tag}" (known: {known}).', field="tags")
    try:
        validate_daypart_entries(lists.get("dayparts", []))
    except ValidationError as error:
        where.add(f"dayparts: {' '.join(error.messages)}", field="dayparts")
    dates: dict[str, str | None] = {}
    for name in ("valid_from", "valid_to"):
        value = raw.get(name)
        if value in (None, ""):
            dates[name] = None
            continue
        try:
            dates[name] = dt.date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            where.add(f"{name} must be a date like 2026-01-31.", field=name)
    start, end = dates.get("valid_from"), dates.get("valid_to")
    if start and end and start > end:
        where.add("valid_to is before valid_from.", field="valid_to")
    min_score = raw.get("min_score")
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not 0 <= min_score <= 1
    ):
        where.add("min_score must be a number from 0 to 1, or empty.", field="min_score")
    fallback = raw.get("fallback_offer") or None
    if fallback is not None and not isinstance(fallback, str):
        where.add("fallback_offer must be an offer id or empty.", field="fallback_offer")
    if len(where.problems) > before:
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
