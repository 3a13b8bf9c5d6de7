"""Found by the API fuzzing (issue 15): replaying a receipt whose model files are gone raised
FileNotFoundError (a 500); it is a 409 that says which files are missing."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.recommender.assignment_data import decision_create, world_create

pytestmark = pytest.mark.django_db


def test_replaying_a_receipt_whose_model_files_are_gone_is_a_409(admin_user: Any) -> None:
    world = world_create()  # model v1's artifact folder was never written
    decision = decision_create(world, "C1", ["O1"], at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC))
    client = Client()
    client.force_login(admin_user)

    response = client.post(f"/api/v1/receipts/{decision.pk}/replay/")

    assert response.status_code == 409
    assert response.json()["detail"].startswith("The files of model v1 are missing (")
