from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from deepflame_web.console.demo.generator import DEFAULT_MONTHS, REGIMES
from deepflame_web.core.lake import lake_row_counts
from deepflame_web.core.models import LakeFile
from offers.rules.services import RulesInvalid, rule_set_draft_create, rule_set_publish
from offers.rules.suggest import rules_suggest
from recommender.assignment.state import published_rules
from recommender.selectors import batch_active, embedding_space_active, model_active
from segments.selectors import segmentation_active


class Command(BaseCommand):
    help = "Generate the demo chain (once) and run the pipeline on it as far as it exists."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--regime", choices=REGIMES, default="restaurant")
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, help="6 for restaurant, 9 for retail")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--epochs", type=int, default=30, help="most epochs of the model")

    def handle(self, *args: Any, **options: Any) -> None:
        if LakeFile.objects.exists():
            self.stdout.write("History is imported already (import_data adds a later extract).")
        else:
            self._generate_and_import(options)
        self.stdout.write(f"Lake rows: {lake_row_counts()}")
        if segmentation_active() is None:
            self.stdout.write("Segmenting customers by behavior (Spark) ...")
            call_command("run_segmentation")
        else:
            self.stdout.write("A segmentation is active already; run_segmentation refreshes it.")
        if embedding_space_active() is None:
            self.stdout.write("Embedding offer texts and images ...")
            call_command("embed_offers")
        if model_active() is None:
            self.stdout.write("Training the TxT recommender and its baselines ...")
            call_command("train_recommender", epochs=options["epochs"])
        else:
            self.stdout.write("A recommender model is active already; train_recommender retrains.")
        if not self._publish_suggested_rules():
            return
        if batch_active() is None:
            self.stdout.write("Assigning offers to every customer ...")
            call_command("assign_offers")
        else:
            self.stdout.write("Offers are assigned already; assign_offers assigns them anew.")

    def _publish_suggested_rules(self) -> bool:
        """The demo's marketer starts from the suggested rules, published as they are;
        False (with the reasons) when they cannot be published."""
        definition = segmentation_active()
        if definition is None:
            return False
        if published_rules(definition) is not None:
            return True
        rule_set = rule_set_draft_create(
            definition=definition, user=None, document=rules_suggest(definition=definition)
        )
        try:
            version = rule_set_publish(
                rule_set=rule_set, author=None, note="Suggested rules, published by the demo"
            )
        except RulesInvalid as exc:
            self.stdout.write(f"The suggested rules were not published: {exc}")
            self.stdout.write("Fix the draft on the Rules page, publish it, then assign_offers.")
            return False
        self.stdout.write(f"Published the suggested offer rules as v{version.number}.")
        return True

    def _generate_and_import(self, options: dict[str, Any]) -> None:
        regime = options["regime"]
        months = options["months"] or DEFAULT_MONTHS[regime]
        start = _history_start(months)
        prefix = "chain" if regime == "restaurant" else f"{regime}-chain"
        name = f"{prefix}-{options['customers']}-{months}-{start:%Y%m}"
        folder = Path(settings.VAR_DIR) / "demo" / name
        if not folder.exists():
            self.stdout.write(f"Generating the demo chain in {folder} ...")
            call_command(
                "generate_demo_data",
                str(folder),
                customers=options["customers"],
                months=months,
                seed=options["seed"],
                start=start,
                regime=regime,
            )
        self.stdout.write("Importing it ...")
        call_command("import_data", str(folder))


def _history_start(months: int) -> date:
    """The first day of the history: it ends with the last whole month, so today's offers
    and dates line up with the data a user sees."""
    today = date.today()
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)
