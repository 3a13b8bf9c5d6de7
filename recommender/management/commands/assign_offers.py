import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from deepflame_web.core.commands import run_in_foreground
from recommender.assignment.batch import (
    DEFAULT_HOLDOUT_SHARE,
    assignment_run_execute,
    assignment_run_start,
)
from recommender.assignment.receipts import validity_text


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = (
        "Assign offers to every customer (as of an instant, default now) inside the published "
        "rules, each decided for their usual daypart, store and channel on the first valid "
        "day, with a decision receipt each and a random holdout per segment; the new batch "
        "becomes active when all of it is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            type=_instant,
            default=None,
            help="ISO timestamp, e.g. 2026-06-01T08:00:00+00:00 (no offset: UTC); default now",
        )
        parser.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT_SHARE)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--valid-from",
            type=dt.date.fromisoformat,
            default=None,
            help="first day the offers are for, e.g. 2026-06-01; default the UTC date of --at",
        )
        parser.add_argument(
            "--valid-days",
            type=int,
            default=None,
            help="days the offers are valid; default until the next batch",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        done = run_in_foreground(
            command=self,
            start=lambda: assignment_run_start(
                at=options["at"],
                holdout_share=options["holdout"],
                seed=options["seed"],
                valid_from=options["valid_from"],
                valid_days=options["valid_days"],
                enqueue=False,
            ),
            execute=lambda run_id: assignment_run_execute(
                run_id=run_id, echo=lambda line: self.stdout.write(f"  {line}")
            ),
            announce=lambda run: f"Assignment run #{run.pk} at {run.parameters['at']}",
        )
        result = done.result
        self.stdout.write(
            f"Batch #{result['batch']} active: {result['customers']:,} customers, "
            f"{result['assignments']:,} offers, {result['holdout_customers']:,} in the holdout; "
            f"valid {validity_text(result.get('valid_from'), result.get('valid_days'))}."
        )
