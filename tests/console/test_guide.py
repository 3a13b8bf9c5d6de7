"""The guided first page: segments with their size change, the biggest moves and where to
act, all from the database's pre-aggregated tables."""

from typing import Any

import pytest
from django.test import Client

from deepflame_web.console.guide import guide
from offers.models import RuleSet, RuleVersion
from segments.models import SegmentFlow, SegmentSize
from tests.segments.segmentation_data import PERIODS, segmentation_create

pytestmark = pytest.mark.django_db


def test_without_a_segmentation_the_page_says_how_to_start(client: Client, marketer: Any) -> None:
    client.force_login(marketer)
    page = client.get("/").content.decode()
    assert 'id="guide-empty"' in page and "Start with an import" in page


def test_segments_moves_and_actions_come_from_the_database(client: Client, marketer: Any) -> None:
    definition = segmentation_create()
    live = list(definition.segments.filter(is_vanished=False).order_by("key"))
    a, b = live[0], live[1]
    SegmentFlow.objects.filter(definition=definition).delete()
    SegmentFlow.objects.create(
        definition=definition, period_from=PERIODS[-2], period_to=PERIODS[-1],
        from_segment=a, to_segment=b, customers=7,
    )  # fmt: skip
    SegmentFlow.objects.create(
        definition=definition, period_from=PERIODS[-2], period_to=PERIODS[-1],
        from_segment=b, to_segment=a, customers=3,
    )  # fmt: skip
    SegmentFlow.objects.create(
        definition=definition, period_from=PERIODS[-2], period_to=PERIODS[-1],
        from_segment=a, to_segment=a, customers=20,
    )  # fmt: skip

    shown = guide()

    assert shown.periods == (PERIODS[-2], PERIODS[-1])
    sizes = {
        (row.segment.key, row.period): row.customers
        for row in SegmentSize.objects.filter(definition=definition).select_related("segment")
    }
    for row, segment in zip(shown.segments, live, strict=True):
        now, before = (
            sizes.get((segment.key, PERIODS[-1]), 0),
            sizes.get((segment.key, PERIODS[-2]), 0),
        )
        assert (row["key"], row["customers"], row["change"]) == (segment.key, now, now - before)
    assert [(m["from_key"], m["to_key"], m["customers"]) for m in shown.moves] == [
        (a.key, b.key, 7),
        (b.key, a.key, 3),
    ]
    texts = [action["text"] for action in shown.actions]
    assert texts[0].startswith("No offer rules are published")
    assert "No recommender model is active: train one." in texts
    assert "No offers are assigned yet: run an assignment." in texts

    rule_set = RuleSet.objects.create(
        definition=definition,
        document={"segments": [{"segment_key": s.key, "slots": []} for s in live[1:]]},
        revision=2,
    )
    RuleVersion.objects.create(
        rule_set=rule_set, number=1, document=rule_set.document, draft_revision=1
    )
    texts = [action["text"] for action in guide().actions]
    assert f"{a.name} (#{a.key}) has no rule in v1: its customers get no offers." in texts
    assert "The rules draft has changes not published since v1." in texts

    client.force_login(marketer)
    page = client.get("/").content.decode()
    assert f'data-from="{a.key}" data-to="{b.key}"><strong>7</strong>' in page
    assert f"{a.name} (#{a.key}) has no rule in v1" in page
