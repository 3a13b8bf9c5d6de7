import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand

from deepflame_web.core.commands import run_in_foreground
from recommender.ml.evaluation import MethodResult, metrics_table
from recommender.ml.training import ColdStart
from recommender.services import DEFAULTS, training_run_execute, training_run_start


class Command(BaseCommand):
    help = (
        "Train TxT, TxT without context, the GRU, TxT + count ranker and the baselines on a "
        "time split of the lake, print their metrics on the weeks after the cutoff and "
        "register the model (active if it beats the active one on the same holdout)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--until",
            type=dt.date.fromisoformat,
            default=None,
            help="cutoff date YYYY-MM-DD (default: four weeks before the last redemption)",
        )
        parser.add_argument(
            "--epochs", type=int, default=DEFAULTS["epochs"], help="most epochs per model"
        )
        parser.add_argument("--d-model", type=int, default=DEFAULTS["d_model"])
        parser.add_argument("--layers", type=int, default=DEFAULTS["layers"])
        parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])

    def handle(self, *args: Any, **options: Any) -> None:
        done = run_in_foreground(
            command=self,
            start=lambda: training_run_start(
                until=options["until"],
                epochs=options["epochs"],
                d_model=options["d_model"],
                layers=options["layers"],
                seed=options["seed"],
                enqueue=False,
            ),
            execute=lambda run_id: training_run_execute(
                run_id=run_id, echo=lambda line: self.stdout.write(f"  {line}")
            ),
            announce=lambda run: f"Training run #{run.pk}",
        )
        result = done.result
        self.stdout.write(
            f"Examples: {result['examples']['training']} training, "
            f"{result['examples']['validation']} validation, "
            f"{result['examples']['holdout']} holdout "
            f"({result['data_window']['cutoff'][:10]} to {result['data_window']['end'][:10]})"
        )
        holdout = result["examples"]["holdout"]
        self.stdout.write(
            metrics_table(
                [MethodResult(name, values, holdout) for name, values in result["metrics"].items()]
            )
        )
        self.stdout.write(ColdStart(**result["cold_start"]).text())
        self.stdout.write(self.style.SUCCESS(f"Model v{result['version']}: {result['decision']}"))
