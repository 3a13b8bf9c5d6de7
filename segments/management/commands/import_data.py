from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.commands import run_in_foreground
from segments.ingest.catalog_rows import KEEP_EDITS, OFFER_POLICIES
from segments.services import history_import_execute, history_import_start


class Command(BaseCommand):
    help = "Import a folder in the format of DATA_CONTRACT.md, all or nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--offers",
            choices=OFFER_POLICIES,
            default=KEEP_EDITS,
            help="an offer edited in the product that the extract gives otherwise: keep the "
            "product's edit (keep-edits, the default) or take the extract's (take-extract)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the folder and list what would change; write nothing",
        )

    def handle(self, *args: Any, folder: Path, offers: str, dry_run: bool, **options: Any) -> None:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        done = run_in_foreground(
            command=self,
            start=lambda: history_import_start(
                folder=folder.resolve(), enqueue=False, offers_policy=offers, dry_run=dry_run
            ),
            execute=lambda run_id: history_import_execute(run_id=run_id),
            announce=lambda run: (
                f"Import run #{run.pk} of {folder}"
                + (" (dry run: nothing is written)" if dry_run else "")
            ),
        )
        for warning in done.result.get("warnings", []):
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        differences = done.result.get("offer_differences", [])
        if differences:
            self.stdout.write(f"Offers that differ from the product's ({offers}):")
            for difference in differences:
                self.stdout.write(f"  {difference}")
        added = done.result["rows_added"]
        verb = "would be new" if dry_run else "new"
        for table, rows in done.result["rows_in_files"].items():
            self.stdout.write(
                f"  {table:<18} {rows:>10} rows in file, {added.get(table, 0):>10} {verb}"
            )
        for table, rows in done.result.get("rows_updated", {}).items():
            if rows:
                self.stdout.write(f"  {table:<18} {rows:>10} rows updated")
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"Dry run #{done.pk}: nothing was written."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Import run #{done.pk} succeeded."))
