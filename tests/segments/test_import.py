"""The import by DATA_CONTRACT.md: what a good extract gives, and what each bad input gets."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from deepflame_web.core.lake import lake_read, lake_root, lake_row_counts
from deepflame_web.core.models import LakeFile, Run, RunStatus
from offers.models import Item, Offer, Store
from segments.models import Customer
from segments.selectors import customer_count
from tests.segments.contract_folder import copy_tables, write_folder

pytestmark = pytest.mark.django_db(transaction=True)
Tables = dict[str, list[dict[str, str]]]


def snapshot() -> dict[str, object]:
    """Everything an import could change: catalog, customers, manifest and lake files."""
    files = sorted(str(p) for p in lake_root().rglob("*.parquet")) if lake_root().exists() else []
    return {
        "stores": list(Store.objects.values_list("store_id", "name")),
        "items": Item.objects.count(),
        "offers": list(Offer.objects.values_list("offer_id", "name")),
        "customers": Customer.objects.count(),
        "customer_total": customer_count(),
        "manifest": list(LakeFile.objects.values_list("path", flat=True)),
        "files": files,
    }


def import_folder(folder: Path) -> None:
    call_command("import_data", str(folder))


def test_a_good_extract_lands_in_the_database_and_the_lake(tmp_path: Path) -> None:
    import_folder(write_folder(tmp_path / "extract"))

    assert Store.objects.get(store_id="NY1").timezone == "America/New_York"
    assert Customer.objects.get(customer_id="C1").attributes == {"loyalty_tier": "gold"}
    assert Offer.objects.get(offer_id="O2").channels == ["mobile_app", "kiosk"]
    assert Offer.objects.get(offer_id="O1").image.startswith("offers/")
    assert lake_row_counts() == {
        "orders": 3,
        "order_lines": 4,
        "offer_assignments": 1,
        "offer_redemptions": 1,
        "weather": 2,
    }
    orders = lake_read(
        table="orders", columns=["order_id", "month", "gross_margin", "customer_id"]
    ).to_pylist()
    by_id = {o["order_id"]: o for o in orders}
    # 23:30 in New York on Jan 31 is Feb 1 in UTC, but it belongs to January there.
    assert by_id["A1"]["month"] == "2025-01"
    # 01:00Z on Feb 1 is 17:00 on Jan 31 in Los Angeles.
    assert by_id["A3"]["month"] == "2025-01"
    assert by_id["A2"]["month"] == "2025-02"
    assert by_id["A1"]["gross_margin"] == pytest.approx(9.48 - 2.10 - 0.40)
    assert by_id["A2"]["gross_margin"] == pytest.approx(0.80)
    assert by_id["A2"]["customer_id"] is None
    assert customer_count() == 2


def test_importing_the_same_folder_twice_changes_nothing(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "extract")
    import_folder(folder)
    before = snapshot()

    import_folder(folder)

    after = snapshot()
    assert after["manifest"] == before["manifest"] and after["files"] == before["files"]
    assert after == before


def test_a_later_extract_adds_only_what_is_new(tmp_path: Path) -> None:
    import_folder(write_folder(tmp_path / "first"))
    tables = copy_tables()
    tables["customers"].append({"customer_id": "C3", "joined_at": "", "loyalty_tier": "none"})
    tables["orders"].append(
        {
            "order_id": "A4",
            "customer_id": "C2",
            "store_id": "NY1",
            "ordered_at": "2025-03-02T12:00:00",
            "channel": "counter",
            "total": "2.99",
            "gross_margin": "",
        }
    )
    tables["order_lines"].append(
        {"order_id": "A4", "item_id": "FRY", "quantity": "1", "amount": "2.99", "offer_id": ""}
    )

    import_folder(write_folder(tmp_path / "second", tables))

    assert lake_row_counts()["orders"] == 4
    assert lake_row_counts()["order_lines"] == 5
    assert Store.objects.count() == 2
    assert customer_count() == Customer.objects.count() == 3
    march = lake_read(table="orders", columns=["order_id"], months=["2025-03"])
    assert march.column("order_id").to_pylist() == ["A4"]


def _drop_file(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / f"{name}.csv").unlink()


def _edit(table: str, row: int, **values: str) -> Callable[[Tables], None]:
    def apply(tables: Tables) -> None:
        tables[table][row].update(values)

    return apply


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def apply(tables: Tables) -> None:
        for record in tables[table]:
            record.pop(column)

    return apply


def _duplicate(table: str, row: int, **changes: str) -> Callable[[Tables], None]:
    return lambda tables: tables[table].append({**tables[table][row], **changes})


BAD_INPUTS = {
    "missing required column": (
        _drop_column("stores", "pricing_tier"),
        None,
        "stores.csv, column pricing_tier: required column is missing",
    ),
    "bad type": (
        _edit("orders", 1, total="nine"),
        None,
        "orders.csv, row 3, column total: is not a decimal number",
    ),
    "bad timestamp": (
        _edit("orders", 0, ordered_at="31/01/2025 23:30"),
        None,
        "orders.csv, row 2, column ordered_at: is not an ISO 8601 timestamp",
    ),
    "impossible date": (
        _edit("weather", 0, date="2025-02-30"),
        None,
        "weather.csv, row 2, column date: is not a date (YYYY-MM-DD)",
    ),
    "duplicate id": (
        _duplicate("items", 1, name="Curly fries"),
        None,
        "items.csv, row 5, column item_id: duplicate item_id 'FRY' with other content "
        "(first seen in row 3)",
    ),
    "missing store": (
        _edit("orders", 2, store_id="SF9"),
        None,
        "orders.csv, row 4, column store_id: refers to store 'SF9', which does not exist",
    ),
    "missing item": (
        _edit("order_lines", 1, item_id="SHAKE"),
        None,
        "order_lines.csv, row 3, column item_id: refers to item 'SHAKE', which does not exist",
    ),
    "missing order": (
        _edit("order_lines", 3, order_id="Z9"),
        None,
        "order_lines.csv, row 5, column order_id: refers to order 'Z9', which does not exist",
    ),
    "missing customer": (
        _edit("orders", 0, customer_id="C404"),
        None,
        "orders.csv, row 2, column customer_id: refers to customer 'C404', which does not exist",
    ),
    "missing offer": (
        _edit("offer_redemptions", 0, offer_id="O77"),
        None,
        "offer_redemptions.csv, row 2, column offer_id: refers to offer 'O77', "
        "which does not exist",
    ),
    "negative quantity": (
        _edit("order_lines", 0, quantity="-2"),
        None,
        "order_lines.csv, row 2, column quantity: must be greater than 0",
    ),
    "unknown timezone": (
        _edit("stores", 1, timezone="Pacific/Atlantis"),
        None,
        "stores.csv, row 3, column timezone: unknown timezone 'Pacific/Atlantis'",
    ),
    "missing image": (
        _edit("offers", 1, image="images/gone.png"),
        None,
        "offers.csv, row 3, column image: image 'images/gone.png' is missing",
    ),
    "not an image": (
        None,
        lambda f: (f / "images" / "o1.png").write_text("not a png"),
        "offers.csv, row 2, column image: image 'images/o1.png': o1.png is not an image; "
        "upload a PNG or JPEG",
    ),
    "missing required file": (
        None,
        _drop_file("order_lines"),
        "order_lines.csv: required file is missing",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_named_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    edit_tables, edit_folder, message = BAD_INPUTS[case]
    import_folder(write_folder(tmp_path / "earlier"))
    before = snapshot()
    tables = copy_tables()
    if edit_tables:
        edit_tables(tables)
    for table in tables.values():  # a new id everywhere, so only the bad row can fail
        for record in table:
            if record.get("order_id") in ("A1", "A2", "A3"):
                record["order_id"] = "N" + record["order_id"]
            if "redeemed_at" in record:  # the redemption of the renamed order is a new event
                record["redeemed_at"] = "2025-02-01T07:16:00"
    folder = write_folder(tmp_path / "bad", tables)
    if edit_folder:
        edit_folder(folder)

    with pytest.raises(CommandError) as rejected:
        import_folder(folder)

    assert message in str(rejected.value)
    assert "nothing was written" in str(rejected.value)
    assert snapshot() == before
    assert Run.objects.latest("pk").status == RunStatus.FAILED


def test_an_existing_id_with_different_content_is_an_error(tmp_path: Path) -> None:
    import_folder(write_folder(tmp_path / "first"))
    before = snapshot()
    tables = copy_tables()
    tables["stores"][0]["name"] = "Times Square (renamed)"
    tables["orders"][2]["total"] = "7.49"

    with pytest.raises(CommandError) as rejected:
        import_folder(write_folder(tmp_path / "second", tables))

    text = str(rejected.value)
    assert "stores.csv, row 2, column name: store_id 'NY1' exists already with different" in text
    assert "orders.csv, row 4, column order_id: order_id exists already with different" in text
    assert snapshot() == before


def test_the_command_exits_non_zero_and_reports_the_total(tmp_path: Path) -> None:
    tables = copy_tables()
    for record in tables["order_lines"]:
        record["quantity"] = "0"
    folder = write_folder(tmp_path / "bad", tables)

    done = subprocess.run(
        [sys.executable, "manage.py", "import_data", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
            "DATABASE_URL": _database_url(),
        },
    )

    assert done.returncode == 1
    assert "4 problem(s) found, nothing was written" in done.stderr
    assert "order_lines.csv, row 5, column quantity: must be greater than 0" in done.stderr


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    tables = copy_tables()
    for record in tables["items"]:
        record["calories"] = "500"
    folder = write_folder(tmp_path / "extra", tables)

    import_folder(folder)

    run = Run.objects.latest("pk")
    assert "items.csv: unknown columns ignored: calories" in run.result["warnings"]


def test_parquet_and_gzipped_csv_read_like_csv(tmp_path: Path) -> None:
    import gzip
    import shutil

    import pyarrow.csv as pacsv

    folder = write_folder(tmp_path / "mixed")
    orders = pacsv.read_csv(
        folder / "orders.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=False)
    )
    pq.write_table(orders.cast(orders.schema), folder / "orders.parquet")
    (folder / "orders.csv").unlink()
    with (folder / "items.csv").open("rb") as raw, gzip.open(folder / "items.csv.gz", "wb") as gz:
        shutil.copyfileobj(raw, gz)
    (folder / "items.csv").unlink()

    import_folder(folder)

    assert Item.objects.count() == 3
    assert lake_row_counts()["orders"] == 3


def _database_url() -> str:
    from tests.worker import worker_database_url

    return worker_database_url()
