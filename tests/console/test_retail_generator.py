"""The retail demo regime: a grocer's history whose redemptions come from hidden effects that no
single input of the model holds, measured from the written files and the truth folder."""

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from deepflame_web.console.demo import DemoSummary, demo_chain_generate
from deepflame_web.core.lake import lake_row_counts
from offers.models import Item, Offer, Store
from segments.models import Customer

START = date(2025, 1, 1)
CUSTOMERS = 300
MONTHS = 3
CONTRACT_FILES = {
    "stores.csv", "items.csv", "offers.csv", "customers.csv", "orders.parquet",
    "order_lines.parquet", "offer_assignments.parquet", "offer_redemptions.parquet",
}  # fmt: skip


def generate(folder: Path, seed: int = 21) -> DemoSummary:
    return demo_chain_generate(
        out_dir=folder,
        customers=CUSTOMERS,
        months=MONTHS,
        seed=seed,
        start=START,
        regime="retail",
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    folder = tmp_path_factory.mktemp("retail") / "chain"
    return folder, generate(folder)


@pytest.fixture(scope="module")
def out(chain: tuple[Path, DemoSummary]) -> Path:
    return chain[0]


@pytest.fixture(scope="module")
def tables(out: Path) -> dict[str, pd.DataFrame]:
    frames = {
        name.split(".")[0]: pd.read_csv(out / name, dtype=str, keep_default_na=False)
        for name in CONTRACT_FILES
        if name.endswith(".csv")
    }
    for name in CONTRACT_FILES - set(frames):
        if name.endswith(".parquet"):
            frames[name.split(".")[0]] = pd.read_parquet(out / name)
    return frames


@pytest.fixture(scope="module")
def params(out: Path) -> dict:
    return json.loads((out.parent / "chain.truth" / "params.json").read_text())


@pytest.fixture(scope="module")
def bought(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What each customer bought on each day, with the item's department."""
    lines = tables["order_lines"].merge(tables["orders"], on="order_id")
    lines["date"] = lines.ordered_at.str[:10]
    return lines.merge(tables["items"][["item_id", "category"]], on="item_id")


def test_writes_the_contract_files_without_images_weather_or_order_links(
    out: Path, tables: dict[str, pd.DataFrame], chain: tuple[Path, DemoSummary]
) -> None:
    assert {p.name for p in out.iterdir()} == CONTRACT_FILES
    assert pq.read_schema(out / "offer_redemptions.parquet").names == [
        "customer_id",
        "offer_id",
        "redeemed_at",
    ]
    assert tables["offer_redemptions"].redeemed_at.str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert (tables["order_lines"].offer_id == "").all()
    offers = tables["offers"]
    assert (offers[["image", "dayparts", "channels"]] == "").all().all()
    assert (offers.pricing_tiers == "").mean() > 0.8
    summary = chain[1]
    assert summary.orders == len(tables["orders"]) and summary.customers == CUSTOMERS
    assert summary.offer_redemptions == len(tables["offer_redemptions"])


def test_a_grocer_catalog_big_baskets_and_weekly_trips(tables: dict[str, pd.DataFrame]) -> None:
    items, offers, orders = tables["items"], tables["offers"], tables["orders"]
    set_sizes = offers.item_ids.str.split("|").map(len)
    lines_per_order = tables["order_lines"].groupby("order_id").size()
    weeks = (pd.Timestamp("2025-04-01") - pd.Timestamp(START)).days / 7

    assert 2500 <= len(items) <= 3500 and items.item_id.is_unique and items.name.is_unique
    assert items.category.nunique() == 31
    assert (items.unit_cost.astype(float) < items.price.astype(float)).all()
    assert len(tables["stores"]) == 20
    assert set(tables["stores"].pricing_tier) == {"value", "standard", "premium"}
    assert set(orders.channel) == {"in_store", "delivery"}
    assert (orders.channel == "in_store").mean() > 0.8
    assert 80 <= len(offers) <= 130 and set_sizes.min() == 1 and set_sizes.max() > 50
    assert offers.description.str.len().min() > 40
    assert 8 <= lines_per_order.mean() <= 13 and lines_per_order.quantile(0.95) >= 15
    assert 0.7 <= len(orders) / CUSTOMERS / weeks <= 1.3


def test_customers_buy_their_staples_again_and_again(out: Path, bought: pd.DataFrame) -> None:
    staples = pd.read_parquet(out.parent / "chain.truth" / "staples.parquet")
    repeats = bought.groupby(["customer_id", "item_id"]).size()
    on_staples = repeats[repeats.index.isin(pd.MultiIndex.from_frame(staples))]

    assert on_staples.mean() > 3 * repeats.mean() / 2
    assert bought.merge(staples, on=["customer_id", "item_id"]).shape[0] > 0.3 * len(bought)


def test_redemptions_are_assigned_coupons_on_items_bought_from_their_set_while_valid(
    tables: dict[str, pd.DataFrame], bought: pd.DataFrame
) -> None:
    redemptions = tables["offer_redemptions"]
    offers = tables["offers"].assign(item_id=lambda f: f.item_ids.str.split("|")).explode("item_id")
    in_set = redemptions.merge(offers[["offer_id", "item_id", "valid_from", "valid_to"]])
    matched = in_set.merge(
        bought[["customer_id", "item_id", "date"]],
        left_on=["customer_id", "item_id", "redeemed_at"],
        right_on=["customer_id", "item_id", "date"],
    ).drop_duplicates(["customer_id", "offer_id"])
    assigned = redemptions.merge(tables["offer_assignments"], on=["customer_id", "offer_id"])

    assert CUSTOMERS <= len(redemptions) <= 4 * CUSTOMERS
    assert not redemptions.duplicated(["customer_id", "offer_id"]).any()
    assert len(matched) == len(redemptions)
    assert (matched.valid_from <= matched.redeemed_at).all()
    assert (matched.redeemed_at <= matched.valid_to).all()
    assert len(assigned) == len(redemptions)
    assert (assigned.assigned_at.str[:10] <= assigned.redeemed_at).all()


def test_about_a_quarter_of_holdout_redemptions_are_on_offers_never_redeemed_before(
    tables: dict[str, pd.DataFrame],
) -> None:
    redeemed = tables["offer_redemptions"]
    cutoff = (pd.Timestamp(redeemed.redeemed_at.max()) - pd.Timedelta(weeks=4)).strftime("%F")
    before = set(redeemed.offer_id[redeemed.redeemed_at < cutoff])
    holdout = redeemed[redeemed.redeemed_at >= cutoff]

    assert len(holdout) > 200
    assert 0.15 <= (~holdout.offer_id.isin(before)).mean() <= 0.45


def held_coupon_visits(
    tables: dict[str, pd.DataFrame], bought: pd.DataFrame, follows: dict[str, str]
) -> pd.DataFrame:
    """One row per (order, coupon the customer holds and has not redeemed yet, live that day):
    whether the coupon's department follows a department of the previous visit, and whether
    it was redeemed that day."""
    orders = tables["orders"].sort_values(["customer_id", "ordered_at"]).copy()
    orders["date"] = orders.ordered_at.str[:10]
    departments = bought.groupby("order_id").category.agg(set)
    orders["followed"] = orders.order_id.map(
        departments.map(lambda names: {follows[name] for name in names})
    )
    orders["previous"] = orders.groupby("customer_id").followed.shift()
    offers = tables["offers"][["offer_id", "category", "valid_from", "valid_to"]]
    held = tables["offer_assignments"].merge(offers, on="offer_id")
    redeemed = tables["offer_redemptions"].rename(columns={"redeemed_at": "redeemed_on"})
    held = held.merge(redeemed, on=["customer_id", "offer_id"], how="left")
    pairs = orders.dropna(subset=["previous"]).merge(held, on="customer_id")
    pairs = pairs[(pairs.valid_from <= pairs.date) & (pairs.date <= pairs.valid_to)]
    pairs = pairs[pairs.redeemed_on.isna() | (pairs.date <= pairs.redeemed_on)]
    pairs = pairs.drop_duplicates(["customer_id", "offer_id", "date"])
    pairs["follows"] = [c in p for c, p in zip(pairs.category, pairs.previous, strict=True)]
    pairs["redeemed"] = pairs.date == pairs.redeemed_on
    return pairs


def test_coupons_whose_department_follows_the_previous_visit_are_redeemed_more(
    tables: dict[str, pd.DataFrame], bought: pd.DataFrame, params: dict
) -> None:
    pairs = held_coupon_visits(tables, bought, params["effects"]["follows"])
    rate = pairs.groupby("follows").redeemed.mean()

    assert pairs.follows.sum() > 1000 and (~pairs.follows).sum() > 1000
    assert rate[True] > 1.4 * rate[False]


def test_truth_holds_tastes_staples_and_effects_in_their_ranges(out: Path, params: dict) -> None:
    truth = out.parent / "chain.truth"
    tastes = pd.read_parquet(truth / "tastes.parquet")
    effects = params["effects"]

    assert sorted(p.name for p in truth.iterdir()) == [
        "params.json", "shoppers.parquet", "staples.parquet", "tastes.parquet",
    ]  # fmt: skip
    assert len(tastes) == CUSTOMERS * MONTHS
    assert tastes.department_share.map(len).eq(31).all()
    assert abs(tastes.department_share.map(sum) - 1).max() < 1e-4
    for name, (low, high) in effects["ranges"].items():
        assert low <= effects["strengths"][name] <= high, name
    assert sorted(effects["follows"].values()) == sorted(effects["follows"])
    assert all(source != target for source, target in effects["follows"].items())
    assert params["regime"] == "retail" and sum(params["redemptions_by_month"].values()) > 0


def test_same_seed_same_files_other_seed_other_effects(out: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again)
    generate(other, seed=22)

    for name in sorted(CONTRACT_FILES):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    truth = out.parent / "chain.truth"
    assert (truth / "params.json").read_bytes() == (
        tmp_path / "again.truth/params.json"
    ).read_bytes()
    follows = json.loads((tmp_path / "other.truth" / "params.json").read_text())["effects"]
    assert (
        follows["follows"] != json.loads((truth / "params.json").read_text())["effects"]["follows"]
    )
    assert (out / "orders.parquet").read_bytes() != (other / "orders.parquet").read_bytes()


def test_command_takes_the_regime(tmp_path: Path) -> None:
    call_command("generate_demo_data", str(tmp_path / "cmd"), "--regime", "retail",
                 "--customers", "30", "--months", "2", "--seed", "4")  # fmt: skip

    params = json.loads((tmp_path / "cmd.truth" / "params.json").read_text())
    assert params["regime"] == "retail" and params["month_labels"] == ["2025-01", "2025-02"]


@pytest.mark.django_db(transaction=True)
def test_the_retail_chain_imports_through_the_real_import(out: Path) -> None:
    call_command("import_data", str(out))

    assert Store.objects.count() == 20
    assert Item.objects.count() == len(pd.read_csv(out / "items.csv"))
    assert Offer.objects.count() == len(pd.read_csv(out / "offers.csv"))
    assert Customer.objects.count() == CUSTOMERS
    counts = lake_row_counts()
    for table in ("orders", "order_lines", "offer_assignments", "offer_redemptions"):
        assert counts[table] == pq.read_metadata(out / f"{table}.parquet").num_rows, table
