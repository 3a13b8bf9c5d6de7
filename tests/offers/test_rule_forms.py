"""The rule editor's form: a document to the page's rows and back, a post to a document, and
each issue of a check placed on its segment block or slot row by its segment, slot and field."""

from typing import Any

import pytest
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, QueryDict

from offers.rules.document import document_normalize
from offers.rules.forms import (
    SegmentBlock,
    SlotEdit,
    blocks_check,
    blocks_document,
    blocks_from_document,
    blocks_from_post,
    editor_fields,
    issues_place,
    slot_edit_parse,
)
from offers.rules.validation import ERROR, Issue
from segments.models import SegmentDefinition
from tests.offers.test_rule_pages import form_data, packed
from tests.offers.test_validation import full_rules, slot

pytestmark = pytest.mark.django_db


def posted(data: dict[str, Any]) -> QueryDict:
    """`data` as Django reads it from a form post."""
    query = QueryDict(mutable=True)
    for name, value in data.items():
        query.setlist(name, value if isinstance(value, list) else [value])
    return query


def block_of(blocks: list[SegmentBlock], key: int | None) -> SegmentBlock:
    return next(b for b in blocks if b.key == key)


FULL_SLOT = slot(
    "Everything",
    count=2,
    goal="margin",
    categories=["breakfast", "burgers"],
    include_offers=["B1", "L1"],
    exclude_offers=["B2"],
    tags=["win_back"],
    tiers=["value"],
    dayparts=["breakfast", "22:00-05:00"],
    channels=["kiosk"],
    valid_from="2026-03-01",
    valid_to="2026-04-30",
    min_score=0.25,
    fallback_offer="B1",
)


def test_a_document_shown_on_the_page_gives_the_same_document_back(
    definition: SegmentDefinition,
) -> None:
    document = document_normalize(full_rules(**{"2": [FULL_SLOT, slot("Second")]}))

    blocks = blocks_from_document(definition, document)

    assert [b.token for b in blocks] == ["1", "2", "3", "none"]
    assert block_of(blocks, 2).slots[0].values["dayparts"] == "breakfast, 22:00-05:00"
    assert [s.prefix for s in block_of(blocks, 2).slots] == ["r-2-0", "r-2-1"]
    assert document_normalize(blocks_document(blocks)) == document


def test_a_post_of_the_editor_gives_the_document_typed(definition: SegmentDefinition) -> None:
    document = full_rules(**{"3": [FULL_SLOT]})
    data = form_data(document, revision=1)

    from_plain = blocks_document(blocks_from_post(definition, posted(data)))
    from_packed = blocks_document(blocks_from_post(definition, editor_fields(posted(packed(data)))))

    assert document_normalize(from_plain) == document_normalize(document)
    assert from_packed == from_plain


def test_a_segment_without_slots_and_an_unknown_segment(definition: SegmentDefinition) -> None:
    data = form_data(full_rules(), revision=1)
    data["segment"] = ["1", "7"]
    data["r-1-slot"] = []
    data["r-7-slot"], data["r-7-0-label"] = ["0"], "Ghost"

    blocks = blocks_from_post(definition, posted(data))

    ghost = block_of(blocks, 7)
    assert (ghost.name, ghost.known) == ("Unknown segment #7", False)
    assert [r["segment_key"] for r in blocks_document(blocks)["segments"]] == [7]


def test_a_posted_form_with_errors_gives_issues_placed_by_segment_slot_and_field(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    data = form_data(full_rules(**{"2": [slot("Late"), slot("Odd")]}), revision=1)
    data["r-2-1-count"] = "two"
    data["r-none-0-min_score"] = "high"
    data["r-1-0-label"] = ""

    blocks = blocks_from_post(definition, posted(data))
    checks = blocks_check(definition, blocks)

    assert [(i.segment, i.slot, i.field) for i in checks.errors] == [
        (1, 1, "label"),
        (2, 2, "count"),
        (None, 1, "min_score"),
    ]
    assert [i.message for i in block_of(blocks, 2).slots[1].issues] == [
        'Rule for segment 2, slot 2 "Odd": count must be a whole number from 1 to 20.'
    ]
    assert [i.field for i in block_of(blocks, None).slots[0].issues] == ["min_score"]
    assert [i.field for i in block_of(blocks, 1).slots[0].issues] == ["label"]
    assert block_of(blocks, 2).slots[0].issues == []


def test_catalog_issues_land_on_their_slot_and_segment_issues_on_the_block(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    data = form_data(full_rules(**{"3": [slot("Sushi", categories=["sushi"])]}), revision=1)
    data["segment"].remove("2")

    blocks = blocks_from_post(definition, posted(data))
    checks = blocks_check(definition, blocks)

    sushi = block_of(blocks, 3).slots[0].issues
    assert [(i.code, i.field) for i in sushi] == [
        ("unknown_category", "categories"),
        ("slot_unfillable", None),
    ]
    assert [i.code for i in block_of(blocks, 2).issues] == ["segment_without_rule"]
    assert len(checks.errors) == 2 and len(checks.warnings) == 1


def test_an_issue_no_segment_rule_owns_stays_off_the_blocks(
    definition: SegmentDefinition,
) -> None:
    blocks = blocks_from_document(definition, full_rules())
    whole = Issue(level=ERROR, code="schema", message="Segment rule 5: ...", whole_document=True)
    past_the_end = Issue(level=ERROR, code="schema", message="...", segment=1, slot=9)

    issues_place(blocks, [whole, past_the_end])

    assert block_of(blocks, None).issues == []
    assert block_of(blocks, 1).issues == [past_the_end]
    assert all(not s.issues for b in blocks for s in b.slots)


def test_slot_edits_and_what_they_refuse(definition: SegmentDefinition) -> None:
    blocks = blocks_from_document(definition, full_rules(**{"1": [slot("A"), slot("B")]}))
    block = block_of(blocks, 1)

    assert block.edit("down", 0) and [s.values["label"] for s in block.slots] == ["B", "A"]
    assert block.edit("add", -1) and block.slots[2].values["label"] == "Breakfast regulars offers"
    assert block.edit("remove", 0) and [s.prefix for s in block.slots] == ["r-1-0", "r-1-1"]
    assert not block.edit("up", 0)
    assert not block.edit("explode", 1)
    assert slot_edit_parse("up:none:3") == SlotEdit(op="up", segment=None, index=3)
    assert slot_edit_parse("add:2") == SlotEdit(op="add", segment=2, index=-1)
    with pytest.raises(Http404):
        slot_edit_parse("add:two")


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '[["a", 1]]', '{"a": "b"}'])
def test_a_malformed_packed_form_is_suspicious(body: str) -> None:
    with pytest.raises(SuspiciousOperation):
        editor_fields(posted({"packed": body}))
