"""Rule pages: the draft of the active segmentation edited in place, preview, publish,
versions, diff, rollback and the audit log.

The editor is one form holding the whole draft; every write goes through
`offers.rules.services` with the revision the page loaded, so a stale save is refused
(optimistic locking) and the typed input stays on the page. Adding, removing and moving
slots re-renders a segment from what was posted, so nothing typed is lost before a save.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deepflame_web.core.access import MARKETERS_WRITE, role_required
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.services import RunAlreadyActive
from offers import catalog
from offers.dayparts import daypart_windows
from offers.models import AuditEntry, OfferTag, RuleSet, RuleVersion
from offers.rules.diff import rules_diff
from offers.rules.document import GOALS, DocumentInvalid, segment_label
from offers.rules.selectors import rule_set_for_definition
from offers.rules.services import (
    DraftConflict,
    RulesInvalid,
    rule_preview_start,
    rule_set_draft_create,
    rule_set_draft_update,
    rule_set_publish,
    rule_set_suggest,
    rule_version_latest,
    rule_version_rollback,
)
from offers.rules.validation import ERROR, Issue, rules_validate
from offers.selectors import audit_entries
from segments.models import Segment, SegmentDefinition
from segments.selectors import segment_current_sizes, segmentation_active

NO_SEGMENT = "none"
LIST_INPUTS = ("categories", "include_offers", "exclude_offers", "tiers", "dayparts", "channels")
TEXT_INPUTS = ("label", "count", "goal", "valid_from", "valid_to", "min_score", "fallback_offer")
CONSTRAINTS = ("tiers", "dayparts", "channels", "valid_from", "valid_to", "min_score")
TAGS = [(t.value, t.label) for t in OfferTag]
AUDIT_PER_PAGE = 25
FIELD_LABELS = {
    "label": "label",
    "count": "offers",
    "goal": "goal",
    "categories": "categories",
    "include_offers": "only these offers",
    "exclude_offers": "never these offers",
    "tags": "tags",
    "tiers": "pricing tiers",
    "dayparts": "dayparts",
    "channels": "channels",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "min_score": "min score",
    "fallback_offer": "fallback offer",
}
MAX_PACKED_FIELDS = 100_000
_WHERE = re.compile(r"^Rule for (?:segment (\d+)|no segment yet)(?:, slot (\d+))?")


# The editor's rows: what the page shows and what a post gives back, as typed.


@dataclass
class SlotRow:
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


def _token_key(token: str) -> int | None:
    if token == NO_SEGMENT:
        return None
    if not token.isdigit():
        raise Http404("No such segment.")
    return int(token)


def _slot_display(slot: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {n: ", ".join(slot.get(n) or []) for n in LIST_INPUTS}
    for name in TEXT_INPUTS:
        value = slot.get(name)
        values[name] = "" if value is None else str(value)
    values["tags"] = list(slot.get("tags") or [])
    return values


def _slot_posted(data: QueryDict, prefix: str) -> dict[str, Any]:
    names = (*LIST_INPUTS, *TEXT_INPUTS)
    values: dict[str, Any] = {n: data.get(f"{prefix}-{n}", "") for n in names}
    values["tags"] = data.getlist(f"{prefix}-tags")
    return values


def _slot_json(values: dict[str, Any]) -> dict[str, Any]:
    """What the marketer typed, as a slot of the document; the schema judges it (a count of
    "two" stays a text, so the error names the slot and the field)."""
    slot: dict[str, Any] = {"label": values["label"], "goal": values["goal"] or "redemption"}
    count = values["count"].strip()
    slot["count"] = int(count) if re.fullmatch(r"-?\d+", count) else count
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
        key=None,
        name="Customers with no segment yet",
        customers=sizes[None],
    )
    return blocks


def _unknown_block(key: int) -> SegmentBlock:
    return SegmentBlock(key=key, name=f"Unknown segment #{key}", customers=0, known=False)


def _blocks_from_document(
    definition: SegmentDefinition, document: dict[str, Any]
) -> list[SegmentBlock]:
    blocks = _blocks_frame(definition)
    for rule in document.get("segments", []):
        key = rule.get("segment_key")
        block = blocks.setdefault(key, _unknown_block(key))
        block.slots = [SlotRow(uid=n, values=_slot_display(s)) for n, s in enumerate(rule["slots"])]
    return _ordered(blocks)


def _blocks_from_post(definition: SegmentDefinition, data: QueryDict) -> list[SegmentBlock]:
    blocks = _blocks_frame(definition)
    for token in data.getlist("segment"):
        key = _token_key(token)
        block = blocks.setdefault(key, _unknown_block(key)) if key is not None else blocks[None]
        block.slots = [
            SlotRow(uid=n, values=_slot_posted(data, f"r-{token}-{uid}"))
            for n, uid in enumerate(data.getlist(f"r-{token}-slot"))
        ]
    return _ordered(blocks)


def _ordered(blocks: dict[int | None, SegmentBlock]) -> list[SegmentBlock]:
    ordered = [b for k, b in blocks.items() if k is not None] + [blocks[None]]
    for block in ordered:
        block.number()
    return ordered


def _document(blocks: list[SegmentBlock]) -> dict[str, Any]:
    """A segment without slots has no rule (validation warns that it gets no offer)."""
    return {
        "segments": [
            {"segment_key": b.key, "slots": [_slot_json(s.values) for s in b.slots]}
            for b in blocks
            if b.slots
        ]
    }


def _place_issues(blocks: list[SegmentBlock], issues: list[Issue]) -> list[Issue]:
    """Attach each issue to its segment and slot; returns those that belong to neither."""
    by_key = {b.key: b for b in blocks}
    loose = []
    for issue in issues:
        key, slot = issue.segment_key, issue.slot
        if issue.code == "schema":
            match = _WHERE.match(issue.message)
            if match is None:
                loose.append(issue)
                continue
            key = int(match.group(1)) if match.group(1) else None
            slot = int(match.group(2)) if match.group(2) else None
        block = by_key.get(key)
        if block is None:
            loose.append(issue)
        elif slot is not None and 0 < slot <= len(block.slots):
            block.slots[slot - 1].issues.append(issue)
        else:
            block.issues.append(issue)
    return loose


def _checks(definition: SegmentDefinition, blocks: list[SegmentBlock]) -> dict[str, Any]:
    issues = rules_validate(document=_document(blocks), definition=definition)
    loose = _place_issues(blocks, issues)
    errors = [i for i in issues if i.level == ERROR]
    return {
        "issues": issues,
        "errors": errors,
        "warnings": [i for i in issues if i.level != ERROR],
        "loose": loose,
    }


def _form(request: HttpRequest) -> QueryDict:
    """The editor's fields. The page packs them into one JSON field ("packed": [[name,
    value], ...]) because a large rule set has more fields than Django parses from a form
    (DATA_UPLOAD_MAX_NUMBER_FIELDS); a plain form post is read as it is."""
    packed = request.POST.get("packed")
    if packed is None:
        return request.POST
    try:
        pairs = json.loads(packed)
    except ValueError as exc:
        raise SuspiciousOperation("The packed form is not JSON.") from exc
    if (
        not isinstance(pairs, list)
        or len(pairs) > MAX_PACKED_FIELDS
        or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in pairs
        )
    ):
        raise SuspiciousOperation("The packed form must be a list of [name, value] texts.")
    data = QueryDict(mutable=True)
    for name, value in pairs:
        data.appendlist(name, value)
    return data


# Pages and fragments


def _active() -> tuple[SegmentDefinition, RuleSet | None]:
    definition = segmentation_active()
    if definition is None:
        raise Http404("No active segmentation yet: run a segmentation first.")
    return definition, rule_set_for_definition(definition=definition)


def _draft() -> RuleSet:
    _, rule_set = _active()
    if rule_set is None:
        raise Http404("No draft yet: start one on the rules page.")
    return rule_set


def _latest_preview(rule_set: RuleSet) -> Run | None:
    return (
        Run.objects.filter(kind=RunKind.PREVIEW, parameters__rule_set_id=rule_set.pk)
        .select_related("started_by")
        .first()
    )


@role_required(MARKETERS_WRITE)
@require_GET
def rule_set_page(request: HttpRequest) -> HttpResponse:
    definition = segmentation_active()
    if definition is None:
        return render(request, "offers/rules/rule_set.html", {"definition": None})
    rule_set = rule_set_for_definition(definition=definition)
    context: dict[str, Any] = {"definition": definition, "rule_set": rule_set}
    if rule_set is not None:
        blocks = _blocks_from_document(definition, rule_set.document)
        context.update(_editor_context(rule_set, blocks, _checks(definition, blocks)))
        context["preview"] = _latest_preview(rule_set)
    return render(request, "offers/rules/rule_set.html", context)


def _editor_context(
    rule_set: RuleSet, blocks: list[SegmentBlock], checks: dict[str, Any]
) -> dict[str, Any]:
    known = {
        "categories": catalog.known_categories(),
        "tiers": catalog.known_tiers(),
        "dayparts": list(daypart_windows()),
        "channels": catalog.known_channels(),
    }
    return {
        "rule_set": rule_set,
        "blocks": blocks,
        "checks": checks,
        "edit_url": reverse("rules_edit"),
        "hints": {
            "tiers": ", ".join(known["tiers"]) or "any",
            "dayparts": ", ".join(known["dayparts"]) or "all day",
            "channels": ", ".join(known["channels"]) or "any",
        },
        "published": rule_version_latest(rule_set=rule_set),
        "goals": GOALS,
        "tags": TAGS,
        "known": known,
    }


@role_required(MARKETERS_WRITE)
@require_POST
def rule_set_start(request: HttpRequest) -> HttpResponse:
    definition, rule_set = _active()
    if rule_set is None:
        rule_set_draft_create(definition=definition, user=request.user)
        messages.success(request, f"Draft started for segmentation v{definition.version}.")
    return redirect("rules")


@role_required(MARKETERS_WRITE)
@require_POST
def rules_check(request: HttpRequest) -> HttpResponse:
    """The live check while the marketer types: issue panels only, no input is replaced."""
    rule_set = _draft()
    blocks = _blocks_from_post(rule_set.definition, _form(request))
    context = {"blocks": blocks, "checks": _checks(rule_set.definition, blocks), "oob": True}
    return render(request, "offers/rules/partials/checks.html", context)


@role_required(MARKETERS_WRITE)
@require_POST
def rules_edit(request: HttpRequest) -> HttpResponse:
    """Add, remove or move a slot in what was posted (nothing is saved) and re-render that
    segment with every typed value."""
    rule_set = _draft()
    data = _form(request)
    op, _, rest = data.get("op", "").partition(":")
    token, _, position = rest.partition(":")
    key = _token_key(token)
    blocks = _blocks_from_post(rule_set.definition, data)
    block = next((b for b in blocks if b.key == key), None)
    if block is None:
        raise Http404("No such segment.")
    slots = block.slots
    index = int(position) if position.isdigit() else -1
    if op == "add":
        label = "No segment yet" if key is None else block.name
        fresh = {"label": f"{label} offers", "count": 1, "goal": "redemption"}
        slots.append(SlotRow(uid=0, values=_slot_display(fresh)))
    elif op == "remove" and 0 <= index < len(slots):
        slots.pop(index)
    elif op == "up" and 0 < index < len(slots):
        slots[index - 1], slots[index] = slots[index], slots[index - 1]
    elif op == "down" and 0 <= index < len(slots) - 1:
        slots[index], slots[index + 1] = slots[index + 1], slots[index]
    else:
        return HttpResponse(f"Unknown edit {data.get('op', '')!r}.", status=400)
    block.number()
    context = {**_editor_context(rule_set, blocks, {}), "block": block, "can_edit": True}
    response = render(request, "offers/rules/partials/segment.html", context)
    response["HX-Trigger"] = "rules-changed"
    return response


@role_required(MARKETERS_WRITE)
@require_POST
def rules_save(request: HttpRequest) -> HttpResponse:
    """Save the typed draft on top of the revision the page loaded; a stale one is refused
    and the page keeps what was typed."""
    rule_set = _draft()
    definition = rule_set.definition
    data = _form(request)
    blocks = _blocks_from_post(definition, data)
    revision = data.get("revision", "")
    context: dict[str, Any] = {"blocks": blocks, "oob": True}
    if not revision.isdigit():
        context["problem"] = "The page did not say which revision it loaded; reload it."
        return render(request, "offers/rules/partials/save_result.html", context)
    try:
        saved = rule_set_draft_update(
            rule_set=rule_set,
            document=_document(blocks),
            expected_revision=int(revision),
            user=request.user,
        )
    except DraftConflict as conflict:
        context["conflict"] = conflict
    except DocumentInvalid:
        context["problem"] = "Not saved: fix the errors marked in red first."
    else:
        context["saved"] = saved
        context["published"] = rule_version_latest(rule_set=saved)
    context["checks"] = _checks(definition, blocks)
    response = render(request, "offers/rules/partials/save_result.html", context)
    if "saved" in context:
        response["HX-Trigger"] = "rules-saved"
    return response


@role_required(MARKETERS_WRITE)
@require_POST
def rules_suggest(request: HttpRequest) -> HttpResponse:
    rule_set = _draft()
    revision = request.POST.get("revision", "")
    try:
        rule_set_suggest(
            rule_set=rule_set,
            user=request.user,
            expected_revision=int(revision) if revision.isdigit() else -1,
        )
    except DraftConflict as conflict:
        messages.error(request, f"No suggestion applied. {conflict}")
    else:
        messages.success(request, "The draft now holds suggested rules: edit them, then save.")
    return _to(request, reverse("rules"))


def _to(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@role_required(MARKETERS_WRITE)
@require_POST
def rules_preview_start(request: HttpRequest) -> HttpResponse:
    rule_set = _draft()
    try:
        run = rule_preview_start(rule_set=rule_set, user=request.user)
    except RunAlreadyActive as active:
        context = {"rule_set": rule_set, "preview": active.active, "problem": str(active)}
        return render(request, "offers/rules/partials/preview.html", context)
    context = {"rule_set": rule_set, "preview": run}
    return render(request, "offers/rules/partials/preview.html", context)


@role_required(MARKETERS_WRITE)
@require_GET
def rules_preview_status(request: HttpRequest, run_id: int) -> HttpResponse:
    rule_set = _draft()
    run = get_object_or_404(
        Run.objects.select_related("started_by"), pk=run_id, kind=RunKind.PREVIEW
    )
    context = {"rule_set": rule_set, "preview": run}
    return render(request, "offers/rules/partials/preview.html", context)


@role_required(MARKETERS_WRITE)
@require_POST
def rules_publish(request: HttpRequest) -> HttpResponse:
    rule_set = _draft()
    revision = request.POST.get("revision", "")
    note = request.POST.get("note", "").strip()
    problem = ""
    issues: list[Issue] = []
    try:
        version = rule_set_publish(
            rule_set=rule_set,
            author=request.user,
            note=note,
            expected_revision=int(revision) if revision.isdigit() else None,
        )
    except DraftConflict as conflict:
        problem = f"Not published. {conflict}"
    except RulesInvalid as invalid:
        problem = "Not published: the saved draft has errors."
        issues = [i for i in invalid.issues if i.level == ERROR]
    except IntegrityError:
        problem = "Another publish happened at the same time; reload and try again."
    else:
        messages.success(request, f"Published version {version.number}.")
        return _to(request, reverse("rule_versions"))
    context = {"problem": problem, "issues": issues}
    if request.headers.get("HX-Request"):
        return render(request, "offers/rules/partials/publish_result.html", context)
    messages.error(request, problem)
    return redirect("rules")


@role_required(MARKETERS_WRITE)
@require_GET
def rule_versions(request: HttpRequest) -> HttpResponse:
    definition, rule_set = _active()
    versions = (
        list(rule_set.versions.select_related("author", "restored_from").order_by("-number"))
        if rule_set
        else []
    )
    context = {"definition": definition, "rule_set": rule_set, "versions": versions}
    return render(request, "offers/rules/versions.html", context)


def _version(rule_set: RuleSet, number: int) -> RuleVersion:
    return get_object_or_404(
        RuleVersion.objects.select_related("author", "restored_from"),
        rule_set=rule_set,
        number=number,
    )


def _side(rule_set: RuleSet, value: str) -> tuple[str, dict[str, Any]] | None:
    if value == "draft":
        return "the draft", rule_set.document
    if value.isdigit():
        version = rule_set.versions.filter(number=int(value)).first()
        if version is not None:
            return f"version {version.number}", version.document
    return None


def _diff_view(
    definition: SegmentDefinition, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """The backend diff with segment names and readable values, for the templates."""
    diff = rules_diff(before, after)
    names = dict(Segment.objects.filter(definition=definition).values_list("key", "name"))
    for segment in diff["segments"]:
        key = segment["segment_key"]
        segment["name"] = (
            "Customers with no segment yet" if key is None else names.get(key, f"#{key}")
        )
        for slot in segment["slots"]:
            slot["rows"] = [
                {
                    "name": FIELD_LABELS.get(name, name),
                    "before": _shown(change["before"]),
                    "after": _shown(change["after"]),
                }
                for name, change in slot.get("changes", {}).items()
            ]
            for side in ("before", "after"):
                if side in slot:
                    slot[f"{side}_summary"] = _slot_summary(slot[side])
    return diff


def _shown(value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _slot_summary(slot: dict[str, Any]) -> str:
    parts = [f"{slot['count']} × {slot['goal']}"]
    for name in ("categories", "tags", "include_offers", "exclude_offers", *CONSTRAINTS):
        if slot.get(name) not in (None, "", []):
            parts.append(f"{FIELD_LABELS[name]} {_shown(slot[name])}")
    if slot.get("fallback_offer"):
        parts.append(f"fallback {slot['fallback_offer']}")
    return "; ".join(parts)


@role_required(MARKETERS_WRITE)
@require_GET
def rules_diff_page(request: HttpRequest) -> HttpResponse:
    definition, rule_set = _active()
    if rule_set is None:
        raise Http404("No draft yet.")
    numbers = list(rule_set.versions.order_by("-number").values_list("number", flat=True))
    # By default: what publishing the draft would change.
    before_value = request.GET.get("before") or (str(numbers[0]) if numbers else "draft")
    after_value = request.GET.get("after") or "draft"
    before, after = _side(rule_set, before_value), _side(rule_set, after_value)
    context: dict[str, Any] = {
        "definition": definition,
        "rule_set": rule_set,
        "numbers": numbers,
        "before_value": before_value,
        "after_value": after_value,
    }
    if before is None or after is None:
        context["problem"] = "Choose two versions (or the draft) that exist."
    else:
        context["before_name"], context["after_name"] = before[0], after[0]
        context["diff"] = _diff_view(definition, before[1], after[1])
    return render(request, "offers/rules/diff.html", context)


@role_required(MARKETERS_WRITE)
def rule_version_rollback_page(request: HttpRequest, number: int) -> HttpResponse:
    """GET asks for confirmation and shows what would change; POST republishes."""
    definition, rule_set = _active()
    if rule_set is None:
        raise Http404("No rules yet.")
    version = _version(rule_set, number)
    latest = rule_version_latest(rule_set=rule_set)
    if request.method == "POST":
        restored = rule_version_rollback(
            version=version, author=request.user, note=request.POST.get("note", "").strip()
        )
        messages.success(
            request, f"Version {version.number} republished as version {restored.number}."
        )
        return redirect("rule_versions")
    context = {
        "definition": definition,
        "rule_set": rule_set,
        "version": version,
        "latest": latest,
        "diff": _diff_view(definition, latest.document, version.document) if latest else None,
    }
    return render(request, "offers/rules/rollback.html", context)


# Audit log


def _compact(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _document_lines(before: Any, after: Any, names: dict[int, str]) -> list[str]:
    try:
        diff = rules_diff(before, after)
    except DocumentInvalid:
        return ["rules changed"]
    lines = []
    for segment in diff["segments"]:
        key = segment["segment_key"]
        where = f"{names[key]} (#{key})" if key in names else segment_label(key).capitalize()
        if segment["status"] in ("added", "removed"):
            lines.append(f"{where}: rule {segment['status']}")
            continue
        for slot in segment["slots"]:
            if slot["status"] == "same":
                continue
            if slot["status"] != "changed":
                label = (slot.get("after") or slot.get("before") or {}).get("label", "")
                lines.append(f"{where}, slot {slot['position']} “{label}”: {slot['status']}")
                continue
            for name, change in slot["changes"].items():
                lines.append(
                    f"{where}, slot {slot['position']} “{slot['label']}”: "
                    f"{FIELD_LABELS.get(name, name)} "
                    f"{_shown(change['before'])} → {_shown(change['after'])}"
                )
    return lines or ["no change to the rules"]


def audit_changes(before: Any, after: Any, names: dict[int, str] | None = None) -> list[str]:
    """Readable lines of what an entry changed: fields, and rules per segment and slot
    (segments by name when `names` knows them)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and isinstance(after, dict):
            return [f"{k}: {_compact(v)}" for k, v in after.items() if k != "document"] + (
                [f"rules: {len(after['document'].get('segments', []))} segment rule(s)"]
                if isinstance(after.get("document"), dict)
                else []
            )
        return [f"{_compact(before)} → {_compact(after)}"]
    lines = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name == "document":
            lines += _document_lines(old or {"segments": []}, new or {"segments": []}, names or {})
        else:
            lines.append(f"{name}: {_compact(_shown(old))} → {_compact(_shown(new))}")
    return lines


def _rule_set_id(entry: AuditEntry) -> int | None:
    """Rule set entries name the rule set; version entries "<rule set>:<number>"."""
    if entry.object_type not in ("rule_set", "rule_version"):
        return None
    head = entry.object_id.split(":")[0]
    return int(head) if head.isdigit() else None


def _segment_names(entries: Any) -> dict[int | None, dict[int, str]]:
    """Segment names per rule set of the listed entries, so lines read "Lapsing (#2)"."""
    ids = {i for i in (_rule_set_id(e) for e in entries) if i is not None}
    names: dict[int | None, dict[int, str]] = {i: {} for i in ids}
    rows = Segment.objects.filter(definition__rule_set__id__in=ids).values_list(
        "definition__rule_set__id", "key", "name"
    )
    for rule_set_id, key, name in rows:
        names[rule_set_id][key] = name
    return names


@role_required(MARKETERS_WRITE)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    object_type = request.GET.get("object_type", "")
    object_id = request.GET.get("object_id", "").strip()
    username = request.GET.get("user", "")
    entries = audit_entries(object_type=object_type, object_id=object_id)
    if username:
        entries = entries.filter(username=username)
    page = Paginator(entries.order_by("-created_at", "-id"), AUDIT_PER_PAGE).get_page(
        request.GET.get("page")
    )
    params = request.GET.copy()
    params.pop("page", None)
    names = _segment_names(page.object_list)
    rows = [
        {
            "entry": entry,
            "changes": audit_changes(entry.before, entry.after, names.get(_rule_set_id(entry), {})),
            "before": json.dumps(entry.before, indent=1, default=str),
            "after": json.dumps(entry.after, indent=1, default=str),
        }
        for entry in page
    ]
    context = {
        "page": page,
        "rows": rows,
        "querystring": params.urlencode(),
        "object_type": object_type,
        "object_id": object_id,
        "username": username,
        "object_types": AuditEntry.objects.order_by("object_type")
        .values_list("object_type", flat=True)
        .distinct(),
        "usernames": AuditEntry.objects.exclude(username="")
        .order_by("username")
        .values_list("username", flat=True)
        .distinct(),
    }
    return render(request, "offers/rules/audit.html", context)
