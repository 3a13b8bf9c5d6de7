"""Serving benchmark: the real-time endpoint `POST /api/v1/recommendations/` under load over
HTTP on 127.0.0.1, beside the engine's decisions alone in-process on the same requests.

Data (made once under --data, in its own PostgreSQL database, created when missing; every
step skips what is done already, so a rerun reuses it): `demo_pipeline` with 2,000 customers
x 6 months and the default model (import, segmentation, offer embeddings, TxT, the suggested
rules published, a batch assignment, whose customer states the endpoint reads), then
derived offers until the catalog holds 200, embedded into the active space with the frozen
encoder (no retraining: the model scores a new offer from its content vector).

Server: gunicorn with 2 sync workers (the machine's 2 cores) bound to 127.0.0.1 on a free
port, DEBUG off (a generated SECRET_KEY, ALLOWED_HOSTS=127.0.0.1), access log off, the
settings scripts/demo.sh serves with otherwise (OMP_WAIT_POLICY=PASSIVE, persistent database
connections). Sync workers: a decision is CPU-bound (torch, numpy and Python under the GIL),
so a thread per request only adds switching, and on this kind of machine sync workers beat
gthread and uvicorn (/work/shared/ENVIRONMENT.md); 2 workers keep both cores busy. Each
worker loads the engine on its first request; warm-up rounds run until the latency settles.

Load: `_http_load.py` in its own process, raw HTTP/1.1 over asyncio streams, `Authorization:
Token`, a new connection per request (the sync worker closes each after its response).
Requests are drawn from the data (`_serving_data.py load-inputs`): ~80% known customers,
~20% without a customer id, random stores and channels, instants spread over the last four
weeks of history in various offsets (every daypart), ~30% with a cart of 1-3 real items.
- A: open loop, a fixed --rate (100/s) for --seconds (60): p50, p99, max, achieved rate,
  errors (non-200 or exceptions); latency from opening the connection to the response's last
  byte; the send lag shows whether the generator kept its schedule;
- B: closed loop, --concurrency (8) connections for --seconds: requests/s, p50, p99, errors.
The load generator shares the 2 cores with the workers and PostgreSQL; its CPU time is
printed.

Baseline (`serving_baseline.py`, before the server starts): the same requests as phase A,
each a `decide()` call with the serving engine in one process, sequential, no HTTP, no
database, no receipt: per-decision p50/p99 and decisions/s, to show what HTTP, auth, the
customer lookup and writing the receipt add.

Receipts: the product's phases run twice, first with receipts queued (RECEIPT_QUEUE_URL on
the machine's Redis, database 13 unless BENCH_RECEIPT_QUEUE_URL says otherwise, and a
`manage.py drain_receipts` process writing them, as docker-compose runs it), then written in
each request (no queue); `--receipts` runs one of them. The drainer's CPU is its own column.

Floor (after the product's phases, with its server stopped): phases A and B again against
`_wsgi_floor.py`, a WSGI app that reads the request and answers a fixed body of a real
answer's size, under the same gunicorn settings: what HTTP over loopback, gunicorn and the
load generator cost on this machine by themselves. For every phase the CPU per answered
request is split between the workers, the load generator and the rest of the machine
(PostgreSQL, the kernel), with the rate the cores would allow at that cost.

    python benchmarks/serving_bench.py
    python benchmarks/serving_bench.py --skip-setup --seconds 60 --rate 100 --concurrency 8

Targets (issue 17): p99 <= 8 ms at 100 requests/s; >= 550 requests/s sustained, 0 errors,
every receipt written. `--scorer TxT` serves TxT for the run (the demo's model may serve a
baseline; `_serving_data.py serve-as` puts the scorer it served back afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _postgres import database_create, database_exists, database_url  # noqa: E402

RECEIPT_STREAM = "deepflame:receipts"  # recommender.assignment.receipt_queue.STREAM

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORKERS = 2
TARGET_P99_MS = 8.0
TARGET_RPS = 550.0
REQUEST_MIX = 20_000
SERVER_START_S = 60.0
PRODUCT_APP = "deepflame_web.wsgi:application"
FLOOR_APP = "_wsgi_floor:application"
# The benchmark's own database number of the machine's Redis (production: RECEIPT_QUEUE_URL).
QUEUE_URL = os.environ.get("BENCH_RECEIPT_QUEUE_URL", "redis://127.0.0.1:6379/13")
RECEIPT_MODES = ("queued", "in the request")


@dataclass(frozen=True)
class Loaded:
    summary: dict[str, Any]
    cpu_s: float
    """CPU time of the load generator process."""
    workers_cpu_s: list[float]
    """CPU time each gunicorn worker used during the phase."""
    machine_busy_s: float
    """CPU time every process on the machine used during the phase (/proc/stat, not idle)."""
    drainer_cpu_s: float = 0.0
    """CPU time of the receipt drainer during the phase (receipts queued)."""

    def cpu_per_request_ms(self) -> dict[str, float]:
        """Each consumer's CPU per answered request; "rest" is PostgreSQL, the kernel's
        network work, gunicorn's master and anything else running."""
        answered = max(self.summary["ok"], 1)
        workers = sum(self.workers_cpu_s)
        rest = max(self.machine_busy_s - workers - self.drainer_cpu_s - self.cpu_s, 0.0)
        return {
            "workers": workers / answered * 1000,
            "drainer": self.drainer_cpu_s / answered * 1000,
            "load generator": self.cpu_s / answered * 1000,
            "rest": rest / answered * 1000,
            "machine": self.machine_busy_s / answered * 1000,
        }


def data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the benchmark's chain lives and how it is made (shared with load_bench.py)."""
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench" / "serving")
    parser.add_argument("--database", default="bench_serving", help="a name or a URL")
    parser.add_argument(
        "--skip-setup", action="store_true", help="use the data as it is (migrated to this code)"
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=None, help="default: demo_pipeline's")
    parser.add_argument("--offers", type=int, default=200)


def bench_environment(url: str, data: Path) -> dict[str, str]:
    """The data steps' environment: the benchmark's database and VAR_DIR, offline models."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "VAR_DIR": str(data),
        "DEBUG": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }


def served_environment(env: dict[str, str]) -> dict[str, str]:
    """What gunicorn serves with: DEBUG off, a fresh secret key, the loopback host only."""
    return {
        **env,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    data_arguments(parser)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--scorer", default=None, help="serve this method of the active model")
    parser.add_argument(
        "--receipts",
        choices=["both", *RECEIPT_MODES],
        default="both",
        help="queued: RECEIPT_QUEUE_URL and a drainer (production); in the request: without",
    )
    args = parser.parse_args()
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database)
    env = bench_environment(url, data)
    load_before = os.getloadavg()
    if args.skip_setup:
        schema_migrate(env)
    else:
        _setup(args, url, data, env)
    with scorer_served(args.scorer, env):
        _measure(args, data, env, load_before)


@contextlib.contextmanager
def scorer_served(scorer: str | None, env: dict[str, str]) -> Iterator[None]:
    """The active version serves `scorer` inside the block (an Admin's choice), then the one
    it served before; without a scorer nothing changes."""
    if scorer is None:
        yield
        return
    before = _serve_as(scorer, env)
    print(f"serving {scorer} for this run", flush=True)
    try:
        yield
    finally:
        _serve_as(before, env)


def _serve_as(scorer: str, env: dict[str, str]) -> str:
    """Serve `scorer` from now on; returns the scorer served before."""
    out = _run([PYTHON, "benchmarks/_serving_data.py", "serve-as", "--scorer", scorer], env, True)
    before: str = json.loads(out.strip().splitlines()[-1])["before"]
    return before


def _measure(
    args: argparse.Namespace,
    data: Path,
    env: dict[str, str],
    load_before: tuple[float, float, float],
) -> None:
    inputs = data / "load-inputs.json"
    mix = ["load-inputs", "--count", str(REQUEST_MIX), "--out", str(inputs)]
    _run([PYTHON, "benchmarks/_serving_data.py", *mix], env)
    count = round(args.rate * args.seconds)
    print("\n== baseline: decide() in-process, sequential ==", flush=True)
    baseline_out = _run(
        [PYTHON, "benchmarks/serving_baseline.py", "--inputs", str(inputs), "--count", str(count)],
        env,
        capture=True,
    )
    baseline = json.loads(baseline_out.strip().splitlines()[-1])
    served_env = served_environment(env)
    modes = RECEIPT_MODES if args.receipts == "both" else (args.receipts,)
    product: dict[str, tuple[Loaded, Loaded]] = {}
    for mode in modes:
        with product_server(served_env, data, queued=mode == "queued") as (port, workers, drainer):
            print(
                f"\n== gunicorn: {WORKERS} sync workers on 127.0.0.1:{port}, receipts {mode} ==",
                flush=True,
            )
            warm = _load(
                port, inputs, workers, ["--mode", "warm", "--offset", str(REQUEST_MIX // 2)]
            )
            print(f"warm-up: {json.dumps(warm.summary)}", flush=True)
            product[mode] = _phases(args, port, inputs, workers, drainer)
            rss = [_rss_mib(pid) for pid in workers]
    with _server(served_env, data / "gunicorn-floor.log", FLOOR_APP) as (port, workers):
        print(
            f"\n== the floor: {WORKERS} sync workers answering a fixed body, no Django ==",
            flush=True,
        )
        floor = _phases(args, port, inputs, workers)
    _report(args, baseline, warm, product, floor, rss, load_before)


@contextlib.contextmanager
def product_server(
    env: dict[str, str], data: Path, *, queued: bool
) -> Iterator[tuple[int, list[int], int | None]]:
    """The product under gunicorn; with `queued`, receipts go through the benchmark's Redis
    to a drainer process (its pid yielded), emptied first and drained after."""
    if not queued:
        with _server({**env, "RECEIPT_QUEUE_URL": ""}, data / "gunicorn.log") as (port, workers):
            yield port, workers, None
        return
    queue = redis.Redis.from_url(QUEUE_URL)
    queue.delete(RECEIPT_STREAM)
    served = {**env, "RECEIPT_QUEUE_URL": QUEUE_URL}
    with (
        drainer_process(served, data / "drainer.log") as drainer,
        _server(served, data / "gunicorn.log") as (port, workers),
    ):
        yield port, workers, drainer.pid
        queue_wait_empty()


@contextlib.contextmanager
def drainer_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`manage.py drain_receipts` until the block ends (SIGTERM: it finishes its statement)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "drain_receipts"],
            env=env,
            cwd=str(ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def queue_wait_empty(timeout_s: float = 120.0) -> None:
    """Until the drainer has written every queued receipt."""
    queue = redis.Redis.from_url(QUEUE_URL)
    deadline = time.monotonic() + timeout_s
    while queue.xlen(RECEIPT_STREAM):
        if time.monotonic() > deadline:
            sys.exit(f"{queue.xlen(RECEIPT_STREAM)} receipts still queued after {timeout_s:g} s")
        time.sleep(0.1)


def _phases(
    args: argparse.Namespace,
    port: int,
    inputs: Path,
    workers: list[int],
    drainer: int | None = None,
) -> tuple[Loaded, Loaded]:
    """A, the open loop at --rate, then B, the closed loop on --concurrency connections."""
    count = round(args.rate * args.seconds)
    print(f"\n== A: open loop, {args.rate:g} requests/s for {args.seconds:g} s ==", flush=True)
    phase_a = _load(
        port,
        inputs,
        workers,
        ["--mode", "open", "--rate", str(args.rate), "--seconds", str(args.seconds)],
        drainer,
    )
    print(json.dumps(phase_a.summary), flush=True)
    print(
        f"\n== B: closed loop, {args.concurrency} connections for {args.seconds:g} s ==",
        flush=True,
    )
    phase_b = _load(
        port,
        inputs,
        workers,
        [
            "--mode",
            "closed",
            "--concurrency",
            str(args.concurrency),
            "--seconds",
            str(args.seconds),
            "--offset",
            str(count),
        ],
        drainer,
    )
    print(json.dumps(phase_b.summary), flush=True)
    return phase_a, phase_b


def schema_migrate(env: dict[str, str]) -> None:
    """The benchmark's database migrated to this code (kept data, too, after an upgrade)."""
    _run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)


def _setup(args: argparse.Namespace, url: str, data: Path, env: dict[str, str]) -> None:
    """The demo chain through a batch assignment, static files, then 200 offers."""
    if not database_exists(url):
        database_create(url)
        print(f"created database {url}", flush=True)
    schema_migrate(env)
    pipeline = ["--customers", str(args.customers), "--months", str(args.months)]
    if args.epochs is not None:
        pipeline += ["--epochs", str(args.epochs)]
    _run([PYTHON, "manage.py", "demo_pipeline", *pipeline], env)
    if not (data / "staticfiles" / "staticfiles.json").exists():
        _run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    _run([PYTHON, "benchmarks/_serving_data.py", "offers", "--total", str(args.offers)], env)


def _run(command: list[str], env: dict[str, str], capture: bool = False) -> str:
    """Run a step; a failure stops the benchmark (its output says why)."""
    done = subprocess.run(
        command, env=env, cwd=str(ROOT), stdout=subprocess.PIPE if capture else None, text=True
    )
    if capture:
        print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[1:3])} failed (exit {done.returncode})")
    return done.stdout or ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _server(
    env: dict[str, str], log: Path, app: str = PRODUCT_APP
) -> Iterator[tuple[int, list[int]]]:
    """gunicorn serving `app` bound to a free port; yields (port, worker pids) once it
    accepts."""
    port = _free_port()
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        app,
        "--pythonpath",
        str(ROOT / "benchmarks"),
        "--workers",
        str(WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",  # the first request of a worker loads the engine
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
    ]
    process = subprocess.Popen(command, env=env, cwd=str(ROOT))
    try:
        workers = _wait_ready(process, port)
        yield port, workers
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen, port: int) -> list[int]:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited ({process.returncode}); see its log")
        workers = _children(process.pid)
        if len(workers) == WORKERS:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return workers
        time.sleep(0.2)
    sys.exit("gunicorn did not start in time")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _machine_busy_s() -> float:
    """CPU seconds all cores have spent not idle since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _load(
    port: int, inputs: Path, workers: list[int], mode: list[str], drainer: int | None = None
) -> Loaded:
    """One run of the load generator in its own process."""
    before = [_cpu_s(pid) for pid in workers]
    drainer_before = _cpu_s(drainer) if drainer else 0.0
    busy_before = _machine_busy_s()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "summary.json"
        command = [
            PYTHON,
            "benchmarks/_http_load.py",
            "--port",
            str(port),
            "--inputs",
            str(inputs),
            "--out",
            str(out),
            *mode,
        ]
        process = subprocess.Popen(command, cwd=str(ROOT))
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("the load generator failed")
        summary = json.loads(out.read_text())
    used = [_cpu_s(pid) - b for pid, b in zip(workers, before, strict=True)]
    busy = _machine_busy_s() - busy_before
    drained = _cpu_s(drainer) - drainer_before if drainer else 0.0
    return Loaded(summary, usage.ru_utime + usage.ru_stime, used, busy, drained)


def _cpu_report(product: dict[str, tuple[Loaded, Loaded]], floor: tuple[Loaded, Loaded]) -> None:
    """CPU per answered request by consumer, and the rate the machine's cores would allow if
    nothing but that CPU limited it."""
    print()
    print("CPU ms per answered request (rest: PostgreSQL, the kernel, gunicorn's master, other)")
    consumers = ["workers", "drainer", "load generator", "rest", "machine"]
    print(f"{'':<30}" + "".join(f"{c:>15}" for c in consumers) + f"{'cores allow/s':>15}")
    phases = [
        (f"{name}, receipts {mode}", p)
        for mode, ab in product.items()
        for name, p in zip("AB", ab, strict=True)
    ]
    phases += [("floor, A", floor[0]), ("floor, B", floor[1])]
    for label, phase in phases:
        cpu = phase.cpu_per_request_ms()
        ceiling = (os.cpu_count() or 1) * 1000 / max(cpu["machine"], 1e-9)
        print(f"{label:<30}" + "".join(f"{cpu[c]:>15.2f}" for c in consumers) + f"{ceiling:>15.0f}")
    floor_ms = floor[1].cpu_per_request_ms()["machine"]
    for mode, (_, phase_b) in product.items():
        product_ms = phase_b.cpu_per_request_ms()["machine"]
        print(
            f"B, receipts {mode}: the product's request costs the machine "
            f"{product_ms - floor_ms:.2f} ms of CPU beyond the floor's {floor_ms:.2f} ms (HTTP "
            "over loopback, gunicorn, the load generator)"
        )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _report(
    args: argparse.Namespace,
    baseline: dict[str, Any],
    warm: Loaded,
    product: dict[str, tuple[Loaded, Loaded]],
    floor: tuple[Loaded, Loaded],
    rss: list[float],
    load_before: tuple[float, float, float],
) -> None:
    print()
    print(
        f"{baseline['offers']} offers ({baseline['scorable']} with a content vector), "
        f"{WORKERS} gunicorn sync workers; request mix of {REQUEST_MIX:,} drawn from the data"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    before = ", ".join(f"{x:.1f}" for x in load_before)
    print(
        f"machine: {os.cpu_count()} cores, {_cpu_model()}; load average {before} before, "
        f"{load} after"
    )
    print(
        f"warm-up (last server): {warm.summary['rounds']} rounds of 100 requests on 4 "
        f"connections, {warm.summary['slow_first_requests']} of the first round over 1 s (each "
        "worker loading its engine), round p50s "
        + " ".join(f"{p:.1f}" for p in warm.summary["p50s_ms"])
        + f" ms, {warm.summary['errors']} errors; worker RSS after the run: "
        + ", ".join(f"{m:.0f} MiB" for m in rss)
    )
    print()
    print(f"{'':<44}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>9}{'errors':>8}")
    rows = []
    for mode, (phase_a, phase_b) in product.items():
        rows += [
            (f"A: open loop at {args.rate:g}/s, receipts {mode}", phase_a.summary),
            (f"B: {phase_b.summary['concurrency']} connections, receipts {mode}", phase_b.summary),
        ]
    rows += [("floor, A", floor[0].summary), ("floor, B", floor[1].summary)]
    for label, s in rows:
        print(
            f"{label:<44}{s['p50_ms']:>8.2f}{s['p99_ms']:>8.2f}{s['max_ms']:>8.1f}"
            f"{s['rps']:>9.1f}{s['errors']:>8}"
        )
    print(
        f"{'baseline: decide() in-process':<44}{baseline['p50_ms']:>8.2f}"
        f"{baseline['p99_ms']:>8.2f}{baseline['max_ms']:>8.1f}"
        f"{baseline['decisions_per_s']:>9.1f}{'-':>8}"
    )
    print()
    for mode, (phase_a, _) in product.items():
        a = phase_a.summary
        print(
            f"receipts {mode}: A send lag p99 {a['send_lag_p99_ms']:.1f} ms (the generator's "
            f"own delay); HTTP + auth + customer lookup + receipt add "
            f"{a['p50_ms'] - baseline['p50_ms']:.2f} ms at p50 (A) to the engine's "
            f"{baseline['p50_ms']:.2f} ms; {WORKERS} x the baseline's decisions/s would be "
            f"{WORKERS * baseline['decisions_per_s']:.0f}"
        )
    _cpu_report(product, floor)
    for mode, phases in product.items():
        for name, phase in zip("AB", phases, strict=True):
            if phase.summary["errors"]:
                print(
                    f"{name}, receipts {mode}, errors by kind: {phase.summary['error_kinds']}; "
                    f"first: {phase.summary['error_samples'][:2]}"
                )
    for mode, (phase_a, phase_b) in product.items():
        a, b = phase_a.summary, phase_b.summary
        met_a = a["p99_ms"] <= TARGET_P99_MS and a["rps"] >= 0.95 * args.rate and a["errors"] == 0
        met_b = b["rps"] >= TARGET_RPS and b["errors"] == 0
        print(
            f"receipts {mode}: target p99 <= {TARGET_P99_MS:g} ms at 100 requests/s: "
            f"{'met' if met_a else 'NOT MET'} (p99 {a['p99_ms']:.2f} ms at {a['rps']:.1f}/s, "
            f"{a['errors']} errors); target >= {TARGET_RPS:g} requests/s sustained with 0 "
            f"errors: {'met' if met_b else 'NOT MET'} ({b['rps']:.1f}/s over "
            f"{b['elapsed_s']:.0f} s, {b['errors']} errors)"
        )
    if args.rate != 100 or args.seconds != 60:
        print(f"(ran at --rate {args.rate:g} --seconds {args.seconds:g}, not the targets' 100/60)")


if __name__ == "__main__":
    main()
