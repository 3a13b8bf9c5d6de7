"""Fill a segment's slots with offers, slot by slot, none twice.

This stands in for the TxT model until it exists: offers are ranked by the segment's smoothed
historical redemption rate (times the offer's revenue or margin for those goals), not by a
model score. Context (store, time, channel) is ignored beyond the slot's own constraints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from offers.rules.document import SegmentRule
from offers.rules.history import SegmentHistory
from offers.rules.slots import OfferCatalog, slot_candidates, slot_window


@dataclass(frozen=True)
class Pick:
    offer_id: str
    slot: int
    slot_label: str
    score: float
    fallback: bool = False


def rule_fill(
    *, catalog: OfferCatalog, history: SegmentHistory, rule: SegmentRule, on: dt.date
) -> list[Pick]:
    offer_ids = [o.offer_id for o in catalog.offers]
    rates = history.rates(rule.segment_key, offer_ids)
    usual = history.usual_categories(rule.segment_key)
    taken = np.zeros(len(offer_ids), dtype=bool)
    picks: list[Pick] = []
    for position, slot in enumerate(rule.slots, start=1):
        candidates = slot_candidates(catalog, slot, on=on, usual_categories=usual) & ~taken
        if slot.min_score is not None:
            candidates &= rates >= slot.min_score
        if slot.goal == "revenue":
            scores = rates * catalog.revenue
        elif slot.goal == "margin":
            scores = rates * catalog.margin
        else:
            scores = rates
        rows = np.flatnonzero(candidates)
        order = sorted(rows, key=lambda r: (-scores[r], -rates[r], offer_ids[r]))
        for row in order[: slot.count]:
            taken[row] = True
            picks.append(Pick(offer_ids[row], position, slot.label, round(float(scores[row]), 6)))
        fallback = slot.fallback_offer
        if (
            len(order) < slot.count
            and fallback in catalog.index
            and not taken[catalog.index[fallback]]
        ):
            fallback_row = catalog.index[fallback]
            window = slot_candidates(catalog, slot_window(slot), on=on)
            if window[fallback_row]:
                taken[fallback_row] = True
                picks.append(
                    Pick(
                        fallback, position, slot.label, round(float(scores[fallback_row]), 6), True
                    )
                )
    return picks
