import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from deepflame_web.console.demo import demo_chain_generate
from offers.rules.services import rule_set_draft_create, rule_set_publish
from recommender.assignment import serving
from recommender.models import Assignment, AssignmentBatch, FeedbackEvent, FeedbackKind
from segments.selectors import segmentation_active


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


def model_and_rules() -> None:
    """A tiny trained model and published rules: two slots for every segment and for
    customers without one (the suggested rules would name offers that expired since 2025)."""
    call_command("train_recommender", epochs=1, d_model=16, layers=1, seed=0, stdout=StringIO())
    definition = segmentation_active()
    assert definition is not None
    slots = [
        {"label": "Best", "count": 2},
        {"label": "Revenue", "count": 1, "goal": "revenue"},
    ]
    keys = [*definition.segments.values_list("key", flat=True), None]
    document = {"segments": [{"segment_key": key, "slots": slots} for key in keys]}
    rule_set = rule_set_draft_create(definition=definition, user=None, document=document)
    rule_set_publish(rule_set=rule_set, author=None, note="test")


@pytest.fixture
def served(chain: None) -> None:
    model_and_rules()
    serving.serving_reset()


def redeem_shown(batch: AssignmentBatch, *, holdout_only: bool = True) -> int:
    """Every offer the batch showed (its holdout's, by default) redeemed in its window, as
    the feedback endpoint records redemptions; returns how many."""
    shown = Assignment.objects.filter(batch=batch)
    if holdout_only:
        shown = shown.filter(holdout=True)
    events = FeedbackEvent.objects.bulk_create(
        FeedbackEvent(
            event_id=f"redeemed-{a.pk}",
            kind=FeedbackKind.REDEMPTION,
            customer_id=a.customer_id,
            offer_id=a.offer_id,
            at=batch.at + dt.timedelta(seconds=1),
        )
        for a in shown
    )
    return len(events)
