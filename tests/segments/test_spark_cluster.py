"""The unchanged feature job and segmentation run on a real standalone Spark cluster.

A master and two one-core workers are started from the pyspark installation on 127.0.0.1
and stopped by PID afterwards (docs/spark-cluster.md describes the same by hand).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyspark
import pytest
from django.core.management import call_command

from deepflame_web.core.spark import spark_session, spark_stop
from segments.models import SegmentDefinition
from segments.selectors import membership_count
from segments.spark.features import features_compute
from tests.segments.test_features import hand_made_extract

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SPARK_HOME = Path(pyspark.__file__).parent


def _free_ports(count: int) -> list[int]:
    """`count` distinct free ports: every probe stays bound until all are chosen (one at a
    time, the system may hand the same port out twice, and a worker's web UI then answered
    on the master's UI port)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _spark_class(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except (OSError, ValueError):  # not up yet, or not the master's JSON yet
        return 0


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, ui, *worker_ui = _free_ports(4)
    master_url = f"spark://127.0.0.1:{port}"
    master = "org.apache.spark.deploy.master.Master"
    worker = "org.apache.spark.deploy.worker.Worker"
    processes = [
        _spark_class(
            [master, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
            logs / "master.log",
        )
    ]
    try:
        for n in (1, 2):
            processes.append(
                _spark_class(
                    [
                        worker,
                        master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "1g",
                        "--webui-port",
                        str(worker_ui[n - 1]),
                        "--work-dir",
                        str(logs / f"work{n}"),
                    ],
                    logs / f"worker{n}.log",
                )  # fmt: skip
            )
        deadline = time.monotonic() + 90
        while _alive_workers(ui) < 2:
            assert time.monotonic() < deadline, (logs / "master.log").read_text()[-3000:]
            time.sleep(0.5)
        yield master_url
    finally:
        spark_stop()
        for process in reversed(processes):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


def _executors() -> int:
    status: Any = spark_session().sparkContext._jsc.sc().getExecutorMemoryStatus()
    return int(status.size()) - 1  # the driver's block manager is listed too


def test_the_same_job_runs_on_a_standalone_cluster(
    standalone_cluster: str, settings: Any, tmp_path: Path
) -> None:
    call_command("import_data", str(hand_made_extract(tmp_path / "extract")))
    settings.SPARK_MASTER = "local[2]"
    spark_stop()
    local = features_compute(
        periods=["2025-01", "2025-02"], lookback=1, scratch=tmp_path / "local"
    ).frame

    settings.SPARK_MASTER = standalone_cluster
    settings.SPARK_EXECUTOR_MEMORY = "512m"  # each worker offers 1 GiB
    on_cluster = features_compute(
        periods=["2025-01", "2025-02"], lookback=1, scratch=tmp_path / "cluster"
    ).frame

    assert spark_session().sparkContext.master == standalone_cluster
    assert _executors() == 2
    pd.testing.assert_frame_equal(on_cluster, local)
    call_command("run_segmentation", "--k", "2")
    definition = SegmentDefinition.objects.get(is_active=True)
    assert membership_count(definition=definition) == 4
    spark_stop()
