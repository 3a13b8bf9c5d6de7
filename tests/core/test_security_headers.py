"""Pen-test finding 1 (issue 15): offer images are served only as images, and every page has
a Content-Security-Policy that lets its own scripts run and nothing injected."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.catalog.catalog_data import offer_create, png_bytes

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


def stored_offer(name: str, content: bytes) -> Any:
    path = Path(settings.MEDIA_ROOT) / "offers" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return offer_create(offer_id=f"OF-{name}", image=f"offers/{name}")


def test_a_png_stored_as_html_is_served_as_a_sandboxed_png(client: Client, analyst: Any) -> None:
    # Given a PNG with a script appended, stored under an .html name
    content = png_bytes() + b"<script>alert(document.cookie)</script>"
    offer = stored_offer("X.html", content)
    client.force_login(analyst)

    # When it is fetched
    response = client.get(f"/offers/{offer.pk}/image/")

    # Then the bytes decide the type, and the browser may neither sniff nor run it
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert b"".join(response.streaming_content) == content  # type: ignore[attr-defined]


def test_a_jpeg_is_served_as_image_jpeg(client: Client, analyst: Any) -> None:
    offer = stored_offer("photo.bin", JPEG)
    client.force_login(analyst)

    response = client.get(f"/offers/{offer.pk}/image/")

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("anim.png", b"GIF89a\x01\x00\x01\x00"),
        ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ],
)
def test_anything_but_png_or_jpeg_bytes_is_a_404(
    client: Client, analyst: Any, name: str, content: bytes
) -> None:
    offer = stored_offer(name, content)
    client.force_login(analyst)

    response = client.get(f"/offers/{offer.pk}/image/")

    assert response.status_code == 404
    assert b"alert" not in response.content


def test_pages_carry_a_policy_whose_nonce_is_on_their_inline_scripts(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)

    response = client.get("/runs/")

    policy = response["Content-Security-Policy"]
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", policy)
    assert nonce is not None, policy
    assert "'unsafe-eval'" not in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce.group(1)}"' in attrs for attrs in inline), inline
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers do not run under the CSP"
    assert f'"inlineScriptNonce": "{nonce.group(1)}"' in html


def test_each_response_gets_a_fresh_nonce(client: Client) -> None:
    first = client.get("/login/")["Content-Security-Policy"]
    second = client.get("/login/")["Content-Security-Policy"]
    assert first != second and "script-src 'self' 'nonce-" in first


def test_the_rules_editor_escapes_an_unknown_edit_in_its_400(
    client: Client, admin_user: Any
) -> None:
    from offers.rules.services import rule_set_draft_create
    from tests.segments.segmentation_data import segmentation_create

    definition = segmentation_create(segments={1: ("Regulars", {"visits": 1.0})})
    rule_set_draft_create(definition=definition, user=None)
    client.force_login(admin_user)

    response = client.post("/rules/edit/", {"op": "<img src=x onerror=alert(1)>:1", "segment": "1"})

    assert response.status_code == 400
    assert b"<img" not in response.content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in response.content
