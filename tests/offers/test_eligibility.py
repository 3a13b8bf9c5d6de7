"""Eligibility: tiers x dayparts (store local time, several zones) x channels x dates."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from offers.dayparts import daypart_at, daypart_minutes, window_mask
from offers.eligibility import (
    Context,
    EligibilityTable,
    offer_is_eligible,
    store_context,
    store_local_time,
)
from offers.models import Offer, Store
from tests.offers.factories import OfferFactory, StoreFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "zone", "local"),
    [
        ("2026-03-08T06:59", "America/New_York", "2026-03-08 01:59 EST"),
        ("2026-03-08T07:00", "America/New_York", "2026-03-08 03:00 EDT"),
        ("2026-11-01T05:30", "America/New_York", "2026-11-01 01:30 EDT"),
        ("2026-11-01T06:30", "America/New_York", "2026-11-01 01:30 EST"),
        ("2026-07-01T03:30", "America/Los_Angeles", "2026-06-30 20:30 PDT"),
        ("2026-03-31T15:30", "Asia/Tokyo", "2026-04-01 00:30 JST"),
        ("2026-01-15T12:00", "UTC", "2026-01-15 12:00 UTC"),
    ],
)
def test_store_local_time_follows_the_zone_and_its_daylight_saving(
    instant: str, zone: str, local: str
) -> None:
    assert f"{store_local_time(instant=at(instant), timezone=zone):%Y-%m-%d %H:%M %Z}" == local


def test_a_naive_instant_is_taken_as_utc() -> None:
    naive = dt.datetime(2026, 1, 15, 12, 0)

    local = store_local_time(instant=naive, timezone="Asia/Tokyo")

    assert f"{local:%H:%M}" == "21:00"


@pytest.mark.parametrize(
    ("minute", "inside"),
    [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("04:59", True),
     ("05:00", False), ("12:00", False)],
)  # fmt: skip
def test_a_window_crossing_midnight_covers_both_sides(minute: str, inside: bool) -> None:
    hours, minutes = map(int, minute.split(":"))

    assert window_mask(22 * 60, 5 * 60)[hours * 60 + minutes] == inside


def test_a_window_with_equal_ends_is_the_whole_day_and_a_plain_window_is_half_open() -> None:
    assert window_mask(300, 300).all()
    lunch = window_mask(630, 840)
    assert (lunch[629], lunch[630], lunch[839], lunch[840]) == (False, True, True, False)


def test_daypart_at_names_the_default_dayparts_including_late_night_after_midnight() -> None:
    windows = daypart_minutes()

    times = [(4, 59), (5, 0), (10, 30), (13, 59), (16, 0), (20, 59), (21, 0), (0, 0)]
    names = [daypart_at(dt.time(h, m), windows) for h, m in times]

    assert names == [
        "late_night", "breakfast", "lunch", "lunch", "afternoon", "dinner", "late_night",
        "late_night",
    ]  # fmt: skip


def _reference(offer: Offer, context: Context, windows: dict[str, tuple[int, int]]) -> bool:
    """The rule in plain words, one context at a time, to check the vectorized table."""
    if offer.pricing_tiers and context.pricing_tier not in offer.pricing_tiers:
        return False
    if offer.channels and context.channel not in offer.channels:
        return False
    if offer.valid_from and context.date < offer.valid_from:
        return False
    if offer.valid_to and context.date > offer.valid_to:
        return False
    if not offer.dayparts:
        return True
    minute = context.local.hour * 60 + context.local.minute
    for entry in offer.dayparts:
        if ":" in entry:
            a, b = entry.split("-")
            start = int(a[:2]) * 60 + int(a[3:])
            end = int(b[:2]) * 60 + int(b[3:])
        else:
            start, end = windows[entry]
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if inside:
            return True
    return False


def _catalog() -> list[Offer]:
    return [
        OfferFactory.create(
            offer_id="breakfast-value-dt",
            pricing_tiers=["value"],
            dayparts=["breakfast"],
            channels=["drive_thru"],
            valid_from=dt.date(2026, 3, 1),
            valid_to=dt.date(2026, 3, 31),
        ),
        OfferFactory.create(offer_id="late-window", dayparts=["22:00-05:00"]),
        OfferFactory.create(
            offer_id="late-named", dayparts=["late_night"], channels=["mobile_app"]
        ),
        OfferFactory.create(
            offer_id="lunch-premium-app",
            pricing_tiers=["premium"],
            dayparts=["lunch", "14:00-15:00"],
            channels=["mobile_app", "kiosk"],
            valid_from=dt.date(2026, 11, 1),
        ),
        OfferFactory.create(offer_id="anytime"),
        OfferFactory.create(
            offer_id="dst-gap", dayparts=["02:00-03:00"], valid_to=dt.date(2026, 12, 31)
        ),
    ]


def test_the_table_agrees_with_the_plain_rule_over_tiers_zones_hours_channels_and_dates() -> None:
    offers = _catalog()
    stores = [
        StoreFactory.create(pricing_tier=tier, timezone=zone)
        for tier, zone in itertools.product(
            ["value", "premium"], ["America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC"]
        )
    ]
    days = ["2026-02-28", "2026-03-01", "2026-03-08", "2026-03-31", "2026-04-01", "2026-11-01"]
    instants = [
        at(f"{d}T00:00") + dt.timedelta(minutes=17 + 30 * step) for d in days for step in range(48)
    ]
    channels = ["drive_thru", "mobile_app", "kiosk"]
    contexts = [
        store_context(store=s, instant=i, channel=c)
        for s, i, c in itertools.product(stores, instants, channels)
    ]
    windows = daypart_minutes()

    matrix = EligibilityTable(offers).for_contexts(contexts)

    expected = np.array([[_reference(o, c, windows) for c in contexts] for o in offers])
    assert matrix.shape == (6, 8 * 288 * 3)
    assert (matrix == expected).all()
    assert matrix.sum(axis=1).tolist() == expected.sum(axis=1).tolist()
    counts = matrix.sum(axis=1).tolist()
    assert counts[4] == len(contexts)  # "anytime" runs everywhere
    assert all(0 < n < len(contexts) for i, n in enumerate(counts) if i != 4)


def _day_contexts(zone: str, start: str, hours: int, *, tier: str = "value") -> list[Context]:
    store = StoreFactory.create(timezone=zone, pricing_tier=tier)
    return [
        store_context(store=store, instant=at(start) + dt.timedelta(minutes=m), channel="kiosk")
        for m in range(hours * 60)
    ]


def test_spring_forward_in_new_york_skips_the_two_oclock_hour() -> None:
    offer = OfferFactory.create(dayparts=["02:00-03:00"])
    # 2026-03-08 00:00 EST is 05:00 UTC; the local day has 23 hours.
    contexts = _day_contexts("America/New_York", "2026-03-08T05:00", 23)

    eligible = EligibilityTable([offer]).for_contexts(contexts)[0]

    assert eligible.sum() == 0
    assert {f"{c.local:%H:%M}" for c in contexts[118:122]} == {"01:58", "01:59", "03:00", "03:01"}


def test_fall_back_in_new_york_runs_the_one_oclock_window_twice() -> None:
    offer = OfferFactory.create(dayparts=["01:00-02:00"])
    # 2026-11-01 00:00 EDT is 04:00 UTC; the local day has 25 hours.
    contexts = _day_contexts("America/New_York", "2026-11-01T04:00", 25)

    eligible = EligibilityTable([offer]).for_contexts(contexts)[0]

    assert eligible.sum() == 120
    eligible_utc = [contexts[i].local.astimezone(UTC) for i in np.flatnonzero(eligible)]
    assert (f"{eligible_utc[0]:%H:%M}", f"{eligible_utc[-1]:%H:%M}") == ("05:00", "06:59")


def test_late_night_across_a_dst_change_covers_eight_local_hours_either_way() -> None:
    offer = OfferFactory.create(dayparts=["late_night"])  # 21:00-05:00 local
    spring = _day_contexts("America/New_York", "2026-03-07T05:00", 47)
    fall = _day_contexts("America/New_York", "2026-10-31T04:00", 49)

    table = EligibilityTable([offer])

    # 21:00 to 05:00 local: 7 real hours on the spring night, 9 on the fall night. Both
    # nights start 21 hours after the first context (02:00 and 01:00 UTC).
    spring_night = table.for_contexts(spring)[0][21 * 60 : 31 * 60]
    fall_night = table.for_contexts(fall)[0][21 * 60 : 31 * 60]
    assert (spring_night.sum(), spring_night[: 7 * 60].all()) == (7 * 60, True)
    assert (fall_night.sum(), fall_night[: 9 * 60].all()) == (9 * 60, True)


def test_the_date_is_the_store_local_date_not_the_utc_date() -> None:
    offer = OfferFactory.create(valid_from=dt.date(2026, 3, 1), valid_to=dt.date(2026, 3, 31))
    tokyo = StoreFactory.create(timezone="Asia/Tokyo")
    new_york = StoreFactory.create(timezone="America/New_York")

    def eligible(store: Store, instant: str) -> bool:
        return offer_is_eligible(
            offer, store_context(store=store, instant=at(instant), channel="kiosk")
        )

    assert eligible(tokyo, "2026-03-31T14:59") is True  # 23:59 on the 31st in Tokyo
    assert eligible(tokyo, "2026-03-31T15:00") is False  # already April 1st in Tokyo
    assert eligible(new_york, "2026-04-01T03:59") is True  # 23:59 on the 31st in New York
    assert eligible(new_york, "2026-03-01T04:59") is False  # still February 28th locally
    assert eligible(new_york, "2026-03-01T05:00") is True


def test_a_late_night_offer_that_ends_on_a_date_stops_at_local_midnight() -> None:
    offer = OfferFactory.create(dayparts=["22:00-05:00"], valid_to=dt.date(2026, 3, 31))
    store = StoreFactory.create(timezone="America/Los_Angeles")
    instants = ["2026-04-01T05:00", "2026-04-01T06:59", "2026-04-01T07:00", "2026-04-01T11:00"]

    eligible = EligibilityTable([offer]).for_contexts(
        [store_context(store=store, instant=at(i), channel="kiosk") for i in instants]
    )[0]

    # 22:00 and 23:59 on March 31st local; 00:00 and 04:00 on April 1st are past the end.
    assert eligible.tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("tier", "channel", "expected"),
    [("value", "drive_thru", True), ("premium", "drive_thru", False),
     ("value", "mobile_app", False), ("premium", "mobile_app", False)],
)  # fmt: skip
def test_tier_and_channel_must_both_be_allowed(tier: str, channel: str, expected: bool) -> None:
    offer = OfferFactory.create(pricing_tiers=["value"], channels=["drive_thru"])
    context = Context(pricing_tier=tier, local=dt.datetime(2026, 5, 5, 12, 0), channel=channel)

    assert offer_is_eligible(offer, context) is expected


def test_an_unknown_daypart_name_never_runs() -> None:
    offer = Offer(offer_id="x", name="x", description="x", dayparts=["brunch"])
    contexts = [
        Context(pricing_tier="value", local=dt.datetime(2026, 5, 5, h, 0), channel="kiosk")
        for h in range(24)
    ]

    assert not EligibilityTable([offer]).for_contexts(contexts).any()


def test_no_offers_or_no_contexts_give_an_empty_matrix() -> None:
    assert EligibilityTable([]).for_contexts([]).shape == (0, 0)
    assert EligibilityTable([OfferFactory.create()]).for_contexts([]).shape == (1, 0)


def test_helpers_for_validation_answer_per_offer() -> None:
    offers = _catalog()
    table = EligibilityTable(offers)

    # Late night ends at 05:00 where breakfast starts: no shared minute.
    assert table.overlaps_dayparts(["breakfast"]).tolist() == [
        True, False, False, False, True, False,
    ]  # fmt: skip
    assert table.runs_in_tiers(["value"]).tolist() == [True, True, True, False, True, True]
    assert table.runs_on_channels(["kiosk"]).tolist() == [False, True, False, True, True, True]
    assert table.valid_between(dt.date(2026, 4, 1), dt.date(2026, 10, 31)).tolist() == [
        False, True, True, False, True, True,
    ]  # fmt: skip
