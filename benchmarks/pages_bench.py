"""Pages benchmark: server time of every page a marketer opens, at 1M customers x 12 months,
beside the same pages on a 2,000-customer chain: a page whose time grows with the customers
is reading all of them.

Measured in one process per database with Django's test Client (the view, its queries and
the template; no HTTP or static files), logged in as a Marketer (the Admin for /runs/), DEBUG
on as the other benchmarks run (static names unhashed, no collectstatic), persistent
database connections, and what start-up loaded frozen out of the garbage collector as
`deepflame_web/wsgi.py` does. Each page gets --warm untimed requests (3), then --requests
timed ones (30) that vary the segment, customer, receipt, search prefix and movers page.
Every timed request runs inside CaptureQueriesContext for its query count and slowest query
(the capture adds microseconds per query); its reads of the lake (DuckDB over Parquet, which
that context does not see) are timed with their SQL.

Pages: / (the guided "Start here"), /segments/, /segments/<key>/, /segments/movements/ (the
last two periods; ?from=&to= the first and last; ?page=N in the second half of the movers),
movers.csv (the export: time to its first byte), /customers/ (the list, ?q= a customer
id prefix, ?page=N in the second half of the list), /customers/<id>/ (a customer of the
active batch, with offers and a trajectory), /receipts/<id>/, /performance/, /runs/,
/models/, /offers/, /rules/.

Data (--database, --var-dir; the baseline --baseline-database, --baseline-var-dir with
--baseline-customers and the same months): steps a database lacks are done first, untimed, each
step's time printed: the database created; `migrate` (every time); `generate_demo_data --seed 7
--start START` unless var/bench/chain-C-M-YYYYMM exists (START defaults to the months ending
with the last whole month, as `demo_pipeline` does: rules are validated against today's offers,
and a 2025-01 history's offers have all expired, so its suggested rules cannot be published);
`import_data`; `run_segmentation`; `embed_offers`; the model: training on 1.7M redemptions
takes hours here, so the trained TxT of the assignment benchmark's database (--model-from
bench_assign, its files under --model-dir var/bench/assign-1m/models: the same seed, so the
same offers and items) is copied and registered as the active model in the active embedding
space, whose dimensions must match (`train_recommender --epochs 1` when that database is
missing); the suggested rules published (`_assign_info.py publish-rules`, as `demo_pipeline`
does); `assign_offers --at AT --seed 1` (AT: the 28th of the last month at 12:00 UTC).

    python benchmarks/pages_bench.py                       # bench_pages, var/bench/pages
    python benchmarks/pages_bench.py --customers 3000 --months 3 --database bench_pages_small \
        --var-dir /tmp/bench-pages-small --baseline-database bench_pages_small_2k \
        --baseline-var-dir /tmp/bench-pages-small-2k

Target (issue 8): p95 <= 300 ms for every page at 1M customers x 12 months.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _postgres import database_create, database_exists, database_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_P95_MS = 300.0
GROWS = 3.0
"""A page whose p50 grows more than this from the baseline to the measured chain is flagged."""
SQL_SHOWN = 220


@dataclass(frozen=True)
class Chain:
    label: str
    url: str
    var_dir: Path
    customers: int


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="bench_pages", help="a name or a URL")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / "bench" / "pages")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warm", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--seed", type=int, default=0, help="which ids the requests ask for")
    parser.add_argument("--baseline-database", default="bench_pages_2k")
    parser.add_argument("--baseline-var-dir", type=Path, default=ROOT / "var/bench/pages-2k")
    parser.add_argument("--baseline-customers", type=int, default=2000)
    parser.add_argument("--no-baseline", action="store_true")
    preparation = parser.add_argument_group("preparation, when a database lacks it")
    preparation.add_argument("--customers", type=int, default=1_000_000)
    preparation.add_argument("--months", type=int, default=12)
    preparation.add_argument(
        "--start", default=None, help="default: the months end with the last whole month"
    )
    preparation.add_argument("--chain", type=Path, default=None, help="the measured chain")
    preparation.add_argument("--at", default=None, help="default: the 28th of the last month")
    preparation.add_argument("--model-from", default="bench_assign", help="a name or a URL")
    preparation.add_argument(
        "--model-dir", type=Path, default=ROOT / "var" / "bench" / "assign-1m" / "models"
    )
    parser.add_argument("--part", choices=["register-model", "measure"], help="internal")
    args = parser.parse_args()
    args.start = args.start or _history_start(args.months)
    if args.part:
        _django_part(args)
        return
    chains = [Chain("measured", database_url(args.database), args.var_dir, args.customers)]
    if not args.no_baseline:
        chains.append(
            Chain(
                "baseline",
                database_url(args.baseline_database),
                args.baseline_var_dir,
                args.baseline_customers,
            )
        )
    results = {}
    for chain in chains:
        print(f"\n== {chain.label}: {chain.customers:,} customers, {chain.url} ==", flush=True)
        _prepare(args, chain, args.chain if chain.label == "measured" else None)
    load_before = os.getloadavg()
    for chain in chains:
        print(f"\n== measuring {chain.label} ==", flush=True)
        results[chain.label] = _measure(chain)
    _report(args, results, load_before)


# -- preparation (each step in its own process, untimed) -------------------------------------


def _env(chain: Chain) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": chain.url,
        "VAR_DIR": str(chain.var_dir.resolve()),
        "DEBUG": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def _prepare(args: argparse.Namespace, chain: Chain, folder: Path | None) -> None:
    """The steps the chain's database lacks, each timed and printed."""
    env = _env(chain)
    chain.var_dir.mkdir(parents=True, exist_ok=True)
    if not database_exists(chain.url):
        database_create(chain.url)
        print(f"created database {chain.url}", flush=True)
    _step([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    state = _part_of(["benchmarks/_assign_info.py", "state"], env)
    if not state["imported"]:
        name = f"chain-{chain.customers}-{args.months}-{args.start[:7].replace('-', '')}"
        folder = (folder or ROOT / "var" / "bench" / name).resolve()
        if not folder.exists():
            generate = ["--customers", str(chain.customers), "--months", str(args.months)]
            generate += ["--seed", "7", "--start", args.start]
            _step([PYTHON, "manage.py", "generate_demo_data", str(folder), *generate], env)
        else:
            print(f"chain {folder} exists", flush=True)
        _step([PYTHON, "manage.py", "import_data", str(folder)], env)
    if not state["segmented"]:
        _step([PYTHON, "manage.py", "run_segmentation"], env)
    if not state["embedded"]:
        _step([PYTHON, "manage.py", "embed_offers"], env)
    if not state["trained"]:
        if database_exists(database_url(args.model_from)):
            started = time.perf_counter()
            model = _part(["--part", "register-model"], env)
            print(f"model: {model['note']} ({time.perf_counter() - started:.1f} s)", flush=True)
        else:
            _step([PYTHON, "manage.py", "train_recommender", "--epochs", "1"], env)
    if not state["published"]:
        started = time.perf_counter()
        published = _part_of(["benchmarks/_assign_info.py", "publish-rules"], env)
        print(f"rules: {published} ({time.perf_counter() - started:.1f} s)", flush=True)
    if not state["assigned"]:
        state = _part_of(["benchmarks/_assign_info.py", "state"], env)
        at = args.at or f"{state['last_month']}-28T12:00:00+00:00"
        _step([PYTHON, "manage.py", "assign_offers", "--at", at, "--seed", "1"], env)


def _history_start(months: int) -> str:
    """The first day of a history that ends with the last whole month, as `demo_pipeline`
    makes it: the rules are validated against today's offers, and an older history's offers
    have all expired, so its suggested rules cannot be published."""
    today = dt.date.today()
    index = today.year * 12 + today.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1).isoformat()


def _step(command: list[str], env: dict[str, str]) -> None:
    print(f"$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    if subprocess.run(command, env=env, cwd=str(ROOT)).returncode != 0:
        sys.exit(f"{' '.join(command[1:3])} failed")
    print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)


def _part(arguments: list[str], env: dict[str, str]) -> Any:
    """A part of this script in its own process, with this run's arguments."""
    return _part_of(["benchmarks/pages_bench.py", *sys.argv[1:], *arguments], env)


def _part_of(arguments: list[str], env: dict[str, str]) -> Any:
    """A Django step in its own process; its last line of output is JSON."""
    done = subprocess.run(
        [PYTHON, *arguments], env=env, cwd=str(ROOT), stdout=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments[:2])} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(chain: Chain) -> dict[str, Any]:
    result: dict[str, Any] = _part(["--part", "measure"], _env(chain))
    return result


# -- the Django side (run with the chain's DATABASE_URL and VAR_DIR) -------------------------


def _django_part(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if args.part == "register-model":
        result = _register_model(database_url(args.model_from), args.model_dir)
    else:
        result = _measure_pages(args.requests, args.warm, args.seed)
    print(json.dumps(result, default=str))


SOURCE_MODEL = """
SELECT m.version, m.artifact, m.hyperparameters, m.data_window, m.metrics, m.examples,
       m.cold_start, m.curves, s.dimensions
FROM recommender_recommendermodel m
JOIN recommender_embeddingspace s ON s.id = m.embedding_space_id
WHERE m.is_active
"""


def _register_model(source_url: str, source_models: Path) -> dict[str, Any]:
    """The active model of another benchmark database, its files copied into this MODEL_DIR
    and registered as active in this database's active embedding space."""
    import psycopg2
    from django.conf import settings
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from recommender.ml.scorers import NEURAL_FILES
    from recommender.models import EmbeddingSpace, RecommenderModel

    with psycopg2.connect(source_url) as connection, connection.cursor() as cursor:
        cursor.execute(SOURCE_MODEL)
        row = cursor.fetchone()
    if row is None:
        sys.exit(f"{source_url} has no active model")
    version, artifact, hyperparameters, window, metrics, examples, cold, curves, width = row
    space = EmbeddingSpace.objects.get(is_active=True)
    if space.dimensions != width:
        sys.exit(
            f"the model of {source_url} scores {width}-d offer vectors, the active space "
            f"here is {space.dimensions}-d"
        )
    files = source_models / artifact
    if not (files / NEURAL_FILES["TxT"]).exists():
        sys.exit(f"the model files are missing: {files}")
    with transaction.atomic():
        number = (RecommenderModel.objects.aggregate(top=Max("version"))["top"] or 0) + 1
        folder = Path(settings.MODEL_DIR) / "txt" / f"v{number}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(files, folder)
        RecommenderModel.objects.filter(is_active=True).update(is_active=False)
        RecommenderModel.objects.create(
            version=number,
            is_active=True,
            artifact=str(folder.relative_to(settings.MODEL_DIR)),
            hyperparameters=hyperparameters,
            data_window=window,
            embedding_space=space,
            encoders={
                "space": space.version,
                "text": space.text_encoder,
                "image": space.image_encoder,
            },
            metrics=metrics,
            examples=examples,
            cold_start=cold,
            curves=curves,
            decision=f"copied by benchmarks/pages_bench.py from v{version} of {source_url}",
            activated_at=timezone.now(),
        )
    return {"note": f"v{version} of {source_url} registered as v{number}"}


@dataclass
class Page:
    name: str
    paths: Callable[[int], str]
    admin: bool = False
    first_byte: bool = False


@dataclass
class Timed:
    ms: list[float]
    queries: list[int]
    slowest_sql: str
    slowest_sql_ms: float
    lake_reads: list[int]
    slowest_lake: str
    slowest_lake_ms: float


class _LakeReads:
    """DuckDB reads of the lake, the pages' other source besides PostgreSQL (invisible to
    CaptureQueriesContext): each `with duckdb.connect() as db:` block timed from connect to
    close, with the last SQL it ran."""

    def __init__(self) -> None:
        import duckdb

        self.reads: list[tuple[float, str]] = []
        self._connect = duckdb.connect
        duckdb.connect = self.connect  # type: ignore[assignment]

    def connect(self, *args: Any, **kwargs: Any) -> _TimedConnection:
        return _TimedConnection(self._connect(*args, **kwargs), self.reads)


class _TimedConnection:
    def __init__(self, connection: Any, reads: list[tuple[float, str]]) -> None:
        self._connection, self._reads, self._sql = connection, reads, ""
        self._started = time.perf_counter()

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._sql = sql
        return self._connection.execute(sql, *args, **kwargs)

    def close(self) -> None:
        if self._started:
            self._reads.append(((time.perf_counter() - self._started) * 1000, self._sql))
            self._started = 0.0
        self._connection.close()

    def __enter__(self) -> _TimedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _measure_pages(requests: int, warm: int, seed: int) -> dict[str, Any]:
    import gc

    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    pages, facts = _pages(requests + warm, seed)
    clients = {}
    for role in ("Marketer", "Admin"):
        user, _ = User.objects.get_or_create(username=f"bench-{role.lower()}")
        user.groups.add(Group.objects.get(name=role))
        clients[role] = Client()
        clients[role].force_login(user)
    lake = _LakeReads()
    gc.collect()
    gc.freeze()
    results = {}
    for page in pages:
        client = clients["Admin" if page.admin else "Marketer"]
        timed = _timed_page(client, page, requests, warm, lake)
        results[page.name] = timed.__dict__
        p50 = statistics.median(timed.ms)
        print(f"  {page.name:<44} p50 {p50:8.1f} ms", file=sys.stderr, flush=True)
    return {"facts": facts, "pages": results}


def _timed_page(client: Any, page: Page, requests: int, warm: int, lake: _LakeReads) -> Timed:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(warm):
        _get(client, page, page.paths(requests + n))
    timed = Timed([], [], "", -1.0, [], "", -1.0)
    for n in range(requests):
        path = page.paths(n)
        lake.reads.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            _get(client, page, path)
            timed.ms.append((time.perf_counter() - started) * 1000)
        timed.queries.append(len(captured.captured_queries))
        for query in captured.captured_queries:
            if float(query["time"]) * 1000 > timed.slowest_sql_ms:
                timed.slowest_sql_ms, timed.slowest_sql = float(query["time"]) * 1000, query["sql"]
        timed.lake_reads.append(len(lake.reads))
        for ms, sql in lake.reads:
            if ms > timed.slowest_lake_ms:
                timed.slowest_lake_ms, timed.slowest_lake = ms, sql
    return timed


def _get(client: Any, page: Page, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        sys.exit(f"{path}: status {response.status_code}")
    if page.first_byte:
        next(iter(response.streaming_content))
        response.close()


def _pages(count: int, seed: int) -> tuple[list[Page], dict[str, Any]]:
    """The pages and, for the ones with an id, `count` ids drawn from the data."""
    from urllib.parse import urlencode

    from deepflame_web.console.views import CUSTOMERS_PER_PAGE
    from recommender.models import AssignmentBatch
    from segments.models import Customer
    from segments.selectors import segment_flows, segmentation_active
    from segments.views import MOVERS_PER_PAGE

    rng = random.Random(seed)
    definition = segmentation_active()
    batch = AssignmentBatch.objects.filter(is_active=True).first()
    if definition is None or batch is None:
        sys.exit("no active segmentation or assignment batch: the preparation is incomplete")
    keys = list(definition.segments.values_list("key", flat=True))
    periods = sorted(definition.periods)
    flows = segment_flows(period_from=periods[-2], period_to=periods[-1], definition=definition)
    movers = sum(
        n for (a, b), n in (flows or {}).items() if a is not None and b is not None and a != b
    )
    movers_pages = max(1, -(-movers // MOVERS_PER_PAGE))
    deep = [rng.randint(movers_pages // 2 + 1, movers_pages) for _ in range(count)]
    list_pages = max(1, -(-Customer.objects.count() // CUSTOMERS_PER_PAGE))
    deep_list = [rng.randint(list_pages // 2 + 1, list_pages) for _ in range(count)]
    customers = _decisions(batch, count, rng, known_customer=True, holdout=False)
    receipts = _decisions(batch, count, rng)
    moves = "/segments/movements/"
    first_last = urlencode({"from": periods[0], "to": periods[-1]})
    pages = [
        Page("/ (Start here)", lambda n: "/"),
        Page("/segments/", lambda n: "/segments/"),
        Page("/segments/<key>/", lambda n: f"/segments/{keys[n % len(keys)]}/"),
        Page("/segments/movements/", lambda n: moves),
        Page("/segments/movements/?from=first&to=last", lambda n: f"{moves}?{first_last}"),
        Page("/segments/movements/?page=N (2nd half)", lambda n: f"{moves}?page={deep[n]}"),
        Page(
            "movers.csv first-last (first byte)",
            lambda n: f"{moves}movers.csv?{first_last}",
            first_byte=True,
        ),
        Page("/customers/", lambda n: "/customers/"),
        Page("/customers/?q=prefix", lambda n: f"/customers/?q={customers[n][1][:-2]}"),
        Page("/customers/?page=N (2nd half)", lambda n: f"/customers/?page={deep_list[n]}"),
        Page("/customers/<id>/", lambda n: f"/customers/{customers[n][1]}/"),
        Page("/receipts/<id>/", lambda n: f"/receipts/{receipts[n][0]}/"),
        Page("/performance/", lambda n: "/performance/"),
        Page("/runs/ (Admin)", lambda n: "/runs/", admin=True),
        Page("/models/", lambda n: "/models/"),
        Page("/offers/", lambda n: "/offers/"),
        Page("/rules/", lambda n: "/rules/"),
    ]
    facts = {
        "customers": Customer.objects.count(),
        "periods": len(periods),
        "segments": len(keys),
        "movers_last_two": movers,
        "movers_pages": movers_pages,
        "batch_customers": batch.customers,
        "batch_assignments": batch.assignments,
    }
    return pages, facts


def _decisions(batch: Any, count: int, rng: random.Random, **match: object) -> list[Any]:
    """(receipt id, customer id) of `count` receipts of the batch spread over its id range:
    one index lookup each instead of ORDER BY random() over every receipt."""
    from django.db.models import Max, Min

    from recommender.models import Decision

    receipts = Decision.objects.filter(batch=batch, **match)
    bounds = receipts.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        sys.exit(f"the active batch has no receipts matching {match}")
    picked = []
    for _ in range(count):
        start = rng.randint(bounds["low"], bounds["high"])
        row = receipts.filter(pk__gte=start).order_by("pk").values_list("pk", "customer_id")
        picked.append(row.first() or receipts.order_by("pk").values_list("pk", "customer_id")[0])
    return picked


# -- the report ------------------------------------------------------------------------------


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _queries(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def _shown(sql: str) -> str:
    flat = " ".join(sql.split())
    return (flat if len(flat) <= SQL_SHOWN else flat[: SQL_SHOWN - 3] + "...") or "(none)"


def _report(
    args: argparse.Namespace,
    results: dict[str, dict[str, Any]],
    load_before: tuple[float, float, float],
) -> None:
    measured, baseline = results["measured"], results.get("baseline")
    print()
    for label, result in results.items():
        print(f"{label}: {json.dumps(result['facts'])}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    before = ", ".join(f"{x:.1f}" for x in load_before)
    print(f"machine: {os.cpu_count()} cores; load average {before} before, {load} after")
    print(f"{args.requests} timed requests per page after {args.warm} untimed; test Client")
    print()
    header = f"{'page':<46}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}"
    if baseline:
        header += f"{'base p50':>9}{'base p95':>9}{'base q':>8}{'x p50':>7}"
    print(header + "  verdict")
    missed, grown = [], []
    for name, page in measured["pages"].items():
        ms = page["ms"]
        p50, p95 = statistics.median(ms), _p(ms, 95)
        line = f"{name:<46}{p50:>8.1f}{p95:>8.1f}{max(ms):>8.1f}{_queries(page['queries']):>9}"
        if baseline:
            base = baseline["pages"][name]
            base_p50 = statistics.median(base["ms"])
            growth = p50 / base_p50 if base_p50 else 0.0
            line += f"{base_p50:>9.1f}{_p(base['ms'], 95):>9.1f}{_queries(base['queries']):>8}"
            line += f"{growth:>6.1f}x"
            if growth > GROWS:
                grown.append(name)
        met = p95 <= TARGET_P95_MS
        if not met:
            missed.append(name)
        print(f"{line}  {'met' if met else 'MISSED'}")
    print()
    print("slowest database query and lake read (DuckDB) per page, measured chain:")
    for name, page in measured["pages"].items():
        print(f"  {name}")
        print(f"    SQL  {page['slowest_sql_ms']:7.1f} ms  {_shown(page['slowest_sql'])}")
        if page["slowest_lake"]:
            reads = _queries(page["lake_reads"])
            print(
                f"    lake {page['slowest_lake_ms']:7.1f} ms  ({reads} reads a request) "
                f"{_shown(page['slowest_lake'])}"
            )
    if baseline:
        print(
            f"\npages whose p50 grew more than {GROWS:g}x from the baseline "
            f"(read data that grows with the customers): {', '.join(grown) or 'none'}"
        )
    verdict = "met" if not missed else f"MISSED by {', '.join(missed)}"
    print(f"target: p95 <= {TARGET_P95_MS:.0f} ms on every page: {verdict}")


if __name__ == "__main__":
    main()
