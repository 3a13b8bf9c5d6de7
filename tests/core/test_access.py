"""The access policy, written down as a table: every routed URL x role -> the exact status.

The table is the policy; nothing here reads a view's own `access` declaration to decide what
to expect, so a wrong declaration fails. A route of the URL conf without a row fails too.
"""

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

DJANGO_ADMIN_PREFIX = "django-admin/"
ANONYMOUS, MARKETER, ANALYST, ADMIN = "anonymous", "Marketer", "Analyst", "Admin"
ROLES = (ANONYMOUS, MARKETER, ANALYST, ADMIN)
NO_ROLE = "no role"  # signed in, in none of the role groups
MACHINE = "Machine client"  # a POS or an app with a token: not a column, tested on its own


@dataclass(frozen=True)
class To:
    """A 302 to a URL matching this pattern; `{run_id}` and the like name the world's ids."""

    url: str


# Anonymous on a page: a 302 to the login page that comes back to the page afterwards.
LOGIN = "302 to /login/?next=<the page>"

Expected = int | To | str
Statuses = tuple[Expected, Expected, Expected, Expected]  # anonymous, marketer, analyst, admin


@dataclass(frozen=True)
class World:
    """The rows detail pages need: each id a route's URL takes exists."""

    run_id: int
    offer_pk: int
    offer_id: str
    customer_id: str
    segment_key: int
    rule_set_pk: int
    version: int


@dataclass(frozen=True)
class Row:
    get: Statuses
    post: Statuses
    kwargs: Callable[[World], dict[str, Any]] = lambda world: {}
    query: str = ""
    other: dict[str, Statuses] = field(default_factory=dict)  # PUT, PATCH where routed

    def methods(self) -> dict[str, Statuses]:
        return {"GET": self.get, "POST": self.post, **self.other}


MISSING = 999_999  # a pk no row has: the route answers 404 to a role allowed to ask

# fmt: off
POLICY: dict[str, Row] = {
    # Public: the login page, logging out, the token endpoint (checked for credentials).
    "login": Row(
        get=(200, To("/"), To("/"), To("/")),
        post=(200, To("/"), To("/"), To("/")),
    ),
    "logout": Row(
        get=(405, 405, 405, 405),
        post=(To("/login/"), To("/login/"), To("/login/"), To("/login/")),
    ),
    "favicon": Row(
        get=(To("/static/favicon.*svg"),) * 4,
        post=(405, 405, 405, 405),
    ),
    # Console: everyone reads; only admins start runs, change schedules or cancel.
    "home": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "run_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 200),
    ),
    "system_check_start": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 403, 403, To(r"/runs/\d+/")),
    ),
    "segments_retrain": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/runs/")),
    ),
    "model_retrain": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/runs/")),
    ),
    "offers_reassign": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/runs/")),
    ),
    "pipeline_start": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/runs/")),
    ),
    "schedule_update": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/runs/#schedule")),
        kwargs=lambda w: {"name": "no-such-schedule"},
    ),
    "run_detail": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 200),
        kwargs=lambda w: {"run_id": w.run_id},
    ),
    "run_cancel": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 403, 403, To("/runs/{run_id}/")),
        kwargs=lambda w: {"run_id": w.run_id},
    ),
    "customer_search": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "customer_detail": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
        kwargs=lambda w: {"customer_id": w.customer_id},
    ),
    # Segments: admins import and segment; marketers rename segments; everyone reads.
    "import_upload": Row(
        get=(LOGIN, 403, 403, 200),
        post=(LOGIN, 403, 403, 200),
    ),
    # The import format and its example folder: anyone signed in may read them.
    "import_contract": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "import_example": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "segment_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "segment_movements": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "segment_movers_csv": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
        query="from=2026-01&to=2026-02",
    ),
    "segmentation_run_new": Row(
        get=(LOGIN, 403, 403, 200),
        post=(LOGIN, 403, 403, 200),
    ),
    "segment_detail": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 200, 403, 200),
        kwargs=lambda w: {"key": w.segment_key},
    ),
    # Offers and rules: marketers (and admins) write, analysts only read.
    "offer_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "offer_create": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 200, 403, 200),
    ),
    "offer_validate_new": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 403, 200),
    ),
    "offer_detail": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
        kwargs=lambda w: {"pk": w.offer_pk},
    ),
    "offer_edit": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 200, 403, 200),
        kwargs=lambda w: {"pk": w.offer_pk},
    ),
    "offer_validate": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 403, 200),
        kwargs=lambda w: {"pk": w.offer_pk},
    ),
    "offer_image": Row(
        get=(LOGIN, 404, 404, 404),
        post=(LOGIN, 403, 403, 403),
        kwargs=lambda w: {"pk": w.offer_pk},
    ),
    "store_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "daypart_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "rules": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
    ),
    "rules_start": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, To("/rules/"), 403, To("/rules/")),
    ),
    "rules_check": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 403, 200),
    ),
    "rules_edit": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 404, 403, 404),
    ),
    "rules_save": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 403, 200),
    ),
    "rules_suggest": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, To("/rules/"), 403, To("/rules/")),
    ),
    "rules_preview": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 403, 200),
    ),
    "rules_preview_status": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
        kwargs=lambda w: {"run_id": w.run_id},
    ),
    "rules_preview_page": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
        kwargs=lambda w: {"run_id": w.run_id},
    ),
    "rules_simulate": Row(  # writes nothing: every person may ask; nothing posted is named
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 200, 200, 200),
    ),
    "rules_publish": Row(  # no revision posted: refused back to the editor (issue 15)
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, To("/rules/"), 403, To("/rules/")),
    ),
    "rules_discard": Row(  # no revision posted: refused back to the editor
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, To("/rules/"), 403, To("/rules/")),
    ),
    "rule_versions": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
    ),
    "rule_version_rollback": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, To("/rules/versions/"), 403, To("/rules/versions/")),
        kwargs=lambda w: {"number": w.version},
    ),
    "rules_diff": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
    ),
    "audit_log": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 405, 403, 405),
    ),
    # Models: admins train and activate. Receipts: any role replays (serving).
    "model_list": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 200),
    ),
    "model_train": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/models/")),
    ),
    "receipt_detail": Row(
        get=(LOGIN, 404, 404, 404),
        post=(LOGIN, 403, 403, 403),
        kwargs=lambda w: {"pk": MISSING},
    ),
    "receipt_replay": Row(
        get=(LOGIN, 405, 405, 405),
        post=(LOGIN, 404, 404, 404),
        kwargs=lambda w: {"pk": MISSING},
    ),
    "model_activate": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, 404),
        kwargs=lambda w: {"version": MISSING},
    ),
    "model_scorer": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, 404),
        kwargs=lambda w: {"version": MISSING},
    ),
    "offer_performance": Row(
        get=(LOGIN, 200, 200, 200),
        post=(LOGIN, 403, 403, 403),
    ),
    "offer_performance_recount": Row(
        get=(LOGIN, 403, 403, 405),
        post=(LOGIN, 403, 403, To("/performance/")),
    ),
    # API: anonymous is refused with 403 (session authentication answers first, and it
    # sends no WWW-Authenticate challenge, so DRF does not use 401).
    "api_run_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 405),
    ),
    "api_run_detail": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 405),
        kwargs=lambda w: {"pk": w.run_id},
    ),
    "api_token": Row(
        get=(405, 405, 405, 405),
        post=(400, 400, 400, 400),
    ),
    "api_segment_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 403),
    ),
    "api_customer_trajectory": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 403),
        kwargs=lambda w: {"customer_id": w.customer_id},
    ),
    "api_offer_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 400, 403, 400),
    ),
    "api_offer_detail": Row(
        get=(403, 200, 200, 200),
        post=(403, 405, 403, 405),
        kwargs=lambda w: {"offer_id": w.offer_id},
        other={"PUT": (403, 400, 403, 400), "PATCH": (403, 400, 403, 400)},
    ),
    "api_rule_set_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 200, 403, 200),
    ),
    "api_rule_set_detail": Row(
        get=(403, 200, 200, 200),
        post=(403, 405, 403, 405),
        kwargs=lambda w: {"pk": w.rule_set_pk},
        other={"PUT": (403, 400, 403, 400), "PATCH": (403, 405, 403, 405)},
    ),
    "api_rule_set_validate": Row(
        get=(403, 200, 200, 200),
        post=(403, 400, 403, 400),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_set_suggest": Row(
        get=(403, 405, 405, 405),
        post=(403, 400, 403, 400),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_set_preview": Row(
        get=(403, 405, 405, 405),
        post=(403, 202, 403, 202),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_set_publish": Row(  # no revision posted: 400 naming it (issue 15)
        get=(403, 405, 405, 405),
        post=(403, 400, 403, 400),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_diff": Row(
        get=(403, 400, 400, 400),
        post=(403, 405, 403, 405),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_version_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 405, 403, 405),
        kwargs=lambda w: {"pk": w.rule_set_pk},
    ),
    "api_rule_version_detail": Row(
        get=(403, 200, 200, 200),
        post=(403, 405, 403, 405),
        kwargs=lambda w: {"pk": w.rule_set_pk, "number": w.version},
    ),
    "api_rule_version_rollback": Row(
        get=(403, 405, 405, 405),
        post=(403, 201, 403, 201),
        kwargs=lambda w: {"pk": w.rule_set_pk, "number": w.version},
    ),
    "api_rule_version_to_draft": Row(
        get=(403, 405, 405, 405),
        post=(403, 400, 403, 400),
        kwargs=lambda w: {"pk": w.rule_set_pk, "number": w.version},
    ),
    "api_audit_list": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 403),
    ),
    # Serving: any role asks for recommendations and replays receipts; Analysts only read,
    # so they post no feedback (machine clients do: see the machine client's test below).
    "api_recommendations": Row(
        get=(403, 405, 405, 405),
        post=(403, 400, 400, 400),
    ),
    "api_receipt": Row(
        get=(403, 404, 404, 404),
        post=(403, 403, 403, 403),
        kwargs=lambda w: {"pk": MISSING},
    ),
    "api_receipt_replay": Row(
        get=(403, 405, 405, 405),
        post=(403, 404, 404, 404),
        kwargs=lambda w: {"pk": MISSING},
    ),
    "api_feedback_events": Row(
        get=(403, 405, 405, 405),
        post=(403, 400, 403, 400),
    ),
    "api_redemptions": Row(
        get=(403, 405, 405, 405),
        post=(403, 400, 403, 400),
    ),
    "api_performance": Row(
        get=(403, 404, 404, 404),
        post=(403, 403, 403, 403),
    ),
    "api_schema": Row(
        get=(403, 200, 200, 200),
        post=(403, 403, 403, 403),
    ),
}
# fmt: on


def _route_names(resolvers: list[Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for entry in resolvers:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if pattern.startswith(DJANGO_ADMIN_PREFIX):
                continue  # Django's own admin guards itself; checked separately below
            names += _route_names(entry.url_patterns, pattern)
        elif isinstance(entry, URLPattern):
            names.append(entry.name or f"<unnamed route {pattern}>")
    return names


ROUTES = _route_names(get_resolver().url_patterns)
CASES = [(name, role) for name in ROUTES if name in POLICY for role in ROLES]


def test_every_route_has_a_row_in_the_policy_and_every_row_a_route() -> None:
    missing = [name for name in ROUTES if name not in POLICY]
    stale = [name for name in POLICY if name not in ROUTES]

    assert missing == [], f"routes without a row in POLICY (add one per role): {missing}"
    assert stale == [], f"rows in POLICY for routes that no longer exist: {stale}"
    assert len(ROUTES) == len(set(ROUTES)), "two routes share a name"


@pytest.fixture
def world(roles: None, no_enqueue: list[int]) -> World:
    """One of each: a run, an active segmentation with a member, an offer, a published rule
    set. Written through the ORM and the product's writers (no Spark, no training)."""
    import numpy as np

    from deepflame_web.core.models import Run, RunKind, RunStatus
    from offers.models import Offer
    from offers.rules.services import rule_set_draft_create, rule_set_publish
    from segments.models import Segment, SegmentDefinition
    from segments.segmentation.writer import current_segments_write
    from tests.factories import customers_insert

    run = Run.objects.create(kind=RunKind.PREVIEW, status=RunStatus.SUCCEEDED, task_name="test")
    definition = SegmentDefinition.objects.create(
        run=run, version=1, is_active=True, k=1, periods=["2026-01", "2026-02"]
    )
    segment = Segment.objects.create(
        definition=definition, key=1, position=0, name="Breakfast regulars",
        profile={"means": {}, "z": {"visits": 1.0}, "top": []},
    )  # fmt: skip
    customers_insert({"C1": {}})
    current_segments_write(
        definition_id=definition.pk,
        customer_ids=np.array(["C1"], dtype=object),
        periods=np.array(["2026-02"], dtype=object),
        segment_ids=np.array([segment.pk], dtype=np.int64),
        distances=np.zeros(1),
    )
    offer = Offer.objects.create(offer_id="O1", name="Offer O1", category="burgers")
    rule_set = rule_set_draft_create(definition=definition, user=None)
    version = rule_set_publish(rule_set=rule_set, author=None, note="a test publish")
    return World(
        run_id=run.pk,
        offer_pk=offer.pk,
        offer_id=offer.offer_id,
        customer_id="C1",
        segment_key=segment.key,
        rule_set_pk=rule_set.pk,
        version=version.number,
    )


def _client(role: str) -> Client:
    from tests.factories import UserFactory

    client = Client()
    if role != ANONYMOUS:
        client.force_login(UserFactory.create(role=None if role == NO_ROLE else role))
    return client


def _check(response: Any, expected: Expected, url: str, world: World) -> str | None:
    """What is wrong with the response, or None."""
    got, where = response.status_code, response.get("Location", "")
    if expected == LOGIN:
        expected = To(re.escape("/login/?" + urlencode({"next": url}, safe="/")))
    if isinstance(expected, To):
        if got == 302 and re.fullmatch(expected.url.format(**asdict(world)), where):
            return None
        return f"expected 302 to {expected.url}, got {got} {where}".rstrip()
    if got == expected:
        return None
    return f"expected {expected}, got {got} {where}".rstrip()


def _url(route: str, world: World) -> str:
    row = POLICY[route]
    path = reverse(route, kwargs=row.kwargs(world))
    return path + (f"?{row.query}" if row.query else "")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "role"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_each_role_gets_the_status_the_policy_table_gives(
    route: str, role: str, world: World
) -> None:
    url = _url(route, world)
    client = _client(role)
    wrong = []
    for method, statuses in POLICY[route].methods().items():
        response = getattr(client, method.lower())(url)
        problem = _check(response, statuses[ROLES.index(role)], url, world)
        if problem:
            wrong.append(f"{method} {url} as {role}: {problem}")

    assert not wrong, "\n".join(wrong)


KEPT_OUT = [
    (name, method)
    for name, row in POLICY.items()
    for method, statuses in row.methods().items()
    if statuses[0] in (LOGIN, 403)
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted({name for name, _ in KEPT_OUT}))
def test_a_user_without_a_role_is_refused_wherever_anonymous_is_kept_out(
    route: str, world: World
) -> None:
    url = _url(route, world)
    client = _client(NO_ROLE)

    statuses = {
        method: getattr(client, method.lower())(url).status_code
        for name, method in KEPT_OUT
        if name == route
    }

    assert statuses == {method: 403 for method in statuses}, url


# What a machine client (a POS, an app) may do besides being refused: (route, method) -> the
# status of an empty request (400: allowed, the body is checked).
MACHINE_ALLOWED = {
    ("api_recommendations", "POST"): 400,
    ("api_feedback_events", "POST"): 400,
    ("api_redemptions", "POST"): 400,
    ("api_recommendations", "GET"): 405,
    ("api_feedback_events", "GET"): 405,
    ("api_redemptions", "GET"): 405,
}


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted({name for name, _ in KEPT_OUT}))
def test_a_machine_client_gets_recommendations_and_posts_feedback_and_nothing_else(
    route: str, world: World
) -> None:
    url = _url(route, world)
    client = _client(MACHINE)

    statuses = {
        method: getattr(client, method.lower())(url).status_code
        for name, method in KEPT_OUT
        if name == route
    }

    expected = {method: MACHINE_ALLOWED.get((route, method), 403) for method in statuses}
    assert statuses == expected, url


@pytest.mark.django_db
def test_vendored_static_files_are_public(client: Client) -> None:
    response = client.get("/static/vendor/htmx-2.0.4/htmx.min.js")

    assert response.status_code == 200
    assert b"htmx" in response.getvalue()


@pytest.mark.django_db
def test_django_admin_is_closed_to_anonymous_and_to_non_staff(client: Client, analyst: Any) -> None:
    response = client.get("/django-admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"] == "/django-admin/login/?next=/django-admin/auth/user/"

    client.force_login(analyst)
    response = client.get("/django-admin/auth/user/")

    assert response.status_code == 302
    assert response["Location"] == "/django-admin/login/?next=/django-admin/auth/user/"


@pytest.mark.django_db
def test_an_api_call_with_a_bad_token_is_refused_with_403(client: Client) -> None:
    """Session authentication comes first and sends no challenge, so DRF answers 403."""
    response = client.get("/api/v1/runs/", HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid token."}


@pytest.mark.django_db
def test_token_authentication_works_for_machine_clients(admin_user: Any, client: Client) -> None:
    from tests.factories import PASSWORD

    token = client.post(
        "/api/v1/auth/token/", {"username": admin_user.username, "password": PASSWORD}
    ).json()["token"]

    response = Client().get("/api/v1/runs/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_forms_require_csrf(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post("/runs/system-check/")

    assert response.status_code == 403
    assert b"CSRF" in response.content
