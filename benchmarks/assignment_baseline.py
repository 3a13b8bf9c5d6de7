"""Baseline of the assignment benchmark: the model's scores for every customer, alone.

The same inputs the batch reads (the active model, catalog and segmentation through
`engine_current`; every customer's recent events, usual store and channel, segment and
trajectory through `customer_inputs`; each store's weather), each chunk of customers turned
into the batch's Situations, then the engine's `model_logits` over the catalog, chunk by
chunk as the batch does. No rules, no slots, no receipts, no writes. Prints its stage times
and one JSON line.

    DATABASE_URL=... VAR_DIR=... python benchmarks/assignment_baseline.py \
        --at 2026-10-28T12:00:00+00:00
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--at", type=dt.datetime.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    import django

    django.setup()
    from offers.models import Store
    from recommender.assignment.batch import CHUNK, batch_situations
    from recommender.assignment.engine import model_logits
    from recommender.assignment.inputs import customer_inputs, store_weather
    from recommender.assignment.state import engine_current, snapshot_dayparts

    times = {"django_s": time.perf_counter() - started}
    mark = time.perf_counter()
    engine, definition, snapshot = engine_current(seed=args.seed)
    times["engine_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    frame = customer_inputs(definition=definition, at=args.at, history_length=engine.history_length)
    frame["holdout"] = False
    stores = {s.store_id: s for s in Store.objects.all()}
    weather = store_weather(at=args.at, stores=stores)
    dayparts = snapshot_dayparts(snapshot)
    times["inputs_s"] = time.perf_counter() - mark
    situations_s = scoring_s = 0.0
    scored = 0
    for start in range(0, len(frame), CHUNK):
        mark = time.perf_counter()
        chunk = batch_situations(
            frame.iloc[start : start + CHUNK], at=args.at, stores=stores, weather=weather
        )
        situations_s += time.perf_counter() - mark
        mark = time.perf_counter()
        logits = model_logits(engine, chunk, dayparts)
        scoring_s += time.perf_counter() - mark
        scored += int(logits.shape[0])
    times["situations_s"] = situations_s
    times["scoring_s"] = scoring_s
    times["total_s"] = time.perf_counter() - started
    print(
        "baseline stages (s): "
        + ", ".join(f"{name[:-2]} {seconds:.1f}" for name, seconds in times.items())
    )
    print(json.dumps({"customers": scored, "offers": len(engine.catalog.offers), **times}))


if __name__ == "__main__":
    main()
