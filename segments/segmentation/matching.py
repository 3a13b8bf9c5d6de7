"""Refit matching: a new definition's segments take the ids and names of the old ones.

K-Means numbers its clusters arbitrarily; matching new centroids to old ones by the
Hungarian algorithm on centroid distance keeps a segment's identity, so a customer who
"moves" has changed behavior, not label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from segments.segmentation.definition import FrozenTransform

MATCH_LIMIT = 0.5
"""A pair farther apart than half the median distance between the old centroids is not the
same segment: the new one is flagged new and the old one vanished."""


@dataclass(frozen=True)
class Matching:
    pairs: dict[int, int]
    """new centroid position -> old centroid position"""
    new: list[int]
    vanished: list[int]
    distances: dict[int, float]


def centroids_match(
    *,
    old_transform: FrozenTransform,
    old_centroids: np.ndarray,
    new_transform: FrozenTransform,
    new_centroids: np.ndarray,
) -> Matching:
    """Compare both sets of centroids in the old definition's scaled space."""
    new_in_units = pd.DataFrame(
        new_transform.inverse(new_centroids.copy()), columns=new_transform.names
    )
    new_in_old_space = old_transform.apply(new_in_units)
    cost = np.linalg.norm(new_in_old_space[:, None, :] - old_centroids[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    limit = MATCH_LIMIT * _median_gap(old_centroids)
    pairs = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= limit}
    return Matching(
        pairs=pairs,
        new=[i for i in range(len(new_centroids)) if i not in pairs],
        vanished=[j for j in range(len(old_centroids)) if j not in pairs.values()],
        distances={r: float(cost[r, c]) for r, c in pairs.items()},
    )


def _median_gap(centroids: np.ndarray) -> float:
    if len(centroids) < 2:
        return float("inf")
    gaps = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=2)
    return float(np.median(gaps[np.triu_indices(len(centroids), k=1)]))
