"""The system check run: proves that a worker, the database, the lake and Java are usable."""

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from deepflame_web.core.models import Run
from deepflame_web.core.services import run_advance


def system_check_execute(run: Run) -> dict[str, Any]:
    lake = Path(run.parameters.get("lake_uri") or settings.LAKE_URI)
    models = Path(run.parameters.get("model_dir") or settings.MODEL_DIR)
    run_advance(run=run, stage="database", progress=10)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    run_advance(run=run, stage="lake", progress=40, log=f"database {connection.vendor} ok")
    _check_writable(lake, "lake (LAKE_URI)")
    _check_writable(models, "model folder (MODEL_DIR)")
    run_advance(run=run, stage="java", progress=70, log=f"lake {lake} and models {models} ok")
    java = _java_version()
    run_advance(run=run, stage="done", progress=95, log=f"java: {java}")
    return {"database": connection.vendor, "lake": str(lake), "models": str(models), "java": java}


def _check_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RuntimeError(f"The {what} at {folder} is not writable: {exc.strerror}") from exc


def _java_version() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(
            "Java is not installed: Spark needs Java 17 (apt-get install openjdk-17-jre-headless)"
        )
    completed = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    return completed.stderr.splitlines()[0] if completed.stderr else "unknown"
