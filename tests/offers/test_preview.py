"""Preview as a run, executed in this process: offers per segment and customers who change."""

from typing import Any

import pytest

from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import RunAlreadyActive
from offers.models import RuleSet
from offers.rules.preview import rule_preview_execute
from offers.rules.services import (
    rule_preview_start,
    rule_set_draft_create,
    rule_set_draft_update,
    rule_set_publish,
)
from segments.models import SegmentDefinition
from tests.offers.conftest import ON
from tests.offers.test_validation import slot

pytestmark = pytest.mark.django_db


def rules(breakfast_count: int = 1) -> dict[str, Any]:
    return {
        "segments": [
            {"segment_key": 1, "slots": [
                slot("Breakfast", categories=["breakfast"], count=breakfast_count),
                slot("Something new", tags=["cross_category"], goal="margin"),
            ]},
            {"segment_key": 2, "slots": [slot("Win back", tags=["win_back"])]},
            {"segment_key": None, "slots": [slot("Popular", count=2)]},
        ]
    }  # fmt: skip


@pytest.fixture
def rule_set(customers: None, definition: SegmentDefinition, marketer: Any) -> RuleSet:
    return rule_set_draft_create(definition=definition, user=marketer, document=rules())


def run_preview(rule_set: RuleSet, user: Any) -> Run:
    run = rule_preview_start(rule_set=rule_set, user=user, on=ON, enqueue=False)
    finished = rule_preview_execute(run_id=run.pk)
    assert finished is not None
    return finished


def test_preview_gives_each_segment_its_offers_ranked_by_history(
    rule_set: RuleSet, marketer: Any
) -> None:
    run = run_preview(rule_set, marketer)

    assert (run.kind, run.status, run.progress, run.error) == (
        RunKind.PREVIEW, RunStatus.SUCCEEDED, 100, ""
    )  # fmt: skip
    result = run.result
    assert (result["customers"], result["published_version"], result["revision"]) == (11, None, 1)
    summary = {
        s["segment_key"]: (s["customers"], [o["offer_id"] for o in s["offers"]])
        for s in result["segments"]
    }
    # Breakfast regulars: B2 (4 of 5 redeemed) beats B1 (1 of 5); the cross-category slot
    # leaves breakfast out and ranks by rate x margin: P1 (no history: 0.5 x 3.00) beats
    # L1 (1 of 1 redeemed: 2/3 x 2.00).
    # Lapsing: the only win-back offer. Big spenders have no rule. Without a segment:
    # L1 (redeemed once of once) then, with no history, the first by offer id.
    assert summary == {
        None: (1, ["L1", "B1"]),
        1: (5, ["B2", "P1"]),
        2: (3, ["N1"]),
        3: (2, []),
    }
    first = result["segments"][1]
    assert first["offers"][0] == {
        "offer_id": "B2",
        "slot": 1,
        "slot_label": "Breakfast",
        "score": round(5 / 7, 6),
        "fallback": False,
        "customers": 5,
    }
    assert result["segments"][1]["offers"][1]["score"] == 1.5
    samples = {s["segment_key"]: s["sample_customers"] for s in result["segments"]}
    assert samples == {
        None: ["NEW"],
        1: ["A0", "A1", "A2", "A3", "A4"],
        2: ["L0", "L1", "L2"],
        3: ["S0", "S1"],
    }
    assert result["offer_customers"] == {"B1": 1, "B2": 5, "L1": 1, "N1": 3, "P1": 5}
    # Nothing is published yet: everyone with a rule gets a different set than now.
    assert result["changed_customers"] == 9
    assert "no model yet" in result["ranking"]


def test_preview_counts_only_customers_whose_set_changes_against_the_published_version(
    rule_set: RuleSet, marketer: Any
) -> None:
    rule_set_publish(rule_set=rule_set, author=marketer, note="a test publish")
    rule_set_draft_update(
        rule_set=rule_set, document=rules(breakfast_count=2), expected_revision=1, user=marketer
    )

    result = run_preview(RuleSet.objects.get(), marketer).result

    assert result["published_version"] == 1
    changed = {s["segment_key"]: s["changed_customers"] for s in result["segments"]}
    assert changed == {None: 0, 1: 5, 2: 0, 3: 0}
    assert result["changed_customers"] == 5
    regulars = result["segments"][1]
    assert [o["offer_id"] for o in regulars["offers"]] == ["B2", "B1", "P1"]
    assert regulars["published_offers"] == ["B2", "P1"]


def test_preview_records_its_stages_and_a_second_one_waits(
    rule_set: RuleSet, marketer: Any
) -> None:
    queued = rule_preview_start(rule_set=rule_set, user=marketer, on=ON, enqueue=False)

    with pytest.raises(RunAlreadyActive):
        rule_preview_start(rule_set=rule_set, user=marketer, on=ON, enqueue=False)

    finished = rule_preview_execute(run_id=queued.pk)
    assert finished is not None
    assert finished.parameters["document"] == rule_set.document
    assert finished.stage == "done"
    assert rule_preview_execute(run_id=queued.pk) is None  # safe to run twice


def test_a_preview_of_a_deleted_rule_set_fails_with_a_clear_error(
    rule_set: RuleSet, marketer: Any
) -> None:
    run = rule_preview_start(rule_set=rule_set, user=marketer, on=ON, enqueue=False)
    RuleSet.objects.all().delete()

    finished = rule_preview_execute(run_id=run.pk)

    assert finished is not None
    assert (finished.status, finished.error) == (
        RunStatus.FAILED, "The rule set of this preview no longer exists."
    )  # fmt: skip


def test_the_celery_task_runs_the_preview_on_the_heavy_queue(
    rule_set: RuleSet, marketer: Any, settings: Any
) -> None:
    from celery import current_app

    from offers.tasks import heavy_rule_preview

    run = rule_preview_start(rule_set=rule_set, user=marketer, on=ON, enqueue=False)

    heavy_rule_preview(run.pk)

    assert Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED
    route = current_app.amqp.router.route({}, "offers.tasks.heavy_rule_preview")
    assert route["queue"].name == "heavy"


def test_min_score_and_fallback_shape_a_slot(rule_set: RuleSet, marketer: Any) -> None:
    document = {
        "segments": [
            {"segment_key": 1, "slots": [
                slot("Proven", categories=["breakfast"], count=2, min_score=0.7,
                     fallback_offer="L1"),
                slot("Nothing left", include_offers=["B2"], fallback_offer="N1"),
            ]},
        ]
    }  # fmt: skip
    rule_set_draft_update(rule_set=rule_set, document=document, expected_revision=1, user=marketer)

    result = run_preview(RuleSet.objects.get(), marketer).result

    regulars = result["segments"][1]["offers"]
    # B2 (5/7) passes the minimum score, B1 (2/7) does not; L1 falls back for the second
    # offer. The second slot's only offer is taken already, so its fallback N1 fills it.
    assert [(o["offer_id"], o["slot"], o["fallback"]) for o in regulars] == [
        ("B2", 1, False),
        ("L1", 1, True),
        ("N1", 2, True),
    ]
