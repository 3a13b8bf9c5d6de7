import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.training import recommender_train
from recommender.training_data import TrainingDataError
from recommender.txt import EpochReport


class Command(BaseCommand):
    help = (
        "Train TxT, TxT without context and the baselines on a time split of the lake, print "
        "their metrics on the weeks after the cutoff and save the models under MODEL_DIR/txt."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--until",
            type=dt.date.fromisoformat,
            default=None,
            help="cutoff date YYYY-MM-DD (default: four weeks before the last redemption)",
        )
        parser.add_argument("--epochs", type=int, default=30, help="most epochs per model")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(method: str, report: EpochReport) -> None:
            checked = (
                ""
                if method.endswith("(refit)")
                else f"validation loss {report.validation_loss:.4f} "
                f"HR@3 {report.validation_hr3:.3f}  "
            )
            self.stdout.write(
                f"  {method:<30} epoch {report.epoch:>2}  loss {report.loss:.4f}  {checked}"
                f"({report.seconds:.1f}s)"
            )

        try:
            report = recommender_train(
                until=options["until"],
                epochs=options["epochs"],
                seed=options["seed"],
                on_epoch=progress,
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        split = report.split
        self.stdout.write(
            f"Examples: {len(split.train)} training, {len(split.validation)} validation "
            f"(from {split.validation_start:%Y-%m-%d}), {len(split.evaluation)} evaluation "
            f"({split.cutoff:%Y-%m-%d} to {split.end:%Y-%m-%d}); "
            f"{len(split.vocabulary.offers)} offers scored"
        )
        self.stdout.write(report.table())
        self.stdout.write(self.style.SUCCESS(f"Models saved under {report.directory}"))
