from datetime import date
from typing import Any

from django.core.management.base import BaseCommand

from deepflame_web.core.commands import run_in_foreground
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
        done = run_in_foreground(
            command=self,
            start=lambda: segmentation_run_start(
                k=options["k"],
                refit=options["refit"],
                until=options["until"],
                fit_fraction=options["fit_fraction"],
                enqueue=False,
            ),
            execute=lambda run_id: segmentation_run_execute(run_id=run_id),
            announce=lambda run: f"Segmentation run #{run.pk}",
        )
        result = done.result
        self.stdout.write(
            f"  definition v{result['version']}: k={result['k']}, refit={result['refit']}, "
            f"{result['customer_periods']} customer-periods over {len(result['periods'])} periods"
        )
        if result.get("refit_changed") is not None:
            self.stdout.write(f"  moved by the refit alone: {result['refit_changed']}")
        self.stdout.write(f"  timings: {result['timings']}")
        self.stdout.write(self.style.SUCCESS(f"Segmentation run #{done.pk} succeeded."))
