"""The rules document schema and validation: every issue carries and names its segment, slot
and field."""

from typing import Any

import pytest

from offers.rules.document import DocumentInvalid, document_normalize, document_parse
from offers.rules.validation import Issue, rules_validate
from segments.models import SegmentDefinition
from tests.offers.conftest import ON

pytestmark = pytest.mark.django_db


def slot(label: str, **fields: Any) -> dict[str, Any]:
    return {"label": label, **fields}


def full_rules(**extra: list[dict[str, Any]]) -> dict[str, Any]:
    """Rules for every segment and for customers without one; `extra` replaces a segment's slots."""
    slots = {
        "1": [slot("Breakfast", categories=["breakfast"], dayparts=["breakfast"])],
        "2": [slot("Late", include_offers=["N1"], dayparts=["late_night"])],
        "3": [slot("Dessert", categories=["desserts"], tiers=["premium"])],
        "none": [slot("Anything", dayparts=["lunch"])],
    }
    slots.update(extra)
    return {
        "segments": [
            {"segment_key": None if key == "none" else int(key), "slots": value}
            for key, value in slots.items()
        ]
    }


def messages(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(i.level, i.message) for i in issues]


def test_a_complete_clean_document_has_no_issue(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    assert rules_validate(document=full_rules(), definition=definition, on=ON) == []


def test_parsing_fills_defaults_so_equal_meanings_are_equal_json() -> None:
    short = {"segments": [{"segment_key": 1, "slots": [{"label": "A"}]}]}

    normalized = document_normalize(short)

    assert normalized["segments"][0]["slots"][0] == {
        "label": "A", "count": 1, "goal": "redemption", "categories": [], "include_offers": [],
        "exclude_offers": [], "tags": [], "tiers": [], "dayparts": [], "channels": [],
        "valid_from": None, "valid_to": None, "min_score": None, "fallback_offer": None,
    }  # fmt: skip
    assert document_normalize(normalized) == normalized


def test_schema_errors_name_the_segment_and_slot() -> None:
    bad = {
        "segments": [
            {"segment_key": 1, "slots": [
                {"label": "Breakfast", "count": 0, "goal": "fun"},
                {"label": "", "tags": ["cheap"], "dayparts": ["25:00-03:00"]},
                {"label": "Dates", "valid_from": "2026-05-01", "valid_to": "2026-04-01",
                 "min_score": 2, "colour": "red"},
            ]},
            {"segment_key": 1, "slots": []},
            {"segment_key": "two", "slots": []},
        ]
    }  # fmt: skip

    with pytest.raises(DocumentInvalid) as raised:
        document_parse(bad)

    problems = raised.value.problems
    assert [p.message for p in problems] == [
        'Rule for segment 1, slot 1 "Breakfast": count must be a whole number from 1 to 20.',
        'Rule for segment 1, slot 1 "Breakfast": goal must be one of redemption, revenue, margin.',
        "Rule for segment 1, slot 2: label must be a text of 1 to 100 characters.",
        'Rule for segment 1, slot 2: unknown tag "cheap" (known: high_margin, cross_category, '
        "win_back).",
        'Rule for segment 1, slot 2: dayparts: "25:00-03:00" is neither a daypart name nor a '
        'window like "22:00-05:00".',
        "Rule for segment 1, slot 3: unknown fields colour.",
        'Rule for segment 1, slot 3 "Dates": valid_to is before valid_from.',
        'Rule for segment 1, slot 3 "Dates": min_score must be a number from 0 to 1, or empty.',
        "Rule for segment 1: appears twice; keep one rule per segment.",
        "Segment rule 3: segment_key must be a segment's key or null.",
    ]
    assert [(p.segment, p.slot, p.field, p.whole_document) for p in problems] == [
        (1, 1, "count", False),
        (1, 1, "goal", False),
        (1, 2, "label", False),
        (1, 2, "tags", False),
        (1, 2, "dayparts", False),
        (1, 3, None, False),
        (1, 3, "valid_to", False),
        (1, 3, "min_score", False),
        (1, None, None, False),
        (None, None, None, True),
    ]


def test_schema_errors_come_back_from_validation_as_errors(definition: SegmentDefinition) -> None:
    issues = rules_validate(document={"rules": []}, definition=definition, on=ON)

    assert messages(issues) == [
        ("error", 'The document must be an object with one key, "segments".')
    ]
    assert (issues[0].code, issues[0].whole_document) == ("schema", True)


def test_schema_errors_in_validation_keep_their_place(definition: SegmentDefinition) -> None:
    document = {"segments": [{"segment_key": None, "slots": [{"label": "A", "goal": "fun"}]}]}

    [issue] = rules_validate(document=document, definition=definition, on=ON)

    assert (issue.segment, issue.slot, issue.field) == (None, 1, "goal")
    assert not issue.whole_document
    assert issue.message == (
        'Rule for no segment yet, slot 1 "A": goal must be one of redemption, revenue, margin.'
    )


def test_unknown_offers_categories_dayparts_and_segments_are_errors(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    document = full_rules(
        **{"1": [slot("Odd", categories=["breakfast", "sushi"], exclude_offers=["ZZ"],
                      dayparts=["brunch"], tiers=["gold"], fallback_offer="YY")]}
    )  # fmt: skip
    document["segments"].append({"segment_key": 9, "slots": [slot("Ghost")]})

    issues = rules_validate(document=document, definition=definition, on=ON)

    where = "Breakfast regulars (#1), slot 1 \u201cOdd\u201d"
    assert messages(issues) == [
        ("error", f"{where}: unknown offers ZZ, YY."),
        ("error", f"{where}: unknown categories sushi."),
        ("error", f"{where}: unknown dayparts brunch."),
        ("warning", f"{where}: no store has pricing tier gold."),
        ("error", f"{where}: no offer can fill this slot: its filter matches 2 offer(s) but "
                  "none may run within its tiers, dayparts, channels and dates."),
        ("error", "Unknown segment (#9): no such segment in this segmentation."),
    ]  # fmt: skip
    assert [(i.segment, i.slot, i.field) for i in issues] == [
        (1, 1, None),
        (1, 1, "categories"),
        (1, 1, "dayparts"),
        (1, 1, "tiers"),
        (1, 1, None),
        (9, None, None),
    ]


def test_expired_offers_too_many_slots_and_coverage_gaps_are_warnings(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    document = full_rules(
        **{
            "2": [
                slot("Drinks", include_offers=["X1", "N1"], count=2),
                slot("Burgers", categories=["burgers"], goal="margin"),
            ],
        }
    )

    issues = rules_validate(document=document, definition=definition, on=ON)

    first = "Lapsing (#2), slot 1 \u201cDrinks\u201d"
    second = "Lapsing (#2), slot 2 \u201cBurgers\u201d"
    assert messages(issues) == [
        ("warning", f"{first}: offer X1 “Offer X1” expired on 2026-01-31."),
        ("warning", f"{first}: asks for 2 offers but only 1 are eligible."),
        ("warning", f"{first}: no offer can fill it in tier premium at breakfast, tier premium "
                    "at lunch, tier premium at afternoon, tier premium at dinner, tier value at "
                    "breakfast, tier value at lunch, tier value at afternoon, tier value at "
                    "dinner."),
        ("warning", f"{second}: no offer can fill it in tier premium at breakfast, tier premium "
                    "at afternoon, tier value at breakfast, tier value at afternoon."),
        ("warning", "Lapsing (#2): the slots ask for 3 offers but only 2 different offers are "
                    "eligible, so customers get fewer."),
    ]  # fmt: skip
    assert [(i.segment, i.slot, i.field, i.slot_label, i.code) for i in issues] == [
        (2, 1, None, "Drinks", "expired_offer"),
        (2, 1, "count", "Drinks", "more_slots_than_offers"),
        (2, 1, None, "Drinks", "coverage_gap"),
        (2, 2, None, "Burgers", "coverage_gap"),
        (2, None, None, "", "more_slots_than_offers"),
    ]


def test_a_slot_nothing_matches_and_missing_rules(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    document = {
        "segments": [
            {"segment_key": 1, "slots": [slot("Premium breakfast", categories=["breakfast"],
                                              tiers=["premium"], exclude_offers=["B1"])]},
            {"segment_key": 3, "slots": []},
        ]
    }  # fmt: skip

    issues = rules_validate(document=document, definition=definition, on=ON)

    assert messages(issues) == [
        ("warning", "Lapsing (#2): no rule, so its customers get no offer."),
        ("warning", "No segment yet: no rule, so customers without a segment get no offer."),
        ("error", "Breakfast regulars (#1), slot 1 \u201cPremium breakfast\u201d: no offer can "
                  "fill this slot: its filter matches 1 offer(s) but none may run within its "
                  "tiers, dayparts, channels and dates."),
        ("warning", "Big spenders (#3): the rule has no slots, so gives no offer."),
    ]  # fmt: skip


def test_a_fallback_outside_the_slot_window_is_a_warning(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    document = full_rules(
        **{"1": [slot("Breakfast", categories=["breakfast"], dayparts=["breakfast"],
                      fallback_offer="N1")]}
    )  # fmt: skip

    issues = rules_validate(document=document, definition=definition, on=ON)

    assert messages(issues) == [
        ("warning", "Breakfast regulars (#1), slot 1 \u201cBreakfast\u201d: fallback offer N1 "
                    "\u201cOffer N1\u201d may not run within the slot's tiers, dayparts, channels "
                    "and dates."),
    ]  # fmt: skip


def test_a_typo_gets_the_closest_known_value(
    catalog: dict[str, Any], definition: SegmentDefinition
) -> None:
    document = full_rules(
        **{"1": [slot("Typos", categories=["brekfast"], include_offers=["L1", "b1"],
                      dayparts=["lunh"])]}
    )  # fmt: skip

    issues = rules_validate(document=document, definition=definition, on=ON)

    where = "Breakfast regulars (#1), slot 1 \u201cTypos\u201d"
    assert messages(issues)[:3] == [
        ("error", f"{where}: unknown offers b1 (did you mean B1?)."),
        ("error", f"{where}: unknown categories brekfast (did you mean breakfast?)."),
        ("error", f"{where}: unknown dayparts lunh (did you mean lunch?)."),
    ]
