from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.models import RecommenderModel
from recommender.registry import model_activate


class Command(BaseCommand):
    help = "Make a registered model version the active one (promotion or rollback)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("version", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = model_activate(version=options["version"])
        except (RecommenderModel.DoesNotExist, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Model v{model.version} is active."))
