"""Rule pages: the draft editor (live checks, slot edits, saves with optimistic locking),
suggestions, preview, publish, versions, diff, rollback, the audit log and read-only access."""

import json
from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import AuditEntry, RuleSet, RuleVersion
from offers.rules.services import rule_set_draft_create, rule_set_draft_update, rule_set_publish
from offers.rules.views import audit_changes
from recommender.assignment.preview import rule_preview_execute
from segments.models import SegmentDefinition
from tests.factories import UserFactory
from tests.offers.test_validation import full_rules, slot

pytestmark = pytest.mark.django_db

WRITES = [
    "/rules/start/",
    "/rules/check/",
    "/rules/edit/",
    "/rules/save/",
    "/rules/suggest/",
    "/rules/preview/",
    "/rules/publish/",
    "/rules/versions/1/rollback/",
]


def form_data(document: dict[str, Any], revision: int, **extra: Any) -> dict[str, Any]:
    """What the editor posts for `document`: one block per rule, slots named by position."""
    data: dict[str, Any] = {"revision": str(revision), "segment": []}
    for rule in document["segments"]:
        token = "none" if rule["segment_key"] is None else str(rule["segment_key"])
        data["segment"].append(token)
        data[f"r-{token}-slot"] = [str(n) for n in range(len(rule["slots"]))]
        for n, raw in enumerate(rule["slots"]):
            prefix = f"r-{token}-{n}"
            data[f"{prefix}-label"] = raw["label"]
            data[f"{prefix}-count"] = str(raw.get("count", 1))
            data[f"{prefix}-goal"] = raw.get("goal", "redemption")
            for name in ("categories", "include_offers", "exclude_offers"):
                data[f"{prefix}-{name}"] = ", ".join(raw.get(name, []))
            for name in ("tiers", "dayparts", "channels"):
                data[f"{prefix}-{name}"] = ", ".join(raw.get(name, []))
            data[f"{prefix}-tags"] = raw.get("tags", [])
            for name in ("valid_from", "valid_to", "min_score", "fallback_offer"):
                value = raw.get(name)
                data[f"{prefix}-{name}"] = "" if value is None else str(value)
    data.update(extra)
    return data


def packed(data: dict[str, Any]) -> dict[str, str]:
    """The editor's fields as the page sends them: one JSON list of [name, value] pairs."""
    pairs = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append([name, item])
    return {"packed": json.dumps(pairs)}


@pytest.fixture
def rule_set(catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any) -> RuleSet:
    return rule_set_draft_create(definition=definition, user=marketer, document=full_rules())


@pytest.fixture
def as_marketer(client: Client, marketer: Any) -> Client:
    client.force_login(marketer)
    return client


def text(response: Any) -> str:
    return response.content.decode()


# The draft page


def test_the_page_lists_every_segment_with_its_slots_editable(
    rule_set: RuleSet, customers: None, as_marketer: Client
) -> None:
    response = as_marketer.get("/rules/")

    page = text(response)
    assert response.status_code == 200
    for name in ("Breakfast regulars", "Lapsing", "Big spenders", "Customers with no segment yet"):
        assert name in page
    assert 'data-customers="5"' in page and 'data-customers="1"' in page
    assert 'name="r-1-0-label" value="Breakfast"' in page
    assert 'name="r-2-0-include_offers" value="N1"' in page
    assert f'id="revision" value="{rule_set.revision}"' in page
    assert 'id="rules-form"' in page


def test_without_a_draft_a_marketer_starts_one(
    catalog: dict[str, Any], definition: SegmentDefinition, as_marketer: Client
) -> None:
    assert 'id="start-draft"' in text(as_marketer.get("/rules/"))

    response = as_marketer.post("/rules/start/")

    assert response.status_code == 302
    assert RuleSet.objects.get().definition == definition


def test_without_a_segmentation_the_page_says_so(db: None, as_marketer: Client) -> None:
    assert "No segmentation yet" in text(as_marketer.get("/rules/"))


def test_the_live_check_names_segment_and_slot_of_each_problem(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    document = full_rules(**{"1": [slot("Breakfast", categories=["brunch"])]})
    data = form_data(document, rule_set.revision)
    data["r-2-0-count"] = "two"

    response = as_marketer.post("/rules/check/", data)

    page = text(response)
    assert response.status_code == 200
    assert "slot 1" in page and "count must be a whole number" in page
    assert 'id="issues-2-1" hx-swap-oob="true"' in page
    assert RuleSet.objects.get().revision == rule_set.revision  # a check never saves


def test_the_live_check_shows_a_warning_for_an_expired_offer(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    document = full_rules(**{"2": [slot("Late", include_offers=["N1", "X1"])]})

    page = text(as_marketer.post("/rules/check/", form_data(document, rule_set.revision)))

    assert "Lapsing (#2), slot 1 “Late”: offer X1 “Offer X1” expired on 2026-01-31." in page
    assert 'class="issue warning" data-code="expired_offer"' in page


def test_adding_moving_and_removing_slots_keeps_what_was_typed(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    document = full_rules(**{"1": [slot("First", categories=["breakfast"]), slot("Second")]})
    data = form_data(document, rule_set.revision)
    data["r-1-1-label"] = "Typed but not saved"

    moved = text(as_marketer.post("/rules/edit/", packed({**data, "op": "up:1:1"})))
    added = text(as_marketer.post("/rules/edit/", {**data, "op": "add:1"}))
    removed = text(as_marketer.post("/rules/edit/", {**data, "op": "remove:1:0"}))

    assert moved.index("Typed but not saved") < moved.index('value="First"')
    assert 'name="r-1-0-label" value="Typed but not saved"' in moved
    assert 'name="r-1-1-categories" value="breakfast"' in moved
    assert 'name="r-1-2-label" value="Breakfast regulars offers"' in added
    assert 'value="First"' not in removed and 'name="r-1-0-label" value="Typed' in removed
    assert RuleSet.objects.get().revision == rule_set.revision


def test_an_unknown_edit_is_refused(rule_set: RuleSet, as_marketer: Client) -> None:
    data = form_data(full_rules(), rule_set.revision, op="explode:1")

    assert as_marketer.post("/rules/edit/", data).status_code == 400


def test_a_save_stores_the_typed_draft_and_audits_it(
    rule_set: RuleSet, as_marketer: Client, marketer: Any
) -> None:
    document = full_rules(**{"3": [slot("Dessert", count=2, categories=["desserts"])]})

    response = as_marketer.post("/rules/save/", form_data(document, rule_set.revision))

    saved = RuleSet.objects.get()
    assert "Saved as revision 2" in text(response)
    assert response["HX-Trigger"] == "rules-saved"
    assert 'id="revision" value="2" hx-swap-oob="true"' in text(response)
    assert saved.revision == 2
    assert saved.document["segments"][2]["slots"][0]["count"] == 2
    entry = AuditEntry.objects.filter(action="draft_update").get()
    assert entry.before is not None and entry.after is not None
    assert (entry.user, entry.before["revision"], entry.after["revision"]) == (marketer, 1, 2)


def test_a_stale_save_is_refused_naming_who_saved_first_and_nothing_is_written(
    rule_set: RuleSet, client: Client, roles: None
) -> None:
    first = UserFactory.create(role="Marketer", username="ana")
    rule_set_draft_update(rule_set=rule_set, document=full_rules(), expected_revision=1, user=first)
    mine = full_rules(**{"1": [slot("Mine", categories=["breakfast"])]})
    client.force_login(UserFactory.create(role="Marketer", username="bo"))

    response = client.post("/rules/save/", form_data(mine, revision=1))

    page = text(response)
    assert 'data-state="conflict"' in page
    assert "The draft was changed by ana at" in page and "revision 2" in page
    assert 'id="reload-draft"' in page and "Your edits are still on this page" in page
    assert 'hx-swap-oob="true"' not in page.split('id="revision"')[0][-40:]  # revision kept
    after = RuleSet.objects.get()
    assert (after.revision, after.updated_by) == (2, first)
    assert after.document["segments"][0]["slots"][0]["label"] == "Breakfast"


def test_a_large_packed_form_saves_beyond_the_form_field_limit(
    rule_set: RuleSet, as_marketer: Client, settings: Any
) -> None:
    many = [slot(f"Slot {n}", categories=["breakfast"], dayparts=["breakfast"]) for n in range(30)]
    data = form_data(full_rules(**{"1": many, "3": many}), rule_set.revision)
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

    response = as_marketer.post("/rules/save/", packed(data))

    assert 'data-state="saved"' in text(response)
    assert len(RuleSet.objects.get().document["segments"][2]["slots"]) == 30


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '[["a", 1]]', '{"a": "b"}'])
def test_a_malformed_packed_form_is_refused(
    body: str, rule_set: RuleSet, as_marketer: Client
) -> None:
    response = as_marketer.post("/rules/save/", {"packed": body})

    assert response.status_code == 400
    assert RuleSet.objects.get().revision == rule_set.revision


def test_a_save_with_a_schema_error_is_refused_and_nothing_is_written(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    data = form_data(full_rules(), rule_set.revision)
    data["r-1-0-label"] = ""

    page = text(as_marketer.post("/rules/save/", data))

    assert "Not saved: fix the errors" in page
    assert "label must be a text of 1 to 100 characters" in page
    assert RuleSet.objects.get().revision == rule_set.revision


def test_suggest_replaces_the_draft(
    rule_set: RuleSet, customers: None, as_marketer: Client
) -> None:
    response = as_marketer.post("/rules/suggest/", {"revision": "1"}, HTTP_HX_REQUEST="true")

    draft = RuleSet.objects.get()
    assert response["HX-Redirect"] == "/rules/"
    assert draft.revision == 2
    assert [r["segment_key"] for r in draft.document["segments"]] == [1, 2, 3, None]


def test_a_stale_suggest_changes_nothing(rule_set: RuleSet, as_marketer: Client) -> None:
    before = RuleSet.objects.get().document

    response = as_marketer.post("/rules/suggest/", {"revision": "7"}, follow=True)

    assert response.status_code == 200
    assert "No suggestion applied." in text(response)
    assert "The draft now holds suggested rules" not in text(response)
    assert RuleSet.objects.get().revision == 1
    assert RuleSet.objects.get().document == before


# Preview


def test_preview_starts_a_run_and_says_why_it_failed_when_no_model_can_decide(
    rule_set: RuleSet, customers: None, as_marketer: Client
) -> None:
    started = text(as_marketer.post("/rules/preview/"))
    run = Run.objects.get(kind=RunKind.PREVIEW)
    assert f'hx-get="/rules/preview/{run.pk}/" hx-trigger="every 1s"' in started
    assert run.parameters["revision"] == rule_set.revision

    rule_preview_execute(run_id=run.pk)
    done = text(as_marketer.get(f"/rules/preview/{run.pk}/"))

    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
    assert "hx-trigger" not in done
    assert "No recommender model is active: the preview decides with the engine" in done


def test_a_second_preview_while_one_runs_points_to_it(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    as_marketer.post("/rules/preview/")

    page = text(as_marketer.post("/rules/preview/"))

    assert "already queued" in page
    assert Run.objects.filter(kind=RunKind.PREVIEW).count() == 1


# Publish, versions, diff, rollback


def test_publish_creates_a_version_with_the_note(
    rule_set: RuleSet, as_marketer: Client, marketer: Any
) -> None:
    response = as_marketer.post(
        "/rules/publish/", {"revision": "1", "note": "Spring"}, HTTP_HX_REQUEST="true"
    )

    version = RuleVersion.objects.get()
    assert response["HX-Redirect"] == "/rules/versions/"
    assert (version.number, version.author, version.note) == (1, marketer, "Spring")
    page = text(as_marketer.get("/rules/versions/"))
    assert '<tr data-version="1">' in page and "Spring" in page and marketer.username in page


def test_publish_with_errors_is_refused_with_the_errors(
    rule_set: RuleSet, as_marketer: Client, marketer: Any
) -> None:
    rule_set_draft_update(
        rule_set=rule_set,
        document=full_rules(**{"1": [slot("Brunch", categories=["brunch"])]}),
        expected_revision=1,
        user=marketer,
    )

    page = text(
        as_marketer.post("/rules/publish/", {"revision": "2", "note": "n"}, HTTP_HX_REQUEST="true")
    )

    assert "Not published: the saved draft has errors." in page
    assert "slot 1 “Brunch”: unknown categories brunch." in page
    assert not RuleVersion.objects.exists()


def test_publish_of_a_stale_revision_is_refused(rule_set: RuleSet, as_marketer: Client) -> None:
    page = text(
        as_marketer.post("/rules/publish/", {"revision": "9", "note": "n"}, HTTP_HX_REQUEST="true")
    )

    assert "Not published. The draft was changed by" in page
    assert not RuleVersion.objects.exists()


def publish_then_edit_desserts(rule_set: RuleSet, marketer: Any) -> None:
    """Version 1 as drafted, then a draft that gives Big spenders three desserts."""
    rule_set_publish(rule_set=rule_set, author=marketer, note="first")
    rule_set_draft_update(
        rule_set=rule_set,
        document=full_rules(**{"3": [slot("Dessert", count=3, categories=["desserts"])]}),
        expected_revision=1,
        user=marketer,
    )


def test_the_diff_page_shows_changes_per_segment_and_slot(
    rule_set: RuleSet, as_marketer: Client, marketer: Any
) -> None:
    publish_then_edit_desserts(rule_set, marketer)

    page = text(as_marketer.get("/rules/diff/?before=1&after=draft"))

    assert "Changes from <strong>version 1</strong> to <strong>the draft</strong>" in page
    assert '<section class="card diff-segment changed" data-segment="3">' in page
    assert '<th>offers</th><td class="before">1</td>' in page
    assert '<td class="after">3</td>' in page
    assert 'data-segment="1"' not in page  # unchanged segments are left out


def test_the_diff_page_refuses_a_missing_version(rule_set: RuleSet, as_marketer: Client) -> None:
    assert "Choose two versions" in text(as_marketer.get("/rules/diff/?before=5&after=draft"))


def test_rollback_asks_for_confirmation_then_republishes(
    rule_set: RuleSet, as_marketer: Client, marketer: Any
) -> None:
    publish_then_edit_desserts(rule_set, marketer)
    rule_set_publish(rule_set=rule_set, author=marketer, note="second")

    confirm = text(as_marketer.get("/rules/versions/1/rollback/"))
    assert "Roll back to version 1?" in confirm and 'id="confirm-rollback"' in confirm
    assert RuleVersion.objects.count() == 2

    response = as_marketer.post("/rules/versions/1/rollback/", {"note": "too many desserts"})

    latest = RuleVersion.objects.order_by("-number").first()
    assert response.status_code == 302
    assert latest is not None
    assert (latest.number, latest.restored_from_id, latest.note) == (
        3, RuleVersion.objects.get(number=1).pk, "too many desserts"
    )  # fmt: skip
    assert latest.document == RuleVersion.objects.get(number=1).document


# Audit log


def test_the_audit_log_lists_changes_filters_and_paginates(
    rule_set: RuleSet, as_marketer: Client, marketer: Any, roles: None
) -> None:
    other = UserFactory.create(role="Marketer", username="zed")
    revision = rule_set.revision
    for n in range(30):
        rule_set = rule_set_draft_update(
            rule_set=rule_set,
            document=full_rules(**{"3": [slot("Dessert", count=1 + n % 5)]}),
            expected_revision=revision,
            user=other if n == 0 else marketer,
        )
        revision = rule_set.revision

    first = text(as_marketer.get("/audit/"))
    by_zed = text(as_marketer.get("/audit/?user=zed"))
    second = text(as_marketer.get("/audit/?object_type=rule_set&page=2"))

    assert "31 changes, newest first." in first and "Page 1 of 2" in first
    assert "1 change, newest first." in by_zed
    assert "Big spenders (#3), slot 1 “Dessert”: categories desserts → —" in by_zed
    assert "Page 2 of 2" in second and 'data-action="draft_create"' in second


def test_a_long_text_change_shows_where_the_texts_differ() -> None:
    start = "A generous breakfast sandwich with egg, cheese and bacon on a toasted muffin, "
    before = {"description": start + "served hot every morning until 11am."}
    after = {"description": start + "served hot every morning until 10:30am."}

    [line] = audit_changes(before, after)

    assert line == (
        "description: …rved hot every morning until 11am. → …rved hot every morning until 10:30am."
    )


def test_audit_changes_reads_fields_and_rules() -> None:
    assert audit_changes({"name": "A", "tags": []}, {"name": "B", "tags": ["win_back"]}) == [
        "name: A → B",
        "tags: — → win_back",
    ]
    assert audit_changes(None, {"revision": 1, "document": {"segments": []}}) == [
        "revision: 1",
        "rules: 0 segment rule(s)",
    ]


# Read-only for analysts


def test_an_analyst_reads_every_rule_page_without_a_form(
    rule_set: RuleSet, client: Client, analyst: Any, marketer: Any
) -> None:
    rule_set_publish(rule_set=rule_set, author=marketer, note="first")
    client.force_login(analyst)

    pages = {
        url: text(client.get(url))
        for url in (
            "/rules/",
            "/rules/versions/",
            "/rules/diff/?before=1&after=draft",
            "/rules/versions/1/rollback/",
            "/audit/",
        )
    }

    assert "Breakfast regulars" in pages["/rules/"] and 'id="read-only"' in pages["/rules/"]
    for url, page in pages.items():
        main = page.split("<main>")[1]  # the header holds the log-out form
        assert 'method="post"' not in main and "hx-post" not in main, url
        assert "<textarea" not in main, url
    for url in ("/rules/", "/rules/versions/1/rollback/"):
        assert "<input" not in pages[url].split("<main>")[1], url
        assert "<button" not in pages[url].split("<main>")[1], url


@pytest.mark.parametrize("url", WRITES)
def test_an_analyst_gets_403_on_every_write(
    url: str, rule_set: RuleSet, client: Client, analyst: Any, marketer: Any
) -> None:
    rule_set_publish(rule_set=rule_set, author=marketer, note="first")
    client.force_login(analyst)
    before = (AuditEntry.objects.count(), RuleVersion.objects.count(), Run.objects.count())

    response = client.post(url, form_data(full_rules(), 1, note="x", op="add:1"))

    assert response.status_code == 403
    after = (AuditEntry.objects.count(), RuleVersion.objects.count(), Run.objects.count())
    assert after == before
