"""Tracker issue 18: the upload page links the import format and a template folder, and
carries the offers policy and the dry run to the run it starts."""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run
from tests.segments.test_import_uploads import zipped

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-data"


@pytest.fixture
def admin(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


def test_the_upload_page_links_the_format_and_the_example_folder(admin: Client) -> None:
    html = admin.get("/imports/new/").content.decode()

    assert 'href="/imports/format/"' in html
    assert 'href="/imports/example-data.zip"' in html
    assert '<option value="keep-edits" selected>' in html
    assert '<option value="take-extract">' in html


def test_the_format_page_shows_the_product_s_data_contract(admin: Client) -> None:
    response = admin.get("/imports/format/")

    assert response.status_code == 200
    assert "The import format (data contract, version 1)" in response.content.decode()


def test_the_example_folder_downloads_as_a_zip_of_every_file(admin: Client) -> None:
    response = admin.get("/imports/example-data.zip")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    expected = sorted(
        f"example-data/{p.relative_to(EXAMPLE).as_posix()}"
        for p in EXAMPLE.rglob("*")
        if p.is_file()
    )
    assert sorted(names) == expected
    assert "example-data/orders.csv" in names


def test_the_upload_starts_a_run_with_the_chosen_policy(
    admin: Client, tmp_path: Path, settings: Any, no_enqueue: list[int]
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.IMPORT_UPLOAD_DIR = tmp_path / "var" / "uploads"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "stores.csv").write_text("store_id\n")

    with zipped(tmp_path / "x").open("rb") as handle:
        response = admin.post(
            "/imports/new/", {"archive": handle, "offers": "take-extract", "dry_run": "on"}
        )

    assert response.status_code == 302
    run = Run.objects.get()
    assert (run.parameters["offers_policy"], run.parameters["dry_run"]) == ("take-extract", True)
