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


BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_CHUNK = 200


@dataclass(frozen=True)
class Difference:
    """A method's HR@k minus a reference's on the same examples, with a 95% interval."""

    value: float
    low: float
    high: float

    def text(self) -> str:
        return f"{self.value:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def hit_rate_difference(
    ranks: np.ndarray,
    reference: np.ndarray,
    *,
    k: int = 3,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> Difference:
    """HR@k of `ranks` minus HR@k of `reference` (both 0-based target ranks of the same
    examples), with a paired bootstrap 95% interval: examples are resampled together, so the
    interval is as narrow as the two methods' agreement allows."""
    gains = (ranks < k).astype(np.float64) - (reference < k).astype(np.float64)
    if not len(gains):
        return Difference(0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, samples, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, samples - start)
        picks = rng.integers(0, len(gains), size=(size, len(gains)))
        means.append(gains[picks].mean(axis=1))
    low, high = np.quantile(np.concatenate(means), [0.025, 0.975])
    return Difference(float(gains.mean()), float(low), float(high))


@dataclass
class MethodResult:
    name: str
    metrics: dict[str, float]
    examples: int
    ranks: np.ndarray | None = None
    """0-based target rank of each evaluation example, for paired comparisons."""


NEURAL_METHODS = ("TxT", "TxT without context", "GRU (no context)", "TxT + count ranker")
"""The trained models; every other method is a simple count baseline (popularity, item-CF,
purchase affinity): what a data scientist tries first, and what a neural model must beat."""


def is_baseline(name: str) -> bool:
    return name not in NEURAL_METHODS


def best_baseline(results: list[MethodResult]) -> MethodResult | None:
    baselines = [r for r in results if is_baseline(r.name)]
    return max(baselines, key=lambda r: r.metrics["HR@3"]) if baselines else None


DIFFERENCE_KEYS = ("HR@3 diff", "HR@3 diff low", "HR@3 diff high")
"""Stored beside each method's metrics: its HR@3 minus the best baseline's, 95% interval."""


def differences_add(results: list[MethodResult]) -> None:
    """Each method's HR@3 difference to the best baseline on the same examples (paired
    bootstrap interval), written into its metrics under DIFFERENCE_KEYS."""
    best = best_baseline(results)
    if best is None or best.ranks is None:
        return
    for result in results:
        if result.ranks is None:
            continue
        difference = hit_rate_difference(result.ranks, best.ranks)
        values = (difference.value, difference.low, difference.high)
        result.metrics.update(zip(DIFFERENCE_KEYS, values, strict=True))


def metrics_table(results: list[MethodResult]) -> str:
    """A plain text table, best HR@3 first, with each method's HR@3 relative to the best
    baseline and, where measured (`differences_add`), the difference with its 95% interval."""
    best = best_baseline(results)
    reference = best.metrics["HR@3"] if best else 0.0
    header = (
        f"{'method':<28}"
        + "".join(f"{m:>9}" for m in METRICS)
        + f"{'HR@3 vs best baseline':>24}"
        + f"{'difference [95% interval]':>30}"
    )
    lines = [header, "-" * len(header)]
    for result in sorted(results, key=lambda r: -r.metrics["HR@3"]):
        relative = f"{(result.metrics['HR@3'] / reference - 1) * 100:+.1f}%" if reference else "n/a"
        paired = (
            Difference(*(result.metrics[key] for key in DIFFERENCE_KEYS)).text()
            if all(key in result.metrics for key in DIFFERENCE_KEYS)
            else ""
        )
        lines.append(
            f"{result.name:<28}"
            + "".join(f"{result.metrics[m]:>9.3f}" for m in METRICS)
            + f"{relative:>24}"
            + f"{paired:>30}"
        )
    if best is not None:
        lines.append(f"(best baseline: {best.name}; intervals: paired bootstrap over examples)")
    return "\n".join(lines)
