"""Segment profiles a marketer reads: size, means, z-scores, top features, a generated name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segments.spark.combine import CHANNEL_SHARE, DAYPART_SHARE

TOP_FEATURES = 3
HIGH_Z = 0.5
DOMINANT_SHARE = 0.5
LABELS = {
    "visits": "visits",
    "avg_spend": "spend per visit",
    "avg_margin": "gross margin per ticket",
    "recency_days": "days since last visit",
    "tenure_days": "days since first visit",
    "items_per_order": "items per order",
    "weekend_share": "weekend share",
    "offer_rate": "offer redemptions per visit",
}


def feature_label(name: str) -> str:
    if name.startswith(DAYPART_SHARE):
        return f"{_words(name.removeprefix(DAYPART_SHARE))} share"
    if name.startswith(CHANNEL_SHARE):
        return f"{_words(name.removeprefix(CHANNEL_SHARE))} share"
    return LABELS.get(name, _words(name))


def _words(name: str) -> str:
    return name.replace("_", "-" if name == "drive_thru" else " ")


def segment_profiles(
    *, features: pd.DataFrame, names: list[str], labels: np.ndarray, k: int
) -> list[dict[str, Any]]:
    """One profile per centroid position: its size over all periods, means and z-scores."""
    sizes = np.bincount(labels, minlength=k)
    population_mean, population_std = np.zeros(len(names)), np.ones(len(names))
    sums = np.zeros((k, len(names)))
    # Column by column: a copy of all millions of rows at once is the memory peak to avoid.
    for index, name in enumerate(names):
        column = features[name].to_numpy(dtype=np.float64)
        if len(column):
            population_mean[index], population_std[index] = column.mean(), column.std()
        sums[:, index] = np.bincount(labels, weights=column, minlength=k)
    population_std[~(population_std > 1e-12)] = 1.0
    profiles = []
    for position in range(k):
        size = int(sizes[position])
        means = sums[position] / size if size else np.full(len(names), np.nan)
        z = (means - population_mean) / population_std
        order = np.argsort(-np.abs(np.nan_to_num(z)))[:TOP_FEATURES]
        profiles.append(
            {
                "size": size,
                "means": _rounded(dict(zip(names, means, strict=True))),
                "z": _rounded(dict(zip(names, z, strict=True))),
                "top": [
                    {"feature": names[i], "label": feature_label(names[i]), "z": round(z[i], 2)}
                    for i in order
                    if np.isfinite(z[i])
                ],
            }
        )
    return profiles


def _rounded(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (round(float(v), 4) if np.isfinite(v) else None) for k, v in values.items()}


def segment_name(profile: dict[str, Any]) -> str:
    """A short name from the profile, e.g. "Frequent breakfast drive-thru, low spend"."""
    means, z = profile["means"], profile["z"]
    words = []
    visits_z = z.get("visits") or 0.0
    if visits_z >= HIGH_Z:
        words.append("Frequent")
    elif visits_z <= -HIGH_Z:
        words.append("Occasional")
    if (z.get("weekend_share") or 0.0) >= 1.0:
        words.append("weekend")
    words += _dominant(means, DAYPART_SHARE)
    words += _dominant(means, CHANNEL_SHARE)
    if (z.get("offer_rate") or 0.0) >= 1.0:
        words.append("offer-driven")
    spend_z = z.get("avg_spend") or 0.0
    spend = "high spend" if spend_z >= HIGH_Z else "low spend" if spend_z <= -HIGH_Z else ""
    head = " ".join(words) or "Mixed"
    name = f"{head}, {spend}" if spend else head
    return name[0].upper() + name[1:]


def _dominant(means: dict[str, float | None], prefix: str) -> list[str]:
    shares = {k.removeprefix(prefix): v or 0.0 for k, v in means.items() if k.startswith(prefix)}
    if not shares:
        return []
    best = max(shares, key=lambda key: shares[key])
    return [_words(best)] if shares[best] >= DOMINANT_SHARE else []


def segment_description(profile: dict[str, Any]) -> str:
    parts = [
        f"{item['label']} {'above' if item['z'] > 0 else 'below'} average ({item['z']:+.1f} sd)"
        for item in profile["top"]
    ]
    return "; ".join(parts)


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result
