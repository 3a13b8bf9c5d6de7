"""An Admin retrains the segments from the runs page and watches the run finish in a real
worker; a Marketer and an Analyst see no retrain buttons. An Admin edits the periodic
schedule; the others only read it."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.schedule import schedule_rows
from segments.models import SegmentDefinition
from tests.browser.conftest import log_in, screenshot
from tests.recommender.conftest import chain, chain_folder  # noqa: F401
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("chain")
def test_an_admin_retrains_segments_and_watches_the_run_finish(
    page: Page, live_server: Any, admin_user: Any, marketer: Any, analyst: Any, tmp_path: Path
) -> None:
    versions = SegmentDefinition.objects.count()
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("#schedule, table").first).to_be_visible()
    with celery_worker(tmp_path / "worker.log"):
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Retrain segments')")
        expect(page.locator(".messages")).to_contain_text("queued")
        run = Run.objects.filter(kind=RunKind.SEGMENTATION).latest("created_at")
        # The list refreshes itself while the run is active: no reload until it finishes.
        row = page.locator(f"tr[data-run='{run.pk}'] .status")
        expect(row).to_have_text("succeeded", timeout=240_000)
        page.locator(".messages a").first.click()
        expect(page.locator("#run-state")).to_have_text("succeeded")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.progress == 100
    assert run.started_by == admin_user
    assert SegmentDefinition.objects.count() == versions + 1
    definition = SegmentDefinition.objects.get(run=run)
    expect(page.locator("#run-status")).to_contain_text("100")
    expect(page.locator("#run-outputs h3")).to_contain_text(
        f"Segmentation v{definition.version} active: K = {definition.k}"
    )
    expect(page.locator("#run-k-chart")).to_have_attribute("data-drawn", "true")
    screenshot(page, "run-retrain")
    page.goto(f"{live_server.url}/audit/?object_type=run")
    started = page.locator('#audit tr[data-action="run_start"]')
    expect(started).to_have_count(1)
    expect(started).to_contain_text(f"Segmentation run #{run.pk}")
    expect(started).to_contain_text("kind: segmentation")

    for user in (marketer, analyst):
        page.click("text=Log out")
        log_in(page, live_server.url, user.username)
        page.goto(f"{live_server.url}/runs/")
        expect(page.locator("button:has-text('Retrain')")).to_have_count(0)


@pytest.mark.usefixtures("periodic_schedule")
def test_an_admin_edits_the_schedule_and_a_marketer_only_reads_it(
    page: Page, live_server: Any, admin_user: Any, marketer: Any
) -> None:
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/runs/")
    row = page.locator("tr[data-schedule='monthly-pipeline']")
    expect(row.locator(".schedule-when")).to_have_text("paused (cron 0 3 2 * * (UTC))")

    row.locator("input[name=when]").fill("0 5 1 * *")
    row.locator("input[name=enabled]").check()
    row.locator("button:has-text('Save')").click()

    expect(page.locator(".messages")).to_contain_text(
        "“monthly-pipeline” now runs: cron 0 5 1 * * (UTC)."
    )
    expect(row.locator(".schedule-when")).to_have_text("cron 0 5 1 * * (UTC)")
    saved = {r.name: r for r in schedule_rows()}["monthly-pipeline"]
    assert (saved.cron, saved.enabled) == ("0 5 1 * *", True)

    feedback = page.locator("tr[data-schedule='feedback-to-lake']")
    feedback.locator("input[name=when]").fill("every day")
    feedback.locator("button:has-text('Save')").click()
    expect(page.locator(".messages")).to_contain_text(
        "The schedule was not changed: “feedback-to-lake”: “every day” is neither"
    )
    expect(feedback.locator(".schedule-when")).to_have_text("every 5 minutes")
    page.locator("#schedule").scroll_into_view_if_needed()
    screenshot(page, "runs")
    page.goto(f"{live_server.url}/audit/?object_type=schedule")
    edit = page.locator('#audit tr[data-action="schedule_update"]')
    expect(edit).to_have_count(1)  # the refused edit is not an entry
    expect(edit).to_contain_text("when: cron 0 3 2 * * (UTC) → cron 0 5 1 * * (UTC)")
    expect(edit).to_contain_text("state: paused → runs")

    page.click("text=Log out")
    log_in(page, live_server.url, marketer.username)
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("tr[data-schedule]")).to_have_count(len(schedule_rows()))
    expect(page.locator(".schedule-form")).to_have_count(0)
