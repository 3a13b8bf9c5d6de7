"""A marketer previews a draft on a trained chain, in a real Celery worker: the engine that
assigns offers decides every customer under the draft and under the rules in force, the
expected impact comes from the randomized holdout (and, labelled apart, the model's scores),
and one customer is simulated under both."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import RuleSet, Store
from offers.rules.services import rule_set_draft_update
from recommender.assignment.batch import assignment_run_execute, assignment_run_start
from recommender.models import AssignmentBatch, Decision
from segments.models import Customer
from tests.browser.conftest import SCREENSHOTS, click_and_load, log_in, screenshot
from tests.factories import UserFactory
from tests.recommender.conftest import (  # noqa: F401 (fixtures)
    chain,
    chain_folder,
    redeem_shown,
    served,
)
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AT = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)


def _batch_with_redemptions() -> AssignmentBatch:
    """A batch with a 30% holdout; every offer its holdout was shown is redeemed."""
    run = assignment_run_start(at=AT, holdout_share=0.3, seed=3, enqueue=False)
    assignment_run_execute(run_id=run.pk)
    batch = AssignmentBatch.objects.get(run=run)
    redeem_shown(batch)
    return batch


def _draft_with_one_slot() -> RuleSet:
    rule_set = RuleSet.objects.get()
    document = copy.deepcopy(rule_set.document)
    for rule in document["segments"]:
        rule["slots"] = rule["slots"][:1]
    return rule_set_draft_update(
        rule_set=rule_set, document=document, expected_revision=rule_set.revision, user=None
    )


@pytest.mark.usefixtures("served")
def test_marketer_previews_the_draft_with_the_engine_and_simulates_a_customer(
    page: Page, live_server: Any, roles: None, tmp_path: Path
) -> None:
    batch = _batch_with_redemptions()
    _draft_with_one_slot()
    marketer = UserFactory.create(role="Marketer", username="mia")
    customers = Customer.objects.count()
    log_in(page, live_server.url, marketer.username)
    click_and_load(page, "nav >> text=Rules")

    with celery_worker(tmp_path / "worker.log"):
        page.click("#start-preview")
        expect(page.locator("#preview-state")).to_have_text("succeeded", timeout=120_000)

    run = Run.objects.get(kind=RunKind.PREVIEW)
    assert (run.status, run.started_by) == (RunStatus.SUCCEEDED, marketer)
    # Every customer decided (today, when most of this 2025 chain's offers have expired); those
    # whose second slot still had an offer get other offers under the draft.
    expect(page.locator("#preview-totals")).to_contain_text(f"{customers} customers decided")
    assert run.result["changed_customers"] > 0
    expect(page.locator("#preview-changed")).to_have_text(str(run.result["changed_customers"]))
    # Every offer the holdout was shown was redeemed: one redemption per offer given in the
    # batch's contexts, 3 per customer in force, 2 under the draft.
    expect(page.locator('#preview-expected [data-estimate="in-force"]')).to_have_text(
        str(3 * customers)
    )
    expect(page.locator('#preview-expected [data-estimate="draft"]')).to_have_text(
        str(2 * customers)
    )

    click_and_load(page, "#open-preview")
    total = page.locator('#impact-holdout tr[data-row="total"]')
    expect(total.locator('[data-metric="redemptions"] [data-side="in-force"]')).to_contain_text(
        f"{3 * customers:,}"
    )
    expect(total.locator('[data-metric="redemptions"] [data-side="draft"]')).to_contain_text(
        f"{2 * customers:,}"
    )
    expect(page.locator("#impact-model")).to_be_visible()
    expect(page.locator("#preview-how")).to_contain_text("with the assignment engine")
    holdout = Decision.objects.filter(batch=batch, holdout=True).count()
    expect(total.locator(".holdout-basis")).to_contain_text(f"{holdout} customers")
    screenshot(page, "rules-preview")

    store = Store.objects.order_by("store_id").first()
    assert store is not None
    customer = Decision.objects.filter(batch=batch).order_by("customer_id").first()
    assert customer is not None
    page.fill("#simulate-customer", customer.customer_id)
    page.select_option("#simulate-store", store.store_id)
    page.fill("#simulate-time", "2025-04-02T12:30")
    page.click("#simulate")
    draft = page.locator('#simulate-sides [data-side="draft"]')
    in_force = page.locator('#simulate-sides [data-side="in-force"]')
    expect(draft.locator('[data-part="note"]')).to_contain_text("The draft (revision 2)")
    expect(in_force.locator('[data-part="note"]')).to_contain_text("Rules v1")
    expect(draft.locator("tr[data-slot]")).to_have_count(1)
    expect(in_force.locator("tr[data-slot]")).to_have_count(2)
    expect(page.locator("#simulate-who")).to_contain_text(customer.customer_id)
    page.locator("#simulate-card").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "rules-simulate.png"))
