"""Real chains' extracts (issue 15): what their exports write imports, and what breaks is
named by file and column. The generated corpus (test_import_corpus.py) covers every rule;
these are the findings, one by one, through the command a user runs."""

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from deepflame_web.core.lake import lake_read, lake_row_counts
from deepflame_web.core.models import Run
from offers.models import Offer, Store
from segments.ingest.contract import TABLES_BY_NAME
from tests.segments.contract_folder import copy_tables, write_folder
from tests.segments.import_corpus import image_bytes
from tests.segments.test_import import snapshot

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-data"


def import_folder(folder: Path) -> None:
    call_command("import_data", str(folder))


def as_parquet(folder: Path, table: str, types: dict[str, pa.DataType] | None = None) -> None:
    """Rewrite one CSV table as Parquet, every column text unless typed otherwise."""
    csv_path = folder / f"{table}.csv"
    names = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    data = pacsv.read_csv(
        csv_path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )
    for name, kind in (types or {}).items():
        data = data.set_column(data.column_names.index(name), name, data.column(name).cast(kind))
    pq.write_table(data, folder / f"{table}.parquet")
    csv_path.unlink()


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_order_lines_without_the_optional_offer_id_import(form: str, tmp_path: Path) -> None:
    tables = copy_tables()
    for line in tables["order_lines"]:
        del line["offer_id"]
    folder = write_folder(tmp_path / "extract", tables)
    if form == "parquet":
        as_parquet(folder, "order_lines")

    import_folder(folder)

    lines = lake_read(table="order_lines", columns=["offer_id"])
    assert lines.num_rows == 4 and lines.column("offer_id").null_count == 4


def test_parquet_timestamps_as_iso_strings_import(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "extract")
    as_parquet(folder, "orders", {"ordered_at": pa.large_string()})
    as_parquet(folder, "offer_redemptions", {"redeemed_at": pa.large_string()})

    import_folder(folder)

    months = lake_read(table="orders", columns=["order_id", "month"]).to_pylist()
    assert {m["order_id"]: m["month"] for m in months} == {
        "A1": "2025-01",
        "A2": "2025-02",
        "A3": "2025-01",
    }
    assert lake_row_counts()["offer_redemptions"] == 1


def test_a_windows_csv_with_bom_quotes_and_other_headers_imports(tmp_path: Path) -> None:
    """Excel's CSV: a BOM, CRLF, every value quoted, a line break and separators inside a
    value, its own header case and spaces, the columns in another order, one extra."""
    tables = copy_tables()
    tables["offers"][0]["description"] += ', "really"\nsee terms'
    folder = write_folder(tmp_path / "extract", tables)
    with (folder / "offers.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(reversed(list(rows[0])))
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([f" {name.upper()} " for name in columns] + ["Exported By"])
    writer.writerows([row[name] for name in columns] + ["pos-v2"] for row in rows)
    (folder / "offers.csv").write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))

    import_folder(folder)

    offer = Offer.objects.get(offer_id="O1")
    assert offer.description == 'Any size coffee for $1, 5-10:30am, "really"\nsee terms'
    assert offer.dayparts == ["breakfast"] and offer.image.endswith(".png")
    run = Run.objects.latest("pk")
    assert run.result["ignored_columns"] == {"offers.csv": ["Exported By"]}


def test_a_redemption_listed_twice_is_counted_and_skipped(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["offer_redemptions"].append(dict(tables["offer_redemptions"][0]))
    folder = write_folder(tmp_path / "extract", tables)

    import_folder(folder)

    assert lake_row_counts()["offer_redemptions"] == 1
    result = Run.objects.latest("pk").result
    assert result["repeats_skipped"] == {"offer_redemptions.csv": 1}
    assert (
        "offer_redemptions.csv: 1 row(s) repeating an earlier row exactly were skipped"
        in result["warnings"]
    )


def test_repeats_are_found_across_the_batches_of_a_large_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("segments.ingest.parsing.BATCH_ROWS", 1)
    tables = copy_tables()
    first = tables["offer_redemptions"][0]
    tables["offer_redemptions"] += [dict(first), {**first, "order_id": ""}]
    folder = write_folder(tmp_path / "extract", tables)
    as_parquet(folder, "offer_redemptions")

    with pytest.raises(CommandError) as rejected:
        import_folder(folder)

    problems = [line for line in str(rejected.value).splitlines() if "offer_redemptions" in line]
    assert problems == [
        "offer_redemptions.parquet, row 4, column customer_id: duplicate "
        "customer_id/offer_id/redeemed_at 'C1/O1/2025-02-01 15:15:00+00:00' with other content "
        "(first seen in row 2)"
    ]


def test_the_same_redemption_with_other_content_is_an_error(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["offer_redemptions"].append({**tables["offer_redemptions"][0], "order_id": ""})
    folder = write_folder(tmp_path / "extract", tables)

    with pytest.raises(CommandError) as rejected:
        import_folder(folder)

    assert "offer_redemptions.csv, row 3, column customer_id: duplicate " in str(rejected.value)
    assert "with other content (first seen in row 2)" in str(rejected.value)
    assert snapshot()["manifest"] == [] and Store.objects.count() == 0


def test_the_example_folder_of_the_documentation_imports() -> None:
    assert {path.name.removesuffix(".csv") for path in EXAMPLE.glob("*.csv")} == set(TABLES_BY_NAME)

    import_folder(EXAMPLE)

    counts = lake_row_counts()
    assert Store.objects.count() >= 3 and Offer.objects.count() >= 3
    assert counts["orders"] >= 10 and counts["order_lines"] > counts["orders"]
    for table in ("offer_assignments", "offer_redemptions", "weather"):
        assert counts[table] > 0, table
    assert Offer.objects.exclude(image="").exists()


def test_an_unexpected_failure_names_the_file_and_column_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("the parser fell over")

    monkeypatch.setattr("segments.ingest.parsing._parse_timestamp", broken)
    folder = write_folder(tmp_path / "extract")

    with pytest.raises(CommandError) as failed:
        import_folder(folder)

    message = str(failed.value)
    assert message.startswith(
        "The import failed while reading orders.csv, column ordered_at: "
        "ValueError: the parser fell over."
    )
    assert "Nothing was written" in message and "Traceback" not in message
    assert "Traceback" not in Run.objects.latest("pk").error
    assert snapshot()["manifest"] == [] and Store.objects.count() == 0


def test_a_failure_while_writing_names_the_table_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(frame: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("segments.ingest.catalog_rows.insert_customers", broken)
    folder = write_folder(tmp_path / "extract")

    with pytest.raises(CommandError) as failed:
        import_folder(folder)

    assert str(failed.value).startswith(
        "The import failed while writing the customers: RuntimeError: disk full."
    )
    assert snapshot() == snapshot_of_nothing()


def snapshot_of_nothing() -> dict[str, object]:
    return {
        "stores": [],
        "items": 0,
        "offers": [],
        "customers": 0,
        "customer_total": 0,
        "manifest": [],
        "files": [],
    }


def test_an_offer_image_is_stored_with_the_suffix_of_its_content(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["offers"][0]["image"] = "images/o1.html"
    tables["offers"][1]["image"] = "images/o2.png"
    folder = write_folder(tmp_path / "extract", tables)
    (folder / "images" / "o1.html").write_bytes(image_bytes("PNG"))
    (folder / "images" / "o2.png").write_bytes(image_bytes("JPEG"))

    import_folder(folder)

    assert Offer.objects.get(offer_id="O1").image.endswith(".png")
    assert Offer.objects.get(offer_id="O2").image.endswith(".jpg")


def test_an_id_with_a_slash_is_rejected(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["offers"][1]["offer_id"] = "summer/2025"
    folder = write_folder(tmp_path / "extract", tables)

    with pytest.raises(CommandError) as rejected:
        import_folder(folder)

    assert (
        "offers.csv, row 3, column offer_id: contains '/', which an id may not "
        "(ids are part of page addresses)" in str(rejected.value)
    )
    assert Offer.objects.count() == 0
