"""The offer catalog as arrays, and which offers can fill a slot.

Validation, preview and suggestions all ask the same question ("which offers may this slot
give?"), so it is answered once here, vectorized over the whole catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from offers.eligibility import EligibilityTable
from offers.models import Daypart, Item, Offer, OfferTag, Store
from offers.rules.document import Slot

HIGH_MARGIN_RATE = 0.6
"""An offer whose items keep at least this share of their price as gross margin is high
margin, unless a marketer tagged it so already."""


@dataclass
class OfferCatalog:
    offers: list[Offer]
    table: EligibilityTable
    index: dict[str, int]
    categories: np.ndarray
    high_margin: np.ndarray
    win_back: np.ndarray
    revenue: np.ndarray
    margin: np.ndarray
    known_categories: set[str]
    tiers: list[str]
    daypart_names: list[str]

    def mask_of(self, offer_ids: Iterable[str]) -> np.ndarray:
        mask = np.zeros(len(self.offers), dtype=bool)
        for offer_id in offer_ids:
            if offer_id in self.index:
                mask[self.index[offer_id]] = True
        return mask

    def ids(self, mask: np.ndarray) -> list[str]:
        return [self.offers[i].offer_id for i in np.flatnonzero(mask)]


def catalog_load() -> OfferCatalog:
    offers = list(Offer.objects.order_by("offer_id"))
    items = {i.item_id: i for i in Item.objects.all()}
    revenue = np.zeros(len(offers))
    margin = np.zeros(len(offers))
    high_margin = np.zeros(len(offers), dtype=bool)
    for row, offer in enumerate(offers):
        price = cost = Decimal(0)
        costed_price = Decimal(0)
        for item_id in offer.item_ids:
            item = items.get(item_id)
            if item is None or item.price is None:
                continue
            price += item.price
            if item.unit_cost is not None:
                cost += item.unit_cost
                costed_price += item.price
        discount = offer.discount_value or Decimal(0)
        revenue[row] = float(max(price - discount, Decimal(0)))
        margin[row] = float(costed_price - cost - discount) if costed_price else 0.0
        rate = float((costed_price - cost) / costed_price) if costed_price else 0.0
        high_margin[row] = OfferTag.HIGH_MARGIN in offer.tags or rate >= HIGH_MARGIN_RATE
    categories = np.array([o.category for o in offers], dtype=object)
    known = {o.category for o in offers if o.category} | {
        c for c in Item.objects.values_list("category", flat=True).distinct() if c
    }
    return OfferCatalog(
        offers=offers,
        table=EligibilityTable(offers),
        index={o.offer_id: i for i, o in enumerate(offers)},
        categories=categories,
        high_margin=high_margin,
        win_back=np.array([OfferTag.WIN_BACK in o.tags for o in offers], dtype=bool),
        revenue=revenue,
        margin=margin,
        known_categories=known,
        tiers=sorted(set(Store.objects.values_list("pricing_tier", flat=True))),
        daypart_names=list(Daypart.objects.values_list("name", flat=True)),
    )


def slot_filter(
    catalog: OfferCatalog, slot: Slot, *, usual_categories: set[str] | None = None
) -> np.ndarray:
    """Offers that pass the slot's filter (categories, offers, tags), ignoring when and where.

    `usual_categories` are the categories the segment usually redeems; a cross-category slot
    takes offers outside them (None: not known, so no offer is excluded for it).
    """
    mask = np.ones(len(catalog.offers), dtype=bool)
    if slot.categories:
        mask &= np.isin(catalog.categories, slot.categories)
    if slot.include_offers:
        mask &= catalog.mask_of(slot.include_offers)
    if slot.exclude_offers:
        mask &= ~catalog.mask_of(slot.exclude_offers)
    if OfferTag.HIGH_MARGIN in slot.tags:
        mask &= catalog.high_margin
    if OfferTag.WIN_BACK in slot.tags:
        mask &= catalog.win_back
    if OfferTag.CROSS_CATEGORY in slot.tags and usual_categories:
        mask &= ~np.isin(catalog.categories, sorted(usual_categories))
    return mask


def slot_constraints(catalog: OfferCatalog, slot: Slot, *, on: dt.date) -> np.ndarray:
    """Offers that may run somewhere inside the slot's tiers, dayparts, channels and dates,
    from `on` onwards (an offer that expired before `on` is out)."""
    table = catalog.table
    start = max(filter(None, [on, slot.valid_from_date]))
    return (
        table.runs_in_tiers(slot.tiers)
        & table.overlaps_dayparts(slot.dayparts)
        & table.runs_on_channels(slot.channels)
        & table.valid_between(start, slot.valid_to_date)
    )


def slot_window(slot: Slot) -> Slot:
    """The slot's where and when (tiers, dayparts, channels, dates) without its offer filter:
    what a fallback offer must still fit."""
    return Slot(
        label=slot.label,
        tiers=slot.tiers,
        dayparts=slot.dayparts,
        channels=slot.channels,
        valid_from=slot.valid_from,
        valid_to=slot.valid_to,
    )


def slot_candidates(
    catalog: OfferCatalog,
    slot: Slot,
    *,
    on: dt.date,
    usual_categories: set[str] | None = None,
) -> np.ndarray:
    return slot_filter(catalog, slot, usual_categories=usual_categories) & slot_constraints(
        catalog, slot, on=on
    )
