"""The suite runs on the services it was given: CI sets PostgreSQL and Redis and must not fall
back to the embedded SQLite and filesystem broker without anyone noticing."""

import os

from django.conf import settings
from django.db import connection


def _expected_vendor(url: str) -> str:
    return "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"


def test_the_database_is_the_one_database_url_names() -> None:
    assert connection.vendor == _expected_vendor(os.environ.get("DATABASE_URL", "sqlite://"))


def test_the_broker_is_the_one_celery_broker_url_names() -> None:
    given = os.environ.get("CELERY_BROKER_URL")
    if given:
        assert given == settings.CELERY_BROKER_URL
    else:
        assert settings.CELERY_BROKER_URL.startswith("filesystem://")
