"""Segmentation benchmark: the Spark job end to end beside a single-process baseline.

For each size, a demo chain is generated and imported once (kept under --data). Then, on the
same lake, one after the other:
- cold: `manage.py run_segmentation --refit --k K`, a fresh process that starts Django and a
  Spark session (7-8 s) before the run: features on Spark, fit, assign, results written;
- warm: the same run in a process whose Spark session is already up, as in the worker, which
  keeps its session warm between runs (only the run is timed);
- baseline: `segmentation_baseline.py`, DuckDB + scikit-learn in one process: the same
  features from the same lake, the same K-Means, memberships to one Parquet file.

    python benchmarks/segmentation_bench.py --sizes 250000 1000000 --months 12

Targets (issue 4): the 1M run <= 10 minutes on 2 cores; ratio to the baseline <= 2.0; cost
growing no worse than linearly from the smallest to the largest size. Issue 17, at the
largest size: warm <= x1.3 of the baseline, cold <= x1.5, the cold run's peak memory <= the
baseline's + 10%.
"""

import argparse
import ast
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measured, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Result:
    cold: Measured
    warm_seconds: float
    stages: dict[str, float]
    """Seconds of the cold run's stages: features on Spark, fit, assign, write."""
    baseline: Measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    results = {size: _bench(size, args) for size in args.sizes}
    _report(results)


def _report(results: dict[int, Result]) -> None:
    print()
    print(
        f"{'customers':>10}{'cold s':>8}{'GiB':>6}{'warm s':>8}{'baseline s':>12}{'GiB':>6}"
        f"{'cold/base':>11}{'warm/base':>11}"
    )
    for size, r in results.items():
        base = r.baseline.seconds
        print(
            f"{size:>10,}{r.cold.seconds:>8.1f}{r.cold.peak_gib:>6.2f}{r.warm_seconds:>8.1f}"
            f"{base:>12.1f}{r.baseline.peak_gib:>6.2f}"
            f"{r.cold.seconds / base:>11.2f}{r.warm_seconds / base:>11.2f}"
        )
    print("\ncold run stages (s): features on Spark (incl. session start) / fit / assign / write")
    for size, r in results.items():
        s = r.stages
        print(f"{size:>10,}  {s['features_s']} / {s['fit_s']} / {s['assign_s']} / {s['write_s']}")
    small, large = min(results), max(results)
    if small != large:
        for label, seconds in (
            ("cold", lambda n: results[n].cold.seconds),
            ("warm", lambda n: results[n].warm_seconds),
        ):
            growth = seconds(large) / seconds(small)
            print(
                f"growth {label} {small:,} -> {large:,} customers: x{growth:.2f} time for "
                f"x{large / small:.1f} customers (linear or better: <= {large / small:.1f})"
            )
    print(
        f"targets: the {large:,} run <= 600 s (cold {results[large].cold.seconds:.0f} s); "
        "ratio to the baseline <= 2.0"
    )
    _report_issue_17(results[large])


def _report_issue_17(result: Result) -> None:
    base = result.baseline
    peak_limit = base.peak_gib * 1.10
    for label, value, limit, unit in (
        ("warm / baseline", result.warm_seconds / base.seconds, 1.3, "x"),
        ("cold / baseline", result.cold.seconds / base.seconds, 1.5, "x"),
        ("peak GiB (baseline + 10%)", result.cold.peak_gib, peak_limit, ""),
    ):
        verdict = "met" if value <= limit else "NOT met"
        print(f"issue 17 target {label}: {value:.2f} <= {unit}{limit:.2f}: {verdict}")


def _bench(size: int, args: argparse.Namespace) -> Result:
    folder = args.data / f"chain-{size}-{args.months}"
    var_dir = args.data / f"var-{size}-{args.months}"
    env = {**os.environ, "DEBUG": "true", "VAR_DIR": str(var_dir)}
    _prepare(size, args.months, folder, var_dir, env)
    print(f"\n== {size:,} customers x {args.months} months ==", flush=True)
    cold, report = _run(
        [PYTHON, "manage.py", "run_segmentation", "--refit", "--k", str(args.k)], env
    )
    _, warm_report = _run([PYTHON, "benchmarks/_segment_warm.py", "--k", str(args.k)], env)
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "memberships.parquet")
        baseline, _ = _run(
            [PYTHON, "benchmarks/segmentation_baseline.py", "--k", str(args.k), "--out", out], env
        )
    warm = re.search(r"warm run: ([0-9.]+) s", warm_report)
    assert warm is not None, warm_report
    return Result(cold, float(warm.group(1)), _timings(report), baseline)


def _run(command: list[str], env: dict[str, str]) -> tuple[Measured, str]:
    """Measure a command; its output is kept and printed, and a failure stops the benchmark."""
    with tempfile.TemporaryFile() as output:
        done = measure(command, env=env, cwd=str(ROOT), stdout=output)
        output.seek(0)
        report = output.read().decode()
    print(report, end="", flush=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[1:3])} failed")
    return done, report


def _timings(report: str) -> dict[str, float]:
    line = next(x for x in report.splitlines() if x.strip().startswith("timings:"))
    return {k: float(v) for k, v in ast.literal_eval(line.split(":", 1)[1].strip()).items()}


def _prepare(size: int, months: int, folder: Path, var_dir: Path, env: dict[str, str]) -> None:
    """Generate and import once; later runs of the benchmark reuse both."""
    if not folder.exists():
        generate = ["generate_demo_data", str(folder), "--customers", str(size)]
        _run([PYTHON, "manage.py", *generate, "--months", str(months)], env)
    marker = var_dir / "imported"
    if not marker.exists():
        _run([PYTHON, "manage.py", "migrate", "-v0"], env)
        _run([PYTHON, "manage.py", "import_data", str(folder)], env)
        marker.write_text(str(folder))


if __name__ == "__main__":
    main()
