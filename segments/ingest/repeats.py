"""Rows that repeat a key seen before in the same file: exact repeats are skipped, the same
key with other content is a problem (DATA_CONTRACT.md, "Rows that repeat another row exactly
are counted and skipped; the same key with other content is an error").

Real extracts list the same redemption twice when an export is re-run over a day it already
covered; that is noise, not a conflict, so it must not stop the import.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepflame_web.core.hashing import hash_rows
from segments.ingest.parsing import ROW
from segments.ingest.problems import EXAMPLES_PER_CHECK, ProblemLog


@dataclass
class Verdict:
    """Masks over one batch's rows, and the row each repeat repeats."""

    identical: np.ndarray
    conflicting: np.ndarray
    first_rows: np.ndarray


class Repeats:
    """Keys (and content hashes) of the first row of each key, across a file's batches."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, np.uint64)
        self._hashes = np.zeros(0, np.uint64)
        self._rows = np.zeros(0, np.int64)
        self.skipped = 0

    def sort_out(
        self, table: pa.Table, key: list[str], content: list[str], streamed: bool
    ) -> Verdict:
        """Which rows of this batch repeat an earlier row exactly, and which conflict.

        A whole table hashes its content only where a key repeats (usually nowhere); a file
        read in batches hashes every row's, since a later batch may repeat any of them."""
        n = table.num_rows
        rows = table.column(ROW).to_numpy().astype(np.int64)
        keys = hash_rows(table, key) if streamed or len(key) > 1 else _codes(table.column(key[0]))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first_of_row = first[inverse.reshape(-1)] if n else np.zeros(0, np.int64)
        repeat = first_of_row != np.arange(n)
        earlier = np.zeros(n, dtype=bool)
        position = np.zeros(n, dtype=np.int64)
        if len(self._keys):
            position = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            earlier = self._keys[position] == keys
        if streamed:
            hashes = hash_rows(table, content)
        else:
            hashes = np.zeros(n, np.uint64)
            involved = repeat.copy()
            involved[first_of_row[repeat]] = True
            if involved.any():
                hashes[involved] = hash_rows(table.filter(pa.array(involved)), content)
        reference_hash, reference_row = hashes[first_of_row], rows[first_of_row]
        if earlier.any():
            reference_hash = np.where(earlier, self._hashes[position], reference_hash)
            reference_row = np.where(earlier, self._rows[position], reference_row)
        repeat |= earlier
        identical = repeat & (reference_hash == hashes)
        if streamed:
            new = ~repeat
            self._remember(keys[new], hashes[new], rows[new])
        self.skipped += int(identical.sum())
        return Verdict(identical, repeat & ~identical, reference_row)

    def _remember(self, keys: np.ndarray, hashes: np.ndarray, rows: np.ndarray) -> None:
        new = np.argsort(keys, kind="stable")
        keys, hashes, rows = keys[new], hashes[new], rows[new]
        # Two sorted runs: the stable sort merges them in one pass, batch after batch.
        all_keys = np.concatenate([self._keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        self._hashes = np.concatenate([self._hashes, hashes])[order]
        self._rows = np.concatenate([self._rows, rows])[order]


def _codes(values: pa.ChunkedArray) -> np.ndarray:
    """Equal values, equal codes: exact, and without a hash engine for a whole table's key."""
    values = values.combine_chunks()
    codes = pc.index_in(values, value_set=pc.unique(values))
    return codes.to_numpy(zero_copy_only=False).astype(np.uint64)


def report_conflicts(
    label: str, key: list[str], table: pa.Table, verdict: Verdict, log: ProblemLog
) -> None:
    """Each repeated key with other content: its value and the row it repeats."""
    where = np.flatnonzero(verdict.conflicting)
    rows = table.column(ROW).to_numpy()
    for index in where[:EXAMPLES_PER_CHECK]:
        value = "/".join(str(table.column(k)[int(index)].as_py()) for k in key)
        log.add(
            label,
            key[0],
            f"duplicate {'/'.join(key)} {value!r} with other content "
            f"(first seen in row {verdict.first_rows[index]})",
            np.array([rows[index]]),
        )
    log.total += max(0, len(where) - EXAMPLES_PER_CHECK)
