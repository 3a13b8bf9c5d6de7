import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.assignment import receipt_queue


class Command(BaseCommand):
    help = (
        "Write the real-time receipts queued in RECEIPT_QUEUE_URL to the database, until "
        "stopped (SIGTERM or Ctrl-C finish the current statement first); --once: what is "
        "queued now, then exit."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not receipt_queue.queue_enabled():
            raise CommandError(
                "Nothing to drain: receipts are queued only with RECEIPT_QUEUE_URL set and a "
                "PostgreSQL database (DATABASE_URL); otherwise each is written in its request."
            )
        if options["once"]:
            written = receipt_queue.receipts_flush()
            self.stdout.write(f"{written} queued receipts written.")
            return
        stopping: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, _frame: stopping.append(number))
        queued = receipt_queue.receipts_queued()
        self.stdout.write(f"Draining {receipt_queue.STREAM} ({queued} queued).")
        written = receipt_queue.drain_forever(lambda: bool(stopping))
        self.stdout.write(f"Stopped: {written} receipts written.")
