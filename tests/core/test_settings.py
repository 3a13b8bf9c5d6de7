"""The two runtimes and production safety, checked in fresh processes with real environments."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # each test starts Django in a subprocess

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.base",
    "SECRET_KEY": "x" * 20 + "a-production-grade-secret-key-with-entropy-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "deepflame.example.com",
    "HTTPS": "true",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    dropped = {*PRODUCTION, "DEBUG", "VAR_DIR", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def setting(name: str, env: dict[str, str]) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    done = manage("shell", "-c", code, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_check_deploy_is_clean_with_production_settings() -> None:
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_without_a_secret_key_refuses_to_start() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}

    done = manage("check", env=env)

    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_production_reads_database_broker_spark_lake_and_models_from_the_environment() -> None:
    env = {
        **PRODUCTION,
        "SPARK_MASTER": "spark://spark-master.internal:7077",
        "LAKE_URI": "s3a://chain/lake",
        "MODEL_DIR": "/srv/models",
    }

    assert setting("DATABASES['default']['ENGINE']", env) == "django.db.backends.postgresql"
    assert setting("CELERY_BROKER_URL", env) == "redis://127.0.0.1:6379/0"
    assert setting("SPARK_MASTER", env) == "spark://spark-master.internal:7077"
    assert setting("LAKE_URI", env) == "s3a://chain/lake"
    assert setting("MODEL_DIR", env) == "/srv/models"
    assert setting("CELERY_TASK_ALWAYS_EAGER", env) == "False"


def test_embedded_default_uses_sqlite_a_filesystem_broker_and_local_spark(tmp_path: Path) -> None:
    env = {"SECRET_KEY": "k" * 50, "VAR_DIR": str(tmp_path)}

    assert setting("DATABASES['default']['NAME']", env) == str(tmp_path / "deepflame.sqlite3")
    assert setting("CELERY_BROKER_URL", env) == "filesystem://"
    assert setting("SPARK_MASTER", env) == "local[*]"
    assert setting("LAKE_URI", env) == str(tmp_path / "lake")
    assert setting("CELERY_TASK_ALWAYS_EAGER", env) == "False"


def test_a_bad_boolean_is_named() -> None:
    done = manage("check", env={**PRODUCTION, "HTTPS": "maybe"})

    assert done.returncode != 0
    assert "HTTPS must be true or false, got 'maybe'" in done.stderr
