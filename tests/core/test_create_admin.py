"""Pen-test finding 6 (issue 15): create_admin runs the password validators and never takes
the password from the command line."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def create_admin(*args: str) -> str:
    out = StringIO()
    call_command("create_admin", *args, stdout=out)
    return out.getvalue()


def test_a_password_on_the_command_line_is_refused_and_nothing_is_written(roles: None) -> None:
    with pytest.raises(CommandError, match="not taken on the command line"):
        create_admin("--username", "boss", "--password", "1")

    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("weak", ["1", "password", "boss-boss", "short"])
def test_a_weak_password_from_the_environment_is_refused(
    roles: None, monkeypatch: pytest.MonkeyPatch, weak: str
) -> None:
    monkeypatch.setenv("DEEPFLAME_ADMIN_PASSWORD", weak)

    with pytest.raises(CommandError, match="The password is too weak"):
        create_admin("--username", "boss-boss", "--email", "boss@example.com")

    assert not get_user_model().objects.exists()


def test_a_strong_password_from_the_environment_is_set_and_not_printed(
    roles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPFLAME_ADMIN_PASSWORD", "grilled-onion-ring-47")

    out = create_admin("--username", "boss")

    user = get_user_model().objects.get(username="boss")
    assert user.check_password("grilled-onion-ring-47") and user.is_superuser
    assert out == "Created Admin user. Login: boss\n"


def test_the_prompt_asks_twice(roles: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPFLAME_ADMIN_PASSWORD", raising=False)
    answers = iter(["grilled-onion-ring-47", "grilled-onion-ring-47"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(
        "deepflame_web.core.management.commands.create_admin._interactive", lambda: True
    )

    create_admin("--username", "boss")

    assert get_user_model().objects.get(username="boss").check_password("grilled-onion-ring-47")


def test_reset_password_prints_a_generated_one_as_the_demo_reads_it(
    roles: None, monkeypatch: pytest.MonkeyPatch, admin_user: Any
) -> None:
    monkeypatch.delenv("DEEPFLAME_ADMIN_PASSWORD", raising=False)

    out = create_admin("--username", admin_user.username, "--reset-password", "--no-input")

    prefix = f"Updated Admin user. Login: {admin_user.username}  password: "
    assert out.startswith(prefix)
    admin_user.refresh_from_db()
    assert admin_user.check_password(out.removeprefix(prefix).strip())
