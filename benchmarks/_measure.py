"""Wall time and peak memory of one command, measured from outside the process."""

import os
import subprocess
import time
from dataclasses import dataclass
from typing import IO


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_gib: float
    returncode: int


def measure(
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    stdout: IO[bytes] | None = None,
) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / (1024 * 1024), process.returncode)
