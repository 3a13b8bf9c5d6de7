from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.models import RunStatus
from deepflame_web.core.services import RunAlreadyActive
from segments.services import history_import_execute, history_import_start


class Command(BaseCommand):
    help = "Import a folder in the format of DATA_CONTRACT.md, all or nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder", type=Path)

    def handle(self, *args: Any, folder: Path, **options: Any) -> None:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        try:
            run = history_import_start(folder=folder.resolve(), enqueue=False)
        except RunAlreadyActive as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Import run #{run.pk} of {folder}")
        done = history_import_execute(run_id=run.pk)
        if done is None or done.status != RunStatus.SUCCEEDED:
            error = done.error if done else "the run was taken by another process"
            raise CommandError(error.split("\n\nTraceback")[0])
        for warning in done.result.get("warnings", []):
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        added = done.result["rows_added"]
        for table, rows in done.result["rows_in_files"].items():
            self.stdout.write(
                f"  {table:<18} {rows:>10} rows in file, {added.get(table, 0):>10} new"
            )
        self.stdout.write(self.style.SUCCESS(f"Import run #{run.pk} succeeded."))
