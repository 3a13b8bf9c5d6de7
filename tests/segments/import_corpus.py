"""Builders of the import corpus: a small valid extract written as CSV or Parquet, in the
shapes real chains' exports take, and the mutations that break it one rule at a time.

`Extract` is the folder before it is written; a case mutates one, `write` lays it out.
"""

import copy
import csv
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from segments.ingest.contract import TABLES_BY_NAME, Kind
from tests.segments.contract_folder import TABLES

Rows = list[dict[str, str]]
ArrayMaker = Callable[[list[str]], pa.Array]
REQUIRED = tuple(t.name for t in TABLES_BY_NAME.values() if t.required)
OPTIONAL = tuple(t.name for t in TABLES_BY_NAME.values() if not t.required)
STORE_ZONES = {row["store_id"]: row["timezone"] for row in TABLES["stores"]}


@dataclass
class Extract:
    """The tables (rows of text, as a CSV holds them) and how each file is written."""

    tables: dict[str, Rows]
    parquet: dict[str, dict[str, ArrayMaker]] = field(default_factory=dict)
    """Tables written as Parquet: a maker per column that is not plain text."""
    csv: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options of `write_csv` per table written as CSV."""
    after: list[Callable[[Path], object]] = field(default_factory=list)
    """Edits of the written folder (a file removed, bytes spoiled)."""

    def file(self, table: str) -> str:
        if table in self.parquet:
            return f"{table}.parquet"
        return f"{table}.csv.gz" if self.csv.get(table, {}).get("gzip") else f"{table}.csv"


def base(*optional: str) -> Extract:
    """The required tables and the optional ones named, as in `contract_folder`."""
    names = (*REQUIRED, *optional)
    return Extract({name: copy.deepcopy(rows) for name, rows in TABLES.items() if name in names})


def write(extract: Extract, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, rows in extract.tables.items():
        if name in extract.parquet:
            write_parquet(folder / f"{name}.parquet", rows, extract.parquet[name])
        else:
            write_csv(folder / extract.file(name), rows, **extract.csv.get(name, {}))
    (folder / "images").mkdir()
    (folder / "images" / "o1.png").write_bytes(image_bytes("PNG"))
    for edit in extract.after:
        edit(folder)
    return folder


def write_csv(
    path: Path,
    rows: Rows,
    *,
    columns: list[str] | None = None,
    header: Callable[[str], str] = str,
    bom: bool = False,
    newline: str = "\n",
    quote_all: bool = False,
    gzip: bool = False,
    encoding: str = "utf-8",
) -> None:
    columns = columns or list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        lineterminator=newline,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow([header(c) for c in columns])
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    content = ("\ufeff" if bom else "") + buffer.getvalue()
    data = content.encode(encoding, errors="surrogateescape")
    path.write_bytes(_gzipped(data) if gzip else data)


def _gzipped(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip_open(out) as handle:
        handle.write(data)
    return out.getvalue()


def gzip_open(buffer: io.BytesIO) -> gzip.GzipFile:
    return gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0)


def write_parquet(path: Path, rows: Rows, makers: dict[str, ArrayMaker]) -> None:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    arrays = {}
    for column in columns:
        values = [row.get(column, "") for row in rows]
        maker = makers.get(column, text)
        arrays[column] = maker(values)
    pq.write_table(pa.table(arrays), path)


# Makers of Parquet columns from the CSV text of a column; "" is a missing value.


def text(values: list[str]) -> pa.Array:
    return pa.array([v or None for v in values], pa.string())


def large_text(values: list[str]) -> pa.Array:
    return pa.array([v or None for v in values], pa.large_string())


def dictionary_text(values: list[str]) -> pa.Array:
    return text(values).dictionary_encode()


def floats(values: list[str]) -> pa.Array:
    return pa.array([float(v) if v else None for v in values], pa.float64())


def integers(values: list[str]) -> pa.Array:
    return pa.array([int(float(v)) if v else None for v in values], pa.int64())


def small_integers(values: list[str]) -> pa.Array:
    return pa.array([int(float(v)) if v else None for v in values], pa.int32())


def decimals(values: list[str]) -> pa.Array:
    return pa.array([Decimal(v) if v else None for v in values], pa.decimal128(12, 2))


def dates(kind: pa.DataType) -> ArrayMaker:
    def make(values: list[str]) -> pa.Array:
        days = [datetime.fromisoformat(v) if v else None for v in values]
        if pa.types.is_date(kind):
            return pa.array([d.date() if d else None for d in days], kind)
        return pa.array(days, kind)

    return make


def lists(kind: pa.DataType) -> ArrayMaker:
    def make(values: list[str]) -> pa.Array:
        return pa.array([[p for p in v.split("|") if p] for v in values], kind)

    return make


def values_of(raw: pa.Array) -> ArrayMaker:
    return lambda values: raw


def instants(table: str, column: str, rows: Rows) -> list[datetime | None]:
    """The UTC instant of each row's timestamp, as the contract reads it: an offset as given,
    a naive time in the row's store's zone (UTC without a store)."""
    result: list[datetime | None] = []
    for row in rows:
        if not row.get(column):
            result.append(None)
            continue
        moment = datetime.fromisoformat(row[column].replace("Z", "+00:00"))
        if moment.tzinfo is None:
            zone = STORE_ZONES.get(row.get("store_id", ""), "UTC")
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        result.append(moment.astimezone(UTC))
    return result


def timestamps(table: str, column: str, rows: Rows, unit: str, zone: str | None) -> ArrayMaker:
    """A Parquet timestamp column holding the same instants: zoned, or naive wall times in
    each row's store's zone (what an export without zones writes)."""
    moments = instants(table, column, rows)
    if zone is None:
        walls: list[datetime | None] = []
        for row, moment in zip(rows, moments, strict=True):
            if moment is None:
                walls.append(None)
                continue
            local = ZoneInfo(STORE_ZONES.get(row.get("store_id", ""), "UTC"))
            walls.append(moment.astimezone(local).replace(tzinfo=None))
        return values_of(pa.array(walls, pa.timestamp(unit)))
    zoned = [m.astimezone(ZoneInfo(zone)) if m else None for m in moments]
    return values_of(pa.array(zoned, pa.timestamp(unit, tz=zone)))


def offset_strings(table: str, column: str, rows: Rows, kind: pa.DataType) -> ArrayMaker:
    moments = instants(table, column, rows)
    return values_of(pa.array([m.isoformat() if m else None for m in moments], kind))


def image_bytes(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def native_makers(table: str) -> dict[str, ArrayMaker]:
    """Each column in the type a typed export gives it (numbers, dates, lists)."""
    makers: dict[str, ArrayMaker] = {}
    for column in TABLES_BY_NAME[table].columns:
        if column.kind is Kind.DECIMAL or column.kind is Kind.FLOAT:
            makers[column.name] = floats
        elif column.kind is Kind.INTEGER:
            makers[column.name] = integers
        elif column.kind is Kind.DATE:
            makers[column.name] = dates(pa.date32())
        elif column.kind is Kind.LIST:
            makers[column.name] = lists(pa.list_(pa.string()))
    return makers
