"""Problems found in an import, each with file, row, column and reason."""

from dataclasses import dataclass, field

import numpy as np

from deepflame_web.core.services import RunError

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
