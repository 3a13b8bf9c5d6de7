"""Baseline of the serving benchmark: the engine's decisions in-process, one at a time.

The same request mix as the HTTP load (the first --count requests of the inputs file), each
turned into a Situation with the serving code (store, cart and customer looked up: not
timed), then `recommender.assignment.engine.decide` with this process's serving engine
(`serving_current()`), one situation per call, timed alone: no HTTP, no authentication, no
database, no receipt. Prints one JSON line: per-decision p50/p99 in ms and decisions/s.

    DATABASE_URL=... VAR_DIR=... python benchmarks/serving_baseline.py --inputs load.json
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")

WARM_DECISIONS = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--count", type=int, default=6000)
    args = parser.parse_args()
    import django

    django.setup()
    from recommender.assignment.engine import decide
    from recommender.assignment.serving import serving_current, situation_for

    bodies = json.loads(args.inputs.read_text())["requests"][: args.count]
    started = time.perf_counter()
    serving = serving_current()
    load_seconds = time.perf_counter() - started
    situations = [
        situation_for(
            serving,
            customer_id=body.get("customer_id") or None,
            store_id=body["store_id"],
            at=dt.datetime.fromisoformat(body["at"]),
            channel=body["channel"],
            cart=body.get("cart", []),
        )
        for body in bodies
    ]
    engine, dayparts = serving.engine, serving.dayparts
    for situation in situations[:WARM_DECISIONS]:
        decide(engine, [situation], dayparts)
    times = []
    picks = 0
    for situation in situations:
        one = time.perf_counter()
        outcome = decide(engine, [situation], dayparts)[0]
        times.append(time.perf_counter() - one)
        picks += len(outcome.picks)
    ms = np.array(times) * 1000
    print(
        json.dumps(
            {
                "decisions": len(times),
                "offers": len(engine.catalog.offers),
                "scorable": int(engine.scorable.sum()),
                "picks_per_decision": picks / len(times),
                "engine_load_s": load_seconds,
                "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)),
                "max_ms": float(ms.max()),
                "decisions_per_s": len(times) / float(np.sum(times)),
            }
        )
    )


if __name__ == "__main__":
    main()
