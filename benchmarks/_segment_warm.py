"""One segmentation run the way the worker runs its second one: Django loaded and the Spark
session already started (the worker keeps it warm), then the run itself, timed.

    VAR_DIR=... python benchmarks/_segment_warm.py --k 8   (prints "warm run: N s")
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    import django

    django.setup()
    from deepflame_web.core.models import RunStatus
    from deepflame_web.core.spark import spark_session
    from segments.segmentation.services import segmentation_run_execute, segmentation_run_start

    spark_session()
    started = time.perf_counter()
    run = segmentation_run_start(k=args.k, refit=True, enqueue=False)
    done = segmentation_run_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    if done is None or done.status != RunStatus.SUCCEEDED:
        sys.exit(f"the run failed: {done.error if done else 'taken by another process'}")
    print(f"warm run: {seconds:.1f} s; timings: {done.result['timings']}")


if __name__ == "__main__":
    main()
