"""Rule versions outlive a re-segmentation: the history comes along and is numbered on, and
diffs and rollback keep working on it (tracker issue 18, finding 2)."""

from typing import Any

import pytest
from django.db import transaction

from offers.models import AuditEntry, RuleSet, RuleVersion
from offers.rules.services import (
    rule_set_draft_create,
    rule_set_draft_from_version,
    rule_set_draft_update,
    rule_set_publish,
    rule_version_latest,
    rule_version_rollback,
    rule_versions_diff,
)
from segments.models import SegmentDefinition
from segments.segmentation.services import segmentation_activate
from tests.offers.test_validation import full_rules, slot
from tests.segments.segmentation_data import segmentation_create

pytestmark = pytest.mark.django_db

SEGMENTS = {
    1: ("Breakfast regulars", {"visits": 1.0}),
    2: ("Lapsing", {"recency_days": 1.2, "visits": -0.8}),
    3: ("Big spenders", {"avg_spend": 1.1}),
}


def four_versions(definition: SegmentDefinition, marketer: Any) -> RuleSet:
    """v1 to v4 published by the marketer, v4 a rollback to v2; the draft equals v3."""
    rule_set = rule_set_draft_create(definition=definition, user=marketer, document=full_rules())
    rule_set_publish(rule_set=rule_set, author=marketer, note="Spring rules")
    for revision, count in ((1, 2), (2, 3)):
        document = full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=count)]})
        rule_set_draft_update(
            rule_set=rule_set, document=document, expected_revision=revision, user=marketer
        )
        rule_set_publish(rule_set=rule_set, author=marketer, note=f"{count} breakfast offers")
    second = rule_set.versions.get(number=2)
    rule_version_rollback(version=second, author=marketer, note="Three was too many")
    return rule_set


def resegment(version: int) -> SegmentDefinition:
    """A new definition that keeps the segment ids, activated as a segmentation run does."""
    newer = segmentation_create(segments=SEGMENTS, version=version, active=False)
    with transaction.atomic():
        segmentation_activate(definition=newer)
    return newer


def test_a_resegmentation_keeps_the_rule_history_and_numbers_on(
    catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any
) -> None:
    old = four_versions(definition, marketer)
    before = list(old.versions.order_by("number").values_list("number", "note", "document"))

    newer = resegment(version=2)

    rule_set = RuleSet.objects.get(definition=newer)
    versions = list(rule_set.versions.order_by("number").select_related("restored_from"))
    assert [(v.number, v.note, v.document) for v in versions[:4]] == before
    assert [v.author for v in versions] == [marketer, marketer, marketer, marketer, None]
    assert [v.created_at for v in versions[:4]] == list(
        old.versions.order_by("number").values_list("created_at", flat=True)
    )
    assert versions[3].restored_from == versions[1]
    carried = versions[4]
    assert (carried.number, carried.note) == (
        5,
        "Carried over to segmentation v2 from rules v4 of segmentation v1.",
    )
    assert carried.document == versions[3].document
    assert rule_version_latest(rule_set=rule_set) == carried
    # The earlier segmentation's rules are left as they were.
    assert list(old.versions.order_by("number").values_list("number", "note", "document")) == (
        before
    )
    assert AuditEntry.objects.filter(action="history_carry_over").get().after == {
        "from_rule_set": old.pk,
        "versions": [1, 2, 3, 4],
    }


def test_after_a_resegmentation_publish_diff_and_rollback_go_on_from_the_history(
    catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any
) -> None:
    four_versions(definition, marketer)
    newer = resegment(version=2)
    rule_set = RuleSet.objects.get(definition=newer)

    diff = rule_versions_diff(
        before=rule_set.versions.get(number=3), after=rule_set.versions.get(number=5)
    )
    restored = rule_version_rollback(
        version=rule_set.versions.get(number=3), author=marketer, note="Three after all"
    )
    rule_set_draft_from_version(
        rule_set=rule_set,
        version=rule_set.versions.get(number=5),
        expected_revision=RuleSet.objects.get(pk=rule_set.pk).revision,
        user=marketer,
    )
    published = rule_set_publish(rule_set=rule_set, author=marketer, note="Five again")

    assert (diff["before"], diff["after"]) == (3, 5)
    assert [s["segment_key"] for s in diff["segments"] if s["status"] == "changed"] == [1]
    assert (restored.rule_set, restored.number, restored.restored_from) == (
        rule_set,
        6,
        rule_set.versions.get(number=3),
    )
    assert (published.rule_set, published.number) == (rule_set, 7)
    assert not RuleVersion.objects.filter(rule_set__definition=definition, number__gt=4).exists()


def test_history_is_carried_across_several_resegmentations(
    catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any
) -> None:
    four_versions(definition, marketer)
    resegment(version=2)

    third = resegment(version=3)

    numbers_notes = list(
        RuleSet.objects.get(definition=third)
        .versions.order_by("number")
        .values_list("number", "note")
    )
    assert [n for n, _ in numbers_notes] == [1, 2, 3, 4, 5, 6]
    assert numbers_notes[4][1] == (
        "Carried over to segmentation v2 from rules v4 of segmentation v1."
    )
    assert numbers_notes[5][1] == (
        "Carried over to segmentation v3 from rules v5 of segmentation v2."
    )
