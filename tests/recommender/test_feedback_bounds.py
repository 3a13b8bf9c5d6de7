"""Feedback times are bounded: not before the chain's first order, not ahead of the clock by
more than the allowed skew. A time outside would land in the lake as a month of its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from django.test import Client
from django.utils import timezone

from deepflame_web.core.lake import LakeStage
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from offers.models import Store
from recommender.assignment.feedback import FeedbackInvalid, feedback_record, first_order_at
from recommender.models import FeedbackEvent
from tests.factories import UserFactory
from tests.recommender.assignment_data import World, world_create

pytestmark = pytest.mark.django_db
UTC = dt.UTC
FIRST_ORDER = dt.datetime(2025, 1, 3, 9, 30, tzinfo=UTC)


def orders_in_lake(instants: list[dt.datetime]) -> None:
    """Orders at these instants, written to the lake the way an import commits them."""
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="t")
    table = pa.table(
        {
            "order_id": [f"A{i}" for i in range(len(instants))],
            "ordered_at": pa.array(instants, pa.timestamp("us", tz="UTC")),
            "month": [instant.strftime("%Y-%m") for instant in instants],
        }
    )
    stage = LakeStage(run.pk)
    stage.write(table="orders", data=table)
    LakeFile.objects.bulk_create(stage.files)


@pytest.fixture
def world() -> World:
    Store.objects.create(store_id="NY1", name="NY1", pricing_tier="value", timezone="UTC")
    world = world_create()
    orders_in_lake([dt.datetime(2025, 2, 1, tzinfo=UTC), FIRST_ORDER, dt.datetime(2025, 3, 9)])
    return world


@pytest.fixture
def api(roles: None) -> Client:
    """A machine client (the POS): the role that reports feedback."""
    client = Client()
    client.force_login(UserFactory.create(role="Machine client"))
    return client


def _redemption(redeemed_at: str) -> dict[str, str]:
    return {
        "event_id": "pos-1",
        "customer_id": "C1",
        "offer_id": "O1",
        "redeemed_at": redeemed_at,
        "store_id": "NY1",
    }


def _event(at: str) -> dict[str, str]:
    return {"event_id": "app-1", "kind": "impression", "customer_id": "C1", "offer_id": "O1",
            "at": at}  # fmt: skip


def test_the_first_order_is_read_from_the_lake(world: World) -> None:
    assert first_order_at() == FIRST_ORDER


@pytest.mark.parametrize(
    ("redeemed_at", "says"),
    [
        ("9999-12-31T23:59:59Z", "is in the future"),
        ("2030-01-01T00:00:00Z", "is in the future"),
        ("0001-01-01T00:00:00Z", "is before the chain's first order (2025-01-03T09:30:00Z)"),
        ("0001-01-01T00:30:00+01:00", ""),
        ("2025-01-03T09:29:59Z", "is before the chain's first order"),
    ],
)
def test_a_redemption_out_of_bounds_gets_a_400_naming_redeemed_at(
    world: World, api: Client, redeemed_at: str, says: str
) -> None:
    response = api.post(
        "/api/v1/redemptions/", _redemption(redeemed_at), content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["redeemed_at"]
    assert says in response.json()["redeemed_at"][0]
    assert FeedbackEvent.objects.count() == 0


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59Z", "2030-01-01T00:00:00Z", "0001-01-01"])
def test_an_event_out_of_bounds_gets_a_400_naming_at(world: World, api: Client, at: str) -> None:
    response = api.post("/api/v1/events/", _event(at), content_type="application/json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["at"]
    assert FeedbackEvent.objects.count() == 0


def test_times_within_the_bounds_and_the_skew_are_stored(world: World, api: Client) -> None:
    soon = (timezone.now() + dt.timedelta(minutes=9)).isoformat()

    first = api.post(
        "/api/v1/redemptions/",
        _redemption("2025-01-03T09:30:00Z"),
        content_type="application/json",
    )
    ahead = api.post("/api/v1/events/", _event(soon), content_type="application/json")

    assert (first.status_code, ahead.status_code) == (201, 201), (first.json(), ahead.json())
    assert FeedbackEvent.objects.count() == 2


def test_the_skew_is_a_setting(world: World, settings: Any) -> None:
    settings.FEEDBACK_CLOCK_SKEW_SECONDS = 60

    with pytest.raises(FeedbackInvalid) as refused:
        feedback_record(
            event_id="e1",
            kind="impression",
            customer_id="C1",
            offer_id="O1",
            at=timezone.now() + dt.timedelta(minutes=5),
        )

    assert "at most 1 minute(s) ahead" in refused.value.problems["at"][0]
    assert FeedbackEvent.objects.count() == 0


def test_without_orders_in_the_lake_the_year_one_is_still_refused(api: Client) -> None:
    world_create()

    response = api.post(
        "/api/v1/events/", _event("0001-01-01T00:00:00Z"), content_type="application/json"
    )

    assert response.status_code == 400
    assert "before the earliest time accepted (2000-01-01" in response.json()["at"][0]
