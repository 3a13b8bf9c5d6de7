"""An Admin imports history from the browser; a worker process runs it."""

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from deepflame_web.core.lake import lake_row_counts
from offers.models import Store
from tests.browser.conftest import log_in, screenshot
from tests.segments.contract_folder import copy_tables, write_folder
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zipped(folder: Path) -> Path:
    return Path(
        shutil.make_archive(str(folder), "zip", root_dir=folder.parent, base_dir=folder.name)
    )


def test_admin_uploads_a_bad_then_a_good_extract(
    page: Page, live_server: Any, admin_user: Any, tmp_path: Path
) -> None:
    bad_tables = copy_tables()
    bad_tables["orders"][1]["store_id"] = "SF9"
    bad = zipped(write_folder(tmp_path / "bad", bad_tables))
    good = zipped(write_folder(tmp_path / "good"))
    env = {"LAKE_URI": settings.LAKE_URI, "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    log_in(page, live_server.url, admin_user.username)

    with celery_worker(tmp_path / "worker.log", **env):
        page.goto(f"{live_server.url}/runs/")
        page.click("text=Import history (zip)")
        page.set_input_files("input[name=archive]", str(bad))
        page.click("button[type=submit]")
        expect(page.locator("#run-state")).to_have_text("failed", timeout=60_000)
        expect(page.locator("#run-error")).to_contain_text(
            "orders.csv, row 3, column store_id: refers to store 'SF9', which does not exist"
        )
        screenshot(page, "import-rejected")
        assert Store.objects.count() == 0

        page.goto(f"{live_server.url}/imports/new/")
        page.set_input_files("input[name=archive]", str(good))
        page.click("button[type=submit]")
        expect(page.locator("#run-state")).to_have_text("succeeded", timeout=60_000)

    assert Store.objects.count() == 2
    assert lake_row_counts()["order_lines"] == 4
    page.goto(f"{live_server.url}/")
    expect(page.locator('[data-count="stores"] .value')).to_have_text("2")
    expect(page.locator('[data-count="customers"] .value')).to_have_text("2")


def test_a_marketer_cannot_open_the_import_page(
    page: Page, live_server: Any, marketer: Any
) -> None:
    log_in(page, live_server.url, marketer.username)

    response = page.goto(f"{live_server.url}/imports/new/")

    assert response is not None and response.status == 403
