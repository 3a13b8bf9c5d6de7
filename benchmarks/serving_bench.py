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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _postgres import database_create, database_exists, database_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORKERS = 2
TARGET_P99_MS = 8.0
TARGET_RPS = 550.0
REQUEST_MIX = 20_000
SERVER_START_S = 60.0
PRODUCT_APP = "deepflame_web.wsgi:application"
FLOOR_APP = "_wsgi_floor:application"


@dataclass(frozen=True)
class Loaded:
    summary: dict[str, Any]
    cpu_s: float
    """CPU time of the load generator process."""
    workers_cpu_s: list[float]
    """CPU time each gunicorn worker used during the phase."""
    machine_busy_s: float
    """CPU time every process on the machine used during the phase (/proc/stat, not idle)."""

    def cpu_per_request_ms(self) -> dict[str, float]:
        """Each consumer's CPU per answered request; "rest" is PostgreSQL, the kernel's
        network work, gunicorn's master and anything else running."""
        answered = max(self.summary["ok"], 1)
        workers = sum(self.workers_cpu_s)
        rest = max(self.machine_busy_s - workers - self.cpu_s, 0.0)
        return {
            "workers": workers / answered * 1000,
            "load generator": self.cpu_s / answered * 1000,
            "rest": rest / answered * 1000,
            "machine": self.machine_busy_s / answered * 1000,
        }


def data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the benchmark's chain lives and how it is made (shared with load_bench.py)."""
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench" / "serving")
    parser.add_argument("--database", default="bench_serving", help="a name or a URL")
    parser.add_argument("--skip-setup", action="store_true", help="use the data as it is")
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
    args = parser.parse_args()
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database)
    env = bench_environment(url, data)
    load_before = os.getloadavg()
    if not args.skip_setup:
        _setup(args, url, data, env)
    before = _serve_as(args.scorer, env) if args.scorer else None
    try:
        _measure(args, data, env, load_before)
    finally:
        if before is not None:
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
    with _server(served_env, data / "gunicorn.log") as (port, workers):
        print(f"\n== gunicorn: {WORKERS} sync workers on 127.0.0.1:{port} ==", flush=True)
        warm = _load(port, inputs, workers, ["--mode", "warm", "--offset", str(REQUEST_MIX // 2)])
        print(f"warm-up: {json.dumps(warm.summary)}", flush=True)
        phase_a, phase_b = _phases(args, port, inputs, workers)
        rss = [_rss_mib(pid) for pid in workers]
    with _server(served_env, data / "gunicorn-floor.log", FLOOR_APP) as (port, workers):
        print(
            f"\n== the floor: {WORKERS} sync workers answering a fixed body, no Django ==",
            flush=True,
        )
        floor = _phases(args, port, inputs, workers)
    _report(args, baseline, warm, (phase_a, phase_b), floor, rss, load_before)


def _phases(
    args: argparse.Namespace, port: int, inputs: Path, workers: list[int]
) -> tuple[Loaded, Loaded]:
    """A, the open loop at --rate, then B, the closed loop on --concurrency connections."""
    count = round(args.rate * args.seconds)
    print(f"\n== A: open loop, {args.rate:g} requests/s for {args.seconds:g} s ==", flush=True)
    phase_a = _load(
        port,
        inputs,
        workers,
        ["--mode", "open", "--rate", str(args.rate), "--seconds", str(args.seconds)],
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
    )
    print(json.dumps(phase_b.summary), flush=True)
    return phase_a, phase_b


def _setup(args: argparse.Namespace, url: str, data: Path, env: dict[str, str]) -> None:
    """The demo chain through a batch assignment, static files, then 200 offers."""
    if not database_exists(url):
        database_create(url)
        print(f"created database {url}", flush=True)
    _run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
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


def _load(port: int, inputs: Path, workers: list[int], mode: list[str]) -> Loaded:
    """One run of the load generator in its own process."""
    before = [_cpu_s(pid) for pid in workers]
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
    return Loaded(summary, usage.ru_utime + usage.ru_stime, used, busy)


def _cpu_report(product: tuple[Loaded, Loaded], floor: tuple[Loaded, Loaded]) -> None:
    """CPU per answered request by consumer, and the rate the machine's cores would allow if
    nothing but that CPU limited it."""
    print()
    print("CPU ms per answered request (rest: PostgreSQL, the kernel, gunicorn's master, other)")
    consumers = ["workers", "load generator", "rest", "machine"]
    print(f"{'':<16}" + "".join(f"{c:>16}" for c in consumers) + f"{'cores allow/s':>16}")
    phases = [("A", product[0]), ("B", product[1]), ("floor, A", floor[0]), ("floor, B", floor[1])]
    for label, phase in phases:
        cpu = phase.cpu_per_request_ms()
        ceiling = (os.cpu_count() or 1) * 1000 / max(cpu["machine"], 1e-9)
        print(f"{label:<16}" + "".join(f"{cpu[c]:>16.2f}" for c in consumers) + f"{ceiling:>16.0f}")
    product_ms = product[1].cpu_per_request_ms()["machine"]
    floor_ms = floor[1].cpu_per_request_ms()["machine"]
    print(
        f"B: the product's request costs the machine {product_ms - floor_ms:.2f} ms of CPU "
        f"beyond the floor's {floor_ms:.2f} ms (HTTP over loopback, gunicorn, the load "
        "generator)"
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
    product: tuple[Loaded, Loaded],
    floor: tuple[Loaded, Loaded],
    rss: list[float],
    load_before: tuple[float, float, float],
) -> None:
    phase_a, phase_b = product
    a, b = phase_a.summary, phase_b.summary
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
        f"warm-up: {warm.summary['rounds']} rounds of 100 requests on 4 connections, "
        f"{warm.summary['slow_first_requests']} of the first round over 1 s (each worker "
        "loading its engine), round p50s "
        + " ".join(f"{p:.1f}" for p in warm.summary["p50s_ms"])
        + f" ms, {warm.summary['errors']} errors; worker RSS after the run: "
        + ", ".join(f"{m:.0f} MiB" for m in rss)
    )
    print()
    print(f"{'':<36}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>9}{'errors':>8}")
    rows = [
        (f"A: open loop at {args.rate:g}/s", a),
        (f"B: closed loop, {b['concurrency']} connections", b),
        ("floor, A", floor[0].summary),
        ("floor, B", floor[1].summary),
    ]
    for label, s in rows:
        print(
            f"{label:<36}{s['p50_ms']:>8.2f}{s['p99_ms']:>8.2f}{s['max_ms']:>8.1f}"
            f"{s['rps']:>9.1f}{s['errors']:>8}"
        )
    print(
        f"{'baseline: decide() in-process':<36}{baseline['p50_ms']:>8.2f}"
        f"{baseline['p99_ms']:>8.2f}{baseline['max_ms']:>8.1f}"
        f"{baseline['decisions_per_s']:>9.1f}{'-':>8}"
    )
    print()
    print(
        f"A: send lag p99 {a['send_lag_p99_ms']:.1f} ms (the generator's own delay); "
        f"load generator CPU {phase_a.cpu_s:.1f} s, workers "
        + " / ".join(f"{c:.1f}" for c in phase_a.workers_cpu_s)
        + f" s over {a['elapsed_s']:.0f} s"
    )
    print(
        f"B: load generator CPU {phase_b.cpu_s:.1f} s, workers "
        + " / ".join(f"{c:.1f}" for c in phase_b.workers_cpu_s)
        + f" s over {b['elapsed_s']:.0f} s; {WORKERS} x the baseline's decisions/s would be "
        f"{WORKERS * baseline['decisions_per_s']:.0f}"
    )
    for name, phase in (("A", phase_a), ("B", phase_b)):
        per = sum(phase.workers_cpu_s) / max(phase.summary["ok"], 1) * 1000
        print(
            f"{name}: worker CPU per request {per:.1f} ms; the baseline's mean decide() "
            f"{1000 / baseline['decisions_per_s']:.1f} ms"
        )
    print(
        f"HTTP + auth + customer lookup + receipt add {a['p50_ms'] - baseline['p50_ms']:.2f} ms "
        f"at p50 (A) to the engine's {baseline['p50_ms']:.2f} ms"
    )
    _cpu_report(product, floor)
    for name, s in (("A", a), ("B", b)):
        if s["errors"]:
            print(f"{name} errors by kind: {s['error_kinds']}; first: {s['error_samples'][:2]}")
    met_a = a["p99_ms"] <= TARGET_P99_MS and a["rps"] >= 0.95 * args.rate and a["errors"] == 0
    met_b = b["rps"] >= TARGET_RPS and b["errors"] == 0
    print(
        f"target p99 <= {TARGET_P99_MS:g} ms at 100 requests/s: "
        f"{'met' if met_a else 'NOT MET'} (p99 {a['p99_ms']:.2f} ms at {a['rps']:.1f}/s, "
        f"{a['errors']} errors)"
    )
    print(
        f"target >= {TARGET_RPS:g} requests/s sustained with 0 errors: "
        f"{'met' if met_b else 'NOT MET'} ({b['rps']:.1f}/s over {b['elapsed_s']:.0f} s, "
        f"{b['errors']} errors)"
    )
    if args.rate != 100 or args.seconds != 60:
        print(f"(ran at --rate {args.rate:g} --seconds {args.seconds:g}, not the targets' 100/60)")


if __name__ == "__main__":
    main()
