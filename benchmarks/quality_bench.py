"""Recommendation quality on a prepared chain: every method of a training run over several
seeds, on the holdout weeks after the cutoff, beside the simple baselines.

Uses the chain in VAR_DIR as it is (imported, segmented, offers embedded: what `make demo`
leaves in var/); registers nothing. For each seed the whole `recommender_train` runs (the
count baselines do not depend on the seed; the neural models do). It prints, per method, the
metrics' mean and spread (min..max) over the seeds, and each method's HR@3 difference to the
best baseline with its paired bootstrap 95% interval, per seed. Candidates are the offers the
engine could give in each example's context; the date-only variant follows.

    VAR_DIR=var python benchmarks/quality_bench.py --seeds 0 1 2 --epochs 30

The cold-start slice (holdout redemptions of offers nobody redeemed before the cutoff) follows,
per seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import django
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
django.setup()

from recommender.ml.evaluation import (  # noqa: E402
    METRICS,
    MethodResult,
    best_baseline,
)
from recommender.ml.training import recommender_train  # noqa: E402
from recommender.registry import champion_choose  # noqa: E402


def _metric(run: list[MethodResult], name: str, metric: str) -> float:
    return next(r for r in run if r.name == name).metrics[metric]


def _summary(runs: list[list[MethodResult]]) -> str:
    names = [r.name for r in runs[0]]
    header = f"{'method':<28}" + "".join(f"{m:>22}" for m in METRICS)
    lines = [header, "-" * len(header)]
    for name in names:
        cells = []
        for metric in METRICS:
            values = np.array(
                [next(r for r in run if r.name == name).metrics[metric] for run in runs]
            )
            cells.append(f"{values.mean():.3f} ({values.min():.3f}..{values.max():.3f})")
        lines.append(f"{name:<28}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def _differences(runs: list[list[MethodResult]], seeds: list[int]) -> str:
    lines = []
    for seed, run in zip(seeds, runs, strict=True):
        best = best_baseline(run)
        assert best is not None
        reference = best.metrics["HR@3"]
        lines.append(
            f"seed {seed}: HR@3 minus the best baseline ({best.name}, {reference:.3f}), "
            "95% interval, relative"
        )
        for result in run:
            values = [
                result.metrics.get(k) for k in ("HR@3 diff", "HR@3 diff low", "HR@3 diff high")
            ]
            if None not in values:
                relative = (result.metrics["HR@3"] / reference - 1) * 100 if reference else 0.0
                lines.append(
                    f"  {result.name:<28}{values[0]:+.3f} [{values[1]:+.3f}, {values[2]:+.3f}]"
                    f"  {relative:+.1f}%"
                )
        lines.append(f"  serves: {champion_choose(run).text}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--until", type=dt.date.fromisoformat, default=None, help="cutoff date YYYY-MM-DD"
    )
    args = parser.parse_args()
    runs, dated, cold = [], [], []
    for seed in args.seeds:
        report = recommender_train(until=args.until, epochs=args.epochs, seed=seed)
        runs.append(report.results)
        dated.append(report.date_only_results())
        cold.append(report.cold_start())
        print(f"seed {seed} done: {len(report.split.evaluation)} holdout examples", flush=True)
    print(f"\nCandidates: what the engine could give in each example's context; seeds {args.seeds}")
    print(_summary(runs))
    print()
    print(_differences(runs, args.seeds))
    if all(dated):
        print("\nThe same with every offer valid on the date a candidate:")
        print(_summary(dated))
        print()
        print(_differences(dated, args.seeds))
    print()
    for seed, slice_ in zip(args.seeds, cold, strict=True):
        print(f"seed {seed}: {slice_.text()}")


if __name__ == "__main__":
    main()
