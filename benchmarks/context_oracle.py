"""How much context there is to learn on a generated retail chain, and how much TxT learns.

The retail generator (deepflame_web/console/demo/retail_effects.py) draws, from its seed, a
weekday-or-weekend factor and a store-tier factor per department; a redemption's chance is
multiplied by both. Adding the true factors' logarithm to a model's log-probabilities on the
holdout gives what a model that knew the context effects exactly could reach from it: when
that changes nothing, no model can show a context gain on that chain. Printed per seed beside
the holdout table: each neural model with and without the true factors, and TxT minus TxT
without context, each with its paired bootstrap 95% interval.

    VAR_DIR=var-retail8 python benchmarks/context_oracle.py --seeds 0 1 2

Uses the chain in VAR_DIR as `demo_pipeline --regime retail` left it (the truth folder beside
its files in VAR_DIR/demo); registers nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import django
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
django.setup()

from django.conf import settings  # noqa: E402

from recommender.ml.evaluation import hit_rate_difference, ranking_metrics, target_ranks  # noqa: E402
from recommender.ml.scorers import NEURAL_FILES  # noqa: E402
from recommender.ml.training import TrainingReport, recommender_train  # noqa: E402

WEEKEND_CODES = ("0", "6")
"""The examples' weekday is DuckDB's dayofweek of the local time: Sunday 0 .. Saturday 6."""


def _chain_folder() -> Path:
    demo = Path(settings.VAR_DIR) / "demo"
    truths = sorted(demo.glob("*.truth"))
    if not truths:
        raise SystemExit(f"no generated chain with its truth folder in {demo}")
    return truths[-1].with_suffix("")


def _truth(chain: Path) -> dict:
    params = json.loads((chain.with_suffix(".truth") / "params.json").read_text())
    if params.get("regime") != "retail":
        raise SystemExit(f"{chain.name} is not a retail chain (regime {params.get('regime')})")
    return params["effects"]


def _offer_departments(chain: Path) -> dict[str, str]:
    with (chain / "offers.csv").open(newline="") as file:
        return {row["offer_id"]: row["category"] for row in csv.DictReader(file)}


def true_context_effect(report: TrainingReport, chain: Path) -> np.ndarray:
    """[example, offer]: log of the true weekend and tier factors of each holdout example's
    context for each offer, less each offer's mean over the examples (the offer's average
    effect, which every model has learned as its appeal)."""
    effects, department = _truth(chain), _offer_departments(chain)
    evaluation, vocabulary = report.split.evaluation, report.split.vocabulary
    weekday = np.array(vocabulary.context["weekday"])[evaluation.context_column("weekday")]
    tier = np.array(vocabulary.context["tier"])[evaluation.context_column("tier")]
    weekend = np.isin(weekday, WEEKEND_CODES)
    rows = []
    for offer in vocabulary.offers:
        name = department[offer]
        by_day = effects["weekend_factor"][name]
        by_tier = effects["tier_factor"][name]
        day_factor = np.where(weekend, by_day["weekend"], by_day["weekday"])
        tier_factor = np.array([by_tier.get(t, 1.0) for t in tier])
        rows.append(np.log(day_factor * tier_factor))
    effect = np.stack(rows, axis=1)
    return effect - effect.mean(axis=0, keepdims=True)


def _log_probabilities(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    masked = np.where(valid, scores, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    return masked - top - np.log(np.exp(masked - top).sum(axis=1, keepdims=True))


def _difference_text(ranks: np.ndarray, reference: np.ndarray, k: int = 3) -> str:
    return hit_rate_difference(ranks, reference, k=k).text()


def oracle_lines(report: TrainingReport, chain: Path) -> list[str]:
    evaluation = report.split.evaluation
    effect = true_context_effect(report, chain)
    spread = np.mean([effect[i, evaluation.valid[i]].std() for i in range(len(evaluation))])
    lines = [f"true context effect: {spread:.3f} standard deviation of log chance per example"]
    ranks = {}
    for name in NEURAL_FILES:
        if name not in report.scores:
            continue
        alone = _log_probabilities(report.scores[name], evaluation.valid)
        knowing = np.where(evaluation.valid, alone + effect, -np.inf)
        ranks[name] = target_ranks(alone, evaluation.target)
        before = ranking_metrics(alone, evaluation.target)
        after = ranking_metrics(knowing, evaluation.target)
        gain = _difference_text(target_ranks(knowing, evaluation.target), ranks[name])
        lines.append(
            f"  {name:<22} HR@3 {before['HR@3']:.3f} -> {after['HR@3']:.3f} with the true "
            f"context ({gain}); NDCG@10 {before['NDCG@10']:.3f} -> {after['NDCG@10']:.3f}"
        )
    txt, plain = ranks["TxT"], ranks["TxT without context"]
    lines.append(
        "TxT minus TxT without context: "
        + "; ".join(f"HR@{k} {_difference_text(txt, plain, k)}" for k in (1, 3, 10))
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    chain = _chain_folder()
    print(f"chain {chain.name}: strengths {_truth(chain)['strengths']}")
    for seed in args.seeds:
        report = recommender_train(epochs=args.epochs, seed=seed)
        print(f"\nseed {seed}\n{report.table()}\n{report.cold_start().text()}")
        print("\n".join(oracle_lines(report, chain)), flush=True)


if __name__ == "__main__":
    main()
