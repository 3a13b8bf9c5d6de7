"""A generated corpus of import folders, each one mutation of a small valid extract.

Every malformed folder is rejected with its file, row and column named and nothing written
(database and lake as before); every variant a real export writes imports, and imports to
exactly what the plain CSV extract gives. The cases are generated from the contract's own
tables (`segments.ingest.contract`), so a column added there is broken here too.

The import is called directly (the command adds only printing, tested in test_import.py), in
a rolled-back transaction, so the few hundred cases stay fast.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from django.db import transaction
from django.test import override_settings

from deepflame_web.core import hashing
from deepflame_web.core.lake import lake_read, lake_root
from deepflame_web.core.lake_tables import (
    OFFER_ASSIGNMENTS,
    OFFER_REDEMPTIONS,
    ORDER_LINES,
    ORDERS,
    WEATHER,
)
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from offers.models import Item, Offer, Store
from segments.ingest.catalog_rows import CATALOG_FIELDS
from segments.ingest.contract import TABLES_BY_NAME, Kind
from segments.ingest.importer import ImportSummary, history_import
from segments.ingest.problems import ImportRejected
from segments.models import Customer
from segments.selectors import customer_count
from tests.segments import import_corpus as corpus
from tests.segments.import_corpus import Extract

pytestmark = pytest.mark.django_db
LAKE_TABLES = (ORDERS, ORDER_LINES, OFFER_ASSIGNMENTS, OFFER_REDEMPTIONS, WEATHER)


@pytest.fixture(autouse=True, scope="module")
def one_duckdb_database() -> Iterator[None]:
    """Row hashes from one in-memory DuckDB database for the whole module.

    `hashing.hash_rows` opens a database per call (some 40 ms here, five calls per import),
    which would make this corpus minutes long; a cursor of one database hashes the same.
    """
    shared = duckdb.connect()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashing, "duckdb", SimpleNamespace(connect=shared.cursor))
        yield
    shared.close()


@dataclass(frozen=True)
class Bad:
    """A malformed extract and the problem it must get: file, row (0: the whole file),
    column ("" for the file) and a part of the reason."""

    build: Callable[[], Extract]
    file: str
    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class Good:
    """A variant that imports: to exactly what the plain extract with the same tables gives
    (`same`), or, where the mutation changes the data, to as many rows (or as `check` says)."""

    build: Callable[[], Extract]
    same: bool = True
    check: Callable[[ImportSummary], None] | None = None


def _edited(optional: tuple[str, ...], edit: Callable[[Extract], None]) -> Extract:
    extract = corpus.base(*optional)
    edit(extract)
    return extract


def _optional(table: str) -> tuple[str, ...]:
    return (table,) if table in corpus.OPTIONAL else ()


def _set(table: str, row: int, column: str, value: str) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.tables[table][row][column] = value

    return lambda: _edited(_optional(table), edit)


def _drop_column(table: str, column: str, parquet: bool = False) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        for record in extract.tables[table]:
            record.pop(column)
        if parquet:
            extract.parquet[table] = {}

    return lambda: _edited(_optional(table), edit)


def _add_row(table: str, like: int, **values: str) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.tables[table].append({**extract.tables[table][like], **values})

    return lambda: _edited(_optional(table), edit)


def _after(table: str, action: Callable[[Path], object]) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.after.append(action)

    return lambda: _edited(_optional(table), edit)


# ---------------------------------------------------------------------------------------
# Malformed extracts, generated from the contract's tables.


def _bad_cases() -> dict[str, Bad]:
    cases: dict[str, Bad] = {}
    for table in TABLES_BY_NAME.values():
        name, file, rows = table.name, f"{table.name}.csv", corpus.TABLES[table.name]
        if table.required:
            cases[f"{name}-file-missing"] = Bad(
                _after(name, _unlink(f"{name}.csv")),
                file,
                0,
                "",
                "required file is missing",
            )
        cases[f"{name}-file-empty"] = Bad(
            _after(name, _rewrite(f"{name}.csv", b"")),
            file,
            0,
            "",
            "the file is empty",
        )
        cases[f"{name}-ragged-row"] = Bad(
            _after(name, _append_line(f"{name}.csv", "x")),
            file,
            len(rows) + 2,
            "",
            "the row has 1 values",
        )
        first = table.columns[0].name
        cases[f"{name}-not-utf8"] = Bad(
            _set(name, 0, first, "caf\udce9"),
            file,
            2,
            first,
            "is not UTF-8",
        )
        cases[f"{name}-semicolons"] = Bad(
            _after(name, _semicolons(f"{name}.csv")), file, 0, "", "separated by ';'"
        )
        cases[f"{name}-header-twice"] = Bad(
            _after(name, _duplicate_header(f"{name}.csv", first)),
            file,
            0,
            first,
            "the column is given twice",
        )
        for column in table.columns:
            col = column.name
            if column.required:
                cases[f"{name}.{col}-missing"] = Bad(
                    _drop_column(name, col), file, 0, col, "required column is missing"
                )
            if column.not_empty or (column.required and column.kind is not Kind.TEXT):
                cases[f"{name}.{col}-empty"] = Bad(_set(name, 0, col, "  "), file, 2, col, "empty")
            if column.kind in (Kind.DECIMAL, Kind.FLOAT, Kind.INTEGER):
                what = "is not a"
                cases[f"{name}.{col}-word"] = Bad(_set(name, 0, col, "nine"), file, 2, col, what)
                cases[f"{name}.{col}-inf"] = Bad(_set(name, 0, col, "1e400"), file, 2, col, what)
                if column.required:
                    bad = "NaN" if column.kind is Kind.DECIMAL else "1,5"
                    cases[f"{name}.{col}-{bad}"] = Bad(_set(name, 0, col, bad), file, 2, col, what)
            if column.kind is Kind.INTEGER:
                cases[f"{name}.{col}-fraction"] = Bad(
                    _set(name, 0, col, "1.5"), file, 2, col, "is not a whole number"
                )
            if column.kind is Kind.DATE:
                for label, value in (("impossible", "2025-02-30"), ("dmy", "31/01/2025")):
                    cases[f"{name}.{col}-{label}"] = Bad(
                        _set(name, 0, col, value), file, 2, col, "is not a date"
                    )
            if column.kind is Kind.TIMESTAMP:
                for label, value in (
                    ("impossible", "2025-02-30T10:00:00"),
                    ("word", "yesterday"),
                    ("dmy", "31/01/2025 10:00"),
                    ("bad-offset", "2025-01-31T10:00:00+25:00"),
                ):
                    cases[f"{name}.{col}-{label}"] = Bad(
                        _set(name, 0, col, value), file, 2, col, "is not an ISO 8601 timestamp"
                    )
            if column.not_negative:
                cases[f"{name}.{col}-negative"] = Bad(
                    _set(name, 0, col, "-1"), file, 2, col, "must not be negative"
                )
            if column.positive:
                for value in ("0", "-2"):
                    cases[f"{name}.{col}-{value}"] = Bad(
                        _set(name, 0, col, value), file, 2, col, "must be greater than 0"
                    )
            # An id is checked where it is given and where it is referred to by name.
            if column.identifier and (col in table.key[:1] or col == "customer_id"):
                cases[f"{name}.{col}-slash"] = Bad(
                    _set(name, 0, col, "A/1"), file, 2, col, "contains '/'"
                )
            if column.longest and (col in table.key[:1] or not column.identifier):
                cases[f"{name}.{col}-too-long"] = Bad(
                    _set(name, 0, col, "x" * (column.longest + 1)), file, 2, col, "longer than"
                )
    cases.update(_duplicate_cases())
    cases.update(_reference_cases())
    cases.update(_catalog_rule_cases())
    cases.update(_parquet_bad_cases())
    return cases


def _unlink(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def _rewrite(name: str, content: bytes) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / name).write_bytes(content)

    return apply


def _append_line(name: str, line: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")

    return apply


def _semicolons(name: str) -> Callable[[Path], None]:
    """What a spreadsheet set to a European locale writes."""

    def apply(folder: Path) -> None:
        path = folder / name
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        out = io.StringIO()
        csv.writer(out, delimiter=";").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")

    return apply


def _duplicate_header(name: str, column: str) -> Callable[[Path], None]:
    """The column once more, in capitals, with an empty value in every row."""

    def apply(folder: Path) -> None:
        path = folder / name
        lines = path.read_text(encoding="utf-8").splitlines()
        lines = [f"{lines[0]},{column.upper()}", *(f"{line}," for line in lines[1:])]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return apply


def _duplicate_cases() -> dict[str, Bad]:
    """The same key with other content; an exact repeat is a good variant (below)."""
    changes = {
        "stores": {"name": "Times Square"},
        "items": {"price": "7.00"},
        "customers": {"loyalty_tier": "silver"},
        "orders": {"total": "10.00"},
        "offers": {"description": "other words"},
        "offer_redemptions": {"order_id": ""},
        "weather": {"temp_c": "4"},
    }
    cases = {}
    for name, change in changes.items():
        key = TABLES_BY_NAME[name].key
        row = len(corpus.TABLES[name]) + 2
        cases[f"{name}-same-key-other-content"] = Bad(
            _add_row(name, 0, **change), f"{name}.csv", row, key[0], "duplicate"
        )
    return cases


def _reference_cases() -> dict[str, Bad]:
    missing = [
        ("orders", "store_id", "store"),
        ("orders", "customer_id", "customer"),
        ("order_lines", "order_id", "order"),
        ("order_lines", "item_id", "item"),
        ("order_lines", "offer_id", "offer"),
        ("offers", "item_ids", "item"),
        ("offer_assignments", "customer_id", "customer"),
        ("offer_assignments", "offer_id", "offer"),
        ("offer_redemptions", "customer_id", "customer"),
        ("offer_redemptions", "offer_id", "offer"),
        ("offer_redemptions", "order_id", "order"),
        ("offer_redemptions", "store_id", "store"),
        ("weather", "store_id", "store"),
    ]
    cases = {}
    for table, column, target in missing:
        # Customers are checked only where a customers file lists them.
        optional = tuple(dict.fromkeys((*_optional(table), "customers")))
        build = _with_tables(optional, table, 0, column, "NOPE9")
        cases[f"{table}.{column}-refers-to-nothing"] = Bad(
            build, f"{table}.csv", 2, column, f"refers to {target} 'NOPE9'"
        )
    return cases


def _with_tables(
    optional: tuple[str, ...], table: str, row: int, column: str, value: str
) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.tables[table][row][column] = value

    return lambda: _edited(optional, edit)


def _catalog_rule_cases() -> dict[str, Bad]:
    gif = corpus.image_bytes("GIF")
    return {
        "stores.timezone-unknown": Bad(
            _set("stores", 1, "timezone", "Mars/Olympus"),
            "stores.csv",
            3,
            "timezone",
            "unknown timezone",
        ),
        "offers.dayparts-unknown": Bad(
            _set("offers", 0, "dayparts", "brunch"), "offers.csv", 2, "dayparts", "unknown daypart"
        ),
        "offers.valid_to-before-from": Bad(
            _set("offers", 0, "valid_to", "2024-12-31"),
            "offers.csv",
            2,
            "valid_to",
            "is before valid_from",
        ),
        "offers.image-missing": Bad(
            _set("offers", 1, "image", "images/none.png"), "offers.csv", 3, "image", "missing"
        ),
        "offers.image-outside": Bad(
            _set("offers", 1, "image", "../outside.png"),
            "offers.csv",
            3,
            "image",
            "outside the folder",
        ),
        "offers.image-not-an-image": Bad(
            _after("offers", lambda f: (f / "images" / "o1.png").write_text("<svg/>")),
            "offers.csv",
            2,
            "image",
            "is not an image",
        ),
        "offers.image-too-large": Bad(
            _after("offers", _rewrite("images/o1.png", b"\x89PNG" + bytes(2 * 2**20))),
            "offers.csv",
            2,
            "image",
            "the limit is 2 MiB",
        ),
        "offers.image-gif": Bad(
            _after("offers", lambda f: (f / "images" / "o1.png").write_bytes(gif)),
            "offers.csv",
            2,
            "image",
            "upload a PNG or JPEG",
        ),
        "customers-header-only-lists-nobody": Bad(
            _after("customers", lambda f: (f / "customers.csv").write_text("customer_id\n")),
            "orders.csv",
            2,
            "customer_id",
            "refers to customer 'C1'",
        ),
        "stores-given-twice": Bad(
            _after("stores", lambda f: (f / "stores.parquet").write_bytes(b"PAR1")),
            "stores.csv",
            0,
            "",
            "given twice",
        ),
    }


def _parquet(table: str, makers: dict[str, corpus.ArrayMaker], *optional: str) -> Any:
    def edit(extract: Extract) -> None:
        extract.parquet[table] = makers

    return lambda: _edited(tuple(dict.fromkeys((*_optional(table), *optional))), edit)


def _parquet_bad_cases() -> dict[str, Bad]:
    flags = corpus.values_of(pa.array([True, False, True]))
    return {
        "orders.parquet-not-parquet": Bad(
            lambda: _edited((), lambda e: e.after.append(_spoil("orders.parquet"))),
            "orders.parquet",
            0,
            "",
            "cannot be read as Parquet",
        ),
        "orders.parquet-ordered_at-bool": Bad(
            _parquet("orders", {"ordered_at": flags}),
            "orders.parquet",
            2,
            "ordered_at",
            "has type bool, expected an ISO 8601 timestamp",
        ),
        "orders.parquet-total-text": Bad(
            _parquet("orders", {"total": corpus.values_of(pa.array(["9.48", "x", "6.49"]))}),
            "orders.parquet",
            3,
            "total",
            "is not a decimal number",
        ),
        "orders.parquet-total-nan": Bad(
            _parquet("orders", {"total": corpus.values_of(pa.array([9.48, float("nan"), 6.49]))}),
            "orders.parquet",
            3,
            "total",
            "is not a decimal number",
        ),
        "orders.parquet-ordered_at-bad-string": Bad(
            _parquet(
                "orders",
                {"ordered_at": corpus.values_of(pa.array(["2025-01-31T23:30", "noon", None]))},
            ),
            "orders.parquet",
            3,
            "ordered_at",
            "is not an ISO 8601 timestamp",
        ),
        "orders.parquet-ordered_at-null": Bad(
            _parquet("orders", {"ordered_at": corpus.values_of(pa.nulls(3))}),
            "orders.parquet",
            2,
            "ordered_at",
            "is empty",
        ),
        "order_lines.parquet-quantity-fraction": Bad(
            _parquet("order_lines", {"quantity": corpus.values_of(pa.array([1.0, 1.5, 1.0, 1.0]))}),
            "order_lines.parquet",
            3,
            "quantity",
            "is not a whole number",
        ),
        "order_lines.parquet-quantity-date": Bad(
            _parquet(
                "order_lines", {"quantity": corpus.values_of(pa.array([date(2025, 1, 1)] * 4))}
            ),
            "order_lines.parquet",
            2,
            "quantity",
            "has type",
        ),
        "weather.parquet-date-number": Bad(
            _parquet("weather", {"date": corpus.values_of(pa.array([20250131, 20250201]))}),
            "weather.parquet",
            2,
            "date",
            "has type int64, expected a date",
        ),
        "offers.parquet-name-list": Bad(
            _parquet("offers", {"name": corpus.lists(pa.list_(pa.string()))}),
            "offers.parquet",
            2,
            "name",
            "expected text",
        ),
    }


def _spoil(name: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / name.replace(".parquet", ".csv")).unlink()
        (folder / name).write_bytes(b"not parquet at all")

    return apply


BAD = _bad_cases()


# ---------------------------------------------------------------------------------------
# Variants real exports write: each imports to the same data as the plain extract.


def _csv_variant(table: str, **options: Any) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.csv[table] = options

    return lambda: _edited(_optional(table), edit)


def _quoted_text(table: str) -> Callable[[], Extract]:
    """Every text value holds the separator, a quote and a line break."""

    def edit(extract: Extract) -> None:
        extract.csv[table] = {"newline": "\r\n"}
        for record in extract.tables[table]:
            for column in TABLES_BY_NAME[table].columns:
                if column.name in ("name", "description", "condition", "region") and record.get(
                    column.name
                ):
                    record[column.name] = f'{record[column.name]}, "quoted"\nsecond line'

    return lambda: _edited(_optional(table), edit)


def _spaced_values(table: str) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        for record in extract.tables[table]:
            for column in list(record):
                record[column] = f"  {record[column]} " if record[column] else record[column]

    return lambda: _edited(_optional(table), edit)


def _good_cases() -> dict[str, Good]:
    cases: dict[str, Good] = {}
    everything = corpus.OPTIONAL
    cases["all-tables-csv"] = Good(lambda: corpus.base(*everything))
    cases["required-tables-only"] = Good(lambda: corpus.base())
    for table in TABLES_BY_NAME.values():
        name = table.name
        same = True
        columns = [c.name for c in table.columns if c.name in corpus.TABLES[name][0]]
        csv_variants: dict[str, dict[str, Any]] = {
            "bom-crlf-quoted": {"bom": True, "newline": "\r\n", "quote_all": True},
            "reversed-columns": {"columns": list(reversed(list(corpus.TABLES[name][0])))},
            "spaced-header": {"header": lambda c: f"  {c.replace('_', ' ').title()} "},
            "gzip": {"gzip": True},
        }
        for label, options in csv_variants.items():
            # Customers keep other columns as attributes, under the names the file gives.
            renames = table.keeps_extra_columns and "header" in label
            cases[f"{name}-csv-{label}"] = Good(_csv_variant(name, **options), not renames)
        cases[f"{name}-csv-quoted-separators-and-newlines"] = Good(_quoted_text(name), same=False)
        cases[f"{name}-csv-spaces-around-values"] = Good(_spaced_values(name), same)
        cases[f"{name}-extra-columns"] = Good(
            _extra_columns(name),
            not table.keeps_extra_columns,
            _names_ignored(name, table.keeps_extra_columns),
        )
        if not table.required and not table.keeps_extra_columns:
            cases[f"{name}-header-only"] = Good(_header_only(name), False, _no_rows(name))
        for label, maker in (
            ("large-string", corpus.large_text),
            ("dictionary", corpus.dictionary_text),
        ):
            cases[f"{name}-parquet-all-{label}"] = Good(
                _parquet(name, dict.fromkeys(columns, maker)), same
            )
        cases[f"{name}-parquet-typed"] = Good(_parquet(name, corpus.native_makers(name)), same)
        # Every optional column left out of a CSV; of a Parquet file, the first of each table.
        optional_columns = [c.name for c in table.columns if not c.required and c.name in columns]
        absent_in_parquet = set(optional_columns[1:])
        for column in table.columns:
            if not column.required and column.name in columns:
                for parquet in (False, True) if column.name not in absent_in_parquet else (False,):
                    kind = "parquet" if parquet else "csv"
                    cases[f"{name}.{column.name}-absent-{kind}"] = Good(
                        _drop_column(name, column.name, parquet), same=False
                    )
            cases.update(_typed_variants(name, column.name, column.kind))
    cases.update(_repeat_cases())
    cases["orders.customer_id-empty-is-anonymous"] = Good(
        _set("orders", 0, "customer_id", ""), False, _anonymous
    )
    cases["orders.ordered_at-space-and-short"] = Good(
        _set("orders", 0, "ordered_at", "2025-01-31 23:30")
    )
    cases["orders.ordered_at-offset-without-colon"] = Good(
        _set("orders", 1, "ordered_at", "2025-02-01T07:15:00-0800")
    )
    cases["orders.ordered_at-fraction"] = Good(
        _set("orders", 2, "ordered_at", "2025-02-01T01:00:00.000000Z")
    )
    cases["offer_redemptions.redeemed_at-date-alone"] = Good(
        _set("offer_redemptions", 0, "redeemed_at", "2025-02-01"), same=False
    )
    cases["offer_redemptions.redeemed_at-parquet-date32"] = Good(
        _parquet(
            "offer_redemptions",
            {"redeemed_at": corpus.values_of(pa.array([date(2025, 2, 1)], pa.date32()))},
        ),
        same=False,
    )
    cases["order_lines.quantity-written-as-2.0"] = Good(_set("order_lines", 0, "quantity", "1.0"))
    cases["items.price-exponent"] = Good(_set("items", 0, "price", "6.49e0"))
    cases["offers.lists-trailing-separators"] = Good(
        _set("offers", 1, "channels", "|mobile_app||kiosk|")
    )
    cases["offers.image-jpeg"] = Good(
        _after(
            "offers", lambda f: (f / "images" / "o1.png").write_bytes(corpus.image_bytes("JPEG"))
        ),
        False,
        _stored_as_jpeg,
    )
    return cases


def _stored_as_jpeg(summary: ImportSummary) -> None:
    assert Offer.objects.get(offer_id="O1").image.endswith(".jpg")


def _anonymous(summary: ImportSummary) -> None:
    assert summary.rows_added["orders"] == 3
    assert lake_read(table="orders", columns=["customer_id"]).column(0).null_count == 2


def _extra_columns(table: str) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        for record in extract.tables[table]:
            record["Exported By"] = "pos-v2"
            record["notes"] = "x, y"

    return lambda: _edited(_optional(table), edit)


def _names_ignored(table: str, kept: bool) -> Callable[[ImportSummary], None]:
    def check(summary: ImportSummary) -> None:
        if kept:
            assert f"{table}.csv" not in summary.ignored_columns
        else:
            assert summary.ignored_columns[f"{table}.csv"] == ["Exported By", "notes"]

    return check


def _no_rows(table: str) -> Callable[[ImportSummary], None]:
    def check(summary: ImportSummary) -> None:
        assert summary.rows_in_files[table] == summary.rows_added[table] == 0

    return check


def _header_only(table: str) -> Callable[[], Extract]:
    def edit(extract: Extract) -> None:
        extract.after.append(
            lambda f: (f / f"{table}.csv").write_text(
                ",".join(corpus.TABLES[table][0]) + "\n", encoding="utf-8"
            )
        )

    return lambda: _edited(_optional(table), edit)


def _typed_variants(table: str, column: str, kind: Kind) -> dict[str, Good]:
    rows = corpus.TABLES[table]
    if column not in rows[0]:
        return {}
    makers: dict[str, corpus.ArrayMaker] = {}
    if kind is Kind.TIMESTAMP:
        for unit, zone in (("s", None), ("ms", "UTC"), ("us", "Asia/Tokyo"), ("ns", None)):
            makers[f"timestamp-{unit}-{zone or 'naive'}"] = corpus.timestamps(
                table, column, rows, unit, zone
            )
        makers["timestamp-ns-UTC"] = corpus.timestamps(table, column, rows, "ns", "UTC")
        makers["iso-large-string-offset"] = corpus.offset_strings(
            table, column, rows, pa.large_string()
        )
    elif kind is Kind.DATE:
        makers["date32"] = corpus.dates(pa.date32())
        makers["date64"] = corpus.dates(pa.date64())
        makers["timestamp-ms"] = corpus.dates(pa.timestamp("ms"))
    elif kind in (Kind.DECIMAL, Kind.FLOAT):
        makers["decimal128"] = corpus.decimals
        if all(not v or float(v).is_integer() for v in (r[column] for r in rows)):
            makers["int64"] = corpus.integers
    elif kind is Kind.INTEGER:
        makers["int32"] = corpus.small_integers
        makers["int64"] = corpus.integers
        makers["float64-whole"] = corpus.floats
        makers["decimal128-whole"] = corpus.decimals
    elif kind is Kind.LIST:
        makers["list-string"] = corpus.lists(pa.list_(pa.string()))
        makers["large-list-large-string"] = corpus.lists(pa.large_list(pa.large_string()))
        makers["list-dictionary"] = corpus.lists(pa.list_(pa.dictionary(pa.int32(), pa.string())))
    return {
        f"{table}.{column}-parquet-{label}": Good(_parquet(table, {column: maker}))
        for label, maker in makers.items()
    }


def _repeat_cases() -> dict[str, Good]:
    cases = {}
    for table in TABLES_BY_NAME.values():
        if table.name == "order_lines":
            continue
        cases[f"{table.name}-exact-repeat-skipped"] = Good(
            _add_row(table.name, 0), True, _skipped(f"{table.name}.csv", 1)
        )
    return cases


def _skipped(label: str, count: int) -> Callable[[ImportSummary], None]:
    def check(summary: ImportSummary) -> None:
        assert summary.repeats_skipped == {label: count}

    return check


GOOD = _good_cases()


# ---------------------------------------------------------------------------------------


def state() -> dict[str, Any]:
    """Everything an import could write: catalog, customers, manifest and lake files."""
    root = lake_root()
    files = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return {
        "stores": Store.objects.count(),
        "items": Item.objects.count(),
        "offers": Offer.objects.count(),
        "customers": Customer.objects.count(),
        "customer_total": customer_count(),
        "manifest": LakeFile.objects.count(),
        "files": files,
    }


def run_import(folder: Path) -> ImportSummary:
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="corpus")
    return history_import(folder=folder, run_id=run.pk, progress=lambda stage, percent: None)


def contents() -> dict[str, Any]:
    """What was imported, without ids, paths or run numbers: two imports of the same data
    give equal contents."""
    found: dict[str, Any] = {
        "stores": _rows(Store, ["store_id", *CATALOG_FIELDS["stores"]]),
        "items": _rows(Item, ["item_id", *CATALOG_FIELDS["items"]]),
        "offers": _rows(Offer, ["offer_id", "image", *CATALOG_FIELDS["offers"]]),
        "customers": sorted(
            (c, str(j), json.dumps(a, sort_keys=True))
            for c, j, a in Customer.objects.values_list("customer_id", "joined_at", "attributes")
        ),
    }
    for table in LAKE_TABLES:
        data = lake_read(table=table.name, columns=[*table.columns, "month"])
        found[table.name] = sorted(
            (tuple(_plain(v) for v in row.values()) for row in data.to_pylist()), key=repr
        )
    return found


def _rows(model: Any, fields: list[str]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(_plain(v) for v in row) for row in model.objects.values_list(*fields)), key=repr
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return tuple(value)
    return value if value is None or isinstance(value, (str, int)) else str(value)


EXPECTED: dict[tuple[str, ...], dict[str, Any]] = {}


def expected(optional: tuple[str, ...], tmp_path: Path) -> dict[str, Any]:
    """The contents the plain CSV extract with these optional tables gives, imported once
    into a transaction that is rolled back and a lake of its own."""
    key = tuple(sorted(optional))
    if key not in EXPECTED:
        folder = corpus.write(corpus.base(*key), tmp_path / "plain")
        with override_settings(LAKE_URI=str(tmp_path / "plain-lake")), transaction.atomic():
            run_import(folder)
            EXPECTED[key] = contents()
            transaction.set_rollback(True)
    return EXPECTED[key]


def test_the_corpus_is_large_and_covers_every_table() -> None:
    assert len(BAD) + len(GOOD) >= 200
    for name in TABLES_BY_NAME:
        assert any(case.startswith(name) for case in BAD), name
        assert any(case.startswith(name) for case in GOOD), name


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_malformed_extract_is_named_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    bad = BAD[case]
    extract = bad.build()
    folder = corpus.write(extract, tmp_path / "extract")
    before = state()

    with pytest.raises(ImportRejected) as rejected:
        run_import(folder)

    problems = rejected.value.log.problems
    named = [
        p
        for p in problems
        if (p.file, p.row, p.column) == (bad.file, bad.row, bad.column) and bad.reason in p.reason
    ]
    assert named, "\n".join(str(p) for p in problems)
    assert "nothing was written" in str(rejected.value)
    assert state() == before


@pytest.mark.parametrize("case", GOOD, ids=list(GOOD))
def test_a_variant_real_exports_write_imports(case: str, tmp_path: Path) -> None:
    good = GOOD[case]
    extract = good.build()
    folder = corpus.write(extract, tmp_path / "extract")
    optional = tuple(n for n in extract.tables if n in corpus.OPTIONAL)
    want = expected(optional, tmp_path)

    summary = run_import(folder)

    if good.check:
        good.check(summary)
    got = contents()
    if good.same:
        assert got == want
    elif good.check is None:
        assert {t: len(v) for t, v in got.items()} == {t: len(v) for t, v in want.items()}
