"""Where a real-time request's time goes: each part of `POST /api/v1/recommendations/` timed
alone, in one process, on the serving benchmark's data and request mix, beside the whole
request through Django's stack (test client: no socket, no gunicorn).

Parts, in the order a request meets them: token authentication (the per-process cache warm,
as under load), parsing and validating the body, the customer's state (one query), building
the situation (store, weather, purchases decayed to the instant), the engine's decision, the
receipt write (one round trip on PostgreSQL), and rendering the JSON answer. The whole request
minus their sum is the framework: middleware, routing, DRF's request and response objects.

    python benchmarks/serving_bench.py          # once: makes the data (var/bench/serving)
    python benchmarks/serving_parts.py          # then this, on the same data
    python benchmarks/serving_parts.py --scorer TxT   # as if the version served TxT

`--scorer` makes the active model serve that scorer for this run (and puts the one it served
back at the end), to profile a neural scorer on a chain where a baseline serves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _postgres import database_url  # noqa: E402
from serving_bench import bench_environment, data_arguments  # noqa: E402

WARM = 200
PARTS = ("auth", "parse", "customer", "situation", "decide", "receipt", "render")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return (time.perf_counter() - start) * 1000, value


def _parts_of(body: dict[str, Any], key: str, modules: dict[str, Any]) -> dict[str, float]:
    """One request, part by part, as the endpoint runs them."""
    serving = modules["serving"]
    state = serving.serving_current()
    times = {}
    times["auth"], _ = _timed(
        lambda: modules["auth"].CachedTokenAuthentication().authenticate_credentials(key)
    )
    data = modules["apis"].RecommendationInputSerializer(data=body)
    times["parse"], _ = _timed(data.is_valid)
    values = data.validated_data
    customer_id = values.get("customer_id") or None
    times["customer"], _ = _timed(lambda: serving._customer(state, customer_id))
    at = values["at"].astimezone(dt.UTC)
    times["situation"], situation = _timed(
        lambda: serving.situation_for(
            state,
            customer_id=customer_id,
            store_id=values["store_id"],
            at=at,
            channel=values["channel"],
            cart=values.get("cart", []),
        )
    )
    times["situation"] -= times["customer"]  # situation_for looks the customer up again
    times["decide"], outcomes = _timed(
        lambda: modules["engine"].decide(state.engine, [situation], state.dayparts)
    )
    outcome = outcomes[0]
    times["receipt"], decision_id = _timed(
        lambda: modules["receipts"].decision_record(
            outcome=outcome,
            engine=state.engine,
            model_id=state.model_id,
            catalog_id=state.catalog.pk,
            sheets=state.sheets,
        )
    )
    payload = {
        "decision_id": decision_id,
        "context": outcome.context,
        "offers": modules["apis"]._offers(outcome, state),
        "note": outcome.note,
    }
    times["render"], _ = _timed(lambda: modules["renderer"]().render(payload))
    return times


def _whole(client: Any, body: dict[str, Any], key: str) -> float:
    elapsed, response = _timed(
        lambda: client.post(
            "/api/v1/recommendations/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {key}",
        )
    )
    assert response.status_code == 200, response.content[:300]
    return elapsed


def _summary(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {
        "mean": float(array.mean()),
        "p50": float(np.percentile(array, 50)),
        "p99": float(np.percentile(array, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--scorer", default=None, help="serve this scorer for the run")
    args = parser.parse_args()
    os.environ.update(bench_environment(database_url(args.database), args.data.resolve()))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    import django

    django.setup()
    import _serving_data
    import torch
    from django.test import Client
    from rest_framework.renderers import JSONRenderer

    from deepflame_web.core import authentication
    from recommender import apis
    from recommender.assignment import engine, receipts, serving

    torch.set_num_threads(1)
    served_before = _serving_data.serve_as(args.scorer) if args.scorer else None
    try:
        modules = {
            "serving": serving,
            "auth": authentication,
            "apis": apis,
            "engine": engine,
            "receipts": receipts,
            "renderer": JSONRenderer,
        }
        key = _serving_data.bench_token()
        bodies = _serving_data.request_mix(count=args.count + WARM, seed=11)
        client = Client()
        state = serving.serving_current()
        for body in bodies[:WARM]:
            _parts_of(body, key, modules)
            _whole(client, body, key)
        parts: dict[str, list[float]] = {name: [] for name in PARTS}
        whole = []
        for body in bodies[WARM:]:
            for name, value in _parts_of(body, key, modules).items():
                parts[name].append(value)
            whole.append(_whole(client, body, key))
        report = {
            "scorer": state.engine.scorer_name,
            "offers": len(state.engine.catalog.offers),
            "requests": args.count,
            "parts_ms": {name: _summary(values) for name, values in parts.items()},
            "whole_request_ms": _summary(whole),
        }
        parts_mean = sum(v["mean"] for v in report["parts_ms"].values())
        report["framework_ms_mean"] = report["whole_request_ms"]["mean"] - parts_mean
        print(json.dumps(report, indent=1))
        _print_table(report)
    finally:
        if served_before is not None:
            _serving_data.serve_as(served_before)
        serving.serving_reset()


def _print_table(report: dict[str, Any]) -> None:
    whole = report["whole_request_ms"]["mean"]
    print(f"\nscorer {report['scorer']}, {report['offers']} offers, {report['requests']} requests")
    print("| part | mean ms | p50 ms | p99 ms | share of the request |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, figures in report["parts_ms"].items():
        print(
            f"| {name} | {figures['mean']:.3f} | {figures['p50']:.3f} | {figures['p99']:.3f} "
            f"| {figures['mean'] / whole:.0%} |"
        )
    framework = report["framework_ms_mean"]
    print(f"| framework (the rest) | {framework:.3f} | | | {framework / whole:.0%} |")
    w = report["whole_request_ms"]
    print(f"| whole request (test client) | {w['mean']:.3f} | {w['p50']:.3f} | {w['p99']:.3f} | |")


if __name__ == "__main__":
    main()
