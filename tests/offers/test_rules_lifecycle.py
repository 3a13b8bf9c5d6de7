"""Draft, optimistic locking, publish, diff, rollback and the audit log."""

import datetime as dt
from typing import Any

import pytest

from offers.errors import OffersError
from offers.models import AuditEntry, RuleSet, RuleVersion
from offers.rules.document import DocumentInvalid
from offers.rules.services import (
    DraftConflict,
    RulesInvalid,
    rule_set_draft_create,
    rule_set_draft_discard,
    rule_set_draft_update,
    rule_set_publish,
    rule_version_latest,
    rule_version_rollback,
    rule_versions_diff,
    rules_carry_over,
)
from segments.models import Segment, SegmentDefinition
from tests.factories import UserFactory
from tests.offers.test_validation import full_rules, slot
from tests.segments.segmentation_data import segmentation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_set(catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any) -> RuleSet:
    return rule_set_draft_create(definition=definition, user=marketer, document=full_rules())


def test_a_new_draft_is_revision_one_and_audited(rule_set: RuleSet, marketer: Any) -> None:
    entry = AuditEntry.objects.get()

    assert (rule_set.revision, rule_set.updated_by, rule_set.versions.count()) == (1, marketer, 0)
    assert (entry.user, entry.action, entry.object_type, entry.object_id) == (
        marketer, "draft_create", "rule_set", str(rule_set.pk)
    )  # fmt: skip
    assert entry.before is None
    assert entry.after == {"revision": 1, "document": rule_set.document}


def test_creating_again_returns_the_existing_draft(rule_set: RuleSet, marketer: Any) -> None:
    again = rule_set_draft_create(definition=rule_set.definition, user=marketer)

    assert again.pk == rule_set.pk
    assert AuditEntry.objects.count() == 1


def test_a_new_segmentation_starts_from_the_previous_draft(
    rule_set: RuleSet, marketer: Any
) -> None:
    newer = segmentation_create(segments={1: ("Breakfast regulars", {})}, version=2, active=False)

    draft = rule_set_draft_create(definition=newer, user=marketer)

    assert draft.document == rule_set.document
    assert draft.pk != rule_set.pk


def test_saving_with_the_loaded_revision_bumps_it_and_audits_before_and_after(
    rule_set: RuleSet, marketer: Any
) -> None:
    document = full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=2)]})

    saved = rule_set_draft_update(
        rule_set=rule_set, document=document, expected_revision=1, user=marketer
    )

    assert saved.revision == 2
    assert saved.document["segments"][0]["slots"][0]["count"] == 2
    entry = AuditEntry.objects.filter(action="draft_update").get()
    assert entry.before == {"document": rule_set.document, "revision": 1}
    assert entry.after == {"document": saved.document, "revision": 2}


def test_a_stale_save_is_refused_naming_who_saved_and_nothing_is_lost(
    rule_set: RuleSet, marketer: Any, roles: None
) -> None:
    other = UserFactory(username="maria", role="Marketer")
    first = full_rules(**{"1": [slot("Maria's", categories=["breakfast"])]})
    rule_set_draft_update(rule_set=rule_set, document=first, expected_revision=1, user=other)
    saved = RuleSet.objects.get()
    audits = AuditEntry.objects.count()

    with pytest.raises(DraftConflict) as raised:
        rule_set_draft_update(
            rule_set=rule_set,
            document=full_rules(**{"1": [slot("Mine", categories=["breakfast"])]}),
            expected_revision=1,
            user=marketer,
        )

    when = saved.updated_at
    assert isinstance(raised.value, OffersError)  # a refused request, shown as it is
    assert str(raised.value) == (
        f"The draft was changed by maria at {when:%Y-%m-%d %H:%M:%S} UTC (revision 2) after "
        "you loaded revision 1. Nothing was saved: reload the draft to see their changes, then "
        "apply yours again."
    )
    unchanged = RuleSet.objects.get()
    assert (unchanged.revision, unchanged.document) == (2, saved.document)
    assert unchanged.document["segments"][0]["slots"][0]["label"] == "Maria's"
    assert AuditEntry.objects.count() == audits


def test_an_invalid_document_is_refused_and_nothing_is_written(
    rule_set: RuleSet, marketer: Any
) -> None:
    with pytest.raises(DocumentInvalid) as raised:
        rule_set_draft_update(
            rule_set=rule_set,
            document={"segments": [{"segment_key": 1, "slots": [{"count": 3}]}]},
            expected_revision=1,
            user=marketer,
        )

    [problem] = raised.value.problems
    assert (problem.segment, problem.slot, problem.field) == (1, 1, "label")

    assert RuleSet.objects.get().revision == 1
    assert AuditEntry.objects.count() == 1


def test_publish_makes_numbered_immutable_versions(rule_set: RuleSet, marketer: Any) -> None:
    first = rule_set_publish(rule_set=rule_set, author=marketer, note="Spring rules")
    rule_set_draft_update(
        rule_set=rule_set,
        document=full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=2)]}),
        expected_revision=1,
        user=marketer,
    )
    second = rule_set_publish(
        rule_set=rule_set, author=marketer, expected_revision=2, note="a test publish"
    )

    assert [(v.number, v.note, v.draft_revision) for v in RuleVersion.objects.all()] == [
        (2, "a test publish", 2),
        (1, "Spring rules", 1),
    ]
    assert first.document == full_rules_normalized()
    assert rule_version_latest(rule_set=rule_set) == second
    entry = AuditEntry.objects.filter(action="publish").first()
    assert entry is not None
    before, after = entry.before or {}, entry.after or {}
    assert (entry.object_id, before["number"], after["number"]) == (
        f"{rule_set.pk}:2", 1, 2
    )  # fmt: skip


def full_rules_normalized() -> dict[str, Any]:
    from offers.rules.document import document_normalize

    return document_normalize(full_rules())


@pytest.mark.parametrize("note", ["", "   "])
def test_a_publish_without_a_note_is_refused(rule_set: RuleSet, marketer: Any, note: str) -> None:
    with pytest.raises(OffersError, match="Say what changes in a note"):
        rule_set_publish(rule_set=rule_set, author=marketer, note=note)

    assert not RuleVersion.objects.exists()


def test_publishing_the_draft_unchanged_is_refused(rule_set: RuleSet, marketer: Any) -> None:
    rule_set_publish(rule_set=rule_set, author=marketer, note="Spring rules")

    with pytest.raises(OffersError) as refused:
        rule_set_publish(rule_set=rule_set, author=marketer, note="again")

    assert str(refused.value) == (
        "The draft is the same as v1, which is in force: there is nothing to publish."
    )
    assert RuleVersion.objects.count() == 1


def test_discarding_the_draft_brings_back_the_version_in_force(
    rule_set: RuleSet, marketer: Any
) -> None:
    with pytest.raises(OffersError, match="No version is published yet"):
        rule_set_draft_discard(rule_set=rule_set, expected_revision=1, user=marketer)
    published = rule_set_publish(rule_set=rule_set, author=marketer, note="Spring rules")
    changed = full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=2)]})
    rule_set_draft_update(rule_set=rule_set, document=changed, expected_revision=1, user=marketer)

    discarded = rule_set_draft_discard(rule_set=rule_set, expected_revision=2, user=marketer)

    assert (discarded.revision, discarded.document) == (3, published.document)
    assert AuditEntry.objects.filter(action="draft_update").count() == 2
    with pytest.raises(DraftConflict):
        rule_set_draft_discard(rule_set=rule_set, expected_revision=2, user=marketer)


def test_publishing_a_draft_with_errors_is_refused_and_writes_nothing(
    rule_set: RuleSet, marketer: Any
) -> None:
    rule_set_draft_update(
        rule_set=rule_set,
        document=full_rules(**{"3": [slot("Sushi", categories=["sushi"])]}),
        expected_revision=1,
        user=marketer,
    )
    audits = AuditEntry.objects.count()

    with pytest.raises(RulesInvalid) as raised:
        rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")

    assert isinstance(raised.value, OffersError)
    assert str(raised.value) == (
        "The draft has 2 error(s) and cannot be published: Big spenders (#3), slot 1 "
        "\u201cSushi\u201d: unknown categories sushi. Big spenders (#3), slot 1 \u201cSushi\u201d: "
        "no offer can fill this slot: no offer matches its filter."
    )
    assert RuleVersion.objects.count() == 0
    assert AuditEntry.objects.count() == audits


def test_publishing_a_revision_that_changed_is_refused(rule_set: RuleSet, marketer: Any) -> None:
    rule_set_draft_update(
        rule_set=rule_set, document=full_rules(), expected_revision=1, user=marketer
    )

    with pytest.raises(DraftConflict):
        rule_set_publish(
            rule_set=rule_set, author=marketer, expected_revision=1, note="a test publish"
        )

    assert RuleVersion.objects.count() == 0


def test_diff_of_two_versions_per_segment_and_slot(rule_set: RuleSet, marketer: Any) -> None:
    first = rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")
    changed = full_rules(
        **{
            "1": [
                slot("Breakfast", categories=["breakfast"], dayparts=["breakfast"], count=2,
                     goal="margin"),
                slot("Extra", categories=["burgers"]),
            ],
        }
    )  # fmt: skip
    changed["segments"] = [s for s in changed["segments"] if s["segment_key"] != 3]
    rule_set_draft_update(rule_set=rule_set, document=changed, expected_revision=1, user=marketer)
    second = rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")

    diff = rule_versions_diff(before=first, after=second)

    assert (diff["before"], diff["after"], diff["changed"]) == (1, 2, True)
    by_key = {s["segment_key"]: s for s in diff["segments"]}
    assert [s["segment_key"] for s in diff["segments"]] == [None, 1, 2, 3]
    assert {k: s["status"] for k, s in by_key.items()} == {
        None: "same", 1: "changed", 2: "same", 3: "removed"
    }  # fmt: skip
    assert by_key[1]["slots"][0] == {
        "position": 1,
        "label": "Breakfast",
        "status": "changed",
        "changes": {
            "count": {"before": 1, "after": 2},
            "goal": {"before": "redemption", "after": "margin"},
        },
    }
    assert by_key[1]["slots"][1]["status"] == "added"
    assert by_key[1]["slots"][1]["after"]["label"] == "Extra"
    assert by_key[3]["slots"][0]["status"] == "removed"
    assert rule_versions_diff(before=first, after=first)["changed"] is False


def test_rollback_republishes_old_content_as_a_new_version(
    rule_set: RuleSet, marketer: Any
) -> None:
    first = rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")
    rule_set_draft_update(
        rule_set=rule_set,
        document=full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=2)]}),
        expected_revision=1,
        user=marketer,
    )
    rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")

    third = rule_version_rollback(version=first, author=marketer)

    assert (third.number, third.restored_from, third.note) == (3, first, "Rollback to version 1")
    assert third.document == first.document
    assert rule_version_latest(rule_set=rule_set) == third
    assert RuleSet.objects.get().revision == 2  # the draft is left as it was
    entry = AuditEntry.objects.filter(action="rollback").get()
    before, after = entry.before or {}, entry.after or {}
    assert (before["number"], after["number"]) == (2, 3)
    assert rule_versions_diff(before=first, after=third)["changed"] is False


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_saves_of_one_revision_let_exactly_one_win(
    catalog: dict[str, Any], definition: SegmentDefinition, roles: None
) -> None:
    import threading

    from django.db import connection

    ana = UserFactory(username="ana", role="Marketer")
    ben = UserFactory(username="ben", role="Marketer")
    rule_set = rule_set_draft_create(definition=definition, user=ana, document=full_rules())
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(user: Any) -> None:
        try:
            barrier.wait()
            rule_set_draft_update(
                rule_set=rule_set,
                document=full_rules(**{"1": [slot(user.username, categories=["breakfast"])]}),
                expected_revision=1,
                user=user,
            )
            outcomes[user.username] = "saved"
        except DraftConflict:
            outcomes[user.username] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(u,)) for u in (ana, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) == ["refused", "saved"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "saved")
    saved = RuleSet.objects.get()
    assert (saved.revision, saved.updated_by.username if saved.updated_by else None) == (2, winner)
    assert saved.document["segments"][0]["slots"][0]["label"] == winner
    assert AuditEntry.objects.filter(action="draft_update").count() == 1


def test_a_new_segmentation_carries_the_published_rules_and_the_draft_over(
    rule_set: RuleSet, marketer: Any
) -> None:
    published = rule_set_publish(rule_set=rule_set, author=marketer, note="Spring rules")
    edited = full_rules(**{"1": [slot("Breakfast", categories=["breakfast"], count=2)]})
    rule_set_draft_update(rule_set=rule_set, document=edited, expected_revision=1, user=marketer)
    newer = segmentation_create(
        segments={1: ("Breakfast regulars", {}), 2: ("Lapsing", {}), 4: ("Night owls", {})},
        version=2,
        active=False,
    )
    Segment.objects.create(definition=newer, key=3, name="Big spenders", is_vanished=True)

    message = rules_carry_over(definition=newer)

    carried = RuleVersion.objects.filter(rule_set__definition=newer).order_by("number").last()
    assert carried is not None
    kept = [rule for rule in published.document["segments"] if rule["segment_key"] != 3]
    assert carried.document == {**published.document, "segments": kept}
    assert (carried.number, carried.author) == (2, None)
    gone = "rules of vanished segments 3 dropped."
    assert carried.note == (
        f"Carried over to segmentation v2 from rules v1 of segmentation v1; {gone}"
    )
    assert message == (
        f"The rules v1 of segmentation v1 carried over and published as version 2; {gone}"
    )
    draft = RuleSet.objects.get(definition=newer).document
    assert [r["slots"][0]["count"] for r in draft["segments"] if r["segment_key"] == 1] == [2]
    assert 3 not in [r["segment_key"] for r in draft["segments"]]
    assert AuditEntry.objects.filter(action="carry_over", user=None).count() == 1


def test_carried_rules_that_no_longer_validate_stay_a_draft_and_say_why(
    rule_set: RuleSet, marketer: Any, catalog: dict[str, Any]
) -> None:
    rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")
    catalog["N1"].valid_to = dt.date.today() - dt.timedelta(days=1)
    catalog["N1"].save()
    newer = segmentation_create(
        segments={1: ("Breakfast regulars", {}), 2: ("Lapsing", {})}, version=2, active=False
    )

    message = rules_carry_over(definition=newer)

    assert message.startswith(
        "The rules v1 of segmentation v1 were copied as this segmentation's draft but not "
        "published: "
    )
    assert "Fix them on the rules page and publish" in message
    assert not RuleVersion.objects.filter(rule_set__definition=newer).exists()
    assert RuleSet.objects.filter(definition=newer).exists()


def test_nothing_is_carried_when_no_rules_were_ever_published(
    rule_set: RuleSet,
) -> None:
    newer = segmentation_create(segments={1: ("Breakfast regulars", {})}, version=2, active=False)

    assert rules_carry_over(definition=newer) == ""
    assert not RuleSet.objects.filter(definition=newer).exists()
