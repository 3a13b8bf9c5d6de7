"""The rule editor's form: the draft as segment blocks of slot rows, read from a rules document
or from what the page posted, and turned back into a document.

A hand-built formset rather than Django's: rows are grouped by segment, renamed by position
after every add, move or remove, and judged by the rules schema as a whole document (a count
of "two" stays a text, so the schema's problem names the segment, slot and field). Each issue
of the check then lands on the block or row its place names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, QueryDict

from deepflame_web.core.parsing import ascii_int, json_loads_bounded
from offers.rules.validation import ERROR, Issue, rules_validate
from segments.models import Segment, SegmentDefinition
from segments.selectors import segment_current_sizes

NO_SEGMENT = "none"
LIST_INPUTS = ("categories", "include_offers", "exclude_offers", "tiers", "dayparts", "channels")
TEXT_INPUTS = ("label", "count", "goal", "valid_from", "valid_to", "min_score", "fallback_offer")
CONSTRAINTS = ("tiers", "dayparts", "channels", "valid_from", "valid_to", "min_score")
MAX_PACKED_FIELDS = 100_000


@dataclass
class SlotRow:
    """One slot as the page shows it: its inputs' texts, and the issues placed on it."""

    uid: int
    values: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    token: str = ""

    @property
    def prefix(self) -> str:
        return f"r-{self.token}-{self.uid}"

    @property
    def issues_id(self) -> str:
        return f"issues-{self.token}-{self.uid + 1}"

    @property
    def has_constraints(self) -> bool:
        return any(self.values.get(n) for n in (*CONSTRAINTS, "fallback_offer"))


@dataclass
class SegmentBlock:
    """One segment's rule on the page (key None: customers with no segment yet)."""

    key: int | None
    name: str
    customers: int
    vanished: bool = False
    known: bool = True
    slots: list[SlotRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def token(self) -> str:
        return NO_SEGMENT if self.key is None else str(self.key)

    def number(self) -> None:
        """Slots are named by position, so names stay unique after any edit."""
        for uid, slot in enumerate(self.slots):
            slot.uid, slot.token = uid, self.token

    def edit(self, op: str, index: int) -> bool:
        """Add a slot, or remove or move the one at `index`; False when that edit cannot be."""
        slots = self.slots
        if op == "add":
            label = "No segment yet" if self.key is None else self.name
            fresh = {"label": f"{label} offers", "count": 1, "goal": "redemption"}
            slots.append(SlotRow(uid=0, values=slot_inputs(fresh)))
        elif op == "remove" and 0 <= index < len(slots):
            slots.pop(index)
        elif op == "up" and 0 < index < len(slots):
            slots[index - 1], slots[index] = slots[index], slots[index - 1]
        elif op == "down" and 0 <= index < len(slots) - 1:
            slots[index], slots[index + 1] = slots[index + 1], slots[index]
        else:
            return False
        self.number()
        return True


@dataclass(frozen=True)
class SlotEdit:
    """A slot button's value, "<op>:<segment token>[:<slot index>]"."""

    op: str
    segment: int | None
    index: int


@dataclass
class Checks:
    """The check of the editor's document: every issue, split by level, for the panel."""

    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level != ERROR]


def segment_key_of(token: str) -> int | None:
    """The segment a posted token names; a token no segment could have is a 404."""
    if token == NO_SEGMENT:
        return None
    key = ascii_int(token)
    if key is None:
        raise Http404("No such segment.")
    return key


def slot_edit_parse(value: str) -> SlotEdit:
    op, _, rest = value.partition(":")
    token, _, position = rest.partition(":")
    index = ascii_int(position)
    return SlotEdit(op=op, segment=segment_key_of(token), index=-1 if index is None else index)


def editor_fields(post: QueryDict) -> QueryDict:
    """The editor's fields. The page packs them into one JSON field ("packed": [[name,
    value], ...]) because a large rule set has more fields than Django parses from a form
    (DATA_UPLOAD_MAX_NUMBER_FIELDS); a plain form post is read as it is."""
    packed = post.get("packed")
    if packed is None:
        return post
    try:
        pairs = json_loads_bounded(packed)
    except ValueError as exc:
        raise SuspiciousOperation("The packed form is not JSON.") from exc
    if not _name_value_pairs(pairs):
        raise SuspiciousOperation("The packed form must be a list of [name, value] texts.")
    data = QueryDict(mutable=True)
    for name, value in pairs:
        data.appendlist(name, value)
    return data


def _name_value_pairs(pairs: Any) -> bool:
    return (
        isinstance(pairs, list)
        and len(pairs) <= MAX_PACKED_FIELDS
        and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in pairs
        )
    )


# A slot between the document and the page's inputs


def slot_inputs(slot: dict[str, Any]) -> dict[str, Any]:
    """A document's slot as the texts of its inputs (lists joined by commas)."""
    values: dict[str, Any] = {n: ", ".join(slot.get(n) or []) for n in LIST_INPUTS}
    for name in TEXT_INPUTS:
        value = slot.get(name)
        values[name] = "" if value is None else str(value)
    values["tags"] = list(slot.get("tags") or [])
    return values


def slot_posted(data: QueryDict, prefix: str) -> dict[str, Any]:
    names = (*LIST_INPUTS, *TEXT_INPUTS)
    values: dict[str, Any] = {n: data.get(f"{prefix}-{n}", "") for n in names}
    values["tags"] = data.getlist(f"{prefix}-tags")
    return values


def slot_document(values: dict[str, Any]) -> dict[str, Any]:
    """What the marketer typed, as a slot of the document; the schema judges it (a count of
    "two" stays a text, so the problem names the slot and the field)."""
    slot: dict[str, Any] = {"label": values["label"], "goal": values["goal"] or "redemption"}
    count = values["count"].strip()
    magnitude = ascii_int(count.removeprefix("-"))
    if magnitude is None:
        slot["count"] = count
    else:
        slot["count"] = -magnitude if count.startswith("-") else magnitude
    for name in LIST_INPUTS:
        slot[name] = [part.strip() for part in values[name].split(",") if part.strip()]
    slot["tags"] = list(values["tags"])
    for name in ("valid_from", "valid_to", "fallback_offer"):
        slot[name] = values[name].strip() or None
    score = values["min_score"].strip()
    try:
        slot["min_score"] = float(score) if score else None
    except ValueError:
        slot["min_score"] = score
    return slot


# The blocks: from a document, from a post, and back to a document


def blocks_from_document(
    definition: SegmentDefinition, document: dict[str, Any]
) -> list[SegmentBlock]:
    blocks = _blocks_frame(definition)
    for rule in document.get("segments", []):
        block = _block_for(blocks, rule.get("segment_key"))
        block.slots = [SlotRow(uid=n, values=slot_inputs(s)) for n, s in enumerate(rule["slots"])]
    return _ordered(blocks)


def blocks_from_post(definition: SegmentDefinition, data: QueryDict) -> list[SegmentBlock]:
    blocks = _blocks_frame(definition)
    for token in data.getlist("segment"):
        block = _block_for(blocks, segment_key_of(token))
        block.slots = [
            SlotRow(uid=n, values=slot_posted(data, f"r-{token}-{uid}"))
            for n, uid in enumerate(data.getlist(f"r-{token}-slot"))
        ]
    return _ordered(blocks)


def blocks_document(blocks: list[SegmentBlock]) -> dict[str, Any]:
    """A segment without slots has no rule (validation warns that it gets no offer)."""
    return {
        "segments": [
            {"segment_key": b.key, "slots": [slot_document(s.values) for s in b.slots]}
            for b in blocks
            if b.slots
        ]
    }


def blocks_check(definition: SegmentDefinition, blocks: list[SegmentBlock]) -> Checks:
    """Validate the blocks' document and put each issue on its block or slot row."""
    issues = rules_validate(document=blocks_document(blocks), definition=definition)
    issues_place(blocks, issues)
    return Checks(issues=issues)


def issues_place(blocks: list[SegmentBlock], issues: list[Issue]) -> None:
    """Each issue goes to its slot's row, or to its segment's block when it names no slot (or a
    slot the block lacks); one no segment rule owns stays in the panel only."""
    by_key = {b.key: b for b in blocks}
    for issue in issues:
        block = None if issue.whole_document else by_key.get(issue.segment)
        if block is None:
            continue
        if issue.slot is not None and 0 < issue.slot <= len(block.slots):
            block.slots[issue.slot - 1].issues.append(issue)
        else:
            block.issues.append(issue)


def _blocks_frame(definition: SegmentDefinition) -> dict[int | None, SegmentBlock]:
    """One empty block per segment (live ones first) and one for customers with none yet."""
    sizes = segment_current_sizes(definition)
    blocks: dict[int | None, SegmentBlock] = {}
    for segment in Segment.objects.filter(definition=definition).order_by("is_vanished", "key"):
        blocks[segment.key] = SegmentBlock(
            key=segment.key,
            name=segment.name,
            customers=sizes.get(segment.key, 0),
            vanished=segment.is_vanished,
        )
    blocks[None] = SegmentBlock(
        key=None, name="Customers with no segment yet", customers=sizes[None]
    )
    return blocks


def _block_for(blocks: dict[int | None, SegmentBlock], key: int | None) -> SegmentBlock:
    """The block of a segment key; a key the segmentation lacks gets an "unknown" block."""
    if key not in blocks and key is not None:
        blocks[key] = SegmentBlock(
            key=key, name=f"Unknown segment #{key}", customers=0, known=False
        )
    return blocks[key]


def _ordered(blocks: dict[int | None, SegmentBlock]) -> list[SegmentBlock]:
    ordered = [b for k, b in blocks.items() if k is not None] + [blocks[None]]
    for block in ordered:
        block.number()
    return ordered
