"""Import benchmark: generate a demo chain, import it, and run a plain pandas validation of
the same files beside it. Prints wall time, peak memory and the ratio.

    python benchmarks/import_bench.py --customers 1000000 --months 12

Targets (issue 3): ratio (import / baseline) <= 1.5 and import peak memory <= 4 GiB.
The import runs on the embedded default (SQLite) unless DATABASE_URL is set.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--folder", type=Path, help="an already generated chain to import")
    args = parser.parse_args()
    folder = args.folder or args.data / f"chain-{args.customers}-{args.months}"
    python = sys.executable
    if not folder.exists():
        generated = measure(
            [
                python,
                "manage.py",
                "generate_demo_data",
                str(folder),
                "--customers",
                str(args.customers),
                "--months",
                str(args.months),
            ],
            env=_env(None),
            cwd=str(ROOT),
        )
        print(f"generate: {generated.seconds:.1f} s, peak {generated.peak_gib:.2f} GiB")
    work = Path(tempfile.mkdtemp(prefix="deepflame-import-bench-"))
    try:
        env = _env(work)
        migrated = measure([python, "manage.py", "migrate", "-v0"], env=env, cwd=str(ROOT))
        assert migrated.returncode == 0
        ours = measure([python, "manage.py", "import_data", str(folder)], env=env, cwd=str(ROOT))
        baseline = measure(
            [python, "benchmarks/import_baseline_pandas.py", str(folder)], env=env, cwd=str(ROOT)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'':<28}{'wall s':>10}{'peak GiB':>10}")
    print(f"{'import_data (validate+write)':<28}{ours.seconds:>10.1f}{ours.peak_gib:>10.2f}")
    print(f"{'pandas validation only':<28}{baseline.seconds:>10.1f}{baseline.peak_gib:>10.2f}")
    print(
        f"ratio import / baseline: {ours.seconds / baseline.seconds:.2f} (target <= 1.5); "
        f"import peak {ours.peak_gib:.2f} GiB (target <= 4)"
    )
    if ours.returncode != 0:
        sys.exit("the import failed")


def _env(var_dir: Path | None) -> dict[str, str]:
    env = {**os.environ, "DEBUG": "true"}
    if var_dir is not None:
        env["VAR_DIR"] = str(var_dir)
    return env


if __name__ == "__main__":
    main()
