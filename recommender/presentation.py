"""A trained model as pages show it: its holdout metrics against the best baseline, its curves,
and whether an Admin chose its scorer over the champion rule's."""

from typing import Any

from recommender.ml.evaluation import DIFFERENCE_KEYS, METRICS, Difference, is_baseline
from recommender.models import RecommenderModel

METHOD_ORDER = (
    "TxT + count ranker",
    "TxT",
    "TxT without context",
    "GRU (no context)",
    "Contextual item-CF",
    "Affinity, then popularity",
    "Purchase affinity",
    "Segment popularity",
    "Global popularity",
)


def _metric_rows(model: RecommenderModel) -> list[dict[str, Any]]:
    baselines = [values["HR@3"] for name, values in model.metrics.items() if is_baseline(name)]
    best = max(baselines) if baselines else 0.0
    rows = []
    for name in sorted(
        model.metrics, key=lambda n: METHOD_ORDER.index(n) if n in METHOD_ORDER else 99
    ):
        values = model.metrics[name]
        rows.append(
            {
                "name": name,
                "serves": name == model.scorer,
                "values": [values.get(metric) for metric in METRICS],
                "vs_best": f"{(values['HR@3'] / best - 1) * 100:+.1f}%" if best else "",
                "difference": _difference_text(values),
            }
        )
    return rows


def _difference_text(values: dict[str, float]) -> str:
    """HR@3 minus the best baseline's with its paired 95% interval, where it was measured."""
    if not all(key in values for key in DIFFERENCE_KEYS):
        return ""
    return Difference(*(values[key] for key in DIFFERENCE_KEYS)).text()


COLD_START_SHOWN = ("TxT", "Purchase affinity")
"""Beside the scorer that serves, on the slice of offers nobody redeemed before the cutoff."""


def _cold_start_rows(model: RecommenderModel) -> list[dict[str, Any]]:
    """HR@3 and HR@10 (None where an older model did not measure it) of the serving scorer,
    then TxT and purchase affinity, on the holdout redemptions of never-redeemed offers."""
    cold = model.cold_start or {}
    if not cold.get("examples"):
        return []
    names = dict.fromkeys([model.scorer, *COLD_START_SHOWN])
    return [
        {
            "name": name,
            "serves": name == model.scorer,
            "hr3": cold["hr3"][name],
            "hr10": cold.get("hr10", {}).get(name),
        }
        for name in names
        if name in cold.get("hr3", {})
    ]


def model_results(model: RecommenderModel, *, choosable: bool = False) -> dict[str, Any]:
    """A trained model's holdout metrics and training curves, as the models page and its
    training run's page show them; `choosable`: an Admin may pick the method it serves here."""
    chosen = bool(model.champion) and model.champion != model.scorer
    return {
        "model": model,
        "chosen_by_admin": chosen,
        "champion_is_baseline": chosen and is_baseline(model.champion),
        "baseline_serves": is_baseline(model.scorer) and not chosen,
        "rows": _metric_rows(model),
        "cold_start_rows": _cold_start_rows(model),
        "metrics": METRICS,
        "curves": {"methods": model.curves},
        "curves_id": f"curves-v{model.version}",
        "choosable": choosable,
    }
