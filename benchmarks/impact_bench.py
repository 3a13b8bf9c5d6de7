"""Expected-impact benchmark: does the preview's holdout estimate cover the true redemption
rate of two rule sets, over 20 seeds?

Uses the demo chain in VAR_DIR (made by `demo_pipeline`, whose generator's ground truth lies
beside its data folder: each customer's persona, with its response to offers and taste per
category) and adds batches and feedback to it, so give it a chain of its own:

    VAR_DIR=var/impact python manage.py migrate
    VAR_DIR=var/impact python manage.py demo_pipeline --epochs 1
    VAR_DIR=var/impact python benchmarks/impact_bench.py --seeds 20

Ground truth: the chance that customer i redeems offer a in a batch's window is the
generator's own chance per visit, min(response(persona) x affinity(persona, category) x
appeal(a), 0.9), with the persona of the customer's latest month and the offer's appeal as
the generator computes it (deeper discounts appeal more), over VISITS eligible visits:
q = 1 - (1 - chance)^VISITS. Nothing of it is an input of the estimator.

Per seed: a real assignment run (the product's batch, --holdout-share of each segment at
random, seeded); each offer shown to a customer is redeemed with its q (landed as the
product's feedback events); then the product's preview of the draft. Rule set A is the one in
force, rule set B the draft: A's slots with goal "revenue" and one offer fewer (at least
one), so every offer B gives is one the holdout could show. The true value of each rule set
is the mean over every customer of the batch of the sum of q over the offers it gives them,
in the context the batch decided them in. The preview's estimate (per customer, all segments)
covers it or not; the figures print per seed, then the coverage of both estimates.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import django
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
django.setup()

from django.utils import timezone  # noqa: E402

from deepflame_web.console.demo.chain import ITEMS, build_offers  # noqa: E402
from offers.models import Offer, RuleSet  # noqa: E402
from offers.rules.services import rule_preview_start, rule_set_draft_update  # noqa: E402
from recommender.assignment import impact  # noqa: E402
from recommender.assignment.batch import assignment_run_execute, assignment_run_start  # noqa: E402
from recommender.assignment.preview import preview_engines, rule_preview_execute  # noqa: E402
from recommender.assignment.receipts import situation_of  # noqa: E402
from recommender.models import (  # noqa: E402
    Assignment,
    AssignmentBatch,
    Decision,
    FeedbackEvent,
    FeedbackKind,
)
from segments.selectors import segmentation_active  # noqa: E402

VISITS = 2
MAX_CHANCE = 0.9


def _truth_folder() -> Path:
    found = sorted((Path(os.environ.get("VAR_DIR", "var")) / "demo").glob("*.truth"))
    if not found:
        raise SystemExit("No generator ground truth under VAR_DIR/demo: run demo_pipeline first.")
    return found[-1]


def redemption_chances() -> dict[tuple[str, str], float]:
    """(customer, offer) -> q, from the generator's truth (see the module's docstring)."""
    folder = _truth_folder()
    params = json.loads((folder / "params.json").read_text())
    personas = pd.read_parquet(folder / "personas.parquet").sort_values("month")
    latest = personas.groupby("customer_id")["persona"].last()
    prices = {item.item_id: item.price for item in ITEMS}
    offers = build_offers(
        dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
    )
    appeal = {
        o.offer_id: 0.7
        + 0.6 * min(o.discount_value / (prices[o.spec.item_ids[0]] * o.spec.quantity) / 0.5, 1.0)
        for o in offers
    }
    category = dict(Offer.objects.values_list("offer_id", "category"))
    chances = {}
    for customer, persona in latest.items():
        spec = params["personas"][persona]
        for offer_id, offer_appeal in appeal.items():
            taste = spec["offer_affinity"].get(category.get(offer_id, ""), 1.0)
            chance = min(spec["offer_response"] * taste * offer_appeal, MAX_CHANCE)
            chances[(str(customer), offer_id)] = 1 - (1 - chance) ** VISITS
    return chances


def draft_b(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for rule in changed["segments"]:
        for slot in rule["slots"]:
            slot["goal"] = "revenue"
            slot["count"] = max(1, int(slot.get("count", 1)) - 1)
    return changed


def assign(seed: int, share: float) -> AssignmentBatch:
    run = assignment_run_start(holdout_share=share, seed=seed, enqueue=False)
    finished = assignment_run_execute(run_id=run.pk)
    assert finished is not None and finished.status == "succeeded", finished and finished.error
    return AssignmentBatch.objects.get(run=run)


def redeem(batch: AssignmentBatch, chances: dict, generator: np.random.Generator) -> int:
    """Each shown offer redeemed with its q, as feedback events inside the batch's window."""
    at = batch.at + dt.timedelta(seconds=1)
    events = []
    shown = Assignment.objects.filter(batch=batch).values_list("customer_id", "offer_id")
    for customer, offer in shown:
        if generator.random() < chances.get((customer, offer), 0.0):
            events.append(
                FeedbackEvent(
                    event_id=f"impact-bench-{batch.pk}-{customer}-{offer}",
                    kind=FeedbackKind.REDEMPTION,
                    customer_id=customer,
                    offer_id=offer,
                    at=at,
                )
            )
    FeedbackEvent.objects.bulk_create(events)
    return len(events)


def true_values(batch: AssignmentBatch, rule_set: RuleSet, chances: dict) -> dict[str, float]:
    """Per rule set, the mean over the batch's customers of the q of the offers it gives."""
    draft, in_force, dayparts = preview_engines(rule_set, rule_set.document)
    situations = [situation_of(d) for d in Decision.objects.filter(batch=batch)]
    values = {}
    for name, engine in (("draft", draft), ("in_force", in_force)):
        outcomes = impact.rule_set_outcomes(engine, situations, dayparts)
        total = sum(
            chances.get((o.situation.customer_id, p.offer_id), 0.0)
            for o in outcomes
            for p in o.picks
        )
        values[name] = total / len(outcomes)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--holdout-share", type=float, default=0.3)
    args = parser.parse_args()
    chances = redemption_chances()
    rule_set = RuleSet.objects.get(definition=segmentation_active())
    published = rule_set.versions.order_by("-number").first()
    if published is None:
        raise SystemExit("No published rules on this chain: run demo_pipeline first.")
    rule_set = rule_set_draft_update(
        rule_set=rule_set,
        document=draft_b(published.document),
        expected_revision=rule_set.revision,
        user=None,
    )
    print(f"chain: {_truth_folder().name}; holdout share {args.holdout_share}; B = A's slots "
          "with goal revenue and one offer fewer")  # fmt: skip
    print(
        "seed | rule set | truth | holdout IPW [95%] | ESS | covers | model scores [95%] | covers"
    )
    covered: dict[str, list[bool]] = {"holdout": [], "model": []}
    for seed in range(args.seeds):
        started = time.monotonic()
        batch = assign(seed, args.holdout_share)
        redeemed = redeem(batch, chances, np.random.default_rng(seed))
        run = rule_preview_start(rule_set=rule_set, user=None, enqueue=False)
        result = rule_preview_execute(run_id=run.pk)
        assert result is not None and result.status == "succeeded", result and result.error
        expected = result.result["impact"]
        truth = true_values(batch, RuleSet.objects.get(pk=rule_set.pk), chances)
        for name in ("in_force", "draft"):
            rows = []
            for method in ("holdout", "model"):
                figure = expected[name]["total"][method]["per_customer"]["redemptions"]
                low, high = figure["low"], figure["high"]
                hit = low is not None and low <= truth[name] <= high
                covered[method].append(hit)
                rows.append(f"{figure['value']:.4f} [{low:.4f}, {high:.4f}] | " + (
                    f"{expected[name]['total']['holdout']['effective_sample_size']:.0f} | "
                    if method == "holdout" else ""
                ) + ("yes" if hit else "NO"))  # fmt: skip
            label = "A (in force)" if name == "in_force" else "B (draft)"
            print(f"{seed} | {label} | {truth[name]:.4f} | " + " | ".join(rows))
        print(
            f"  seed {seed}: {batch.holdout_customers} holdout customers, {redeemed} redemptions "
            f"landed, {time.monotonic() - started:.0f} s"
        )
        FeedbackEvent.objects.filter(event_id__startswith="impact-bench-").delete()
    for method, hits in covered.items():
        print(
            f"coverage, {method}: {sum(hits)} of {len(hits)} intervals hold the truth "
            f"({sum(hits) / len(hits):.0%})"
        )
    print(f"finished {timezone.now():%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
