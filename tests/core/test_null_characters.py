"""Found by the API fuzzing (issue 15): a NUL character in the query string reached a
database filter, which PostgreSQL refuses (a 500); it is a 400 before any view runs."""

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["q=%00", "category=a%00b", "x%00=1"])
def test_a_nul_in_the_query_string_is_a_400(admin_user: Any, query: str) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.get(f"/api/v1/offers/?{query}")

    assert response.status_code == 400
    assert response.json() == {"detail": "The query string contains a NUL character (%00)."}


def test_a_query_string_without_one_is_served(admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)

    assert client.get("/api/v1/offers/?q=burger").status_code == 200
