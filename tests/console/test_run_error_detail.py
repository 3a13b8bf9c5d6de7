"""Issue 15, lower finding 2: a failed run's error (a traceback, server paths) is shown in
full to Admins only; the other roles read a plain sentence, on the page and in the API."""

from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.selectors import RUN_ERROR_PLAIN

pytestmark = pytest.mark.django_db

DETAIL = (
    "FileNotFoundError: /srv/deepflame/var/uploads/7f3a/events.csv\n\n"
    "Traceback (most recent call last):\n"
    '  File "/srv/deepflame/segments/ingest/importer.py", line 88, in import_run'
)


@pytest.fixture
def failed() -> Run:
    return Run.objects.create(
        kind=RunKind.IMPORT, status=RunStatus.FAILED, task_name="t", error=DETAIL
    )


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_sees_the_whole_error_on_the_page_and_in_the_api(
    failed: Run, admin_user: Any
) -> None:
    client = client_for(admin_user)

    page = client.get(f"/runs/{failed.pk}/").content.decode()
    api = client.get(f"/api/v1/runs/{failed.pk}/").json()

    assert "/srv/deepflame/var/uploads/7f3a/events.csv" in page
    assert "Traceback (most recent call last)" in page
    assert api["error"] == DETAIL


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_other_roles_read_a_plain_message(
    failed: Run, role: str, request: pytest.FixtureRequest
) -> None:
    client = client_for(request.getfixturevalue(role))

    page = client.get(f"/runs/{failed.pk}/").content.decode()
    partial = client.get(f"/runs/{failed.pk}/", HTTP_HX_REQUEST="true").content.decode()
    api = client.get(f"/api/v1/runs/{failed.pk}/").json()
    listed = client.get("/api/v1/runs/").json()["results"]

    for text in (page, partial):
        assert RUN_ERROR_PLAIN in text
        assert "Traceback" not in text and "/srv/deepflame" not in text
    assert api["error"] == RUN_ERROR_PLAIN
    assert [run["error"] for run in listed] == [RUN_ERROR_PLAIN]


def test_a_run_without_an_error_shows_none(admin_user: Any, analyst: Any) -> None:
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="t")

    for user in (admin_user, analyst):
        client = client_for(user)
        assert client.get(f"/api/v1/runs/{run.pk}/").json()["error"] == ""
        assert 'id="run-error"' not in client.get(f"/runs/{run.pk}/").content.decode()
