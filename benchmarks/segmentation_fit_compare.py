"""Fitting K-Means for a segment definition: scikit-learn on a driver sample vs Spark MLlib.

Features come from the lake of VAR_DIR (the same SQL as segmentation_baseline.py), scaled the
same way. Prints fit seconds and the inertia of every customer-period under each model, so
speed and quality are compared on the same rows.

    VAR_DIR=var/bench/var-250000-12 python benchmarks/segmentation_fit_compare.py --k 8
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from segmentation_baseline import features_logged  # noqa: E402

SAMPLE = 200_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    scaled = _scaled_features()
    rng = np.random.default_rng(1)
    sample = scaled[rng.choice(len(scaled), size=min(SAMPLE, len(scaled)), replace=False)]
    spark = _spark()  # started before the clock: a worker keeps its session warm
    scratch = Path(tempfile.mkdtemp(prefix="fit-compare-"))
    print(f"{len(scaled):,} customer-periods x {scaled.shape[1]} features, k={args.k}")
    print(f"{'fit':<40}{'seconds':>9}{'inertia (all rows)':>22}")
    for label, fit in (
        (f"scikit-learn, {len(sample):,} sample", lambda: _sklearn(sample, args.k)),
        (f"Spark MLlib, {len(sample):,} sample", lambda: _mllib(sample, args.k, spark, scratch)),
        (f"Spark MLlib, all {len(scaled):,} rows", lambda: _mllib(scaled, args.k, spark, scratch)),
    ):
        started = time.perf_counter()
        centroids = fit()
        seconds = time.perf_counter() - started
        print(f"{label:<40}{seconds:>9.1f}{_inertia(scaled, centroids):>22,.0f}")


def _scaled_features() -> np.ndarray:
    _, _, raw = features_logged()
    scale = raw.std(axis=0)
    scale[~(scale > 1e-9)] = 1.0
    return (raw - raw.mean(axis=0)) / scale


def _sklearn(rows: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=8, random_state=1).fit(rows).cluster_centers_


def _spark() -> Any:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _mllib(rows: np.ndarray, k: int, spark: Any, scratch: Path) -> np.ndarray:
    """Rows go through Parquet (as a lake would hand them to Spark), not Python objects."""
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler

    path = scratch / f"rows-{len(rows)}.parquet"
    columns = [f"f{i}" for i in range(rows.shape[1])]
    pq.write_table(pa.table(dict(zip(columns, rows.T, strict=True))), path)
    frame = VectorAssembler(inputCols=columns, outputCol="features").transform(
        spark.read.parquet(str(path))
    )
    model = KMeans(k=k, seed=1, maxIter=50).fit(frame)
    return np.asarray(model.clusterCenters())


def _inertia(rows: np.ndarray, centroids: np.ndarray) -> float:
    total = 0.0
    for start in range(0, len(rows), 500_000):
        block = rows[start : start + 500_000]
        distances = ((block[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        total += float(distances.min(axis=1).sum())
    return total


if __name__ == "__main__":
    main()
