import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from segments.models import SegmentDefinition
from tests.factories import customers_insert
from tests.offers.factories import (
    ItemFactory,
    OfferFactory,
    StoreFactory,
    lake_events_write,
    members_write,
)
from tests.segments.segmentation_data import segmentation_create

ON = dt.date(2026, 3, 1)


@pytest.fixture
def catalog(db: None) -> dict[str, Any]:
    """Two tiers, six offers: breakfast x2, burgers at lunch/dinner and late night (win-back),
    an expired drink and a premium-only high-margin dessert."""
    StoreFactory.create(store_id="NY1", pricing_tier="value", timezone="America/New_York")
    StoreFactory.create(store_id="LA1", pricing_tier="premium", timezone="America/Los_Angeles")
    ItemFactory.create(
        item_id="cake", category="desserts", price=Decimal("4.00"), unit_cost=Decimal("1.00")
    )
    ItemFactory.create(
        item_id="whopper", category="burgers", price=Decimal("6.00"), unit_cost=Decimal("4.00")
    )
    ItemFactory.create(
        item_id="croissan", category="breakfast", price=Decimal("3.00"), unit_cost=Decimal("2.00")
    )
    offers = {
        "B1": OfferFactory.create(
            offer_id="B1", category="breakfast", dayparts=["breakfast"], item_ids=["croissan"]
        ),
        "B2": OfferFactory.create(
            offer_id="B2", category="breakfast", dayparts=["breakfast"], pricing_tiers=["value"]
        ),
        "L1": OfferFactory.create(
            offer_id="L1", category="burgers", dayparts=["lunch", "dinner"], item_ids=["whopper"]
        ),
        "N1": OfferFactory.create(
            offer_id="N1", category="burgers", dayparts=["22:00-05:00"], tags=["win_back"]
        ),
        "X1": OfferFactory.create(offer_id="X1", category="drinks", valid_to=dt.date(2026, 1, 31)),
        "P1": OfferFactory.create(
            offer_id="P1", category="desserts", pricing_tiers=["premium"], item_ids=["cake"]
        ),
    }
    return offers


@pytest.fixture
def definition(db: None) -> SegmentDefinition:
    return segmentation_create(
        segments={
            1: ("Breakfast regulars", {"visits": 1.0}),
            2: ("Lapsing", {"recency_days": 1.2, "visits": -0.8}),
            3: ("Big spenders", {"avg_spend": 1.1}),
        }
    )


@pytest.fixture
def customers(catalog: dict[str, Any], definition: SegmentDefinition) -> None:
    """Five breakfast regulars, three lapsing, two big spenders, one customer without one.

    Breakfast regulars redeemed B2 often and B1 rarely; everybody redeemed L1 now and then.
    """
    members = {f"A{n}": 1 for n in range(5)} | {f"L{n}": 2 for n in range(3)}
    members |= {"S0": 3, "S1": 3}
    members_write(definition, members)
    customers_insert({"NEW": {}})
    lake_events_write(
        "offer_assignments",
        [(f"A{n}", "B1") for n in range(5)] + [(f"A{n}", "B2") for n in range(5)]
        + [("A0", "L1"), ("NEW", "L1"), ("NEW", "P1")],
    )  # fmt: skip
    lake_events_write(
        "offer_redemptions",
        [("A0", "B1")] + [(f"A{n}", "B2") for n in range(4)] + [("A0", "L1"), ("NEW", "L1")],
    )
