from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.training import recommender_evaluate
from recommender.training_data import TrainingDataError


class Command(BaseCommand):
    help = "Print the saved models' metrics on their held-out weeks beside the baselines."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = recommender_evaluate()
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        split = report.split
        self.stdout.write(
            f"{len(split.evaluation)} evaluation examples "
            f"({split.cutoff:%Y-%m-%d} to {split.end:%Y-%m-%d})"
        )
        self.stdout.write(report.table())
