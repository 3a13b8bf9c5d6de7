"""The catalog pages against the test database: reading, searching, validating and saving offers."""

import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from offers import selectors, services
from offers.models import AuditEntry, Offer
from tests.catalog.catalog_data import TODAY, catalog_create, offer_create, png_bytes

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("offers.selectors.today", lambda: TODAY)


@pytest.fixture
def offers(db: None) -> dict[str, Offer]:
    return catalog_create()


def html_of(client: Client, url: str, **headers: Any) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-offer="([^"]+)">', html)


def slot(html: str, name: str) -> str:
    found = re.search(rf'<div class="field-errors[^"]*" id="errors-{name}"[^>]*>(.*?)</div>', html)
    assert found is not None, name
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def new_offer_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "offer_id": "OF-900",
        "name": "Two Tacos Tuesday",
        "description": "Two crunchy tacos for $3 every Tuesday.",
        "category": "tacos",
        "pricing_tiers": "value, core",
        "dayparts": "lunch, 22:00-02:00",
        "channels": "kiosk",
        "item_ids": "BUR01",
        "discount_value": "3.00",
        "valid_from": "2026-04-01",
        "valid_to": "2026-04-30",
    }
    return {**data, **overrides}


def png_upload(name: str = "tacos.png", content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content or png_bytes("#2e86c1", "tacos"), "image/png")


# --- access


def test_anonymous_is_sent_to_login_and_nothing_is_written(client: Client) -> None:
    for url in ("/offers/", "/offers/new/", "/stores/", "/dayparts/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"

    response = client.post("/offers/new/", new_offer_data())

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/offers/new/")
    assert not Offer.objects.exists()


def test_analyst_reads_every_catalog_page_without_edit_links(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)
    pk = offers["late"].pk

    listing = html_of(client, "/offers/")
    detail = html_of(client, f"/offers/{pk}/")
    form = html_of(client, f"/offers/{pk}/edit/")

    assert listed(listing) == ["OF-100", "OF-200", "OF-300", "OF-400"]
    assert 'id="new-offer"' not in listing
    assert 'id="edit-offer"' not in detail and "Midnight Burger Deal" in detail
    assert 'id="read-only"' in form and 'id="offer-form"' not in form
    assert html_of(client, "/stores/").count('class="card tier"') == 3
    assert 'data-daypart="late_night"' in html_of(client, "/dayparts/")


def test_analyst_gets_403_on_every_write_and_nothing_changes(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)
    late = offers["late"]

    create = client.post("/offers/new/", new_offer_data())
    edit = client.post(f"/offers/{late.pk}/edit/", new_offer_data(name="Hijacked"))
    check = client.post(f"/offers/{late.pk}/validate/", new_offer_data())
    check_new = client.post("/offers/new/validate/", new_offer_data())

    assert [r.status_code for r in (create, edit, check, check_new)] == [403, 403, 403, 403]
    assert Offer.objects.count() == 4
    late.refresh_from_db()
    assert late.name == "Midnight Burger Deal"


def test_offer_forms_require_csrf(marketer: Any, offers: dict[str, Offer]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    response = client.post("/offers/new/", new_offer_data())

    assert response.status_code == 403
    assert not Offer.objects.filter(offer_id="OF-900").exists()


# --- list: search, filters, pagination, thumbnails


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=croissant", ["OF-100"]),
        ("q=after+dark", ["OF-200"]),
        ("q=of-3", ["OF-300"]),
        ("category=desserts", ["OF-400"]),
        ("tier=premium", ["OF-100", "OF-200", "OF-400"]),
        ("tier=core", ["OF-100", "OF-300", "OF-400"]),
        ("channel=mobile_app", ["OF-100", "OF-200", "OF-400"]),
        ("channel=kiosk", ["OF-100", "OF-400"]),
        ("daypart=late_night", ["OF-200", "OF-400"]),
        ("daypart=breakfast", ["OF-100", "OF-400"]),
        ("daypart=lunch", ["OF-300", "OF-400"]),
        ("status=active", ["OF-100", "OF-200"]),
        ("status=expired", ["OF-300"]),
        ("status=upcoming", ["OF-400"]),
        ("status=active&on=2026-02-10", ["OF-200", "OF-300"]),
        ("status=active&on=2026-07-01", ["OF-200", "OF-400"]),
        ("tier=premium&daypart=late_night&channel=mobile_app&status=active", ["OF-200"]),
        ("q=nothing-like-this", []),
    ],
)
def test_offer_list_search_and_filters(
    client: Client, analyst: Any, offers: dict[str, Offer], query: str, expected: list[str]
) -> None:
    client.force_login(analyst)

    html = html_of(client, f"/offers/?{query}")

    assert listed(html) == expected
    if not expected:
        assert "No offer matches these filters." in html


def test_offer_list_pages_keep_the_filters(client: Client, analyst: Any) -> None:
    for n in range(60):
        offer_create(offer_id=f"OF-{n:03d}", category="burgers" if n % 2 else "sides")
    client.force_login(analyst)

    first = html_of(client, "/offers/?category=burgers&q=offer")
    second = html_of(client, "/offers/?category=burgers&q=offer&page=2")

    assert "30 offers matching “offer”." in first
    assert listed(first) == [f"OF-{n:03d}" for n in range(1, 49, 2)]
    assert 'href="?category=burgers&amp;q=offer&amp;page=2">Next →</a>' in first
    assert "Page 1 of 2" in first
    assert listed(second) == [f"OF-{n:03d}" for n in range(49, 60, 2)]
    assert 'href="?category=burgers&amp;q=offer&amp;page=1">← Previous</a>' in second


def test_offer_list_htmx_returns_only_the_results(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/offers/?q=burger", headers=HX)

    assert html.lstrip().startswith('<div id="offer-results">')
    assert "<header" not in html and listed(html) == ["OF-200"]
    restore = client.get("/offers/?q=burger", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<header" in restore.content.decode()
    assert "HX-Request" in restore["Vary"]


def test_offer_list_shows_thumbnails_served_to_signed_in_users(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    client.post(
        f"/offers/{offers['late'].pk}/edit/",
        {**new_offer_data(), **_current(offers["late"]), "image": png_upload()},
    )
    late = Offer.objects.get(offer_id="OF-200")

    html = html_of(client, "/offers/")
    thumb_url = f"/offers/{late.pk}/image/?size=thumb&amp;v={late.image_sha256[:12]}"
    thumb = client.get(thumb_url.replace("&amp;", "&"))
    anonymous = Client().get(f"/offers/{late.pk}/image/")

    assert f'src="{thumb_url}"' in html
    assert html.count('class="thumb none"') == 3
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(thumb.streaming_content))) as image:  # type: ignore[attr-defined]
        assert max(image.size) <= 2 * selectors.THUMBNAIL_PX
    assert anonymous.status_code == 302


# --- detail


def test_offer_detail_says_where_it_may_run_in_plain_words(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)

    late = html_of(client, f"/offers/{offers['late'].pk}/")
    croissant = html_of(client, f"/offers/{offers['croissant'].pk}/")
    summer = html_of(client, f"/offers/{offers['summer'].pk}/")

    assert "Only in <strong>premium</strong> (3 stores)." in late
    assert "<strong>Custom window</strong>, 23:00–01:30 store local time" in late
    assert "crosses midnight" in late
    assert "Only Mobile app." in late
    assert "From 1 Jan 2026, with no end date." in late
    assert 'data-item="BUR01"' in late and "Double Burger" in late
    assert re.search(r'data-item="GONE9">.*?not on the menu', late)
    assert "Every pricing tier (6 stores)." in croissant
    assert "<strong>Breakfast</strong>, 05:00–10:30 store local time" in croissant
    assert "crosses midnight" not in croissant
    assert "From 1 Mar 2026 to 31 Mar 2026." in croissant
    assert "Every channel." in summer and "All day, in every daypart." in summer
    assert "(starts in 78 days)" in summer and 'data-status="upcoming"' in summer


def test_missing_offer_is_404(client: Client, analyst: Any) -> None:
    client.force_login(analyst)

    assert client.get("/offers/999/").status_code == 404
    assert client.get("/offers/999/image/").status_code == 404


# --- live validation


def test_live_validation_names_each_problem_without_touching_inputs(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    data = new_offer_data(
        offer_id="OF-100",
        dayparts="lunch, brunch",
        valid_from="2026-05-01",
        valid_to="2026-04-01",
        pricing_tiers="gold",
        channels="kiosk, carrier_pigeon",
        item_ids="BUR01, XX9",
    )

    response = client.post("/offers/new/validate/", data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<input" not in html and "<textarea" not in html
    assert "offer id 'OF-100' is taken by “$3 Croissant Sandwich Meal”" in slot(html, "offer_id")
    assert slot(html, "dayparts").startswith("unknown daypart 'brunch' (known: breakfast")
    assert slot(html, "valid_to") == "valid to (2026-04-01) is before valid from (2026-05-01)"
    assert slot(html, "pricing_tiers") == (
        "no store has pricing tier 'gold' (known: core, premium, value)"
    )
    assert slot(html, "channels").startswith("unknown channel 'carrier_pigeon' (known: counter")
    assert slot(html, "item_ids") == "no menu item has id 'XX9'"
    assert slot(html, "name") == "" and 'id="errors-image"' not in html
    assert 'hx-swap-oob="true"' in html
    assert "To fix: Offer id, Pricing tiers, Dayparts, Channels, Menu items, Valid to." in html
    assert Offer.objects.count() == 4


def test_live_validation_waits_for_empty_fields_and_says_when_all_is_well(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)

    partial = client.post("/offers/new/validate/", {"offer_id": "OF-901", "name": "Half typed"})
    complete = client.post("/offers/new/validate/", new_offer_data())

    assert "No problems so far" in partial.content.decode()
    assert slot(partial.content.decode(), "description") == ""
    assert "No problems so far" in complete.content.decode()


def test_live_validation_rejects_bad_windows_and_bad_numbers(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)

    html = client.post(
        "/offers/new/validate/",
        new_offer_data(dayparts="25:00-02:00, 06:00-06:00", discount_value="-1", valid_to="soon"),
    ).content.decode()

    assert "unknown daypart '25:00-02:00'" in slot(html, "dayparts")
    assert "window '06:00-06:00' starts and ends at the same time" in slot(html, "dayparts")
    assert slot(html, "discount_value") == "the discount cannot be negative"
    assert slot(html, "valid_to") == "Enter a valid date."


def test_live_image_check_rejects_a_file_that_is_not_an_image(
    client: Client, marketer: Any
) -> None:
    client.force_login(marketer)
    fake = SimpleUploadedFile("menu.png", b"not really a png", "image/png")

    bad = client.post("/offers/new/validate/", {"only": "image", "image": fake})
    good = client.post("/offers/new/validate/", {"only": "image", "image": png_upload()})

    assert slot(bad.content.decode(), "image") == ("menu.png is not an image; upload a PNG or JPEG")
    assert 'class="field-errors"' in good.content.decode()
    assert slot(good.content.decode(), "image") == ""


def test_validate_endpoint_is_post_only(client: Client, marketer: Any) -> None:
    client.force_login(marketer)

    assert client.get("/offers/new/validate/").status_code == 405


# --- create and edit


def test_marketer_creates_an_offer_with_an_image(
    client: Client, marketer: Any, offers: dict[str, Offer], settings: Any
) -> None:
    client.force_login(marketer)
    content = png_bytes("#2e86c1", "tacos")
    data = {**new_offer_data(), "image": png_upload(content=content)}

    response = client.post("/offers/new/", data)

    offer = Offer.objects.get(offer_id="OF-900")
    assert response.status_code == 302 and response["Location"] == f"/offers/{offer.pk}/"
    assert offer.name == "Two Tacos Tuesday" and offer.category == "tacos"
    assert offer.pricing_tiers == ["value", "core"]
    assert offer.dayparts == ["lunch", "22:00-02:00"]
    assert offer.channels == ["kiosk"] and offer.item_ids == ["BUR01"]
    assert offer.discount_value == Decimal("3.00")
    assert (offer.valid_from, offer.valid_to) == (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    digest = hashlib.sha256(content).hexdigest()
    assert offer.image_sha256 == digest and offer.image == f"offers/{digest[:16]}.png"
    assert (Path(settings.MEDIA_ROOT) / offer.image).read_bytes() == content
    served = client.get(f"/offers/{offer.pk}/image/")
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == content  # type: ignore[attr-defined]
    assert "Offer OF-900 created." in html_of(client, response["Location"])


def test_create_rejects_a_file_that_is_not_an_image_and_keeps_what_was_typed(
    client: Client, marketer: Any, offers: dict[str, Offer], settings: Any
) -> None:
    client.force_login(marketer)
    fake = SimpleUploadedFile("tacos.jpg", b"GIF89a not a jpeg at all", "image/jpeg")

    response = client.post("/offers/new/", {**new_offer_data(), "image": fake})

    html = response.content.decode()
    assert response.status_code == 200
    assert slot(html, "image") == "tacos.jpg is not an image; upload a PNG or JPEG"
    assert 'value="Two Tacos Tuesday"' in html and 'value="lunch, 22:00-02:00"' in html
    assert "Two crunchy tacos for $3 every Tuesday.</textarea>" in html
    assert "Not saved. To fix: Image." in html
    assert not Offer.objects.filter(offer_id="OF-900").exists()
    assert not (Path(settings.MEDIA_ROOT) / "offers").exists()


def test_create_rejects_a_gif_and_an_oversized_image(
    client: Client, marketer: Any, offers: dict[str, Offer], monkeypatch: pytest.MonkeyPatch
) -> None:
    client.force_login(marketer)
    gif = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(gif, "GIF")
    monkeypatch.setattr("offers.images.IMAGE_MAX_BYTES", 100)

    as_gif = client.post(
        "/offers/new/",
        {**new_offer_data(), "image": SimpleUploadedFile("a.gif", gif.getvalue(), "image/gif")},
    )
    too_big = client.post("/offers/new/", {**new_offer_data(), "image": png_upload()})

    assert slot(as_gif.content.decode(), "image") == "the image is GIF; upload a PNG or JPEG"
    assert "the limit is 0 MiB" in slot(too_big.content.decode(), "image")
    assert not Offer.objects.filter(offer_id="OF-900").exists()


def test_create_rejects_a_truncated_png_and_a_picture_with_too_many_pixels(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    truncated = png_bytes("#2e86c1", "tacos")[:400]
    huge = io.BytesIO()
    Image.new("1", (5000, 4000)).save(huge, "PNG")

    cut = client.post("/offers/new/", {**new_offer_data(), "image": png_upload(content=truncated)})
    too_wide = png_upload(content=huge.getvalue())
    wide = client.post("/offers/new/", {**new_offer_data(), "image": too_wide})

    assert slot(cut.content.decode(), "image") == "tacos.png is not an image; upload a PNG or JPEG"
    assert slot(wide.content.decode(), "image") == (
        "the image is 5000×4000 pixels; the limit is 16 million pixels"
    )
    assert not Offer.objects.filter(offer_id="OF-900").exists()


def test_create_reports_every_missing_field_and_writes_nothing(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)

    html = client.post("/offers/new/", {"category": "tacos"}).content.decode()

    for name in ("offer_id", "name", "description"):
        assert slot(html, name) == "This field is required.", name
    assert 'value="tacos"' in html
    assert Offer.objects.count() == 4


def test_htmx_save_redirects_on_success_and_answers_errors_in_place(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)

    failed = client.post("/offers/new/", new_offer_data(dayparts="brunch"), headers=HX)
    saved = client.post("/offers/new/", new_offer_data(), headers=HX)

    html = failed.content.decode()
    assert failed.status_code == 200 and "<input" not in html
    assert "unknown daypart 'brunch'" in slot(html, "dayparts")
    assert 'id="errors-image"' in html and "Not saved. To fix: Dayparts." in html
    offer = Offer.objects.get(offer_id="OF-900")
    assert saved.status_code == 204 and saved["HX-Redirect"] == f"/offers/{offer.pk}/"
    assert offer.dayparts == ["lunch", "22:00-02:00"]


def _current(offer: Offer) -> dict[str, Any]:
    return {
        "offer_id": offer.offer_id,
        "name": offer.name,
        "description": offer.description,
        "category": offer.category,
        "pricing_tiers": ", ".join(offer.pricing_tiers),
        "dayparts": ", ".join(offer.dayparts),
        "channels": ", ".join(offer.channels),
        "item_ids": ", ".join(offer.item_ids),
        "discount_value": "" if offer.discount_value is None else str(offer.discount_value),
        "valid_from": offer.valid_from.isoformat() if offer.valid_from else "",
        "valid_to": offer.valid_to.isoformat() if offer.valid_to else "",
    }


def test_page_saves_set_tags_and_leave_an_audit_entry(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    late = offers["late"]

    client.post(
        f"/offers/{late.pk}/edit/",
        {**_current(late), "name": "Night Owl", "tags": ["high_margin", "win_back"]},
    )

    late.refresh_from_db()
    assert late.tags == ["high_margin", "win_back"] and late.name == "Night Owl"
    entry = AuditEntry.objects.get(object_type="offer", object_id="OF-200")
    assert entry.action == "offer_update" and entry.user == marketer
    assert (entry.before or {})["name"] == "Midnight Burger Deal"
    assert (entry.after or {})["name"] == "Night Owl"
    detail = html_of(client, f"/offers/{late.pk}/")
    assert '<span class="chip">High margin</span><span class="chip">Win-back</span>' in detail


def test_marketer_edits_an_offer_and_its_id_stays(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    late = offers["late"]
    form = html_of(client, f"/offers/{late.pk}/edit/")
    data = {
        **_current(late),
        "offer_id": "OF-999",
        "name": "Night Owl Burger Deal",
        "dayparts": "late_night",
        "valid_to": "2026-12-31",
    }

    response = client.post(f"/offers/{late.pk}/edit/", data)

    late.refresh_from_db()
    assert 'value="Midnight Burger Deal"' in form
    assert re.search(r'<input type="text" name="offer_id" value="OF-200"[^>]*disabled', form)
    assert response.status_code == 302
    assert late.offer_id == "OF-200" and late.name == "Night Owl Burger Deal"
    assert late.dayparts == ["late_night"] and late.valid_to == dt.date(2026, 12, 31)
    assert late.item_ids == ["BUR01", "SID02", "GONE9"]
    assert not Offer.objects.filter(offer_id="OF-999").exists()


def test_edit_with_an_error_writes_nothing(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    late = offers["late"]

    response = client.post(
        f"/offers/{late.pk}/edit/",
        {**_current(late), "name": "Changed", "valid_from": "2027-01-01", "valid_to": "2026-01-01"},
    )

    assert response.status_code == 200
    assert slot(response.content.decode(), "valid_to").startswith("valid to (2026-01-01) is before")
    late.refresh_from_db()
    assert late.name == "Midnight Burger Deal" and late.valid_to is None


# --- the service


def test_service_names_the_field_and_the_reason_for_every_entry_point(
    offers: dict[str, Offer],
) -> None:
    fields = {
        "offer_id": "OF-300",
        "name": "Copy",
        "description": "x",
        "valid_from": dt.date(2026, 2, 1),
        "valid_to": dt.date(2026, 1, 1),
        "dayparts": ["brunch"],
    }

    with pytest.raises(ValidationError) as raised:
        services.offer_create(fields=fields)

    errors = raised.value.message_dict
    assert set(errors) == {"offer_id", "valid_to", "dayparts"}
    assert Offer.objects.count() == 4


def test_service_calls_the_embedding_hook_only_when_text_or_image_changes(
    offers: dict[str, Offer], monkeypatch: pytest.MonkeyPatch
) -> None:
    changed: list[str] = []
    monkeypatch.setattr(
        "offers.services.offer_content_changed", lambda *, offer: changed.append(offer.offer_id)
    )
    lunch = offers["lunch"]

    services.offer_update(offer=lunch, fields={"valid_to": dt.date(2026, 3, 31)})
    services.offer_update(offer=lunch, fields={"description": "Free large fries upgrade."})
    services.offer_update(offer=lunch, fields={}, image=png_upload())
    services.offer_create(fields={"offer_id": "OF-901", "name": "New", "description": "New."})

    assert changed == ["OF-300", "OF-300", "OF-901"]


def test_marketer_removes_an_image_and_a_new_one_replaces_it(
    client: Client, marketer: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(marketer)
    late = offers["late"]
    url = f"/offers/{late.pk}/edit/"
    client.post(url, {**_current(late), "image": png_upload(content=png_bytes("#c0392b"))})
    late.refresh_from_db()
    first = late.image_sha256
    form = html_of(client, url)

    client.post(url, {**_current(late), "image": png_upload(content=png_bytes("#8e44ad"))})
    late.refresh_from_db()
    second = late.image_sha256
    client.post(url, {**_current(late), "remove_image": "on"})
    late.refresh_from_db()

    assert 'name="remove_image"' in form
    assert first and second and first != second
    assert late.image == "" and late.image_sha256 == ""
    assert client.get(f"/offers/{late.pk}/image/").status_code == 404
    assert 'id="no-image"' in html_of(client, f"/offers/{late.pk}/")


def test_an_image_path_outside_media_root_is_never_served(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    Offer.objects.filter(pk=offers["late"].pk).update(image="../../etc/passwd")
    client.force_login(analyst)

    assert client.get(f"/offers/{offers['late'].pk}/image/").status_code == 404


# --- stores and dayparts


def test_stores_page_groups_stores_by_tier_and_time_zone(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/stores/")

    assert "6 stores · 3 tiers · 3 time zones" in html
    premium = re.search(r'data-tier="premium".*?</section>', html, re.S)
    assert premium is not None
    section = premium.group(0)
    assert "3 stores · 3 offers may run here" in section
    assert "<strong>America/Chicago</strong> · 1 store" in section
    assert "<strong>America/Los_Angeles</strong> · 2 stores" in section
    assert 'data-store="S004"' in section and 'data-store="S001"' not in section
    assert 'href="/offers/?tier=premium"' in section


def test_dayparts_page_shows_windows_and_which_cross_midnight(
    client: Client, analyst: Any, offers: dict[str, Offer]
) -> None:
    client.force_login(analyst)

    html = html_of(client, "/dayparts/")

    rows = dict(re.findall(r'<tr data-daypart="(\w+)">(.*?)</tr>', html, re.S))
    assert list(rows) == ["breakfast", "lunch", "afternoon", "dinner", "late_night"]
    assert "21:00–05:00" in rows["late_night"] and "crosses midnight" in rows["late_night"]
    assert "8 h" in rows["late_night"] and "3 h 30 min" in rows["lunch"]
    assert all("crosses midnight" not in rows[n] for n in rows if n != "late_night")
    assert rows["late_night"].count("<span style=") == 2
    assert '?daypart=late_night">2</a>' in rows["late_night"]
