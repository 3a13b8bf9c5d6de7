"""Row hashes computed by DuckDB straight from Arrow memory (no Python objects per row)."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def hash_rows(table: pa.Table, columns: list[str]) -> np.ndarray:
    """A uint64 per row over the given columns; equal values give equal hashes."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.uint64)
    data = table.select(columns)
    connection = duckdb.connect()
    try:
        connection.execute("SET threads = 2")
        connection.register("data", data)
        quoted = ", ".join(f'"{column}"' for column in columns)
        result = connection.sql(f"SELECT hash({quoted}) AS h FROM data").to_arrow_table()
    finally:
        connection.close()
    return result.column("h").to_numpy()


class IdIndex:
    """Positions of ids in a large array, found through a sorted 64-bit hash.

    Lines look up their order among millions of orders batch after batch; `pc.index_in`
    would rebuild its hash table over all orders for every batch.
    """

    def __init__(self, ids: pa.Array):
        self._ids = ids
        hashes = hash_rows(pa.table({"id": ids}), ["id"])
        self._order = np.argsort(hashes)
        self._sorted = hashes[self._order]

    def positions(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The index of each value among the ids; null where it is not one of them."""
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if len(self._sorted) == 0 or len(values) == 0:
            return pa.nulls(len(values), pa.int64())
        hashes = hash_rows(pa.table({"id": values}), ["id"])
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        position = self._order[at]
        candidate = self._ids.take(pa.array(position))
        # A hash match is confirmed on the id itself, so a collision cannot misplace a line.
        same = pc.fill_null(pc.equal(candidate, values), False).to_numpy(zero_copy_only=False)
        found = (self._sorted[at] == hashes) & same
        return pa.array(position, mask=~found)


class KeyCollector:
    """Collects key hashes of a table read in batches, to find duplicate keys at the end."""

    def __init__(self) -> None:
        self._batches: list[np.ndarray] = []

    def add(self, hashes: np.ndarray) -> None:
        self._batches.append(hashes)

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """(row index, index of its first occurrence) for every repeated key, in file order."""
        if not self._batches:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        keys = np.concatenate(self._batches)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        if len(repeat) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        run_start = np.maximum.accumulate(
            np.where(np.concatenate([[True], ordered[1:] != ordered[:-1]]), np.arange(len(keys)), 0)
        )
        rows, firsts = order[repeat], order[run_start[repeat]]
        by_row = np.argsort(rows)
        return rows[by_row], firsts[by_row]


class ExistingKeys:
    """Keys and content hashes already in the lake, for skipping or refusing repeated rows."""

    def __init__(self, keys: np.ndarray, hashes: np.ndarray):
        order = np.argsort(keys)
        self._keys, self._hashes = keys[order], hashes[order]

    def classify(self, keys: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(seen before, seen before with different content) masks."""
        if len(self._keys) == 0:
            none = np.zeros(len(keys), dtype=bool)
            return none, none
        position = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        seen = self._keys[position] == keys
        changed = seen & (self._hashes[position] != hashes)
        return seen, changed
