import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.ml.cold_start import cold_start_experiment
from recommender.ml.training_data import TrainingDataError


class Command(BaseCommand):
    help = (
        "Hide a share of the offers from training (as if added after it), train TxT on the "
        "rest and print how well it ranks the hidden offers' holdout redemptions, beside "
        "popularity, contextual item-CF and chance."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--until", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--share", type=float, default=0.2, help="share of offers hidden")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["share"] < 1:
            raise CommandError("--share must be between 0 and 1")
        try:
            result = cold_start_experiment(
                until=options["until"],
                share=options["share"],
                seed=options["seed"],
                epochs=options["epochs"],
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Hidden offers: {', '.join(result.hidden_offers)}")
        self.stdout.write(result.text())
