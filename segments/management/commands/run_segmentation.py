from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.models import RunStatus
from deepflame_web.core.services import RunAlreadyActive
from segments.segmentation.services import segmentation_run_execute, segmentation_run_start


class Command(BaseCommand):
    help = "Segment customers by behavior: features on Spark, K-Means, stable segment ids."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--k", type=int, default=None, help="segments (default: suggested)")
        parser.add_argument("--refit", action="store_true", help="fit a new definition")
        parser.add_argument(
            "--until", type=date.fromisoformat, default=None, help="last day (YYYY-MM-DD)"
        )
        parser.add_argument(
            "--fit-fraction",
            type=float,
            default=1.0,
            help="share of customers (by id hash) the fit may see; the rest are only assigned",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = segmentation_run_start(
                k=options["k"],
                refit=options["refit"],
                until=options["until"],
                fit_fraction=options["fit_fraction"],
                enqueue=False,
            )
        except (RunAlreadyActive, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Segmentation run #{run.pk}")
        done = segmentation_run_execute(run_id=run.pk)
        if done is None or done.status != RunStatus.SUCCEEDED:
            error = done.error if done else "the run was taken by another process"
            raise CommandError(error.split("\n\nTraceback")[0])
        result = done.result
        self.stdout.write(
            f"  definition v{result['version']}: k={result['k']}, refit={result['refit']}, "
            f"{result['customer_periods']} customer-periods over {len(result['periods'])} periods"
        )
        if result.get("refit_changed") is not None:
            self.stdout.write(f"  moved by the refit alone: {result['refit_changed']}")
        self.stdout.write(f"  timings: {result['timings']}")
        self.stdout.write(self.style.SUCCESS(f"Segmentation run #{run.pk} succeeded."))
