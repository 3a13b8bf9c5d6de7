"""The runs page's "Reassign offers" form: the Admin chooses the batch's validity window."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deepflame_web.core.services._enqueue", lambda run: None)


def test_the_window_chosen_on_the_runs_page_is_the_runs(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    page = client.get("/runs/").content.decode()
    assert 'name="valid_from"' in page and 'name="valid_days"' in page

    response = client.post(
        "/runs/reassign-offers/", {"valid_from": "2026-12-08", "valid_days": "7"}, follow=True
    )

    params = Run.objects.get().parameters
    assert (params["valid_from"], params["valid_days"]) == ("2026-12-08", 7)
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Offer assignment (5% holdout, valid from 2026-12-08, 7 days)")


def test_an_empty_window_is_from_today_until_the_next_batch(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)

    client.post("/runs/reassign-offers/", {"valid_from": "", "valid_days": ""})

    params = Run.objects.get().parameters
    assert params["valid_from"] == dt.datetime.fromisoformat(params["at"]).date().isoformat()
    assert params["valid_days"] is None


def test_a_bad_window_queues_nothing_and_names_the_field(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)

    response = client.post("/runs/reassign-offers/", {"valid_days": "0"}, follow=True)

    assert not Run.objects.exists()
    [message] = [str(m) for m in response.context["messages"]]
    assert message == ("Nothing was queued: Days: Ensure this value is greater than or equal to 1.")
