import getpass
import os
import secrets
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.errors import DomainError
from deepflame_web.core.services import user_create_admin

PASSWORD_VARIABLE = "DEEPFLAME_ADMIN_PASSWORD"


class Command(BaseCommand):
    help = (
        f"Create the first Admin user. The password comes from {PASSWORD_VARIABLE}, else a "
        "prompt (on a terminal), else it is generated and printed once. Never from the "
        "command line, where other users and the shell history see it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="refused: see the command's help")
        parser.add_argument(
            "--reset-password", action="store_true", help="set a new password if the user exists"
        )
        parser.add_argument(
            "--no-input", action="store_true", help="never prompt: generate when not given"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password"] is not None:
            raise CommandError(
                f"Passwords are not taken on the command line: set {PASSWORD_VARIABLE} or "
                "answer the prompt."
            )
        password = os.environ.get(PASSWORD_VARIABLE, "")
        if not password and not options["no_input"] and _interactive():
            password = _prompt()
        generated = not password
        password = password or secrets.token_urlsafe(12)
        try:
            user, created = user_create_admin(
                username=options["username"],
                email=options["email"],
                password=password,
                reset_password=options["reset_password"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        if generated:
            self.stdout.write(f"{verb} Admin user. Login: {user.username}  password: {password}")
        else:
            self.stdout.write(f"{verb} Admin user. Login: {user.username}")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _prompt() -> str:
    """The password typed twice; empty for a generated one."""
    password = getpass.getpass("Password (empty: generate one): ")
    if password and getpass.getpass("Password again: ") != password:
        raise CommandError("The two passwords differ; nothing was changed.")
    return password
