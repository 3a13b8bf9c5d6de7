"""The assignment benchmark's steps that need Django (run by assignment_bench.py in its own
process, with DATABASE_URL and VAR_DIR of the prepared chain); each prints one JSON line.

    python benchmarks/_assign_info.py state          # which preparation steps are done
    python benchmarks/_assign_info.py publish-rules  # the suggested rules, as the demo does
    python benchmarks/_assign_info.py run --id 5     # an assignment run's record and counts
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("state")
    commands.add_parser("publish-rules")
    run = commands.add_parser("run")
    run.add_argument("--id", type=int, required=True)
    args = parser.parse_args()
    import django

    django.setup()
    if args.command == "state":
        result = _state()
    elif args.command == "publish-rules":
        result = _publish_rules()
    else:
        result = _run(args.id)
    print(json.dumps(result, default=str))


def _state() -> dict[str, Any]:
    from deepflame_web.core.models import LakeFile
    from recommender.assignment.state import published_rules
    from recommender.models import AssignmentBatch, EmbeddingSpace, RecommenderModel
    from segments.selectors import segmentation_active

    definition = segmentation_active()
    months = LakeFile.objects.filter(table="orders").values_list("month", flat=True)
    return {
        "imported": LakeFile.objects.exists(),
        "last_month": max(months, default=None),
        "segmented": definition is not None,
        "embedded": EmbeddingSpace.objects.filter(is_active=True).exists(),
        "trained": RecommenderModel.objects.filter(is_active=True).exists(),
        "published": definition is not None and published_rules(definition) is not None,
        "assigned": AssignmentBatch.objects.filter(is_active=True).exists(),
    }


def _publish_rules() -> dict[str, Any]:
    """What `demo_pipeline` does after training: the suggested rules, published as they are."""
    from offers.rules.services import rule_set_draft_create, rule_set_publish
    from offers.rules.suggest import rules_suggest
    from recommender.assignment.state import published_rules
    from segments.selectors import segmentation_active

    definition = segmentation_active()
    if definition is None:
        sys.exit("no segmentation is active")
    if published_rules(definition) is not None:
        return {"published": None}
    rule_set = rule_set_draft_create(
        definition=definition, user=None, document=rules_suggest(definition=definition)
    )
    version = rule_set_publish(
        rule_set=rule_set, author=None, note="Suggested rules, published by the benchmark"
    )
    return {"published": version.number}


def _run(run_id: int) -> dict[str, Any]:
    from deepflame_web.core.models import Run
    from offers.models import Offer
    from recommender.models import AssignmentBatch
    from segments.models import Customer

    run = Run.objects.get(pk=run_id)
    batch = AssignmentBatch.objects.filter(run=run).first()
    seconds = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at and run.started_at
        else None
    )
    return {
        "status": run.status,
        "stage": run.stage,
        "log_tail": run.log_tail,
        "result": run.result,
        "error": run.error.split("\n\nTraceback")[0],
        "run_s": seconds,
        "customers": Customer.objects.count(),
        "offers": Offer.objects.count(),
        "scored_offers": len(batch.catalog.offers) if batch else None,
    }


if __name__ == "__main__":
    main()
