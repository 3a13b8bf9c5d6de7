"""Rule pages: the draft of the active segmentation edited in place, preview, publish,
versions, diff, rollback and the audit log.

The editor is one form holding the whole draft (`offers.rules.forms` reads and writes it);
every write goes through `offers.rules.services` with the revision the page loaded, so a stale
save is refused (optimistic locking) and the typed input stays on the page. Adding, removing
and moving slots re-renders a segment from what was posted, so nothing typed is lost before a
save.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from deepflame_web.core.access import MARKETERS_WRITE, role_required
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.parsing import ascii_int
from deepflame_web.core.services import RunAlreadyActive
from offers.dayparts import daypart_minutes
from offers.errors import OffersError
from offers.models import AuditEntry, Offer, OfferTag, RuleSet, RuleVersion
from offers.rules.diff import SAME, rules_diff
from offers.rules.document import GOALS, DocumentInvalid, segment_label
from offers.rules.forms import (
    CONSTRAINTS,
    Checks,
    SegmentBlock,
    blocks_check,
    blocks_document,
    blocks_from_document,
    blocks_from_post,
    editor_fields,
    slot_edit_parse,
)
from offers.rules.selectors import rule_set_for_definition
from offers.rules.services import (
    DraftConflict,
    RulesInvalid,
    rule_preview_start,
    rule_set_draft_create,
    rule_set_draft_discard,
    rule_set_draft_update,
    rule_set_publish,
    rule_set_suggest,
    rule_version_latest,
    rule_version_rollback,
)
from offers.rules.validation import ERROR, Issue
from offers.selectors import audit_entries, known_categories, known_channels, known_tiers
from segments.models import Segment, SegmentDefinition
from segments.selectors import segmentation_active

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


def _revision(value: str) -> int | None:
    """The revision a page says it loaded; None when it said none."""
    return ascii_int(value)


def _latest_preview(rule_set: RuleSet) -> Run | None:
    return (
        Run.objects.filter(kind=RunKind.PREVIEW, parameters__rule_set_id=rule_set.pk)
        .select_related("started_by")
        .first()
    )


def _to(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect; htmx follows HX-Redirect, so its requests get that instead."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _editor_context(
    rule_set: RuleSet, blocks: list[SegmentBlock], checks: Checks | None
) -> dict[str, Any]:
    known = {
        "categories": known_categories(),
        "tiers": known_tiers(),
        "dayparts": list(daypart_minutes()),
        "channels": known_channels(),
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
        "offer_choices": list(Offer.objects.order_by("offer_id").values_list("offer_id", "name")),
        "category_choices": [(c, "") for c in known["categories"]],
        "goals": GOALS,
        "tags": TAGS,
        "known": known,
    }


# The draft editor


@role_required(MARKETERS_WRITE)
@require_GET
def rule_set_page(request: HttpRequest) -> HttpResponse:
    definition = segmentation_active()
    if definition is None:
        return render(request, "offers/rules/rule_set.html", {"definition": None})
    rule_set = rule_set_for_definition(definition=definition)
    context: dict[str, Any] = {"definition": definition, "rule_set": rule_set}
    if rule_set is not None:
        blocks = blocks_from_document(definition, rule_set.document)
        context.update(_editor_context(rule_set, blocks, blocks_check(definition, blocks)))
        context["preview"] = _latest_preview(rule_set)
        context["draft_changes"] = _draft_changes(definition, rule_set, context["published"])
    return render(request, "offers/rules/rule_set.html", context)


def _draft_changes(
    definition: SegmentDefinition, rule_set: RuleSet, in_force: RuleVersion | None
) -> list[str] | None:
    """Names of the segments whose rules the draft changes against the version in force;
    None before the first publish."""
    if in_force is None:
        return None
    diff = _diff_view(definition, in_force.document, rule_set.document)
    return [segment["name"] for segment in diff["segments"] if segment["status"] != SAME]


@role_required(MARKETERS_WRITE)
@require_POST
def rules_discard(request: HttpRequest) -> HttpResponse:
    """The draft goes back to the version in force; its edits are gone (audited)."""
    rule_set = _draft()
    revision = _revision(request.POST.get("revision", ""))
    try:
        if revision is None:
            raise OffersError("The page did not say which draft revision you saw; reload.")
        rule_set_draft_discard(rule_set=rule_set, expected_revision=revision, user=request.user)
    except OffersError as refused:
        messages.error(request, f"The draft was not discarded. {refused}")
    else:
        in_force = rule_version_latest(rule_set=rule_set)
        number = in_force.number if in_force else "?"
        messages.success(request, f"Draft discarded: it is version {number}, in force, again.")
    return _to(request, reverse("rules"))


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
    definition = _draft().definition
    blocks = blocks_from_post(definition, editor_fields(request.POST))
    context = {"blocks": blocks, "checks": blocks_check(definition, blocks), "oob": True}
    return render(request, "offers/rules/partials/checks.html", context)


@role_required(MARKETERS_WRITE)
@require_POST
def rules_edit(request: HttpRequest) -> HttpResponse:
    """Add, remove or move a slot in what was posted (nothing is saved) and re-render that
    segment with every typed value."""
    rule_set = _draft()
    data = editor_fields(request.POST)
    edit = slot_edit_parse(data.get("op", ""))
    blocks = blocks_from_post(rule_set.definition, data)
    block = next((b for b in blocks if b.key == edit.segment), None)
    if block is None:
        raise Http404("No such segment.")
    if not block.edit(edit.op, edit.index):
        return HttpResponse(f"Unknown edit “{escape(data.get('op', ''))}”.", status=400)
    context = {**_editor_context(rule_set, blocks, None), "block": block, "can_edit": True}
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
    data = editor_fields(request.POST)
    blocks = blocks_from_post(definition, data)
    revision = _revision(data.get("revision", ""))
    context: dict[str, Any] = {"blocks": blocks, "oob": True}
    if revision is None:
        context["problem"] = "The page did not say which revision it loaded; reload it."
        return render(request, "offers/rules/partials/save_result.html", context)
    try:
        saved = rule_set_draft_update(
            rule_set=rule_set,
            document=blocks_document(blocks),
            expected_revision=revision,
            user=request.user,
        )
    except DraftConflict as conflict:
        context["conflict"] = conflict
    except DocumentInvalid:
        context["problem"] = "Not saved: fix the errors marked in red first."
    else:
        context["saved"] = saved
        context["published"] = rule_version_latest(rule_set=saved)
    context["checks"] = blocks_check(definition, blocks)
    response = render(request, "offers/rules/partials/save_result.html", context)
    if "saved" in context:
        response["HX-Trigger"] = "rules-saved"
    return response


@role_required(MARKETERS_WRITE)
@require_POST
def rules_suggest(request: HttpRequest) -> HttpResponse:
    rule_set = _draft()
    revision = _revision(request.POST.get("revision", ""))
    try:
        rule_set_suggest(
            rule_set=rule_set,
            user=request.user,
            expected_revision=-1 if revision is None else revision,
        )
    except OffersError as refused:
        messages.error(request, f"No suggestion applied. {refused}")
    else:
        messages.success(request, "The draft now holds suggested rules: edit them, then save.")
    return _to(request, reverse("rules"))


# Preview and publish


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
    issues: list[Issue] = []
    revision = _revision(request.POST.get("revision", ""))
    try:
        if revision is None:
            # Without it the optimistic lock is skipped and someone else's draft could go out.
            raise OffersError("The page did not say which draft revision you reviewed; reload.")
        version = rule_set_publish(
            rule_set=rule_set,
            author=request.user,
            note=request.POST.get("note", "").strip(),
            expected_revision=revision,
        )
    except RulesInvalid as invalid:
        problem = "Not published: the saved draft has errors."
        issues = [i for i in invalid.issues if i.level == ERROR]
    except OffersError as refused:
        problem = f"Not published. {refused}"
    except IntegrityError:
        problem = "Another publish happened at the same time; reload and try again."
    else:
        messages.success(request, f"Published version {version.number}.")
        return _to(request, reverse("rule_versions"))
    if request.headers.get("HX-Request"):
        context = {"problem": problem, "issues": issues}
        return render(request, "offers/rules/partials/publish_result.html", context)
    messages.error(request, problem)
    return redirect("rules")


# Versions, diff and rollback


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


def _side(rule_set: RuleSet, value: str) -> tuple[str, dict[str, Any]] | None:
    """One side of a diff ("draft" or a version number): its name and its document."""
    if value == "draft":
        return "the draft", rule_set.document
    number = ascii_int(value)
    if number is not None:
        version = rule_set.versions.filter(number=number).first()
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
    return render(
        request, "offers/rules/diff.html", context, status=400 if "problem" in context else 200
    )


@role_required(MARKETERS_WRITE)
def rule_version_rollback_page(request: HttpRequest, number: int) -> HttpResponse:
    """GET asks for confirmation and shows what would change; POST republishes."""
    definition, rule_set = _active()
    if rule_set is None:
        raise Http404("No rules yet.")
    version = get_object_or_404(
        RuleVersion.objects.select_related("author", "restored_from"),
        rule_set=rule_set,
        number=number,
    )
    if request.method == "POST":
        try:
            restored = rule_version_rollback(
                version=version, author=request.user, note=request.POST.get("note", "").strip()
            )
        except RulesInvalid as invalid:
            messages.error(request, f"Not republished. {invalid}")
            return redirect("rule_versions")
        except IntegrityError:
            messages.error(request, "Another publish happened at the same time; try again.")
            return redirect("rule_versions")
        messages.success(
            request, f"Version {version.number} republished as version {restored.number}."
        )
        return redirect("rule_versions")
    latest = rule_version_latest(rule_set=rule_set)
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
            lines.append(f"{name}: {_change_text(_shown(old), _shown(new))}")
    return lines


def _change_text(old: Any, new: Any, context: int = 30) -> str:
    """`old → new`; two long texts show where they differ (with `context` characters around
    it) rather than two beginnings that may be the same."""
    before, after = (v if isinstance(v, str) else json.dumps(v, default=str) for v in (old, new))
    if len(before) <= 90 and len(after) <= 90:
        return f"{before} → {after}"
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    limit = min(len(before), len(after)) - start
    while end < limit and before[-1 - end] == after[-1 - end]:
        end += 1
    first = max(0, start - context)

    def window(text: str) -> str:
        last = min(len(text), len(text) - end + context)
        shown = text[first:last]
        return ("…" if first else "") + _compact(shown, 120) + ("…" if last < len(text) else "")

    return f"{window(before)} → {window(after)}"


def _rule_set_id(entry: AuditEntry) -> int | None:
    """Rule set entries name the rule set; version entries "<rule set>:<number>"."""
    if entry.object_type not in ("rule_set", "rule_version"):
        return None
    head = entry.object_id.split(":")[0]
    return ascii_int(head)


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
