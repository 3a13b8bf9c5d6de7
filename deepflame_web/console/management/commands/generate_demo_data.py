from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deepflame_web.console.demo import DemoArgumentError, demo_chain_generate
from deepflame_web.console.demo.generator import DEFAULT_MONTHS, REGIMES


def _iso_date(value: str) -> date:
    return date.fromisoformat(value)


class Command(BaseCommand):
    help = (
        "Write a demo chain's history (restaurant or retail) in the import format "
        "(DATA_CONTRACT.md) to OUT; the hidden personas and effects go to OUT.truth beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="an empty or new folder")
        parser.add_argument(
            "--regime",
            choices=REGIMES,
            default="restaurant",
            help="a quick-service restaurant chain, or a grocer (retail: 9 months by default)",
        )
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, help="6 for restaurant, 9 for retail")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--start", type=_iso_date, default=date(2025, 1, 1), help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = demo_chain_generate(
                out_dir=options["out"],
                customers=options["customers"],
                months=options["months"] or DEFAULT_MONTHS[options["regime"]],
                regime=options["regime"],
                seed=options["seed"],
                start=options["start"],
            )
        except DemoArgumentError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Demo chain written to {summary.out_dir}")
        self.stdout.write(f"Ground truth written to {summary.truth_dir}")
        for table, rows in summary.row_counts().items():
            self.stdout.write(f"  {table:<20} {rows:>12,}")
