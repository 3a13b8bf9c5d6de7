"""Segmentation benchmark: the Spark job end to end beside a single-process baseline.

For each size, a demo chain is generated and imported once (kept under --data), then
`run_segmentation --refit --k K` (features on Spark, fit, assign, memberships written to the
database in one transaction) and `segmentation_baseline.py` (DuckDB + scikit-learn, same
features from the same lake, memberships to one Parquet file) run one after the other.

    python benchmarks/segmentation_bench.py --sizes 250000 1000000 --months 12

Targets (issue 4): the 1M run <= 10 minutes on 2 cores; ratio to the baseline <= 2.0; cost
growing no worse than linearly from the smallest to the largest size.
"""

import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measured, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STAGES: dict[int, dict[str, float]] = {}
"""Stage seconds of each run (features on Spark, fit, assign, database write)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    results = {size: _bench(size, args) for size in args.sizes}
    print()
    print(f"{'customers':>10}{'ours s':>9}{'GiB':>7}{'baseline s':>12}{'GiB':>7}{'ratio':>7}")
    for size, (ours, base) in results.items():
        print(
            f"{size:>10,}{ours.seconds:>9.1f}{ours.peak_gib:>7.2f}"
            f"{base.seconds:>12.1f}{base.peak_gib:>7.2f}{ours.seconds / base.seconds:>7.2f}"
        )
    print("\nstages of our run (s): features on Spark / fit / assign / database write")
    for size, (_, base) in results.items():
        stage = STAGES[size]
        compute = stage["features_s"] + stage["fit_s"] + stage["assign_s"]
        print(
            f"{size:>10,}  {stage['features_s']:.1f} / {stage['fit_s']:.1f} / "
            f"{stage['assign_s']:.1f} / {stage['write_s']:.1f}; features+fit+assign "
            f"{compute:.1f} s = {compute / base.seconds:.2f} x the baseline (which writes "
            "Parquet, no database)"
        )
    small, large = min(results), max(results)
    if small != large:
        growth = results[large][0].seconds / results[small][0].seconds
        print(
            f"growth {small:,} -> {large:,} customers: x{growth:.2f} time for "
            f"x{large / small:.1f} customers (linear or better: growth <= {large / small:.1f})"
        )
    print(f"target: the largest run <= 600 s ({results[large][0].seconds:.0f} s), ratio <= 2.0")


def _bench(size: int, args: argparse.Namespace) -> tuple[Measured, Measured]:
    folder = args.data / f"chain-{size}-{args.months}"
    var_dir = args.data / f"var-{size}-{args.months}"
    env = {**os.environ, "DEBUG": "true", "VAR_DIR": str(var_dir)}
    _prepare(size, args.months, folder, var_dir, env)
    print(f"\n== {size:,} customers x {args.months} months ==", flush=True)
    with tempfile.TemporaryFile() as output:
        ours = measure(
            [PYTHON, "manage.py", "run_segmentation", "--refit", "--k", str(args.k)],
            env=env,
            cwd=str(ROOT),
            stdout=output,
        )
        output.seek(0)
        report = output.read().decode()
    print(report, end="")
    if ours.returncode != 0:
        sys.exit("run_segmentation failed")
    STAGES[size] = _timings(report)
    with tempfile.TemporaryDirectory() as scratch:
        base = measure(
            [
                PYTHON,
                "benchmarks/segmentation_baseline.py",
                "--k",
                str(args.k),
                "--out",
                str(Path(scratch) / "memberships.parquet"),
            ],
            env=env,
            cwd=str(ROOT),
        )
    if base.returncode != 0:
        sys.exit("the baseline failed")
    return ours, base


def _timings(report: str) -> dict[str, float]:
    line = next(x for x in report.splitlines() if x.strip().startswith("timings:"))
    return {k: float(v) for k, v in ast.literal_eval(line.split(":", 1)[1].strip()).items()}


def _prepare(size: int, months: int, folder: Path, var_dir: Path, env: dict[str, str]) -> None:
    """Generate and import once; later runs of the benchmark reuse both."""
    if not folder.exists():
        generate = ["generate_demo_data", str(folder), "--customers", str(size)]
        _manage([*generate, "--months", str(months)], env)
    marker = var_dir / "imported"
    if not marker.exists():
        _manage(["migrate", "-v0"], env)
        _manage(["import_data", str(folder)], env)
        marker.write_text(str(folder))


def _manage(command: list[str], env: dict[str, str]) -> None:
    done = measure([PYTHON, "manage.py", *command], env=env, cwd=str(ROOT))
    if done.returncode != 0:
        sys.exit(f"manage.py {command[0]} failed")


if __name__ == "__main__":
    main()
