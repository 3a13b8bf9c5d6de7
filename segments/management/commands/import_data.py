from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.commands import run_in_foreground
from segments.services import history_import_execute, history_import_start


class Command(BaseCommand):
    help = "Import a folder in the format of DATA_CONTRACT.md, all or nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder", type=Path)

    def handle(self, *args: Any, folder: Path, **options: Any) -> None:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        done = run_in_foreground(
            command=self,
            start=lambda: history_import_start(folder=folder.resolve(), enqueue=False),
            execute=lambda run_id: history_import_execute(run_id=run_id),
            announce=lambda run: f"Import run #{run.pk} of {folder}",
        )
        for warning in done.result.get("warnings", []):
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        added = done.result["rows_added"]
        for table, rows in done.result["rows_in_files"].items():
            self.stdout.write(
                f"  {table:<18} {rows:>10} rows in file, {added.get(table, 0):>10} new"
            )
        self.stdout.write(self.style.SUCCESS(f"Import run #{done.pk} succeeded."))
