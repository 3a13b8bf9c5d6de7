"""A suggested draft from segment profiles and redemption history, for marketers to edit.

Each segment's first slot favors the categories its customers redeem most; the goal follows
the profile: margin for high spenders, redemption for lapsing or rarely visiting segments,
revenue otherwise. Lapsing segments get a win-back slot, every segment a cross-category slot
and high spenders a high-margin slot; a win-back or high-margin slot only when some offer of
the catalog is one (a slot no offer can fill would keep the draft from being published).
"""

from __future__ import annotations

from typing import Any

from offers.models import OfferTag
from offers.rules.document import document_normalize
from offers.rules.history import segment_history
from offers.rules.slots import catalog_load
from segments.models import Segment, SegmentDefinition

HIGH = 0.5
"""A z-score this far from the population mean marks a trait (as segment names do)."""
FAVORITE_CATEGORIES = 2


def segment_goal(profile: dict[str, Any]) -> str:
    z = profile.get("z") or {}
    if (z.get("recency_days") or 0.0) >= HIGH or (z.get("visits") or 0.0) <= -HIGH:
        return "redemption"
    if (z.get("avg_spend") or 0.0) >= HIGH:
        return "margin"
    return "revenue"


def _is_lapsing(profile: dict[str, Any]) -> bool:
    return ((profile.get("z") or {}).get("recency_days") or 0.0) >= HIGH


def _is_high_spender(profile: dict[str, Any]) -> bool:
    return ((profile.get("z") or {}).get("avg_spend") or 0.0) >= HIGH


def rules_suggest(*, definition: SegmentDefinition) -> dict[str, Any]:
    history = segment_history(definition=definition)
    catalog = catalog_load()
    has_win_back, has_high_margin = bool(catalog.win_back.any()), bool(catalog.high_margin.any())
    rules = []
    for segment in Segment.objects.filter(definition=definition, is_vanished=False):
        profile = segment.profile or {}
        goal = segment_goal(profile)
        favorites = [c for c, _ in history.category_shares(segment.key)][:FAVORITE_CATEGORIES]
        slots: list[dict[str, Any]] = [
            {
                "label": "Favorites: " + ", ".join(favorites) if favorites else "Favorites",
                "count": 2,
                "categories": favorites,
                "goal": goal,
            }
        ]
        if _is_lapsing(profile) and has_win_back:
            slots.append(
                {"label": "Win-back", "count": 1, "tags": [OfferTag.WIN_BACK], "goal": "redemption"}
            )
        slots.append(
            {"label": "Something new", "count": 1, "tags": [OfferTag.CROSS_CATEGORY], "goal": goal}
        )
        if _is_high_spender(profile) and has_high_margin:
            slots.append(
                {
                    "label": "High margin",
                    "count": 1,
                    "tags": [OfferTag.HIGH_MARGIN],
                    "goal": "margin",
                }
            )
        rules.append({"segment_key": segment.key, "slots": slots})
    popular = [c for c, _ in history.category_shares(None)][:FAVORITE_CATEGORIES]
    rules.append(
        {
            "segment_key": None,
            "slots": [
                {
                    "label": "Popular",
                    "count": 3,
                    "categories": popular,
                    "goal": "redemption",
                }
            ],
        }
    )
    return document_normalize({"segments": rules})
