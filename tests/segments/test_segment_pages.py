"""The segment and customer pages, with a segmentation written through the ORM (no Spark)."""

import json
import re
from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import AuditEntry
from segments.models import Segment, SegmentDefinition
from tests.factories import customers_insert
from tests.segments.segmentation_data import (
    DRIFTERS,
    LEAVERS,
    VANISHED_KEY,
    segment_of,
    segmentation_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def segmentation(db: None) -> SegmentDefinition:
    return segmentation_create()


def html_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def chart_data(html: str) -> Any:
    found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html)
    assert found is not None
    return json.loads(found.group(1))


def cell(html: str, source: int | str, target: int | str) -> int:
    row = re.search(rf'<tr data-from="{source}">(.*?)</tr>', html, re.S)
    assert row is not None, source
    found = re.search(rf'data-to="{target}"[^>]*>(?:<a [^>]*>)?(\d+)(?:</a>)?</td>', row.group(1))
    assert found is not None, (source, target)
    return int(found.group(1))


# --- segments page


def test_segments_page_without_a_segmentation_says_so_and_tells_an_admin_how(
    client: Client, analyst: Any, admin_user: Any
) -> None:
    client.force_login(analyst)
    as_analyst = html_of(client, "/segments/")
    client.force_login(admin_user)
    as_admin = html_of(client, "/segments/")

    assert "No segmentation yet" in as_analyst and "ask one to run it" in as_analyst
    assert "/segments/run/" not in as_analyst
    assert "No segmentation yet" in as_admin
    assert 'href="/segments/run/">Run a segmentation</a>' in as_admin
    assert 'href="/imports/new/">import history</a>' in as_admin
    assert "plotly" not in as_admin


def test_segments_page_shows_the_definition_and_a_card_per_segment(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/")

    assert "Active segmentation v2" in html
    assert '<dd id="definition-k">4</dd>' in html
    assert "4 months: 2025-01 to 2025-04" in html
    assert "fitted anew on 184 customer-periods" in html
    assert "7 customer-periods changed segment because of the refit alone" in html
    assert "Lapsed weekend brunch: no customer matches them after the refit" in html
    assert html.count('class="card segment-card') == 5
    breakfast = re.search(r'data-segment="1".*?</article>', html, re.S)
    assert breakfast is not None
    card = breakfast.group(0)
    assert "Frequent breakfast drive-thru, low spend" in card
    assert "<strong>45</strong> customer-periods" in card and "24% of all" in card
    assert "Drive-thru share</span>" in card and "far above average (+1.8 sd)" in card
    assert "Visits</span>" in card
    new = re.search(r'data-segment="4".*?</article>', html, re.S)
    assert new is not None and '<span class="flag new">new</span>' in new.group(0)
    vanished = re.search(rf'data-segment="{VANISHED_KEY}".*?</article>', html, re.S)
    assert vanished is not None and "flag vanished" in vanished.group(0)


def test_segments_page_charts_sizes_per_period_and_the_k_curve(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/")

    data = chart_data(html)
    assert data["periods"] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert [s["name"] for s in data["series"]] == list(
        Segment.objects.filter(definition=segmentation, is_vanished=False)
        .order_by("key")
        .values_list("name", flat=True)
    )
    totals = [sum(s["customers"][i] for s in data["series"]) for i in range(4)]
    assert totals == [44, 48, 48, 44]
    assert data["k"] == 4 and [p["k"] for p in data["k_curve"]] == list(range(3, 11))
    assert 'data-chart="sizes"' in html and 'data-chart="kCurve"' in html
    assert '<script src="/static/vendor/plotly-2.35.2/plotly.min.js" defer>' in html
    assert Client().get("/static/js/segment_charts.js").status_code == 200


# --- segment detail and rename


def test_segment_detail_compares_features_with_all_customers(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/1/")

    assert 'id="segment-name">Frequent breakfast drive-thru, low spend<' in html
    assert "segment #1 · segmentation v2" in html
    visits = re.search(r'<tr data-feature="visits">(.*?)</tr>', html, re.S)
    assert visits is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", visits.group(1), re.S)
    assert cells[0] == "Visits"
    assert float(cells[1]) == pytest.approx(14.0, abs=0.3)
    assert float(cells[2]) == pytest.approx(6.8, abs=0.3)
    assert cells[3].startswith("+1.")
    assert "above average" in cells[4]
    breakfast = re.search(r'<tr data-feature="daypart_share:breakfast">(.*?)</tr>', html, re.S)
    assert breakfast is not None and "70%" in breakfast.group(1)
    chart = chart_data(html)
    assert chart["periods"] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert chart["customers"][0] == 11
    assert [f["label"] for f in chart["features"]] == [
        "drive-thru share",
        "breakfast share",
        "visits",
    ]
    assert len(chart["features"][0]["population"]) == 4


def test_analyst_sees_no_rename_form_and_cannot_post_one(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/1/")
    response = client.post("/segments/1/", {"name": "Hijacked"})

    assert 'id="rename-form"' not in html and "your role reads them" in html
    assert response.status_code == 403
    assert Segment.objects.get(definition=segmentation, key=1).name == (
        "Frequent breakfast drive-thru, low spend"
    )


def test_marketer_renames_a_segment_and_it_keeps_its_key(
    client: Client, marketer: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(marketer)
    assert 'id="rename-form"' in html_of(client, "/segments/1/")
    placed_before = Segment.objects.get(definition=segmentation, key=1).current.count()

    response = client.post(
        "/segments/1/",
        {"name": "  Morning commuters ", "description": "Coffee and a muffin, on the way."},
        follow=True,
    )

    assert response.redirect_chain == [("/segments/1/", 302)]
    html = response.content.decode()
    assert "Segment #1 renamed: Frequent breakfast drive-thru, low spend → Morning commuters." in (
        html
    )
    renamed = Segment.objects.get(definition=segmentation, key=1)
    assert (renamed.name, renamed.description) == (
        "Morning commuters",
        "Coffee and a muffin, on the way.",
    )
    assert renamed.current.count() == placed_before > 0
    assert segment_of(segmentation, "C001", "2025-01").name == "Morning commuters"
    entry = AuditEntry.objects.get(action="segment_rename")
    assert (entry.username, entry.object_repr) == (marketer.username, "Morning commuters (#1)")
    assert entry.before == {
        "name": "Frequent breakfast drive-thru, low spend",
        "description": entry.before["description"] if entry.before else None,
    }
    assert entry.after == {"name": "Morning commuters", "description": renamed.description}


def test_a_name_another_segment_has_is_refused_and_nothing_changes(
    client: Client, admin_user: Any, segmentation: SegmentDefinition
) -> None:
    other = Segment.objects.get(definition=segmentation, key=2)
    client.force_login(admin_user)

    response = client.post("/segments/1/", {"name": other.name.upper()})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="name-error"' in html
    assert "Segment #2 of this segmentation is already called" in html
    assert Segment.objects.get(definition=segmentation, key=1).name == (
        "Frequent breakfast drive-thru, low spend"
    )


def test_an_empty_name_is_refused(
    client: Client, marketer: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(marketer)

    response = client.post("/segments/1/", {"name": "   "})

    assert "This field is required." in response.content.decode()
    assert Segment.objects.get(definition=segmentation, key=1).name == (
        "Frequent breakfast drive-thru, low spend"
    )


def test_rename_needs_the_csrf_token(marketer: Any, segmentation: SegmentDefinition) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    html = html_of(client, "/segments/1/")
    refused = client.post("/segments/1/", {"name": "No token"})

    assert 'name="csrfmiddlewaretoken"' in html
    assert refused.status_code == 403
    assert Segment.objects.get(definition=segmentation, key=1).name != "No token"


def test_unknown_segment_is_a_404_page(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    response = client.get("/segments/99/")

    assert response.status_code == 404
    assert "There is nothing at this address" in response.content.decode()


# --- movements


def test_movements_default_to_the_last_two_periods(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/")

    assert "From 2025-03 (rows) to 2025-04 (columns)" in html
    assert "48 customers active in either month; 6" in html
    assert (cell(html, 1, 2), cell(html, 2, 3), cell(html, 3, 4), cell(html, 4, 1)) == (2, 2, 1, 1)
    assert cell(html, 1, 1) == 12 - 2 - 1
    for key in (1, 2, 3, 4):
        assert cell(html, key, "none") == 1
    assert cell(html, "none", 1) == 0
    assert "not active" in html
    movers = re.findall(r'<tr data-customer="(C\d+)">', html)
    assert movers == DRIFTERS
    assert '<a href="/customers/C001/">C001</a>' in html
    assert not set(LEAVERS) & set(movers)


def test_movements_between_chosen_periods_count_newcomers(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/?from=2025-01&to=2025-02")

    assert "From 2025-01 (rows) to 2025-02 (columns)" in html
    assert [cell(html, "none", key) for key in (1, 2, 3, 4)] == [1, 1, 1, 1]
    assert "Nobody active in both months changed segment." in html


def test_movements_with_an_unknown_period_say_so_and_show_the_last_two(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/segments/movements/?from=2030-01&to=2025-04")

    assert "Pick periods of this segmentation (2025-01 to 2025-04)" in html
    assert "From 2025-03 (rows) to 2025-04 (columns)" in html


def test_movements_without_a_segmentation_show_the_empty_state(
    client: Client, analyst: Any
) -> None:
    client.force_login(analyst)

    assert "No segmentation yet" in html_of(client, "/segments/movements/")


# --- run a segmentation


def test_admin_starts_a_segmentation_run_and_lands_on_its_page(
    client: Client, admin_user: Any, no_enqueue: None
) -> None:
    client.force_login(admin_user)
    assert 'name="k"' in html_of(client, "/segments/run/")

    response = client.post("/segments/run/", {"k": "5", "refit": "on", "until": "2025-05-31"})

    run = Run.objects.get(kind=RunKind.SEGMENTATION)
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.status == RunStatus.QUEUED and run.started_by == admin_user
    assert (run.parameters["k"], run.parameters["refit"], run.parameters["until"]) == (
        5,
        True,
        "2025-05-31",
    )


def test_empty_fields_start_a_run_with_the_defaults(
    client: Client, admin_user: Any, no_enqueue: None
) -> None:
    client.force_login(admin_user)

    client.post("/segments/run/", {"k": "", "until": ""})

    run = Run.objects.get(kind=RunKind.SEGMENTATION)
    assert (run.parameters["k"], run.parameters["refit"], run.parameters["until"]) == (
        None,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"k": "1"}, "Number of segments (K): Ensure this value is greater than or equal to 2."),
        ({"k": "31"}, "Number of segments (K): Ensure this value is less than or equal to 30."),
        ({"k": "many"}, "Number of segments (K): Enter a whole number."),
        ({"until": "31/05/2025"}, "Last day: Enter a valid date."),
    ],
)
def test_bad_run_parameters_are_named_and_nothing_starts(
    client: Client, admin_user: Any, no_enqueue: None, data: dict[str, str], message: str
) -> None:
    client.force_login(admin_user)

    response = client.post("/segments/run/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Run.objects.exists()


def test_a_second_run_while_one_is_active_is_refused_with_a_link_to_it(
    client: Client, admin_user: Any, no_enqueue: None
) -> None:
    active = Run.objects.create(
        kind=RunKind.SEGMENTATION, task_name="t", status=RunStatus.RUNNING, stage="features"
    )
    client.force_login(admin_user)

    response = client.post("/segments/run/", {"k": "4"})

    html = response.content.decode()
    assert response.status_code == 200
    assert f"A segmentation run is already running (run #{active.pk}" in html
    assert f'<a href="/runs/{active.pk}/">Open run #{active.pk}</a>' in html
    assert Run.objects.count() == 1


@pytest.mark.parametrize("role", ["analyst", "marketer"])
def test_only_admins_open_the_run_form(
    client: Client, role: str, request: pytest.FixtureRequest, no_enqueue: None
) -> None:
    client.force_login(request.getfixturevalue(role))

    assert client.get("/segments/run/").status_code == 403
    assert client.post("/segments/run/", {"k": "4"}).status_code == 403
    assert not Run.objects.exists()


# --- customers


def test_customer_search_by_id_prefix(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/customers/?q=C00")

    assert re.findall(r'<tr data-customer="(C\d+)">', html) == [f"C00{n}" for n in range(1, 10)]
    assert "9 customers whose id starts with “C00”" in html
    first = re.search(r'<tr data-customer="C001">(.*?)</tr>', html, re.S)
    assert first is not None and "2025-04" in first.group(1)
    assert 'href="/segments/2/"' in first.group(1)


def test_customer_search_pages_through_every_customer(
    client: Client, analyst: Any, segmentation: SegmentDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("deepflame_web.console.views.CUSTOMERS_PER_PAGE", 20)
    client.force_login(analyst)

    html = html_of(client, "/customers/?page=2")

    assert re.findall(r'<tr data-customer="(C\d+)">', html) == [f"C0{n}" for n in range(21, 41)]
    assert "Page 2 of 3" in html and "48 customers." in html
    assert 'href="?q=&amp;page=3"' in html


def test_a_prefix_matching_more_than_the_counted_cap_says_more_than(
    client: Client, analyst: Any, segmentation: SegmentDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("deepflame_web.console.views.CUSTOMERS_COUNTED", 5)
    client.force_login(analyst)

    html = html_of(client, "/customers/?q=C00")

    assert "More than 5 customers whose id starts with “C00”" in html
    assert re.findall(r'<tr data-customer="(C\d+)">', html)[:2] == ["C001", "C002"]


def test_customer_search_without_a_match_says_so(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    assert "No customer id starts with “X9”." in html_of(client, "/customers/?q=X9")


def test_customer_page_shows_attributes_and_the_trajectory(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/customers/C001/")

    assert '<dd id="joined-at">2024-01-01</dd>' in html
    assert "kept, never used as a feature" in html
    assert (
        "<dt>home_zip</dt><dd>60601</dd>" in html and "<dt>loyalty_tier</dt><dd>gold</dd>" in html
    )
    assert re.findall(r'<tr data-period="(\d{4}-\d\d)">', html) == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
    ]
    march = re.search(r'<tr data-period="2025-03">(.*?)</tr>', html, re.S)
    april = re.search(r'<tr data-period="2025-04">(.*?)</tr>', html, re.S)
    assert march is not None and april is not None
    assert 'href="/segments/1/"' in march.group(1) and "Frequent breakfast drive-thru" in (
        march.group(1)
    )
    assert 'href="/segments/2/"' in april.group(1)
    assert "far above average" in march.group(1) and " sd)" in march.group(1)
    assert re.search(r'<td class="num">\d+\.\d\d</td>', march.group(1))


def test_customer_page_before_any_segmentation(client: Client, analyst: Any) -> None:
    customers_insert({"C900": {"attributes": {"loyalty_tier": "gold"}}})
    client.force_login(analyst)

    html = html_of(client, "/customers/C900/")

    assert "<dt>loyalty_tier</dt><dd>gold</dd>" in html
    assert '<dd id="joined-at">—</dd>' in html
    assert "No segmentation yet, so no segments to show." in html


def test_a_customer_only_active_later_shows_only_those_months(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    html = html_of(client, f"/customers/{LEAVERS[0]}/")

    assert re.findall(r'<tr data-period="(\d{4}-\d\d)">', html) == ["2025-01", "2025-02", "2025-03"]


def test_unknown_customer_is_a_404_page(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    response = client.get("/customers/NOPE/")

    assert response.status_code == 404
    assert "There is nothing at this address" in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    for url in ("/segments/", "/segments/1/", "/segments/movements/", "/customers/C001/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"


def test_the_nav_links_to_segments_and_customers(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    html = html_of(client, "/")

    assert '<a href="/segments/">Segments</a>' in html
    assert '<a href="/customers/">Customers</a>' in html


# --- read API


def test_segments_api_lists_the_active_segments(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    data = client.get("/api/v1/segments/").json()

    assert (data["version"], data["k"], data["periods"][-1]) == (2, 4, "2025-04")
    assert [s["key"] for s in data["segments"]] == [1, 2, 3, 4, VANISHED_KEY]
    first = data["segments"][0]
    assert first["size"] == 45 and first["top"][0]["label"] == "drive-thru share"


def test_trajectory_api_gives_the_segment_per_period(
    client: Client, analyst: Any, segmentation: SegmentDefinition
) -> None:
    client.force_login(analyst)

    data = client.get("/api/v1/customers/C001/trajectory/").json()
    missing = client.get("/api/v1/customers/NOPE/trajectory/")

    assert [(s["period"], s["segment_key"]) for s in data["trajectory"]] == [
        ("2025-01", 1),
        ("2025-02", 1),
        ("2025-03", 1),
        ("2025-04", 2),
    ]
    assert data["trajectory"][0]["features"]["visits"] >= 10
    assert missing.status_code == 404


def test_segments_api_before_any_segmentation(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    assert client.get("/api/v1/segments/").json() == {
        "version": None,
        "k": None,
        "periods": [],
        "segments": [],
    }


def test_run_form_date_field_is_a_date_picker(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)

    html = html_of(client, "/segments/run/")

    assert 'type="date" name="until"' in html


def test_a_segmentation_runs_page_shows_the_definition_it_made_and_its_k_curve(
    client: Client, admin_user: Any
) -> None:
    definition = segmentation_create()
    client.force_login(admin_user)

    response = client.get(f"/runs/{definition.run_id}/")

    html = response.content.decode()
    assert f"Segmentation v{definition.version}" in html
    assert f"K = {definition.k} over {len(definition.periods)} periods" in html
    chart = response.context["outputs"]["k_chart"]
    assert chart == {"k_curve": definition.k_curve, "k": definition.k}
    assert 'data-chart="kCurve"' in html and 'id="run-k-curve"' in html
