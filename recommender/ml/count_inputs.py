"""Training's count inputs, built a batch of examples at a time.

What TxT's scoring head and the count ranker read per (example, offer) -- purchase
affinities, popularities, the offer's lifecycle (recommender.ml.affinity) -- is dense: held
whole, 1M customers' 1.8M examples at 981 offers would take 157 GB. It is made of small
things: each example's sparse long-horizon purchases, the offers' incidence with items, the
redemption counts as they stood on each day, the offers' dates. `CountInputs` keeps those and
builds the dense rows of a batch when training or scoring reads them, as serving builds them
for a slice of situations (recommender.assignment.engine.count_inputs), so memory grows with
the examples' purchases, not with examples x offers; a training run holds them built whole
only when they fit HELD_BYTES.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from recommender.ml.affinity import (
    AFFINITY_FEATURES,
    COUNT_FEATURES,
    LIFECYCLE_FEATURES,
    LifecycleCounts,
    OfferIncidence,
    PopularityCounts,
    Purchases,
    affinity_features,
)

HELD_BYTES = 2 << 30
"""The most a training run holds of built count inputs (2 GiB: the real grocery history's
1,273 examples at 981 offers take 0.1 GB; 1M customers' examples at 60 offers 9.6 GB, which
are built per batch instead)."""

MODEL_WIDTHS = (0, AFFINITY_FEATURES, COUNT_FEATURES, COUNT_FEATURES + LIFECYCLE_FEATURES)
"""How many count inputs a model may read: none, the affinities (TxT saved before the
popularities), TxT's counts, the count ranker's counts and lifecycle."""


@dataclass(frozen=True)
class CountInputs:
    """The first `width` count inputs of `examples` examples over `offers` offers, in the
    order models read them (purchase affinities, popularities, lifecycle), built on request.
    Indexing it with rows (a tensor or a slice, as a batch reads a tensor) gives those rows'
    [rows, offer, width] float32 tensor on `device`."""

    examples: int
    offers: int
    width: int
    purchases: Purchases | None = None
    incidence: OfferIncidence | None = None
    popularity: PopularityCounts | None = None
    lifecycle: LifecycleCounts | None = None
    device: torch.device = torch.device("cpu")
    dense: np.ndarray | None = None
    """Every example's inputs built once (`held`), when a model reads them epoch after epoch
    and they fit HELD_BYTES."""

    def __post_init__(self) -> None:
        needed = {
            "purchases and their offer incidence": (
                0,
                self.purchases is not None and self.incidence is not None,
            ),
            "popularity counts": (AFFINITY_FEATURES, self.popularity is not None),
            "offer lifecycles": (COUNT_FEATURES, self.lifecycle is not None),
        }
        for what, (after, present) in needed.items():
            if self.width > after and not present:
                raise ValueError(f"a model reading {self.width} count inputs needs {what}")
        if self.width not in MODEL_WIDTHS:
            raise ValueError(f"no model reads {self.width} count inputs")

    def to(self, device: torch.device) -> CountInputs:
        return replace(self, device=device)

    def __getitem__(self, rows: torch.Tensor | slice) -> torch.Tensor:
        picked = np.arange(self.examples)[rows] if isinstance(rows, slice) else rows.cpu().numpy()
        return torch.from_numpy(self.rows(picked)).to(self.device)

    def held(self) -> CountInputs:
        """These inputs built once for every example and held, when they fit HELD_BYTES (a
        model trains on them epoch after epoch); else as they are, built per batch."""
        if self.dense is not None or self.examples * self.offers * self.width * 4 > HELD_BYTES:
            return self
        return replace(self, dense=self.rows(np.arange(self.examples)))

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows), offer, width] float32."""
        if self.dense is not None:
            return self.dense[rows]
        parts = []
        if self.width:
            assert self.purchases is not None and self.incidence is not None
            parts.append(affinity_features(self.purchases.take(rows), self.incidence))
        if self.width > AFFINITY_FEATURES:
            assert self.popularity is not None
            parts.append(self.popularity.rows(rows))
        if self.width > COUNT_FEATURES:
            assert self.lifecycle is not None
            parts.append(self.lifecycle.rows(rows))
        if not parts:
            return np.zeros((len(rows), self.offers, 0), np.float32)
        return np.concatenate(parts, axis=-1)


MOMENT_CELLS = 1 << 20
"""(example, offer) cells built at once while computing the inputs' moments (about 90 MB at
22 features)."""


def candidate_moments(inputs: CountInputs, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) of each input over the cells where `valid` [example, offer]
    is True, a chunk of examples at a time (chunks' moments merged by Chan et al.'s rule)."""
    count, mean, squares = 0, np.zeros(inputs.width), np.zeros(inputs.width)
    step = max(1, MOMENT_CELLS // max(inputs.offers, 1))
    for start in range(0, inputs.examples, step):
        rows = np.arange(start, min(start + step, inputs.examples))
        cells = inputs.rows(rows)[valid[rows]].astype(np.float64)
        if not len(cells):
            continue
        chunk_mean = cells.mean(0)
        delta = chunk_mean - mean
        total = count + len(cells)
        squares += ((cells - chunk_mean) ** 2).sum(0) + delta**2 * count * len(cells) / total
        mean += delta * len(cells) / total
        count = total
    return mean, np.sqrt(squares / max(count, 1))
