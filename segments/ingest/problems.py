"""Problems found in an import, each with file, row, column and reason."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from deepflame_web.core.services import RunCancelled, RunError

logger = logging.getLogger(__name__)

EXAMPLES_PER_CHECK = 100


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row else self.file
        column = f", column {self.column}" if self.column else ""
        return f"{where}{column}: {self.reason}"


@dataclass
class ProblemLog:
    """Counts every problem and keeps up to 100 examples of each check (rows are 1-based,
    the header is row 1, so the first data row is row 2)."""

    problems: list[Problem] = field(default_factory=list)
    total: int = 0
    warnings: list[str] = field(default_factory=list)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    repeats_skipped: dict[str, int] = field(default_factory=dict)

    def add(self, file: str, column: str, reason: str, rows: np.ndarray | None = None) -> None:
        if rows is None:
            self.problems.append(Problem(file, 0, column, reason))
            self.total += 1
            return
        if len(rows) == 0:
            return
        self.total += len(rows)
        for row in np.asarray(rows)[:EXAMPLES_PER_CHECK]:
            self.problems.append(Problem(file, int(row), column, reason))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def __bool__(self) -> bool:
        return self.total > 0

    def report(self, limit: int = 100) -> str:
        shown = sorted(self.problems)[:limit]
        lines = [str(p) for p in shown]
        if self.total > len(shown):
            lines.append(f"... and {self.total - len(shown)} more problems")
        return "\n".join(lines)


class ImportRejected(RunError):
    """The folder breaks the contract; nothing was written."""

    def __init__(self, log: ProblemLog):
        self.log = log
        super().__init__(
            f"The import was rejected: {log.total} problem(s) found, nothing was written.\n"
            + log.report()
        )


class ImportFailed(RunError):
    """Something unexpected broke while reading one file (and column); nothing was written.

    The user sees where it happened and what broke, never a traceback (that goes to the log).
    """

    def __init__(self, file: str, column: str, error: Exception, verb: str = "reading"):
        self.file, self.column = file, column
        where = f" while {verb} {file}" if file else ""
        where += f", column {column}" if column else ""
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        super().__init__(
            f"The import failed{where}: {type(error).__name__}"
            + (f": {detail}" if detail else "")
            + ". Nothing was written; please report this with the file."
        )


@contextmanager
def reading(file: str, column: str = "", verb: str = "reading") -> Iterator[None]:
    """Name the file and column being read (or the table being written, with `verb`) in any
    unexpected error raised inside.

    Nested uses keep the innermost place; a rejection or a cancelled run passes unchanged."""
    try:
        yield
    except (ImportRejected, ImportFailed, RunCancelled):
        raise
    except Exception as exc:
        logger.exception("import failed %s %s %s", verb, file, column)
        raise ImportFailed(file, column, exc, verb) from exc
