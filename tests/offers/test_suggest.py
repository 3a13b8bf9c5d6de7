"""Suggested rules from segment profiles and redemption history."""

from typing import Any

import pytest

from offers.models import Offer, RuleSet
from offers.rules.services import rule_set_draft_create, rule_set_suggest
from offers.rules.suggest import rules_suggest, segment_goal
from offers.rules.validation import rules_validate
from segments.models import SegmentDefinition
from tests.offers.conftest import ON

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("z", "goal"),
    [
        ({"avg_spend": 1.0}, "margin"),
        ({"recency_days": 0.9}, "redemption"),
        ({"visits": -0.7}, "redemption"),
        ({"avg_spend": 1.0, "recency_days": 1.0}, "redemption"),
        ({"visits": 0.8}, "revenue"),
        ({}, "revenue"),
    ],
)
def test_the_goal_follows_the_profile(z: dict[str, float], goal: str) -> None:
    assert segment_goal({"z": z}) == goal


def test_suggested_slots_favor_what_each_segment_redeems(
    customers: None, definition: SegmentDefinition
) -> None:
    document = rules_suggest(definition=definition)

    summary = [
        (
            rule["segment_key"],
            [
                (s["label"], s["count"], s["categories"], s["tags"], s["goal"])
                for s in rule["slots"]
            ],
        )
        for rule in document["segments"]
    ]
    assert summary == [
        (1, [
            ("Favorites: breakfast, burgers", 2, ["breakfast", "burgers"], [], "revenue"),
            ("Something new", 1, [], ["cross_category"], "revenue"),
        ]),
        (2, [
            ("Favorites", 2, [], [], "redemption"),
            ("Win-back", 1, [], ["win_back"], "redemption"),
            ("Something new", 1, [], ["cross_category"], "redemption"),
        ]),
        (3, [
            ("Favorites", 2, [], [], "margin"),
            ("Something new", 1, [], ["cross_category"], "margin"),
            ("High margin", 1, [], ["high_margin"], "margin"),
        ]),
        (None, [("Popular", 3, ["burgers"], [], "redemption")]),
    ]  # fmt: skip
    errors = [
        i.message
        for i in rules_validate(document=document, definition=definition, on=ON)
        if i.level == "error"
    ]
    assert errors == []


def test_a_suggestion_replaces_the_draft_under_the_same_lock(
    customers: None, definition: SegmentDefinition, marketer: Any
) -> None:
    rule_set = rule_set_draft_create(definition=definition, user=marketer)

    saved = rule_set_suggest(rule_set=rule_set, user=marketer, expected_revision=1)

    assert saved.revision == 2
    assert saved.document == rules_suggest(definition=definition)
    assert RuleSet.objects.get().document == saved.document


def test_no_high_margin_slot_when_no_offer_is_high_margin(
    customers: None, definition: SegmentDefinition
) -> None:
    """A grocery catalog without item costs has no high-margin offer: a slot asking for one
    could never be filled, and the suggested draft could not be published."""
    Offer.objects.filter(offer_id="P1").delete()  # the one high-margin offer (cake, 75%)

    document = rules_suggest(definition=definition)

    big_spenders = next(rule for rule in document["segments"] if rule["segment_key"] == 3)
    assert [slot["label"] for slot in big_spenders["slots"]] == ["Favorites", "Something new"]
    errors = [
        i.message
        for i in rules_validate(document=document, definition=definition, on=ON)
        if i.level == "error"
    ]
    assert errors == []
