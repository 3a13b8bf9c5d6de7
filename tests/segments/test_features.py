"""Behavior features of a hand-made extract equal values computed by hand.

The extract mixes store time zones (New York, Los Angeles), UTC and offset timestamps, orders
on a daypart boundary and across a month boundary, so local time is what counts.
"""

from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from segments.spark.features import FeatureSet, features_compute
from tests.segments.contract_folder import copy_tables, write_folder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
HOUR = 1 / 24


def _order(order_id: str, customer: str, store: str, at: str, channel: str, total: str,
           margin: str) -> dict[str, str]:  # fmt: skip
    return {"order_id": order_id, "customer_id": customer, "store_id": store, "ordered_at": at,
            "channel": channel, "total": total, "gross_margin": margin}  # fmt: skip


def _line(order_id: str, item: str, quantity: str, amount: str, offer: str = "") -> dict[str, str]:
    return {"order_id": order_id, "item_id": item, "quantity": quantity, "amount": amount,
            "offer_id": offer}  # fmt: skip


def hand_made_extract(folder: Path) -> Path:
    return write_folder(folder, hand_made_tables())


def hand_made_tables() -> dict[str, list[dict[str, str]]]:
    """The contract's sample plus four orders; comments give the store-local wall time."""
    tables = copy_tables()
    tables["orders"] += [
        # NY 2025-02-01 07:00 Saturday: breakfast, weekend; an offer line
        _order("B1", "C1", "NY1", "2025-02-01T12:00:00Z", "kiosk", "1.00", "0.80"),
        # LA 2025-02-15 22:30 Saturday: late night, weekend; margin derived 15.97 - 4.60
        _order("B2", "C1", "LA1", "2025-02-15T22:30:00-08:00", "drive_thru", "15.97", ""),
        # NY 2025-02-27 05:00 Thursday: the first minute of breakfast
        _order("B3", "C1", "NY1", "2025-02-27T10:00:00Z", "drive_thru", "2.99", "2.00"),
        # NY 2025-02-28 23:30 Friday although UTC is already March: late night, February
        _order("B4", "C2", "NY1", "2025-03-01T04:30:00Z", "delivery", "6.49", ""),
    ]
    tables["order_lines"] += [
        _line("B1", "COF", "1", "1.00", "O1"),
        _line("B2", "WHOP", "2", "12.98"),
        _line("B2", "FRY", "1", "2.99"),
        _line("B3", "FRY", "1", "2.99"),
        _line("B4", "WHOP", "1", "6.49"),
    ]
    return tables


def features_of(result: FeatureSet, customer: str, period: str) -> pd.Series:
    frame = result.frame.set_index(["customer_id", "period"])
    return frame.loc[(customer, period)]


def test_features_of_a_hand_made_extract_equal_hand_computed_values(tmp_path: Path) -> None:
    call_command("import_data", str(hand_made_extract(tmp_path / "extract")))

    result = features_compute(
        periods=["2025-01", "2025-02"], lookback=1, scratch=tmp_path / "scratch"
    )

    assert result.channels == ["delivery", "drive_thru", "kiosk", "mobile_app"]
    assert sorted(result.frame[["customer_id", "period"]].itertuples(index=False)) == [
        ("C1", "2025-01"), ("C1", "2025-02"), ("C2", "2025-01"), ("C2", "2025-02"),
    ]  # fmt: skip
    # C1 in January: NY 2025-01-31 23:30 Friday, drive-thru, Whopper + fries, no margin given
    expected_c1_january = {
        "visits": 1, "avg_spend": 9.48, "avg_margin": 9.48 - 2.10 - 0.40,
        "recency_days": 0.5 * HOUR, "tenure_days": 0.5 * HOUR, "items_per_order": 2,
        "weekend_share": 0, "offer_rate": 0,
        "daypart_share:late_night": 1, "daypart_share:breakfast": 0,
        "channel_share:drive_thru": 1, "channel_share:kiosk": 0,
    }  # fmt: skip
    # C2 in January: 2025-02-01T01:00Z is LA 2025-01-31 17:00, the first minute of dinner
    expected_c2_january = {
        "visits": 1, "avg_spend": 6.49, "avg_margin": 6.49 - 2.10,
        "recency_days": 7 * HOUR, "tenure_days": 7 * HOUR, "items_per_order": 1,
        "daypart_share:dinner": 1, "daypart_share:late_night": 0,
        "channel_share:mobile_app": 1, "weekend_share": 0,
    }  # fmt: skip
    # C1 in February: B1, B2, B3; last visit NY 02-27 05:00, first visit NY 01-31 23:30
    expected_c1_february = {
        "visits": 3, "avg_spend": (1.00 + 15.97 + 2.99) / 3,
        "avg_margin": (0.80 + (15.97 - 2 * 2.10 - 0.40) + 2.00) / 3,
        "recency_days": 1 + 19 * HOUR, "tenure_days": 28 + 0.5 * HOUR,
        "items_per_order": (1 + 3 + 1) / 3, "weekend_share": 2 / 3, "offer_rate": 1 / 3,
        "daypart_share:breakfast": 2 / 3, "daypart_share:late_night": 1 / 3,
        "daypart_share:lunch": 0,
        "channel_share:drive_thru": 2 / 3, "channel_share:kiosk": 1 / 3,
    }  # fmt: skip
    # C2 in February: NY 02-28 23:30 Friday; tenure from LA 01-31 17:00
    expected_c2_february = {
        "visits": 1, "avg_spend": 6.49, "avg_margin": 6.49 - 2.10,
        "recency_days": 0.5 * HOUR, "tenure_days": 28 + 7 * HOUR,
        "daypart_share:late_night": 1, "weekend_share": 0, "channel_share:delivery": 1,
        "channel_share:mobile_app": 0,
    }  # fmt: skip
    for customer, period, expected in [
        ("C1", "2025-01", expected_c1_january),
        ("C2", "2025-01", expected_c2_january),
        ("C1", "2025-02", expected_c1_february),
        ("C2", "2025-02", expected_c2_february),
    ]:
        actual = features_of(result, customer, period)
        for name, value in expected.items():
            assert actual[name] == pytest.approx(value, abs=1e-9), (customer, period, name)
    assert features_of(result, "C1", "2025-02")["primary_channel"] == "drive_thru"
    assert features_of(result, "C2", "2025-01")["primary_channel"] == "mobile_app"


def test_a_two_month_look_back_adds_the_previous_month(tmp_path: Path) -> None:
    call_command("import_data", str(hand_made_extract(tmp_path / "extract")))

    result = features_compute(periods=["2025-02"], lookback=2, scratch=tmp_path / "scratch")

    c1 = features_of(result, "C1", "2025-02")
    assert c1["visits"] == 4
    assert c1["avg_spend"] == pytest.approx((9.48 + 1.00 + 15.97 + 2.99) / 4)
    assert c1["daypart_share:late_night"] == pytest.approx(2 / 4)
    assert c1["recency_days"] == pytest.approx(1 + 19 * HOUR)
    assert set(result.frame["period"]) == {"2025-02"}


def test_a_look_back_keeps_a_customer_seen_only_in_its_earlier_month(tmp_path: Path) -> None:
    tables = hand_made_tables()
    tables["customers"].append({"customer_id": "C3", "joined_at": "", "loyalty_tier": "none"})
    # NY 2025-01-10 12:00, nothing in February
    tables["orders"].append(_order("B5", "C3", "NY1", "2025-01-10T17:00:00Z", "kiosk", "4", "1"))
    tables["order_lines"].append(_line("B5", "FRY", "1", "4.00"))
    call_command("import_data", str(write_folder(tmp_path / "extract", tables)))

    two_months = features_compute(periods=["2025-02"], lookback=2, scratch=tmp_path / "two")
    one_month = features_compute(periods=["2025-02"], lookback=1, scratch=tmp_path / "one")

    c3 = features_of(two_months, "C3", "2025-02")
    assert c3["visits"] == 1
    assert c3["avg_spend"] == pytest.approx(4.0)
    # from NY 01-10 12:00 to the period's end, 03-01 00:00: 21.5 + 28 days
    assert c3["recency_days"] == pytest.approx(49.5)
    assert c3["tenure_days"] == pytest.approx(49.5)
    assert c3["channel_share:kiosk"] == 1
    assert "C3" not in set(one_month.frame["customer_id"])
    assert set(one_month.frame["customer_id"]) == {"C1", "C2"}
