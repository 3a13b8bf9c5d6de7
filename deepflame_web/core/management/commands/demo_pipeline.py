from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from recommender.models import EmbeddingSpace
from segments.lake import lake_row_counts
from segments.selectors import segmentation_active


class Command(BaseCommand):
    help = "Generate the demo chain (once) and run the pipeline on it as far as it exists."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, default=6)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        folder = (
            Path(settings.VAR_DIR) / "demo" / f"chain-{options['customers']}-{options['months']}"
        )
        if not folder.exists():
            self.stdout.write(f"Generating the demo chain in {folder} ...")
            call_command(
                "generate_demo_data",
                str(folder),
                customers=options["customers"],
                months=options["months"],
                seed=options["seed"],
                start=date(2025, 1, 1),
            )
        self.stdout.write("Importing it (a no-op when it was imported before) ...")
        call_command("import_data", str(folder))
        self.stdout.write(f"Lake rows: {lake_row_counts()}")
        if segmentation_active() is None:
            self.stdout.write("Segmenting customers by behavior (Spark) ...")
            call_command("run_segmentation")
        else:
            self.stdout.write("A segmentation is active already; run_segmentation refreshes it.")
        if not EmbeddingSpace.objects.filter(is_active=True).exists():
            self.stdout.write("Embedding offer texts and images ...")
            call_command("embed_offers")
