"""The whole pipeline (segmentation, then training, then assignment) in a real Celery worker
process on a small generated chain: the real Spark, torch and database work, one run after
the other, the published rules carried over to the new segmentation.
tests/core/test_runs_page.py tests the ordering with in-process stand-ins."""

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from deepflame_web.console.demo.generator import demo_chain_generate
from deepflame_web.console.pipeline import pipeline_start
from deepflame_web.core.models import RunKind, RunStatus
from offers.models import RuleVersion
from offers.rules.services import rule_set_draft_create, rule_set_publish
from recommender.models import Assignment, AssignmentBatch, Decision, RecommenderModel
from segments.models import Customer, SegmentDefinition
from segments.segmentation.services import segmentation_run_start
from segments.selectors import segmentation_active
from tests.recommender.assignment_data import batch_create, world_create
from tests.worker import celery_worker, run_wait

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SLOTS = [{"label": "Best", "count": 2}, {"label": "Revenue", "count": 1, "goal": "revenue"}]


def chain_segmented_with_rules(folder: Path) -> SegmentDefinition:
    """A tiny generated chain (80 customers, January to March 2025) imported, segmented in the
    worker while its offers are embedded here, and rules published for every segment and for
    customers without one: what an assignment needs besides a model."""
    demo_chain_generate(out_dir=folder, customers=80, months=3, seed=5, start=dt.date(2025, 1, 1))
    call_command("import_data", str(folder), stdout=StringIO())
    segmentation = segmentation_run_start()
    call_command("embed_offers", "--dimensions", "16", stdout=StringIO())
    segmentation = run_wait(segmentation, timeout=240)
    assert segmentation.status == RunStatus.SUCCEEDED, segmentation.error
    definition = segmentation_active()
    assert definition is not None
    keys = [*definition.segments.values_list("key", flat=True), None]
    document = {"segments": [{"segment_key": key, "slots": SLOTS} for key in keys]}
    rule_set = rule_set_draft_create(definition=definition, user=None, document=document)
    rule_set_publish(rule_set=rule_set, author=None, note="before the pipeline")
    return definition


def test_the_pipeline_segments_trains_and_assigns_in_order_in_the_worker(tmp_path: Path) -> None:
    with celery_worker(tmp_path / "worker.log"):
        before = chain_segmented_with_rules(tmp_path / "chain")

        runs = pipeline_start()
        done = [run_wait(run, timeout=300) for run in runs]

    assert [(r.kind, r.status, r.error) for r in done] == [
        (RunKind.SEGMENTATION, RunStatus.SUCCEEDED, ""),
        (RunKind.TRAINING, RunStatus.SUCCEEDED, ""),
        (RunKind.ASSIGNMENT, RunStatus.SUCCEEDED, ""),
    ]
    for earlier, later in zip(done, done[1:], strict=False):
        assert earlier.finished_at is not None and later.started_at is not None
        assert earlier.finished_at <= later.started_at
    assert len({r.worker for r in done}) == 1 and done[0].worker != ""

    definition = segmentation_active()
    assert definition is not None and definition.pk != before.pk
    assert definition.run_id == done[0].pk
    # The rules published before the pipeline follow the new segmentation.
    # Their history comes along: v1 as it was, then v2 carried over.
    carried = RuleVersion.objects.filter(rule_set__definition=definition).order_by("number")
    assert [v.number for v in carried] == [1, 2]
    assert carried[1].document == RuleVersion.objects.get(rule_set__definition=before).document
    assert "rules v1 of segmentation v1 carried over and published as version 2" in (
        done[0].log_tail
    )
    model = RecommenderModel.objects.get(is_active=True)
    assert model.run_id == done[1].pk
    batch = AssignmentBatch.objects.get(is_active=True)
    assert (batch.run_id, batch.definition_id, batch.model_id) == (
        done[2].pk,
        definition.pk,
        model.pk,
    )
    customers = set(Customer.objects.values_list("customer_id", flat=True))
    assert batch.customers == len(customers) == done[2].result["customers"]
    decided = Decision.objects.filter(batch=batch).values_list("customer_id", flat=True)
    assert sorted(decided) == sorted(customers)
    assigned = Assignment.objects.filter(batch=batch).values_list("customer_id", flat=True)
    assert set(assigned) == customers


def test_a_failed_segmentation_fails_the_later_steps_and_activates_nothing(
    tmp_path: Path,
) -> None:
    """An installation whose lake holds no orders (nothing imported into it yet): the first
    step fails, and what was active before stays active."""
    world = world_create()
    RecommenderModel.objects.filter(pk=world.model.pk).update(is_active=True)
    batch = batch_create(world, dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    runs = pipeline_start()

    with celery_worker(tmp_path / "worker.log"):
        done = [run_wait(run, timeout=120) for run in runs]

    segmentation, training, assignment = done
    assert segmentation.status == RunStatus.FAILED
    assert segmentation.error == (
        "No month of orders in the lake up to the given date: import first."
    )
    skipped = f"Not run: the pipeline stopped because segmentation run #{segmentation.pk} failed."
    for later in (training, assignment):
        assert (later.status, later.error, later.stage) == (RunStatus.FAILED, skipped, "skipped")
        assert later.started_at is None
    assert list(SegmentDefinition.objects.values_list("pk", "is_active")) == [
        (world.definition.pk, True)
    ]
    assert list(RecommenderModel.objects.values_list("pk", "is_active")) == [(world.model.pk, True)]
    assert list(AssignmentBatch.objects.values_list("pk", "is_active")) == [(batch.pk, True)]
