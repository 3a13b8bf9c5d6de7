"""Ranking metrics on held-out examples: HR@1, HR@3, HR@10 and NDCG@10.

Every method scores all offers of the active embedding space; offers whose valid_from..valid_to
does not hold the example's store-local date are scored -inf first (`Examples.valid`), so no
method gains from recommending an offer that did not exist. Ties are broken by offer order,
the same for every method, so a constant scorer gets no credit from luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("HR@1", "HR@3", "HR@10", "NDCG@10")


def target_ranks(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target: offers scoring higher, plus offers scoring the same
    that come before it."""
    rows = np.arange(len(target))
    mine = scores[rows, target][:, None]
    columns = np.arange(scores.shape[1])[None, :]
    ahead = (scores > mine) | ((scores == mine) & (columns < target[:, None]))
    return ahead.sum(axis=1)


def hit_rate(scores: np.ndarray, target: np.ndarray, *, k: int) -> float:
    if not len(target):
        return 0.0
    return float(np.mean(target_ranks(scores, target) < k))


def ndcg(scores: np.ndarray, target: np.ndarray, *, k: int) -> float:
    """With one relevant offer per example, the ideal DCG is 1."""
    if not len(target):
        return 0.0
    ranks = target_ranks(scores, target)
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def ranking_metrics(scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    ranks = target_ranks(scores, target)
    if not len(ranks):
        return dict.fromkeys(METRICS, 0.0)
    return {
        "HR@1": float(np.mean(ranks < 1)),
        "HR@3": float(np.mean(ranks < 3)),
        "HR@10": float(np.mean(ranks < 10)),
        "NDCG@10": float(np.mean(np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0))),
    }


@dataclass
class MethodResult:
    name: str
    metrics: dict[str, float]
    examples: int


def metrics_table(results: list[MethodResult]) -> str:
    """A plain text table, best HR@3 first, with each method's HR@3 relative to the best
    baseline (every method whose name does not start with 'TxT')."""
    baselines = [r.metrics["HR@3"] for r in results if not r.name.startswith("TxT")]
    reference = max(baselines) if baselines else 0.0
    header = (
        f"{'method':<28}" + "".join(f"{m:>9}" for m in METRICS) + f"{'HR@3 vs best baseline':>24}"
    )
    lines = [header, "-" * len(header)]
    for result in sorted(results, key=lambda r: -r.metrics["HR@3"]):
        relative = f"{(result.metrics['HR@3'] / reference - 1) * 100:+.1f}%" if reference else "n/a"
        lines.append(
            f"{result.name:<28}"
            + "".join(f"{result.metrics[m]:>9.3f}" for m in METRICS)
            + f"{relative:>24}"
        )
    return "\n".join(lines)
