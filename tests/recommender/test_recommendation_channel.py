"""Issue 15, lower finding 4: the recommendations API refuses a channel the chain does not
have, naming it and listing the known ones, instead of answering as if it were real."""

from typing import Any

import pytest
from django.test import Client

from offers.selectors import DEFAULT_CHANNELS
from recommender.models import Decision
from tests.offers.factories import OfferFactory

pytestmark = pytest.mark.django_db

REQUEST = {"store_id": "S1", "at": "2026-03-01T08:15:00+00:00"}


@pytest.fixture
def client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_an_unknown_channel_is_a_400_naming_it_and_the_known_ones(client: Client) -> None:
    OfferFactory(offer_id="C1", channels=["curbside"])

    response = client.post(
        "/api/v1/recommendations/",
        {**REQUEST, "channel": "teleport"},
        content_type="application/json",
    )

    assert response.status_code == 400
    known = ", ".join(sorted({*DEFAULT_CHANNELS, "curbside"}))
    assert response.json()["channel"] == [f'Unknown channel "teleport"; known channels: {known}.']
    assert not Decision.objects.exists()


def test_a_known_channel_passes_the_check(client: Client) -> None:
    response = client.post(
        "/api/v1/recommendations/",
        {**REQUEST, "channel": "drive_thru"},
        content_type="application/json",
    )

    assert "channel" not in response.json()
