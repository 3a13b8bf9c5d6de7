"""Pen-test finding 2 (issue 15): malformed input is one clear 400, never a 500.

Deeply nested JSON used to raise RecursionError in the parser; "²" passes `str.isdigit()`
and then breaks `int()`.
"""

from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.parsing import JSON_MAX_DEPTH, ascii_int, json_loads_bounded
from tests.core.test_access import World, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

# Every API operation that reads a JSON body: (method, path template). The receipt replay
# reads none.
JSON_WRITES = [
    ("post", "/api/v1/offers/"),
    ("put", "/api/v1/offers/{offer_id}/"),
    ("patch", "/api/v1/offers/{offer_id}/"),
    ("post", "/api/v1/rule-sets/"),
    ("put", "/api/v1/rule-sets/{rule_set_pk}/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/validate/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/suggest/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/preview/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/publish/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/versions/{version}/rollback/"),
    ("post", "/api/v1/rule-sets/{rule_set_pk}/versions/{version}/to-draft/"),
    ("post", "/api/v1/recommendations/"),
    ("post", "/api/v1/events/"),
    ("post", "/api/v1/redemptions/"),
]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_ascii_int_reads_ascii_digits_only() -> None:
    assert [ascii_int(v) for v in ("0", "42", "007", "9" * 18)] == [0, 42, 7, 10**18 - 1]
    refused = ["", "²", "٣", "１", "-1", "+1", " 1", "1 ", "1.0", "1e3", "9" * 19, None, 3]
    assert [ascii_int(v) for v in refused] == [None] * len(refused)


def test_json_loads_bounded_refuses_deep_nesting_with_a_value_error() -> None:
    assert json_loads_bounded(nested(JSON_MAX_DEPTH)) is not None
    for depth in (JSON_MAX_DEPTH + 1, 100_000):
        with pytest.raises(ValueError, match="nests deeper"):
            json_loads_bounded(nested(depth))


@pytest.mark.parametrize("depth", [JSON_MAX_DEPTH + 1, 100_000])
def test_the_token_endpoint_refuses_deep_json_anonymously_with_400(depth: int) -> None:
    response = Client().post("/api/v1/auth/token/", nested(depth), content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), JSON_WRITES, ids=[f"{m} {p}" for m, p in JSON_WRITES])
def test_every_api_write_refuses_deep_json_with_400(
    method: str,
    path: str,
    world: World,  # noqa: F811
    admin_user: Any,
) -> None:
    from offers.models import RuleSet

    revision = RuleSet.objects.get().revision
    client = Client()
    client.force_login(admin_user)
    url = path.format(**world.__dict__)

    response = getattr(client, method)(url, nested(100_000), content_type="application/json")

    assert response.status_code == 400, (url, response.status_code, response.content[:200])
    assert "JSON parse error" in response.json()["detail"]
    assert RuleSet.objects.get().revision == revision


@pytest.mark.parametrize(
    "query",
    ["before=²&after=draft", "before=1&after=²", "before=٣&after=1", "before=1&after=" + "9" * 30],
)
def test_the_rules_diff_api_refuses_non_ascii_numbers_with_400(
    query: str,
    world: World,  # noqa: F811
    admin_user: Any,
) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.get(f"/api/v1/rule-sets/{world.rule_set_pk}/diff/?{query}")

    assert response.status_code == 400
    assert response.json() == {"detail": "Give ?before=<version>&after=<version or draft>."}


def test_the_rules_diff_page_treats_a_non_ascii_number_as_no_side(
    world: World,  # noqa: F811
    admin_user: Any,
) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.get("/rules/diff/?before=²&after=draft")

    assert response.status_code == 400
    assert "Choose two versions (or the draft) that exist." in response.content.decode()


def test_the_rules_editor_refuses_a_deeply_nested_packed_form_with_400(
    world: World,  # noqa: F811
    admin_user: Any,
) -> None:
    from offers.models import RuleSet

    revision = RuleSet.objects.get().revision
    client = Client()
    client.force_login(admin_user)

    for url in ("/rules/edit/", "/rules/check/", "/rules/save/"):
        response = client.post(url, {"packed": nested(100_000)})
        assert response.status_code == 400, url
    assert RuleSet.objects.get().revision == revision


@pytest.mark.parametrize("revision", ["²", "٣"])
def test_a_superscript_revision_is_no_revision(
    world: World,  # noqa: F811
    admin_user: Any,
    revision: str,
) -> None:
    from offers.models import RuleSet

    before = RuleSet.objects.get().revision
    client = Client()
    client.force_login(admin_user)

    response = client.post("/rules/suggest/", {"revision": revision})

    assert response.status_code in (200, 302), response.status_code
    assert RuleSet.objects.get().revision == before


@pytest.mark.parametrize("query", ["batch=²", "batch=٣", "batch=" + "9" * 30])
def test_the_performance_page_refuses_non_ascii_batch_numbers(
    query: str, admin_user: Any, client: Client
) -> None:
    client.force_login(admin_user)

    response = client.get(f"/performance/?{query}")

    assert response.status_code == 400
    assert "is not a batch number" in response.content.decode()


@pytest.mark.parametrize("page", ["²", "٣", "9" * 30, "-3"])
def test_the_movement_page_number_falls_back_to_the_first_page(page: str) -> None:
    from segments.views import _page_number

    assert _page_number(page, total=1_000) == 1


def test_the_schedule_form_refuses_superscript_minutes_and_changes_nothing(
    admin_user: Any, client: Client, periodic_schedule: None
) -> None:
    from django_celery_beat.models import PeriodicTask

    from deepflame_web.core.schedule import schedule_rows

    before = list(PeriodicTask.objects.values_list("name", "interval_id", "crontab_id"))
    name = schedule_rows()[0].name
    client.force_login(admin_user)

    response = client.post(f"/runs/schedule/{name}/", {"when": "²", "enabled": "on"})

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "The schedule was not changed" in page
    assert list(PeriodicTask.objects.values_list("name", "interval_id", "crontab_id")) == before


def test_a_body_over_the_upload_limit_is_refused_before_it_is_parsed(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = Client().post(
        "/api/v1/auth/token/",
        '{"username": "' + "x" * 2_000 + '"}',
        content_type="application/json",
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 1000 bytes."}


def test_the_default_limit_applies_to_api_bodies() -> None:
    response = Client().post(
        "/api/v1/auth/token/", " " * 3_000_000, content_type="application/json"
    )

    assert response.status_code == 413
