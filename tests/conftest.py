import pytest
from django.contrib.auth.models import Group

from deepflame_web.core.access import ROLES
from tests.factories import UserFactory
from tests.worker import purge_broker_once


@pytest.fixture(scope="session", autouse=True)
def clean_broker(django_db_setup: None) -> None:
    purge_broker_once()


@pytest.fixture
def roles(db: None) -> None:
    """The role groups (a transactional test's flush removes the migration's rows)."""
    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def admin_user(roles: None):
    return UserFactory(role="Admin")


@pytest.fixture
def marketer(roles: None):
    return UserFactory(role="Marketer")


@pytest.fixture
def analyst(roles: None):
    return UserFactory(role="Analyst")
