"""The rules lifecycle: draft -> validate -> preview -> publish, with diff and rollback.

Every write here records an audit entry in the same transaction. Saves use optimistic
locking: the caller names the revision it loaded and a save on top of a newer one is refused.
A refused request raises an `OffersError` (DraftConflict, RulesInvalid) whose message says why;
a document that breaks the schema raises `DocumentInvalid`, whose problems say where.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import run_start
from offers.errors import OffersError
from offers.models import RuleSet, RuleVersion
from offers.rules.diff import rules_diff
from offers.rules.document import document_normalize, empty_document
from offers.rules.suggest import rules_suggest
from offers.rules.validation import Issue, issues_have_errors, rules_validate
from offers.services import audit_record
from segments.models import SegmentDefinition

PREVIEW_TASK = "recommender.tasks.heavy_rule_preview"


class DraftConflict(OffersError):
    """The draft changed since the caller loaded it; nothing was saved."""

    def __init__(self, *, rule_set: RuleSet, expected_revision: int):
        self.rule_set = rule_set
        self.expected_revision = expected_revision
        who = rule_set.updated_by.get_username() if rule_set.updated_by else "someone"
        super().__init__(
            f"The draft was changed by {who} at {rule_set.updated_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(revision {rule_set.revision}) after you loaded revision {expected_revision}. "
            "Nothing was saved: reload the draft to see their changes, then apply yours again."
        )


class RulesInvalid(OffersError):
    """Publishing refused because validation found errors."""

    def __init__(self, issues: list[Issue], *, subject: str = "The draft"):
        self.issues = issues
        errors = [i.message for i in issues if i.level == "error"]
        super().__init__(
            f"{subject} has {len(errors)} error(s) and cannot be published: " + " ".join(errors)
        )


def _username(user: Any) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else ""


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def rule_set_draft_create(
    *, definition: SegmentDefinition, user: Any, document: Any = None
) -> RuleSet:
    """The rule set of a definition, created with a draft (by default empty) if it has none.

    A new segmentation starts from the previous one's draft: segment keys are stable across
    refits, so the marketer's rules carry over.
    """
    existing = RuleSet.objects.filter(definition=definition).first()
    if existing is not None:
        return existing
    if document is None:
        previous = (
            RuleSet.objects.filter(definition__version__lt=definition.version)
            .order_by("-definition__version")
            .first()
        )
        document = previous.document if previous else empty_document()
    normalized = document_normalize(document)
    with transaction.atomic():
        rule_set = RuleSet.objects.create(
            definition=definition, document=normalized, updated_by=_user_or_none(user)
        )
        audit_record(
            user=user,
            action="draft_create",
            object_type="rule_set",
            object_id=rule_set.pk,
            object_repr=str(rule_set),
            after={"revision": rule_set.revision, "document": normalized},
        )
    return rule_set


def rule_set_draft_update(
    *, rule_set: RuleSet, document: Any, expected_revision: int, user: Any
) -> RuleSet:
    """Save a new draft document if nobody saved since `expected_revision`; else DraftConflict.

    The compare-and-set is one UPDATE ... WHERE revision = expected, so two concurrent saves
    of the same revision cannot both win.
    """
    normalized = document_normalize(document)
    with transaction.atomic():
        before = RuleSet.objects.filter(pk=rule_set.pk).values("document", "revision").get()
        updated = RuleSet.objects.filter(pk=rule_set.pk, revision=expected_revision).update(
            document=normalized,
            revision=F("revision") + 1,
            updated_by=_user_or_none(user),
            updated_at=timezone.now(),
        )
        if not updated:
            current = RuleSet.objects.select_related("updated_by").get(pk=rule_set.pk)
            raise DraftConflict(rule_set=current, expected_revision=expected_revision)
        saved = RuleSet.objects.select_related("definition", "updated_by").get(pk=rule_set.pk)
        audit_record(
            user=user,
            action="draft_update",
            object_type="rule_set",
            object_id=saved.pk,
            object_repr=str(saved),
            before=before,
            after={"document": normalized, "revision": saved.revision},
        )
    return saved


def rule_set_validate(*, rule_set: RuleSet, on: dt.date | None = None) -> list[Issue]:
    return rules_validate(document=rule_set.document, definition=rule_set.definition, on=on)


def rule_version_latest(*, rule_set: RuleSet) -> RuleVersion | None:
    """The version in force: the highest number."""
    return rule_set.versions.order_by("-number").first()


def _version_create(
    *,
    rule_set: RuleSet,
    document: dict[str, Any],
    author: Any,
    note: str,
    action: str,
    restored_from: RuleVersion | None = None,
    draft_revision: int | None = None,
) -> RuleVersion:
    # Lock the rule set row so two publishes cannot take the same number.
    RuleSet.objects.select_for_update().filter(pk=rule_set.pk).get()
    previous = rule_version_latest(rule_set=rule_set)
    number = (rule_set.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = RuleVersion(
        rule_set=rule_set,
        number=number,
        document=document,
        note=note,
        author=_user_or_none(author),
        restored_from=restored_from,
        draft_revision=draft_revision,
    )
    version.full_clean()
    version.save()
    audit_record(
        user=author,
        action=action,
        object_type="rule_version",
        object_id=f"{rule_set.pk}:{number}",
        object_repr=f"{rule_set} v{number}",
        before={"number": previous.number, "document": previous.document} if previous else None,
        after={"number": number, "document": document, "note": note},
    )
    return version


def rule_set_publish(
    *, rule_set: RuleSet, author: Any, note: str = "", expected_revision: int | None = None
) -> RuleVersion:
    """Publish the draft as the next immutable version; refused on any validation error.

    With `expected_revision`, the draft the marketer reviewed is the one published.
    """
    with transaction.atomic():
        # `of`: updated_by is a nullable join, which PostgreSQL cannot lock.
        current = RuleSet.objects.select_for_update(of=("self",)).select_related(
            "definition", "updated_by"
        )
        draft = current.get(pk=rule_set.pk)
        if expected_revision is not None and draft.revision != expected_revision:
            raise DraftConflict(rule_set=draft, expected_revision=expected_revision)
        if not note.strip():
            raise OffersError("Say what changes in a note: it goes with the version for good.")
        document = document_normalize(draft.document)
        in_force = rule_version_latest(rule_set=draft)
        if in_force is not None and document_normalize(in_force.document) == document:
            raise OffersError(
                f"The draft is the same as v{in_force.number}, which is in force: "
                "there is nothing to publish."
            )
        issues = rule_set_validate(rule_set=draft)
        if issues_have_errors(issues):
            raise RulesInvalid(issues)
        return _version_create(
            rule_set=draft,
            document=document,
            author=author,
            note=note,
            action="publish",
            draft_revision=draft.revision,
        )


def rule_set_draft_discard(*, rule_set: RuleSet, expected_revision: int, user: Any) -> RuleSet:
    """Throw the draft's edits away: the draft becomes the version in force again."""
    in_force = rule_version_latest(rule_set=rule_set)
    if in_force is None:
        raise OffersError("No version is published yet: there is nothing to go back to.")
    return rule_set_draft_update(
        rule_set=rule_set,
        document=in_force.document,
        expected_revision=expected_revision,
        user=user,
    )


def rule_version_rollback(*, version: RuleVersion, author: Any, note: str = "") -> RuleVersion:
    """Republish an old version's content as a new version; the draft is left as it is.

    Validated as a publish is, against today's catalog and segments: an offer may have
    expired since, and a version with errors is refused (RulesInvalid) rather than served.
    """
    with transaction.atomic():
        rule_set = RuleSet.objects.select_related("definition").get(pk=version.rule_set_id)
        issues = rules_validate(document=version.document, definition=rule_set.definition)
        if issues_have_errors(issues):
            raise RulesInvalid(issues, subject=f"Version {version.number}")
        return _version_create(
            rule_set=rule_set,
            document=document_normalize(version.document),
            author=author,
            note=note or f"Rollback to version {version.number}",
            action="rollback",
            restored_from=version,
        )


def rule_set_draft_from_version(
    *, rule_set: RuleSet, version: RuleVersion, expected_revision: int, user: Any
) -> RuleSet:
    """Start editing from a published version: its document becomes the draft."""
    return rule_set_draft_update(
        rule_set=rule_set, document=version.document, expected_revision=expected_revision, user=user
    )


def rule_versions_diff(*, before: RuleVersion, after: RuleVersion) -> dict[str, Any]:
    return {
        "before": before.number,
        "after": after.number,
        **rules_diff(before.document, after.document),
    }


def rule_set_suggest(*, rule_set: RuleSet, user: Any, expected_revision: int) -> RuleSet:
    """Replace the draft with a suggestion from segment profiles and redemption history."""

    document = rules_suggest(definition=rule_set.definition)
    return rule_set_draft_update(
        rule_set=rule_set, document=document, expected_revision=expected_revision, user=user
    )


def rule_preview_start(
    *, rule_set: RuleSet, user: Any, on: dt.date | None = None, enqueue: bool = True
) -> Run:
    """Queue a preview of the draft as saved now (its revision is recorded with the run)."""
    return run_start(
        kind=RunKind.PREVIEW,
        task_name=PREVIEW_TASK,
        parameters={
            "rule_set_id": rule_set.pk,
            "revision": rule_set.revision,
            "document": rule_set.document,
            "on": (on or dt.date.today()).isoformat(),
        },
        started_by=user,
        enqueue=enqueue,
    )


def rules_carry_over(*, definition: SegmentDefinition) -> str:
    """The rules in force move to a new segmentation, in the transaction that activates it.

    Segment keys are stable across refits, so the latest published version of an earlier
    segmentation is published again as this one's next version (rules of vanished segments
    dropped; new segments get none until a marketer writes one). Its version history comes
    along, numbers, notes and authors kept, so the versions page, diffs and rollback go on
    where they were: v4 there is followed by v5 here, noted "carried over to segmentation N".
    The earlier draft, with any unpublished edits, becomes this one's draft. When the carried
    rules no longer validate (an offer expired, say) they stay a draft and the message says
    why. Returns what was done, for the segmentation run's log ("" when there was nothing to
    carry).
    """
    if RuleSet.objects.filter(definition=definition).exists():
        return ""
    source = (
        RuleVersion.objects.filter(rule_set__definition__version__lt=definition.version)
        .select_related("rule_set__definition")
        .order_by("-rule_set__definition__version", "-number")
        .first()
    )
    if source is None:
        return ""
    live = set(definition.segments.filter(is_vanished=False).values_list("key", flat=True))
    published, dropped = _rules_for_segments(source.document, live)
    origin = f"rules v{source.number} of segmentation v{source.rule_set.definition.version}"
    rule_set = rule_set_draft_create(definition=definition, user=None, document=published)
    errors = [i.message for i in rule_set_validate(rule_set=rule_set) if i.level == "error"]
    gone = f"; rules of vanished segments {', '.join(map(str, dropped))} dropped" if dropped else ""
    if errors:
        return (
            f"The {origin} were copied as this segmentation's draft but not published: "
            f"{' '.join(errors)} Fix them on the rules page and publish{gone}."
        )
    with transaction.atomic():
        _versions_carry_over(source=source.rule_set, target=rule_set)
        carried = _version_create(
            rule_set=rule_set,
            document=rule_set.document,
            author=None,
            note=f"Carried over to segmentation v{definition.version} from {origin}{gone}.",
            action="carry_over",
            draft_revision=rule_set.revision,
        )
    draft, _ = _rules_for_segments(source.rule_set.document, live)
    if document_normalize(draft) != rule_set.document:
        rule_set_draft_update(
            rule_set=rule_set, document=draft, expected_revision=rule_set.revision, user=None
        )
    return f"The {origin} carried over and published as version {carried.number}{gone}."


def _versions_carry_over(*, source: RuleSet, target: RuleSet) -> None:
    """Copy a rule set's published versions into a new segmentation's (empty) rule set, as
    they were: number, document, note, author, time and what each republished. The copies
    are history of the earlier segmentation: the carried version is published on top of
    them. `draft_revision` is left empty, since it counted the earlier draft's saves."""
    history = list(source.versions.order_by("number"))
    if not history:
        return
    RuleVersion.objects.bulk_create(
        RuleVersion(
            rule_set=target,
            number=version.number,
            document=version.document,
            note=version.note,
            author_id=version.author_id,
        )
        for version in history
    )
    # auto_now_add stamps the copies with now: each gets its original time back, and what it
    # republished is pointed at the copy of that version.
    copies = {copy.number: copy for copy in RuleVersion.objects.filter(rule_set=target)}
    number_of: dict[int | None, int] = {version.pk: version.number for version in history}
    for version in history:
        restored = copies.get(number_of.get(version.restored_from_id, 0))
        RuleVersion.objects.filter(pk=copies[version.number].pk).update(
            created_at=version.created_at, restored_from=restored
        )
    audit_record(
        user=None,
        action="history_carry_over",
        object_type="rule_set",
        object_id=target.pk,
        object_repr=str(target),
        after={"from_rule_set": source.pk, "versions": sorted(copies)},
    )


def _rules_for_segments(document: dict[str, Any], live: set[int]) -> tuple[dict[str, Any], list]:
    """The document with only the rules of live segments (and of customers with none)."""
    rules = document.get("segments", [])
    kept = [r for r in rules if r.get("segment_key") is None or r.get("segment_key") in live]
    dropped = sorted(r["segment_key"] for r in rules if r not in kept)
    return {**document, "segments": kept}, dropped
