from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.ml.training import recommender_evaluate
from recommender.ml.training_data import TrainingDataError
from recommender.models import RecommenderModel
from recommender.registry import model_path
from recommender.selectors import model_active


class Command(BaseCommand):
    help = (
        "Print a registered model's metrics on its held-out weeks beside baselines fitted on "
        "the same split (default: the active model)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--model", type=int, default=None, help="model version")

    def handle(self, *args: Any, **options: Any) -> None:
        version = options["model"]
        model = (
            RecommenderModel.objects.filter(version=version).first()
            if version is not None
            else model_active()
        )
        if model is None:
            raise CommandError(
                f"There is no model version {version}."
                if version is not None
                else "No model is active; run train_recommender first."
            )
        try:
            report = recommender_evaluate(directory=model_path(model))
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        split = report.split
        self.stdout.write(
            f"Model v{model.version}{' (active)' if model.is_active else ''}: "
            f"{len(split.evaluation)} holdout examples "
            f"({split.cutoff:%Y-%m-%d} to {split.end:%Y-%m-%d})"
        )
        self.stdout.write(report.table())
        self.stdout.write(report.cold_start().text())
