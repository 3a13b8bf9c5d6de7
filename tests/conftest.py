from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from deepflame_web.core.access import ROLES
from tests.factories import UserFactory
from tests.worker import purge_broker_once


@pytest.fixture(scope="session", autouse=True)
def clean_broker(django_db_setup: None) -> None:
    purge_broker_once()


@pytest.fixture(autouse=True)
def isolated_storage(settings: Any, tmp_path: Path) -> None:
    """Each test gets its own lake, models and media folders."""
    settings.LAKE_URI = str(tmp_path / "lake")
    settings.MODEL_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def default_dayparts(request: pytest.FixtureRequest) -> None:
    """The migration's dayparts (a transactional test's flush removes them)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    transactional = marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    from offers.dayparts import DEFAULT_DAYPARTS
    from offers.models import Daypart

    for name, start, end in DEFAULT_DAYPARTS:
        Daypart.objects.get_or_create(name=name, defaults={"start": start, "end": end})


@pytest.fixture
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs are created but their tasks are never sent; the list holds the run ids that would
    have gone to a worker."""
    sent: list[int] = []
    monkeypatch.setattr("deepflame_web.core.services._enqueue", lambda run: sent.append(run.pk))
    return sent


@pytest.fixture
def roles(db: None) -> None:
    """The role groups (a transactional test's flush removes the migration's rows)."""
    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def periodic_schedule(db: None) -> None:
    """The product's periodic tasks (a transactional test's flush removes the migration's)."""
    from deepflame_web.core.schedule import schedule_install

    schedule_install()


@pytest.fixture
def admin_user(roles: None):
    return UserFactory(role="Admin")


@pytest.fixture
def marketer(roles: None):
    return UserFactory(role="Marketer")


@pytest.fixture
def analyst(roles: None):
    return UserFactory(role="Analyst")
