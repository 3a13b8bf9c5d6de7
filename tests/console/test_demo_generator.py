"""The demo chain generator: contract-exact files, consistent history, behavior worth learning."""

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from deepflame_web.console.demo import DemoArgumentError, DemoSummary, demo_chain_generate
from deepflame_web.console.demo.simulate import ASSIGNMENT_CADENCE_WEEKS

START = date(2025, 4, 1)
END = date(2025, 7, 1)
CUSTOMERS = 600
PERSONA_NAMES = {
    "breakfast_commuter",
    "family_dinner",
    "late_night_snacker",
    "value_seeker",
    "premium_mobile_regular",
    "lapsing",
}
CSV_COLUMNS = {
    "stores.csv": [
        "store_id", "name", "pricing_tier", "region", "timezone", "latitude", "longitude",
    ],
    "items.csv": ["item_id", "name", "category", "price", "unit_cost"],
    "offers.csv": [
        "offer_id", "name", "description", "image", "category", "pricing_tiers", "dayparts",
        "channels", "item_ids", "discount_value", "valid_from", "valid_to",
    ],
    "customers.csv": ["customer_id", "joined_at", "loyalty_tier", "home_zip"],
    "weather.csv": ["store_id", "date", "temp_c", "precip_mm", "condition"],
}  # fmt: skip
PARQUET_SCHEMAS = {
    "orders.parquet": [
        ("order_id", pa.string()), ("customer_id", pa.string()), ("store_id", pa.string()),
        ("ordered_at", pa.string()), ("channel", pa.string()), ("total", pa.float64()),
        ("gross_margin", pa.float64()),
    ],
    "order_lines.parquet": [
        ("order_id", pa.string()), ("item_id", pa.string()), ("quantity", pa.int32()),
        ("amount", pa.float64()), ("offer_id", pa.string()),
    ],
    "offer_assignments.parquet": [
        ("customer_id", pa.string()), ("offer_id", pa.string()), ("assigned_at", pa.string()),
    ],
    "offer_redemptions.parquet": [
        ("customer_id", pa.string()), ("offer_id", pa.string()), ("redeemed_at", pa.string()),
        ("order_id", pa.string()), ("store_id", pa.string()),
    ],
}  # fmt: skip
DAYPART_WINDOWS = {
    "breakfast": (300, 630),
    "lunch": (630, 840),
    "afternoon": (840, 1020),
    "dinner": (1020, 1260),
    "late_night": (1260, 300),
}
BREAKFAST = DAYPART_WINDOWS["breakfast"]


def generate(folder: Path, seed: int = 11) -> DemoSummary:
    return demo_chain_generate(
        out_dir=folder, customers=CUSTOMERS, months=3, seed=seed, start=START
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    folder = tmp_path_factory.mktemp("demo") / "chain"
    return folder, generate(folder)


@pytest.fixture(scope="module")
def out(demo: tuple[Path, DemoSummary]) -> Path:
    return demo[0]


@pytest.fixture(scope="module")
def tables(out: Path) -> dict[str, pd.DataFrame]:
    frames = {
        name.split(".")[0]: pd.read_csv(out / name, dtype=str, keep_default_na=False)
        for name in CSV_COLUMNS
    }
    for name in PARQUET_SCHEMAS:
        frames[name.split(".")[0]] = pd.read_parquet(out / name)
    for column in ("price", "unit_cost"):
        frames["items"][column] = frames["items"][column].astype(float)
    for column in ("temp_c", "precip_mm"):
        frames["weather"][column] = frames["weather"][column].astype(float)
    return frames


@pytest.fixture(scope="module")
def lines(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Order lines with their order, item category, store time zone and weather."""
    frame = tables["order_lines"].merge(tables["orders"], on="order_id", suffixes=("", "_order"))
    frame = frame.merge(tables["items"][["item_id", "category", "unit_cost"]], on="item_id")
    frame["date"] = frame.ordered_at.str[:10]
    frame["minute"] = minute_of_day(frame.ordered_at)
    return frame.merge(tables["weather"], on=["store_id", "date"], how="left")


def minute_of_day(stamps: pd.Series) -> pd.Series:
    return stamps.str[11:13].astype(int) * 60 + stamps.str[14:16].astype(int)


def daypart_span(daypart: str) -> tuple[int, int]:
    """The contract's default daypart windows, or an HH:MM-HH:MM window, in minutes."""
    if daypart in DAYPART_WINDOWS:
        return DAYPART_WINDOWS[daypart]
    start, end = daypart.split("-")
    return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])


def in_window(minutes: pd.Series, window: tuple[int, int]) -> pd.Series:
    start, end = window
    if start < end:
        return (minutes >= start) & (minutes < end)
    return (minutes >= start) | (minutes < end)


def test_writes_exactly_the_contract_files_and_columns(out: Path) -> None:
    written = {path.name for path in out.iterdir()}

    assert written == set(CSV_COLUMNS) | set(PARQUET_SCHEMAS) | {"images"}
    for name, columns in CSV_COLUMNS.items():
        assert pd.read_csv(out / name, nrows=0).columns.tolist() == columns, name
    for name, fields in PARQUET_SCHEMAS.items():
        schema = pq.read_schema(out / name)
        assert [(field.name, field.type) for field in schema] == fields, name


def test_summary_counts_the_rows_of_every_table(
    demo: tuple[Path, DemoSummary], tables: dict[str, pd.DataFrame]
) -> None:
    _, summary = demo

    for table in ("stores", "items", "offers", "customers", "weather", "orders", "order_lines"):
        assert getattr(summary, table) == len(tables[table]), table
    assert summary.offer_assignments == len(tables["offer_assignments"])
    assert summary.offer_redemptions == len(tables["offer_redemptions"])
    assert summary.customers == CUSTOMERS
    assert summary.stores == 12


def test_catalog_has_tiers_time_zones_menu_and_restricted_offers(
    tables: dict[str, pd.DataFrame],
) -> None:
    stores, items, offers = tables["stores"], tables["items"], tables["offers"]

    assert set(stores.pricing_tier) == {"value", "standard", "premium"}
    assert len(set(stores.timezone)) >= 4
    assert set(items.category) == {
        "burgers", "chicken", "breakfast", "sides", "drinks", "hot_drinks", "frozen_drinks",
        "desserts", "kids_meals",
    }  # fmt: skip
    assert 55 <= len(items) <= 70
    assert (items.unit_cost < items.price).all()
    assert 40 <= len(offers) <= 80
    assert offers.offer_id.is_unique and offers.description.str.len().min() > 20
    assert set(offers.item_ids.str.split("|").explode()) <= set(items.item_id)
    assert (offers.dayparts == "breakfast").sum() >= 5
    assert (offers.dayparts == "late_night").sum() >= 4
    assert (offers.pricing_tiers != "").sum() >= 5
    assert (offers.channels != "").sum() >= 10
    inside = (offers.valid_from > START.isoformat()) & (offers.valid_to < END.isoformat())
    assert inside.sum() >= 5


def test_one_png_per_offer_whose_colors_differ_by_category(
    out: Path, tables: dict[str, pd.DataFrame]
) -> None:
    offers = tables["offers"]
    assert (offers.image == "images/" + offers.offer_id + ".png").all()
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(offers.offer_id + ".png")
    colors = []
    for path in offers.image:
        with Image.open(out / path) as image:
            assert image.format == "PNG" and image.size == (128, 128)
            colors.append(np.asarray(image.convert("RGB"), dtype=float).mean(axis=(0, 1)))
    colors_array = np.array(colors)
    distance = np.linalg.norm(colors_array[:, None] - colors_array[None, :], axis=2)
    same = offers.category.to_numpy()[:, None] == offers.category.to_numpy()[None, :]
    off_diagonal = ~np.eye(len(offers), dtype=bool)

    assert distance[~same].mean() > 2 * distance[same & off_diagonal].mean()
    assert len({tuple(np.round(c, 3)) for c in colors_array}) == len(offers)


def test_ids_are_unique_and_every_reference_exists(tables: dict[str, pd.DataFrame]) -> None:
    orders, order_lines = tables["orders"], tables["order_lines"]
    customers, offers = tables["customers"], tables["offers"]

    assert orders.order_id.is_unique and customers.customer_id.is_unique
    assert set(orders.store_id) <= set(tables["stores"].store_id)
    assert set(orders.customer_id) - {""} <= set(customers.customer_id)
    assert set(order_lines.order_id) == set(orders.order_id)
    assert set(order_lines.item_id) <= set(tables["items"].item_id)
    assert set(order_lines.offer_id) - {""} <= set(offers.offer_id)
    assert set(tables["offer_assignments"].customer_id) == set(customers.customer_id)
    assert set(tables["offer_assignments"].offer_id) <= set(offers.offer_id)
    assert (order_lines.quantity > 0).all()
    assert set(tables["weather"].store_id) == set(tables["stores"].store_id)


def test_about_five_percent_of_orders_are_anonymous(tables: dict[str, pd.DataFrame]) -> None:
    anonymous = (tables["orders"].customer_id == "").mean()

    assert 0.04 <= anonymous <= 0.06


def test_totals_and_margins_add_up_from_the_lines(lines: pd.DataFrame) -> None:
    per_order = lines.assign(cost=lines.quantity * lines.unit_cost.astype(float)).groupby(
        "order_id"
    )
    summed = per_order.agg(
        amount=("amount", "sum"), cost=("cost", "sum"), total=("total", "first"),
        margin=("gross_margin", "first"),
    )  # fmt: skip

    assert np.abs(summed.total - summed.amount).max() < 0.005
    assert np.abs(summed.margin - (summed.total - summed.cost)).max() < 0.006
    assert (np.round(lines.amount, 2) == lines.amount).all()


def test_timestamps_are_local_without_offset_and_inside_the_period(
    tables: dict[str, pd.DataFrame],
) -> None:
    stamps = tables["orders"].ordered_at
    local = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")

    assert stamps.map(lambda s: bool(local.match(s))).all()
    assert stamps.min() >= START.isoformat() and stamps.max() < END.isoformat()
    assert not in_window(minute_of_day(stamps), (60, 300)).any()
    assigned = tables["offer_assignments"].assigned_at
    assert assigned.str.endswith("T00:00:00+00:00").all()


def test_redemptions_are_offer_lines_of_their_order(
    tables: dict[str, pd.DataFrame], lines: pd.DataFrame
) -> None:
    redemptions = tables["offer_redemptions"]
    offer_lines = lines[lines.offer_id != ""]
    joined = redemptions.merge(
        offer_lines, on=["order_id", "offer_id"], how="left", suffixes=("", "_line"), indicator=True
    )

    assert len(redemptions) > 100
    assert (joined._merge == "both").all() and len(joined) == len(redemptions)
    assert (joined.customer_id == joined.customer_id_line).all()
    assert (joined.store_id == joined.store_id_line).all()
    assert (joined.redeemed_at == joined.ordered_at).all()
    assert len(offer_lines) == len(redemptions)


def test_redemptions_are_assigned_offers_in_their_batch_or_app_deals_taken_mostly_in_the_app(
    tables: dict[str, pd.DataFrame],
) -> None:
    zones = dict(zip(tables["stores"].store_id, tables["stores"].timezone, strict=True))
    redemptions = tables["offer_redemptions"]
    pairs = redemptions.merge(tables["offer_assignments"], on=["customer_id", "offer_id"])
    redeemed = pairs.apply(
        lambda r: datetime.fromisoformat(r.redeemed_at).replace(tzinfo=ZoneInfo(zones[r.store_id])),
        axis=1,
    )
    assigned = pairs.assigned_at.map(datetime.fromisoformat)
    usable = timedelta(days=7 * ASSIGNMENT_CADENCE_WEEKS)
    pairs["fits"] = (assigned <= redeemed) & (redeemed < assigned + usable)
    in_batch = set(pairs.loc[pairs.fits, "order_id"])
    channel = redemptions.merge(tables["orders"][["order_id", "channel"]], on="order_id").set_index(
        "order_id"
    )["channel"]
    from_batch = channel[channel.index.isin(in_batch)]
    deals = channel[~channel.index.isin(in_batch)]

    assert 0.2 < len(from_batch) / len(redemptions) < 0.9
    assert (deals == "mobile_app").mean() > (from_batch == "mobile_app").mean() + 0.05


def test_redemptions_respect_tier_channel_daypart_and_dates(
    tables: dict[str, pd.DataFrame],
) -> None:
    offers = tables["offers"].set_index("offer_id")
    stores = tables["stores"].set_index("store_id")
    orders = tables["orders"].set_index("order_id")
    for row in tables["offer_redemptions"].itertuples():
        offer, order = offers.loc[row.offer_id], orders.loc[row.order_id]
        minute = pd.Series([minute_of_day(pd.Series([row.redeemed_at])).iloc[0]])
        day = row.redeemed_at[:10]
        if offer.pricing_tiers:
            assert stores.loc[row.store_id].pricing_tier in offer.pricing_tiers.split("|")
        if offer.channels:
            assert order.channel in offer.channels.split("|")
        if offer.valid_from:
            assert offer.valid_from <= day <= offer.valid_to
        if offer.dayparts:
            spans = [daypart_span(part) for part in offer.dayparts.split("|")]
            assert any(in_window(minute, span).iloc[0] for span in spans), row


def test_breakfast_only_offers_are_redeemed_in_breakfast_hours(
    tables: dict[str, pd.DataFrame],
) -> None:
    offers = tables["offers"]
    breakfast_only = offers.offer_id[offers.dayparts.isin(["breakfast", "06:00-10:30"])]
    redeemed = tables["offer_redemptions"]
    redeemed = redeemed[redeemed.offer_id.isin(breakfast_only)]

    assert len(redeemed) >= 10
    assert in_window(minute_of_day(redeemed.redeemed_at), BREAKFAST).all()


def test_menu_follows_the_clock(lines: pd.DataFrame) -> None:
    late_night = in_window(lines.minute, (21 * 60, 5 * 60))
    breakfast = in_window(lines.minute, BREAKFAST)

    assert not (late_night & (lines.category == "kids_meals")).any()
    assert (lines.category[~breakfast] != "breakfast").all()
    assert not (breakfast & lines.category.isin(["burgers", "chicken", "kids_meals"])).any()


def test_cold_or_wet_days_sell_hot_drinks_and_hot_days_frozen_ones(lines: pd.DataFrame) -> None:
    outside_breakfast = lines[~in_window(lines.minute, BREAKFAST)]
    cold = outside_breakfast[(outside_breakfast.temp_c < 8) | (outside_breakfast.precip_mm >= 1)]
    hot = outside_breakfast[outside_breakfast.temp_c > 26]

    assert len(cold) > 300 and len(hot) > 300
    assert (cold.category == "hot_drinks").mean() > 2 * (hot.category == "hot_drinks").mean()
    assert (hot.category == "frozen_drinks").mean() > 2 * (cold.category == "frozen_drinks").mean()


def test_burgers_come_with_a_side_and_a_drink_more_often_than_not(lines: pd.DataFrame) -> None:
    categories = lines.groupby("order_id").category.agg(set)
    with_burger = categories[categories.map(lambda c: "burgers" in c)]

    assert with_burger.map(lambda c: "sides" in c).mean() > 0.5
    breakfast = categories[categories.map(lambda c: "breakfast" in c)]
    assert breakfast.map(lambda c: "hot_drinks" in c).mean() > 0.5


def test_next_main_tends_to_repeat_the_previous_main_category(lines: pd.DataFrame) -> None:
    mains = lines[lines.category.isin(["burgers", "chicken"]) & (lines.customer_id != "")]
    mains = mains.sort_values(["customer_id", "ordered_at"]).drop_duplicates("order_id")
    same_customer = mains.customer_id.eq(mains.customer_id.shift())
    repeated = mains.category.eq(mains.category.shift())[same_customer].mean()
    burger_share = (mains.category == "burgers").mean()
    by_chance = burger_share**2 + (1 - burger_share) ** 2

    assert repeated > by_chance + 0.2


def test_customers_keep_coming_back_for_favorite_items(lines: pd.DataFrame) -> None:
    known = lines[(lines.customer_id != "") & (lines.offer_id == "")]
    counts = known.groupby(["customer_id", "category"]).item_id.agg(["size", "nunique"])
    regulars = counts[counts["size"] >= 4]

    assert len(regulars) > 100
    top_share = (
        known.groupby(["customer_id", "category"]).item_id.agg(lambda s: s.value_counts().iloc[0])
        / known.groupby(["customer_id", "category"]).size()
    )[regulars.index]
    assert top_share.mean() > 0.6


def test_weather_is_daily_per_store_and_follows_the_climate(
    tables: dict[str, pd.DataFrame],
) -> None:
    weather = tables["weather"].merge(tables["stores"], on="store_id")
    days = (END - START).days

    assert len(weather) == len(tables["stores"]) * days
    assert not weather.duplicated(["store_id", "date"]).any()
    by_city = weather.groupby(weather.name.str.extract(r"DeepFlame (.*) #")[0]).temp_c.mean()
    assert by_city["Miami"] > by_city["Minneapolis"] + 5
    june = weather[weather.date.str.startswith("2025-06")].temp_c.mean()
    april = weather[weather.date.str.startswith("2025-04")].temp_c.mean()
    assert june > april + 3


def test_truth_is_a_sibling_folder_with_one_persona_per_customer_month(
    demo: tuple[Path, DemoSummary], tables: dict[str, pd.DataFrame]
) -> None:
    out, summary = demo
    truth = out.parent / "chain.truth"
    personas = pd.read_parquet(truth / "personas.parquet")

    assert summary.truth_dir == truth.resolve() and summary.out_dir == out.resolve()
    assert sorted(p.name for p in truth.iterdir()) == [
        "params.json",
        "personas.parquet",
        "taste_drift.parquet",
    ]
    assert personas.columns.tolist() == ["customer_id", "month", "persona"]
    assert len(personas) == CUSTOMERS * 3
    assert set(personas.month) == {"2025-04", "2025-05", "2025-06"}
    assert set(personas.persona) == PERSONA_NAMES
    assert set(personas.customer_id) == set(tables["customers"].customer_id)


def test_about_ten_percent_of_customers_switch_persona_once_at_a_month_boundary(
    out: Path,
) -> None:
    truth = out.parent / "chain.truth"
    personas = pd.read_parquet(truth / "personas.parquet").sort_values(["customer_id", "month"])
    params = json.loads((truth / "params.json").read_text())
    changes = personas.groupby("customer_id").persona.agg(lambda s: (s != s.shift()).sum() - 1)
    drifts = {d["customer_id"]: d for d in params["drifts"]}

    assert abs(len(drifts) / CUSTOMERS - 0.10) <= 0.01
    assert set(changes[changes > 0].index) == set(drifts)
    assert changes.max() == 1
    for customer_id, drift in drifts.items():
        months = personas[personas.customer_id == customer_id].set_index("month").persona
        assert months[months.index < drift["month"]].eq(drift["from"]).all()
        assert months[months.index >= drift["month"]].eq(drift["to"]).all()
    assert params["seed"] == 11 and set(params["personas"]) == PERSONA_NAMES


def test_truth_holds_the_seeded_order_effect_and_taste_drift(out: Path) -> None:
    truth = out.parent / "chain.truth"
    effects = json.loads((truth / "params.json").read_text())["effects"]
    drift = pd.read_parquet(truth / "taste_drift.parquet")
    categories = set(effects["follows"])

    assert len(categories) == 9 and set(effects["follows"].values()) == categories
    assert all(source != target for source, target in effects["follows"].items())
    low, high = effects["follow_boost_range"]
    assert low <= effects["follow_boost"] <= high
    assert len(drift) == CUSTOMERS and drift.customer_id.is_unique
    assert (drift.rising != drift.falling).all()
    assert drift.log_rate_per_month.between(0, effects["drift_rate_max"]).all()


def test_other_seeds_draw_other_effect_maps(tmp_path: Path) -> None:
    maps = set()
    for seed in (1, 2, 3):
        demo_chain_generate(
            out_dir=tmp_path / f"s{seed}", customers=60, months=1, seed=seed, start=START
        )
        params = json.loads((tmp_path / f"s{seed}.truth" / "params.json").read_text())
        maps.add(tuple(sorted(params["effects"]["follows"].items())))

    assert len(maps) == 3


def customer_month_features(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Behavior per customer and month as a segmentation would see it (zero when absent)."""
    orders = tables["orders"][tables["orders"].customer_id != ""].copy()
    stamps = pd.to_datetime(orders.ordered_at)
    minutes = minute_of_day(orders.ordered_at)
    orders["month"] = orders.ordered_at.str[:7]
    orders["weekend"] = stamps.dt.weekday >= 5
    orders["daypart"] = np.select(
        [in_window(minutes, w) for w in [(300, 630), (630, 840), (840, 1020), (1020, 1260)]],
        ["breakfast", "lunch", "afternoon", "dinner"],
        "late_night",
    )
    orders["items"] = orders.order_id.map(tables["order_lines"].groupby("order_id").quantity.sum())
    orders["redeemed"] = orders.order_id.isin(tables["offer_redemptions"].order_id)
    orders["day"] = (stamps - pd.Timestamp(START)).dt.days
    grouped = orders.groupby(["customer_id", "month"])
    features = grouped.agg(
        visits=("order_id", "size"), spend=("total", "mean"), margin=("gross_margin", "mean"),
        weekend=("weekend", "mean"), items=("items", "mean"), redeemed=("redeemed", "mean"),
        last_day=("day", "max"),
    )  # fmt: skip
    for column in ("channel", "daypart"):
        features = features.join(pd.crosstab([orders.customer_id, orders.month], orders[column],
                                             normalize="index"))  # fmt: skip
    return features


def test_kmeans_recovers_the_personas_from_monthly_behavior(
    out: Path, tables: dict[str, pd.DataFrame]
) -> None:
    truth = pd.read_parquet(out.parent / "chain.truth" / "personas.parquet")
    drifting = {
        d["customer_id"]
        for d in json.loads((out.parent / "chain.truth" / "params.json").read_text())["drifts"]
    }
    features = truth.set_index(["customer_id", "month"]).join(customer_month_features(tables))
    features = features[~features.index.get_level_values(0).isin(drifting)].fillna(0.0)
    month_end = {"2025-04": 30, "2025-05": 61, "2025-06": 91}
    month_index = features.index.get_level_values(1).map(month_end)
    last = features.last_day.where(features.visits > 0).groupby(level=0).ffill()
    features["recency"] = (month_index - last).fillna(90).clip(upper=90)
    matrix = StandardScaler().fit_transform(features.drop(columns=["persona", "last_day"]))
    labels = KMeans(n_clusters=len(PERSONA_NAMES), n_init=10, random_state=0).fit_predict(matrix)

    assert adjusted_rand_score(features.persona, labels) >= 0.8


def test_same_seed_same_bytes_other_seed_other_history(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again)
    other = tmp_path / "other"
    generate(other, seed=12)

    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for relative in files:
        assert (out / relative).read_bytes() == (again / relative).read_bytes(), relative
    truth = out.parent / "chain.truth"
    assert (truth / "personas.parquet").read_bytes() == (
        tmp_path / "again.truth" / "personas.parquet"
    ).read_bytes()
    assert (out / "orders.parquet").read_bytes() != (other / "orders.parquet").read_bytes()


def test_refuses_a_non_empty_output_folder_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    with pytest.raises(DemoArgumentError, match="not empty"):
        demo_chain_generate(out_dir=folder, customers=10, months=1, seed=1, start=START)

    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "busy.truth").exists()


def test_command_writes_a_demo_and_reports_row_counts(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "cmd"

    call_command("generate_demo_data", str(folder), "--customers", "40", "--months", "2",
                 "--seed", "3", "--start", "2025-02-01")  # fmt: skip

    printed = capsys.readouterr().out.splitlines()
    counts = {
        parts[0]: int(parts[1].replace(",", ""))
        for parts in (line.split() for line in printed)
        if len(parts) == 2 and parts[1].replace(",", "").isdigit()
    }
    assert counts["orders"] == pq.read_metadata(folder / "orders.parquet").num_rows
    assert counts["customers"] == 40
    params = json.loads((tmp_path / "cmd.truth" / "params.json").read_text())
    assert params["start"] == "2025-02-01" and params["month_labels"] == ["2025-02", "2025-03"]


def test_command_rejects_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")

    with pytest.raises(CommandError, match="not empty"):
        call_command("generate_demo_data", str(tmp_path / "taken"))
