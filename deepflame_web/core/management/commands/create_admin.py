import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.errors import DomainError
from deepflame_web.core.services import user_create_admin


class Command(BaseCommand):
    help = "Create the first Admin user (prints the password when one is generated)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="default: a generated password, printed once")
        parser.add_argument(
            "--reset-password", action="store_true", help="set a new password if the user exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or secrets.token_urlsafe(12)
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
        self.stdout.write(f"{verb} Admin user. Login: {user.username}  password: {password}")
