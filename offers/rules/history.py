"""Historical offer results per segment, read from the lake (assignments and redemptions).

The TxT model does not exist yet, so preview and suggestions rank offers by a segment's own
history: how often its customers redeemed an offer, relative to how often it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepflame_web.core.lake import lake_read
from offers.models import Offer
from segments.models import CustomerSegment, SegmentDefinition

NO_SEGMENT = -1
"""The segment key used in frames for customers who have no segment yet."""

USUAL_SHARE = 0.5
"""A segment's usual categories: its most redeemed ones, until they cover this share."""


@dataclass
class SegmentHistory:
    counts: pd.DataFrame  # segment_key, offer_id, assigned, redeemed
    categories: pd.DataFrame  # segment_key, category, redeemed

    def rates(self, segment_key: int | None, offer_ids: list[str]) -> np.ndarray:
        """Smoothed redemption rate (redeemed + 1) / (given + 2) of each offer in a segment.

        An offer never given counts its redemptions as given, so the rate stays a share; with
        no history at all every offer gets 0.5 and the order falls back to the offer id.
        """
        key = NO_SEGMENT if segment_key is None else segment_key
        rows = self.counts[self.counts["segment_key"] == key].set_index("offer_id")
        redeemed = rows["redeemed"].reindex(offer_ids, fill_value=0).to_numpy(dtype=float)
        assigned = rows["assigned"].reindex(offer_ids, fill_value=0).to_numpy(dtype=float)
        return (redeemed + 1.0) / (np.maximum(assigned, redeemed) + 2.0)

    def category_shares(self, segment_key: int | None) -> list[tuple[str, float]]:
        key = NO_SEGMENT if segment_key is None else segment_key
        rows = self.categories[
            (self.categories["segment_key"] == key) & (self.categories["redeemed"] > 0)
        ]
        total = float(rows["redeemed"].sum())
        if total <= 0:
            return []
        ordered = rows.sort_values(["redeemed", "category"], ascending=[False, True])
        return [
            (c, float(r) / total)
            for c, r in zip(ordered["category"], ordered["redeemed"], strict=True)
        ]

    def usual_categories(self, segment_key: int | None) -> set[str]:
        usual: set[str] = set()
        covered = 0.0
        for category, share in self.category_shares(segment_key):
            if covered >= USUAL_SHARE:
                break
            usual.add(category)
            covered += share
        return usual


def _segment_of(definition: SegmentDefinition) -> pd.DataFrame:
    rows = CustomerSegment.objects.filter(definition=definition).values_list(
        "customer_id", "segment__key"
    )
    return pd.DataFrame(list(rows), columns=["customer_id", "segment_key"])


def _per_segment(table: str, members: pd.DataFrame) -> pd.DataFrame:
    events = lake_read(table=table, columns=["customer_id", "offer_id"]).to_pandas()
    if events.empty:
        return pd.DataFrame({"segment_key": [], "offer_id": [], "events": []})
    events = events.dropna(subset=["offer_id"]).merge(members, on="customer_id", how="left")
    events["segment_key"] = events["segment_key"].fillna(NO_SEGMENT).astype(np.int64)
    return events.groupby(["segment_key", "offer_id"]).size().rename("events").reset_index()


def segment_history(*, definition: SegmentDefinition) -> SegmentHistory:
    members = _segment_of(definition)
    redeemed = _per_segment("offer_redemptions", members).rename(columns={"events": "redeemed"})
    assigned = _per_segment("offer_assignments", members).rename(columns={"events": "assigned"})
    counts = redeemed.merge(assigned, on=["segment_key", "offer_id"], how="outer").fillna(0)
    counts = counts.astype({"segment_key": np.int64, "redeemed": np.int64, "assigned": np.int64})
    category_of = pd.DataFrame(
        list(Offer.objects.values_list("offer_id", "category")), columns=["offer_id", "category"]
    )
    with_category = counts.merge(category_of, on="offer_id", how="inner")
    with_category = with_category[with_category["category"] != ""]
    categories = (
        with_category.groupby(["segment_key", "category"])["redeemed"].sum().reset_index()
        if not with_category.empty
        else pd.DataFrame({"segment_key": [], "category": [], "redeemed": []})
    )
    return SegmentHistory(counts=counts, categories=categories)
