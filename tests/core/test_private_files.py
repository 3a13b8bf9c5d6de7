"""Issue 15, lower finding 5: the demo's secret key and the SQLite database are readable by
their owner only (mode 600), also when an earlier version left them readable to all."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def demo_setup_block() -> str:
    """The lines of scripts/demo.sh from its umask to the loop that tightens older files: the
    part that writes var/ (the rest installs, trains and serves)."""
    text = (ROOT / "scripts" / "demo.sh").read_text()
    start = text.index("umask 077")
    end = text.index("done\n", start) + len("done\n")
    return text[start:end]


def run_demo_setup(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "umask 022\n" + demo_setup_block()],
        cwd=folder,
        env=env,
        check=True,
        timeout=60,
    )


def test_the_demo_writes_its_secret_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    run_demo_setup(tmp_path)

    key = tmp_path / "var" / "secret_key"
    assert len(key.read_text().strip()) >= 50
    assert (mode(key), mode(tmp_path / "var")) == (0o600, 0o700)


def test_the_demo_tightens_a_key_and_database_left_readable_to_all(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    for name in ("secret_key", "deepflame.sqlite3"):
        (tmp_path / "var" / name).write_text("x")
        (tmp_path / "var" / name).chmod(0o644)

    run_demo_setup(tmp_path)

    assert (tmp_path / "var" / "secret_key").read_text() == "x"  # kept, not replaced
    assert mode(tmp_path / "var" / "secret_key") == 0o600
    assert mode(tmp_path / "var" / "deepflame.sqlite3") == 0o600


def load_settings(var_dir: Path) -> None:
    dropped = {"DATABASE_URL", "VAR_DIR", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="deepflame_web.settings.test")
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def test_settings_create_the_sqlite_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    load_settings(tmp_path)

    assert mode(tmp_path / "deepflame.sqlite3") == 0o600


def test_settings_tighten_a_sqlite_file_left_readable_to_all(tmp_path: Path) -> None:
    database = tmp_path / "deepflame.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)

    load_settings(tmp_path)

    assert mode(database) == 0o600
