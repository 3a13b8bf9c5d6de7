"""Cross-table checks of an extract against itself and against what was imported before.

Everything here reads; nothing is written until the whole extract is known to be good.
"""

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepflame_web.core.lake_tables import UTC, zones_of
from offers.dayparts import WINDOW
from offers.images import IMAGE_MAX_BYTES, image_problem
from segments.ingest.parsing import LOCAL_SUFFIX, ROW, SourceFile, _report
from segments.ingest.problems import ProblemLog, reading

TIMEZONES = zoneinfo.available_timezones()


@dataclass
class KnownIds:
    """Ids that exist before this import (database catalog and the lake)."""

    stores: dict[str, str] = field(default_factory=dict)  # store_id -> timezone
    items: set[str] = field(default_factory=set)
    offers: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    dayparts: set[str] = field(default_factory=set)
    tiers: set[str] = field(default_factory=set)
    order_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))


@dataclass
class Extract:
    folder: Path
    sources: dict[str, SourceFile]
    tables: dict[str, pa.Table]

    def has(self, name: str) -> bool:
        return name in self.tables


def check_reference(
    log: ProblemLog,
    label: str,
    table: pa.Table,
    column: str,
    target: str,
    known: pa.Array,
    where: str = "",
) -> None:
    """Every non-empty value of `column` must be among `known` ids; an optional column the
    file leaves out refers to nothing. `where` says where the id was looked for."""
    if column not in table.column_names:
        return
    with reading(label, column):
        _check_reference(log, label, table, column, target, known, where)


def _check_reference(
    log: ProblemLog,
    label: str,
    table: pa.Table,
    column: str,
    target: str,
    known: pa.Array,
    where: str = "",
) -> None:
    values = table.column(column)
    if pa.types.is_list(values.type):
        values = values.combine_chunks()
        flat = pc.list_flatten(values)
        missing = pc.invert(pc.is_in(flat, value_set=known))
        parents = pc.list_parent_indices(values)
        rows = pc.take(table.column(ROW), pc.filter(parents, missing))
        names = pc.filter(flat, missing)
    else:
        missing = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=known)))
        missing = pc.fill_null(missing, False)
        rows = pc.filter(table.column(ROW), missing)
        names = pc.filter(values, missing)
    if len(rows):
        for value in pc.unique(names)[:20].to_pylist():
            mask = pc.equal(names, value)
            log.add(
                label,
                column,
                f"refers to {target} {value!r}, which does not exist"
                + (f" ({where})" if where else ""),
                pc.filter(rows, mask).to_numpy(),
            )


def check_timezones(label: str, stores: pa.Table, log: ProblemLog) -> None:
    zones = stores.column("timezone") if "timezone" in stores.column_names else None
    if zones is None:
        return
    valid = pa.array(sorted(TIMEZONES))
    bad = pc.and_(pc.is_valid(zones), pc.invert(pc.is_in(zones, value_set=valid)))
    for zone in pc.unique(pc.filter(zones, pc.fill_null(bad, False))).to_pylist():
        _report(
            log,
            label,
            "timezone",
            f"unknown timezone {zone!r} (use an IANA name such as America/New_York)",
            stores.column(ROW),
            pc.equal(zones, zone),
        )


def check_offers(
    label: str, offers: pa.Table, folder: Path, known: KnownIds, log: ProblemLog
) -> dict[str, bytes]:
    """Images must exist and pass the offer page's image check; dayparts must be names or
    HH:MM-HH:MM windows.

    The catalog is small (tens to thousands of offers), so this walks its rows."""
    images: dict[str, bytes] = {}
    records = offers.select(
        [
            c
            for c in ("offer_id", "image", "dayparts", "valid_from", "valid_to", ROW)
            if c in offers.column_names
        ]
    ).to_pylist()
    for record in records:
        row = np.array([record[ROW]])
        if record.get("image"):
            content = _read_image(folder, record["image"], label, row, log)
            if content is not None:
                images[record["offer_id"]] = content
        for part in record.get("dayparts") or []:
            if part not in known.dayparts and not WINDOW.match(part):
                log.add(
                    label,
                    "dayparts",
                    f"unknown daypart {part!r} (known: "
                    f"{', '.join(sorted(known.dayparts))}, or HH:MM-HH:MM)",
                    row,
                )
        start, end = record.get("valid_from"), record.get("valid_to")
        if start and end and end < start:
            log.add(label, "valid_to", f"valid_to {end} is before valid_from {start}", row)
    return images


def _read_image(
    folder: Path, relative: str, label: str, row: np.ndarray, log: ProblemLog
) -> bytes | None:
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents:
        log.add(label, "image", f"image path {relative!r} points outside the folder", row)
        return None
    if not path.is_file():
        log.add(label, "image", f"image {relative!r} is missing", row)
        return None
    with path.open("rb") as handle:  # a byte past the limit is enough to refuse a huge file
        content = handle.read(IMAGE_MAX_BYTES + 1)
    problem = image_problem(content=content, name=relative)
    if problem:
        log.add(label, "image", f"image {relative!r}: {problem}", row)
        return None
    return content


def localize(
    table: pa.Table, column: str, store_ids: pa.Array | None, store_zones: dict[str, str]
) -> pa.Array:
    """UTC instants: offsets as given; naive times in the store's zone (UTC without a store)."""
    given = table.column(column).combine_chunks()
    local = table.column(column + LOCAL_SUFFIX).combine_chunks()
    if store_ids is None:
        zones = pa.array(["UTC"] * len(local), pa.string())
    else:
        zones = zones_of(store_ids, store_zones)
    result = given
    for zone in pc.unique(zones).to_pylist():
        mask = pc.and_(pc.equal(zones, zone), pc.is_valid(local))
        if not pc.any(mask).as_py():
            continue
        instants = pc.assume_timezone(
            local, timezone=zone, ambiguous="earliest", nonexistent="latest"
        )
        result = pc.if_else(mask, pc.cast(instants, UTC), result)
    return result


def as_string_set(*groups: Any) -> pa.Array:
    """The distinct non-empty ids of Arrow columns and Python collections, as one array
    (a `value_set` for membership checks); millions of ids never become Python strings."""
    arrays: list[pa.Array] = []
    for group in groups:
        if isinstance(group, pa.ChunkedArray):
            arrays.extend(chunk.cast(pa.string()) for chunk in group.chunks)
        elif isinstance(group, pa.Array):
            arrays.append(group.cast(pa.string()))
        else:
            arrays.append(pa.array(list(group), pa.string()))
    return pc.unique(pa.chunked_array(arrays, pa.string())).drop_null()
