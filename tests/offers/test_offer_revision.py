"""Two people editing one offer: the second save names who saved first instead of silently
overwriting their change (on the edit page and the API); and an offer is re-embedded only
when what the encoders read changed, once per change that no worker has started on."""

from __future__ import annotations

import re
import threading
from html import unescape
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from offers import services
from offers.apis import REVISION_REQUIRED
from offers.models import AuditEntry, Offer
from offers.services import OfferConflict, offer_embedding_started, offer_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(roles: None) -> Any:
    return UserFactory.create(role="Marketer", username="alice")


@pytest.fixture
def bob(roles: None) -> Any:
    return UserFactory.create(role="Marketer", username="bob")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """Re-embedding tasks sent to the broker (after commit), in order."""
    calls: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(
        services.current_app, "send_task", lambda name, args: calls.append((name, args))
    )
    return calls


def _page_data(html: str, offer: Offer, **changes: str) -> dict[str, str]:
    """What the edit page posts: the offer's fields as loaded, the loaded revision, changes."""
    found = re.search(r'name="revision" id="id_revision" value="(\d+)"', html)
    assert found is not None, "the edit page carries the revision it loaded"
    data = {
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
        "revision": found.group(1),
    }
    return {**data, **changes}


def test_the_second_save_on_the_edit_page_names_who_saved_first(
    catalog: dict[str, Offer], alice: Any, bob: Any, sent: list[Any]
) -> None:
    offer = catalog["L1"]
    url = f"/offers/{offer.pk}/edit/"
    as_alice, as_bob = client_for(alice), client_for(bob)
    alice_form = _page_data(as_alice.get(url).content.decode(), offer, name="Alice's name")
    bob_form = _page_data(as_bob.get(url).content.decode(), offer, channels="kiosk")

    first = as_alice.post(url, alice_form)
    second = as_bob.post(url, bob_form)

    assert first.status_code == 302
    assert second.status_code == 200
    page = unescape(second.content.decode())
    assert "Offer L1 was changed by alice at " in page
    assert "(revision 2) after you loaded revision 1. Nothing was saved" in page
    assert 'name="revision" id="id_revision" value="1"' in page
    saved = Offer.objects.get(pk=offer.pk)
    assert (saved.name, saved.channels, saved.revision) == ("Alice's name", [], 2)
    assert saved.updated_by == alice
    assert list(AuditEntry.objects.values_list("username", flat=True)) == ["alice"]


def test_the_second_save_through_the_api_is_a_409_naming_who_saved_first(
    catalog: dict[str, Offer], alice: Any, bob: Any
) -> None:
    url = "/api/v1/offers/B1/"
    loaded = client_for(bob).get(url).json()
    assert (loaded["revision"], loaded["updated_by"]) == (1, None)

    first = client_for(alice).patch(
        url, {"name": "Alice's name", "revision": 1}, content_type="application/json"
    )
    second = client_for(bob).patch(
        url, {"channels": ["kiosk"], "revision": loaded["revision"]}, "application/json"
    )

    assert first.status_code == 200, first.json()
    assert (first.json()["revision"], first.json()["updated_by"]) == (2, "alice")
    assert second.status_code == 409
    body = second.json()
    assert body["detail"].startswith("Offer B1 was changed by alice at ")
    assert (body["revision"], body["updated_by"]) == (2, "alice")
    assert body["offer"]["name"] == "Alice's name"
    saved = Offer.objects.get(offer_id="B1")
    assert (saved.name, saved.channels) == ("Alice's name", [])
    assert AuditEntry.objects.count() == 1


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_api_update_without_the_revision_loaded_is_refused(
    catalog: dict[str, Offer], alice: Any, method: str
) -> None:
    url = "/api/v1/offers/B1/"
    body = {**client_for(alice).get(url).json(), "name": "Alice's name"}
    del body["revision"]

    response = getattr(client_for(alice), method)(url, body, "application/json")

    assert response.status_code == 400
    assert response.json() == {"revision": [REVISION_REQUIRED]}
    assert Offer.objects.get(offer_id="B1").name != "Alice's name"
    assert not AuditEntry.objects.exists()


def test_a_save_that_changes_nothing_keeps_the_revision(
    catalog: dict[str, Offer], alice: Any
) -> None:
    offer = catalog["B1"]

    offer_update(offer=offer, fields={"name": offer.name, "revision": 1}, user=alice)

    assert Offer.objects.get(pk=offer.pk).revision == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite has none)"
)
def test_two_saves_of_the_same_revision_at_the_same_moment_cannot_both_win(
    catalog: dict[str, Offer], alice: Any, bob: Any
) -> None:
    offer = catalog["B1"]
    outcome: list[str] = []

    def bob_saves() -> None:
        try:
            offer_update(offer=offer, fields={"channels": ["kiosk"], "revision": 1}, user=bob)
            outcome.append("saved")
        except OfferConflict as exc:
            outcome.append(str(exc))
        finally:
            connection.close()

    with transaction.atomic():
        offer_update(offer=offer, fields={"name": "Alice's name", "revision": 1}, user=alice)
        racer = threading.Thread(target=bob_saves)
        racer.start()
        racer.join(timeout=1)
        assert racer.is_alive(), "bob's save waits for alice's transaction"
    racer.join(timeout=10)

    assert len(outcome) == 1 and outcome[0].startswith("Offer B1 was changed by alice")
    saved = Offer.objects.get(pk=offer.pk)
    assert (saved.name, saved.channels, saved.revision) == ("Alice's name", [], 2)


def test_only_a_change_of_what_the_encoders_read_queues_a_re_embedding(
    catalog: dict[str, Offer], alice: Any, sent: list[tuple[str, list[int]]]
) -> None:
    offer = catalog["B1"]
    task = ("recommender.tasks.heavy_refresh_offer_embedding", [offer.pk])

    offer_update(offer=offer, fields={"channels": ["kiosk"], "discount_value": 2}, user=alice)
    offer_update(offer=offer, fields={"name": f"  {offer.name}  "}, user=alice)
    assert sent == []

    offer_update(offer=offer, fields={"description": "New text."}, user=alice)
    offer_update(offer=offer, fields={"category": "brunch"}, user=alice)
    offer_update(offer=offer, fields={"name": "Newer name"}, user=alice)
    assert sent == [task]

    offer_embedding_started(offer_pk=offer.pk)
    offer_update(offer=offer, fields={"name": "Newest name"}, user=alice)
    assert sent == [task, task]
