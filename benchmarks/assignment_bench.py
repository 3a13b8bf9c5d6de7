"""Batch assignment benchmark: offers for every customer of a 1M-customer chain, beside the
model's scores for the same customers alone.

It runs against a prepared database (--database, --var-dir): a chain imported, segmented,
its offers embedded, a model trained and the suggested rules published. Steps not done yet
are done first, untimed, as /tmp/prep1m.sh did (the database created when missing;
`generate_demo_data` --customers 1000000 --months 2 --seed 7 --start 2026-09-01 unless the
chain's folder exists; `import_data`; `run_segmentation`; `embed_offers`;
`train_recommender --epochs 1`; then the suggested rules published as `demo_pipeline` does).
`migrate` runs every time (untimed), so a newer migration does not fail the run.

Then, one after the other, each in its own process, measured from outside (wall time and
peak RSS, benchmarks/_measure.py), after the lake's files are read once so that neither
pays a cold disk:
- assign: `manage.py assign_offers --at AT --seed 1`, the batch as the worker runs it:
  inputs from the lake, the engine's decisions in chunks of 10,000 (rules, slots, TxT scores,
  goals, 5% holdout), every receipt, assignment and customer state written by COPY, the
  batch activated. Its stages come from the time each line of its output arrives (the run
  records no stage timings; its log tail is printed when it has one), its counts from its run
  record;
- baseline (`assignment_baseline.py`): the same inputs (`customer_inputs`, the same engine),
  the same Situations, then only the engine's `model_logits` per chunk: no rules, no
  receipts, no writes. The ratio shows what rules, receipts and bulk writes cost.

AT defaults to the 28th of the data's last month at 12:00 UTC (2026-10-28T12:00:00+00:00
for the prepared 1M chain). Every run adds a batch (about 2-3 offers and one receipt per
customer); the database size is printed before and after.

    python benchmarks/assignment_bench.py
    python benchmarks/assignment_bench.py --database bench_assign_small --var-dir /tmp/bench-small
    python benchmarks/assignment_bench.py --scorer TxT   # both runs serve TxT (put back after)

Target (issue 7): the 1M batch <= 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measured, measure  # noqa: E402
from _postgres import (  # noqa: E402
    database_create,
    database_exists,
    database_size_gib,
    database_url,
)
from serving_bench import scorer_served  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_S = 600.0
PROGRESS = re.compile(r"^\s+([\d,]+) of ([\d,]+) customers")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="bench_assign", help="a name or a URL")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / "bench" / "assign-1m")
    parser.add_argument("--at", default=None, help="default: the 28th of the last month, 12:00")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scorer", default=None, help="both runs serve this method of the active model"
    )
    preparation = parser.add_argument_group("preparation, when the database lacks it")
    preparation.add_argument("--customers", type=int, default=1_000_000)
    preparation.add_argument("--months", type=int, default=2)
    preparation.add_argument("--start", default="2026-09-01")
    preparation.add_argument("--chain", type=Path, default=None)
    preparation.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    url = database_url(args.database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VAR_DIR": str(args.var_dir.resolve()),
        "DEBUG": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "PYTHONUNBUFFERED": "1",  # progress lines arrive as they are written (stage times)
    }
    state = _prepare(args, url, env)
    with scorer_served(args.scorer, env):
        _measure(args, url, env, state)


def _measure(args: argparse.Namespace, url: str, env: dict[str, str], state: dict) -> None:
    at = args.at or f"{state['last_month']}-28T12:00:00+00:00"
    lake = _warm_lake(args.var_dir / "lake")
    print(f"\nlake: {lake / 2**20:.1f} MiB read once (page cache warm for both runs)", flush=True)
    size_before = database_size_gib(url)
    load_before = os.getloadavg()
    print(f"\n== assign_offers --at {at} --seed {args.seed} ==", flush=True)
    assigned, lines = _timed_lines(
        [PYTHON, "manage.py", "assign_offers", "--at", at, "--seed", str(args.seed)], env
    )
    if assigned.returncode != 0:
        sys.exit("assign_offers failed")
    run_id = next(int(m.group(1)) for _, line in lines if (m := re.search(r"run #(\d+)", line)))
    run = _info(["run", "--id", str(run_id)], env)
    size_after = database_size_gib(url)
    print("\n== baseline: the model's scores alone ==", flush=True)
    baseline, baseline_lines = _timed_lines(
        [PYTHON, "benchmarks/assignment_baseline.py", "--at", at, "--seed", str(args.seed)], env
    )
    if baseline.returncode != 0:
        sys.exit("the baseline failed")
    stages = json.loads(baseline_lines[-1][1])
    _report(assigned, lines, run, baseline, stages, (size_before, size_after), load_before)


def _prepare(args: argparse.Namespace, url: str, env: dict[str, str]) -> dict[str, Any]:
    """The steps of the 1M preparation the database lacks (untimed)."""
    if not database_exists(url):
        database_create(url)
        print(f"created database {url}", flush=True)
    _step([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    state = _info(["state"], env)
    if not state["imported"]:
        chain = args.chain or ROOT / "var" / "bench" / f"chain-{args.customers}-{args.months}"
        if not chain.exists():
            generate = ["--customers", str(args.customers), "--months", str(args.months)]
            generate += ["--seed", "7", "--start", args.start]
            _step([PYTHON, "manage.py", "generate_demo_data", str(chain), *generate], env)
        _step([PYTHON, "manage.py", "import_data", str(chain)], env)
    if not state["segmented"]:
        _step([PYTHON, "manage.py", "run_segmentation"], env)
    if not state["embedded"]:
        _step([PYTHON, "manage.py", "embed_offers"], env)
    if not state["trained"]:
        _step([PYTHON, "manage.py", "train_recommender", "--epochs", str(args.epochs)], env)
    if not state["published"]:
        print(f"rules: {_info(['publish-rules'], env)}", flush=True)
    return _info(["state"], env)


def _step(command: list[str], env: dict[str, str]) -> None:
    print(f"$ {' '.join(command[1:])}", flush=True)
    if subprocess.run(command, env=env, cwd=str(ROOT)).returncode != 0:
        sys.exit(f"{' '.join(command[1:3])} failed")


def _info(arguments: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "benchmarks/_assign_info.py", *arguments],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"_assign_info.py {arguments[0]} failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _warm_lake(folder: Path) -> int:
    total = 0
    for path in sorted(folder.rglob("*.parquet")):
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                total += len(block)
    return total


def _timed_lines(
    command: list[str], env: dict[str, str]
) -> tuple[Measured, list[tuple[float, str]]]:
    """Measure a command; each line of its output is echoed and kept with the seconds since
    the start at which it arrived."""
    lines: list[tuple[float, str]] = []
    read_end, write_end = os.pipe()
    started = time.perf_counter()

    def follow(stream: IO[str]) -> None:
        for line in stream:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
            print(line, end="", flush=True)

    reader = os.fdopen(read_end, "r")
    follower = threading.Thread(target=follow, args=(reader,), daemon=True)
    follower.start()
    with os.fdopen(write_end, "wb") as writer:
        done = measure(command, env=env, cwd=str(ROOT), stdout=writer)
    follower.join()
    reader.close()
    return done, lines


def _stages(lines: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """Stage seconds of assign_offers from the arrival of its output lines."""
    start = next((t for t, line in lines if "Assignment run #" in line), None)
    progress = [(t, line) for t, line in lines if PROGRESS.match(line)]
    if start is None or not progress:
        return []
    first, last = progress[0][0], progress[-1][0]
    chunks = len(progress)
    stages = [
        ("Django start, run created", start),
        ("engine load, inputs from the lake, first chunk", first - start),
    ]
    if chunks > 1:
        per = (last - first) / (chunks - 1)
        stages.append((f"{chunks - 1} more chunks of 10,000 ({per:.2f} s each)", last - first))
    stages.append(("activation, exit", total - last))
    return stages


def _report(
    assigned: Measured,
    lines: list[tuple[float, str]],
    run: dict[str, Any],
    baseline: Measured,
    stages: dict[str, Any],
    sizes: tuple[float, float],
    load_before: tuple[float, float, float],
) -> None:
    result = run["result"]
    customers = result.get("customers", 0)
    print()
    print(
        f"{customers:,} customers, {run['offers']} offers in the catalog "
        f"({run['scored_offers']} in the batch's snapshot); "
        f"{result.get('holdout_customers', 0):,} in the holdout; "
        f"{result.get('assignments', 0):,} offers assigned"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    before = ", ".join(f"{x:.1f}" for x in load_before)
    print(f"machine: {os.cpu_count()} cores; load average {before} before, {load} after")
    print()
    print(f"{'':<44}{'wall s':>9}{'peak GiB':>10}")
    print(f"{'assign_offers (rules, receipts, writes)':<44}{assigned.seconds:>9.1f}", end="")
    print(f"{assigned.peak_gib:>10.2f}")
    print(f"{'baseline: model scores alone':<44}{baseline.seconds:>9.1f}{baseline.peak_gib:>10.2f}")
    print(f"ratio assign / baseline: {assigned.seconds / baseline.seconds:.2f}")
    print()
    print(f"assign_offers stages (s), from its output; the run itself took {run['run_s']:.1f} s:")
    for name, seconds in _stages(lines, assigned.seconds):
        print(f"  {name:<58}{seconds:>8.1f}")
    if run["log_tail"].strip():
        print("run log tail:\n" + run["log_tail"].rstrip())
    print(
        "baseline stages (s): "
        f"Django {stages['django_s']:.1f}, engine {stages['engine_s']:.1f}, "
        f"inputs {stages['inputs_s']:.1f}, situations {stages['situations_s']:.1f}, "
        f"scores {stages['scoring_s']:.1f}"
    )
    print(f"database {sizes[0]:.2f} GiB before the run, {sizes[1]:.2f} GiB after")
    verdict = "met" if assigned.seconds <= TARGET_S else "NOT MET"
    print(
        f"target: the batch of {customers:,} customers <= {TARGET_S:.0f} s: {verdict} "
        f"({assigned.seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
