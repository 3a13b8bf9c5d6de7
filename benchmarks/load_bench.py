"""Load benchmark: the real-time endpoint at a fixed rate with feedback posted alongside, and
every receipt and feedback event counted in the database afterwards.

The serving benchmark's data and server (`serving_bench.py`: the demo chain with 200 offers
in its own PostgreSQL database, gunicorn with 2 sync workers on 127.0.0.1, DEBUG off), warmed
up the same way. Then, each an open loop of `_http_load.py --mode mixed` for --seconds:

- baseline: `POST /api/v1/recommendations/` alone at --rate (300/s);
- with feedback: the same rate of recommendations, and at --feedback-rate (30/s) impressions,
  clicks and redemptions of offers the active batch assigned (`POST /api/v1/events/`,
  `/api/v1/redemptions/`), each with a new event id.

Receipts are queued and drained by `manage.py drain_receipts` (as docker-compose runs it;
--receipts-in-request: written in each request). With --kill, a third phase at the same rates
kills a gunicorn worker with SIGKILL a third of the way in (its master starts another), the
drainer at half way, and starts another drainer 2 s later.

After each phase (and once the drainer has emptied the queue), a separate process counts in
the database: every answered decision id has its receipt, the real-time receipts written
during the phase are exactly the answered ones (in the kill phase: the answered ones and
those of requests cut off after their receipt was queued), and every accepted event is
stored. The load generator shares the 2 cores with the server and
PostgreSQL.

    python benchmarks/load_bench.py
    python benchmarks/load_bench.py --skip-setup --rate 300 --feedback-rate 30 --seconds 60
    python benchmarks/load_bench.py --skip-setup --kill --rate 150 --feedback-rate 15

Target (issue 15): 300 requests/s for 60 s with feedback alongside, 0 errors, no receipt lost.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving_bench  # noqa: E402
from _postgres import database_url  # noqa: E402

ROOT = serving_bench.ROOT
PYTHON = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser()
    serving_bench.data_arguments(parser)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--feedback-rate", type=float, default=30.0)
    parser.add_argument(
        "--receipts-in-request",
        action="store_true",
        help="write each receipt in its request (no RECEIPT_QUEUE_URL, no drainer)",
    )
    parser.add_argument(
        "--kill",
        action="store_true",
        help="a third phase: a web worker killed -9 at a third of it, the drainer at half "
        "(another started 2 s later), then every answered receipt counted",
    )
    args = parser.parse_args()
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database)
    env = serving_bench.bench_environment(url, data)
    if args.skip_setup:
        serving_bench.schema_migrate(env)
    else:
        serving_bench._setup(args, url, data, env)
    inputs = _inputs(args, data, env)
    feedback = _feedback_inputs(args, data, env, "a")
    feedback_killed = _feedback_inputs(args, data, env, "k") if args.kill else feedback
    served_env = serving_bench.served_environment(env)
    queued = not args.receipts_in_request
    server = serving_bench.product_server(served_env, data, queued=queued)
    with server as (port, workers, drainer):
        receipts = "queued, drained by another process" if queued else "written in the request"
        print(f"\n== gunicorn: {serving_bench.WORKERS} sync workers on 127.0.0.1:{port}; "
              f"receipts {receipts} ==")  # fmt: skip
        warm = serving_bench._load(port, inputs, workers, ["--mode", "warm", "--offset", "10000"])
        print(f"warm-up: {json.dumps(warm.summary)}", flush=True)
        phases: list[tuple[str, float, Path, Killed | None]] = [
            ("baseline: recommendations alone", 0.0, feedback, None),
            ("with feedback alongside", args.feedback_rate, feedback, None),
        ]
        if args.kill:
            if drainer is None:
                sys.exit("--kill needs the receipts queued (not --receipts-in-request)")
            kills = Killed(worker=workers[0], drainer=drainer, env=served_env, data=data)
            phases.append(
                ("a worker and the drainer killed -9", args.feedback_rate, feedback_killed, kills)
            )
        rows = [
            _phase(args, port, inputs, posts, env, label, rate, killed)
            for label, rate, posts, killed in phases
        ]
    _report(args, rows)


def _inputs(args: argparse.Namespace, data: Path, env: dict[str, str]) -> Path:
    inputs = data / "load-inputs.json"
    count = round(max(args.rate, 1) * args.seconds) + 1
    mix = ["load-inputs", "--count", str(max(count, 20_000)), "--out", str(inputs)]
    serving_bench._run([PYTHON, "benchmarks/_serving_data.py", *mix], env)
    return inputs


def _feedback_inputs(args: argparse.Namespace, data: Path, env: dict[str, str], tag: str) -> Path:
    """Feedback posts of a phase of its own: new event ids (a repeated one is a duplicate)."""
    feedback = data / f"feedback-inputs-{tag}.json"
    posts = round(max(args.feedback_rate, 1) * args.seconds) + 1
    tag = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + tag
    sent = ["feedback-inputs", "--count", str(posts), "--tag", tag, "--out", str(feedback)]
    serving_bench._run([PYTHON, "benchmarks/_serving_data.py", *sent], env)
    return feedback


@dataclass(frozen=True)
class Killed:
    """What the kill phase kills: a gunicorn worker (its master starts another) and the
    receipt drainer (started again 2 s later with the same settings)."""

    worker: int
    drainer: int
    env: dict[str, str]
    data: Path


def _phase(
    args: argparse.Namespace,
    port: int,
    inputs: Path,
    feedback: Path,
    env: dict[str, str],
    label: str,
    feedback_rate: float,
    killed: Killed | None,
) -> dict[str, Any]:
    print(f"\n== {label}: {args.rate:g}/s, feedback {feedback_rate:g}/s, {args.seconds:g} s ==")
    since = dt.datetime.now(dt.UTC).isoformat()
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        out = Path(scratch) / "answered.json"
        command = [
            PYTHON, "benchmarks/_http_load.py", "--port", str(port), "--inputs", str(inputs),
            "--mode", "mixed", "--rate", str(args.rate), "--seconds", str(args.seconds),
            "--feedback-inputs", str(feedback), "--feedback-rate", str(feedback_rate),
            "--out", str(out),
        ]  # fmt: skip
        load = subprocess.Popen(command, cwd=str(ROOT))
        if killed is not None:
            _kill_during(args.seconds, killed, stack)
        if load.wait() != 0:
            sys.exit("the load generator failed")
        if not args.receipts_in_request:
            serving_bench.queue_wait_empty()
        answered = json.loads(out.read_text())
        counted = serving_bench._run(
            [PYTHON, "benchmarks/_serving_data.py", "count", "--since", since,
             "--answered", str(out)],
            env,
            capture=True,
        )  # fmt: skip
    stored = json.loads(counted.strip().splitlines()[-1])
    row = {"label": label, "feedback_rate": feedback_rate, **answered, **stored}
    row.pop("decision_ids"), row.pop("event_ids")
    return row


def _kill_during(seconds: float, killed: Killed, stack: contextlib.ExitStack) -> None:
    time.sleep(seconds / 3)
    os.kill(killed.worker, signal.SIGKILL)
    print(f"killed -9 web worker {killed.worker}", flush=True)
    time.sleep(seconds / 6)
    os.kill(killed.drainer, signal.SIGKILL)
    print(f"killed -9 drainer {killed.drainer}", flush=True)
    time.sleep(2)
    log = killed.data / "drainer.log"
    again = stack.enter_context(
        serving_bench.drainer_process(
            {**killed.env, "RECEIPT_QUEUE_URL": serving_bench.QUEUE_URL}, log
        )
    )
    print(f"drainer started again: {again.pid}", flush=True)


def _report(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmachine: {os.cpu_count()} cores, {serving_bench._cpu_model()}; load average {load}")
    header = (
        f"{'':<34}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}"
        f"{'fb/s':>7}{'fb p99':>8}{'fb err':>7}{'receipts':>22}{'events':>12}"
    )
    print(header)
    for row in rows:
        a, f = row["recommendations"], row["feedback"] or {}
        receipts = f"{row['receipts_found']}/{row['answered']} ({row['receipts_since']})"
        events = f"{row['events_found']}/{row['accepted']}"
        print(
            f"{row['label']:<34}{a['rps']:>8.1f}{a['p50_ms']:>8.2f}{a['p99_ms']:>8.2f}"
            f"{a['errors']:>8}{f.get('rps', 0.0):>7.1f}{f.get('p99_ms', 0.0):>8.2f}"
            f"{f.get('errors', 0):>7}{receipts:>22}{events:>12}"
        )
        for name, phase in (("recommendations", a), ("feedback", f)):
            if phase.get("errors"):
                print(f"  {name} errors by kind: {phase['error_kinds']}; first: "
                      f"{phase['error_samples'][:2]}")  # fmt: skip
    print(
        "receipts: found in the database / answered (real-time receipts written during the "
        "phase); events: stored / accepted"
    )
    mixed = rows[1]
    a, f = mixed["recommendations"], mixed["feedback"] or {}
    lost = mixed["answered"] - mixed["receipts_found"]
    met = (
        a["rps"] >= 0.95 * args.rate
        and a["errors"] == 0
        and f.get("errors", 0) == 0
        and lost == 0
        and mixed["receipts_since"] == mixed["answered"]
        and mixed["events_found"] == mixed["accepted"]
    )
    print(
        f"target {args.rate:g} requests/s for {args.seconds:g} s with feedback alongside, 0 "
        f"errors, no receipt lost: {'met' if met else 'NOT MET'} ({a['rps']:.1f}/s, "
        f"{a['errors']} + {f.get('errors', 0)} errors, {lost} receipts lost)"
    )
    if len(rows) > 2:
        killed = rows[2]
        lost = killed["answered"] - killed["receipts_found"]
        unanswered = killed["receipts_since"] - killed["receipts_found"]
        print(
            f"kill -9 of a web worker and of the drainer: {killed['answered']:,} answered, "
            f"{killed['receipts_found']:,} of their receipts written ({lost} lost), "
            f"{unanswered} receipts of requests cut off before their answer "
            f"({killed['recommendations']['errors']} recommendation errors); "
            f"{'nothing lost' if lost == 0 else 'RECEIPTS LOST'}"
        )


if __name__ == "__main__":
    main()
