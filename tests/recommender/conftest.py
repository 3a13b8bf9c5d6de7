import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from segments.demo import demo_chain_generate


@pytest.fixture(scope="session")
def chain_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated chain: 300 customers, January to March 2025."""
    folder = tmp_path_factory.mktemp("txt") / "chain"
    demo_chain_generate(out_dir=folder, customers=300, months=3, seed=5, start=dt.date(2025, 1, 1))
    return folder


@pytest.fixture
def chain(chain_folder: Path) -> None:
    """The tiny chain imported, segmented (Spark) and its offers embedded."""
    for command, arguments in (
        ("import_data", [str(chain_folder)]),
        ("run_segmentation", []),
        ("embed_offers", ["--dimensions", "16"]),
    ):
        call_command(command, *arguments, stdout=StringIO())
