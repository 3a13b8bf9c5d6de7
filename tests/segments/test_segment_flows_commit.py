"""The segmentation commit writes flows for every pair of periods in its transaction; the
consecutive pairs agree with the transitions it has always written."""

from collections.abc import Iterable

import numpy as np
import pytest

from deepflame_web.core.models import Run, RunKind, RunStatus
from segments.models import Segment, SegmentDefinition, SegmentFlow, SegmentTransition
from segments.segmentation.definition import assign
from segments.segmentation.services import _commit, fit_definition
from segments.spark.features import FeatureSet
from tests.segments.segmentation_data import NAMES, PERIODS, _features

pytestmark = pytest.mark.django_db


def _counts(
    rows: Iterable[SegmentFlow | SegmentTransition],
) -> dict[tuple[str, str, int | None, int | None], int]:
    return {
        (r.period_from, r.period_to, _key(r.from_segment), _key(r.to_segment)): r.customers
        for r in rows
    }


def _key(segment: Segment | None) -> int | None:
    return segment.key if segment is not None else None


def test_the_commit_writes_flows_that_agree_with_the_transitions() -> None:
    frame, _ = _features(np.random.default_rng(7))
    fitted = fit_definition(frame=frame, names=NAMES, k=4, fit_fraction=1.0, sample_limit=10_000)
    labels, distances = assign(fitted.transform.apply(frame), fitted.centroids)
    run = Run.objects.create(kind=RunKind.SEGMENTATION, task_name="t", status=RunStatus.RUNNING)
    features = FeatureSet(frame=frame, names=NAMES, periods=PERIODS, dayparts=[], channels=[])

    definition = _commit(run, features, fitted, labels, distances, None)

    flows = SegmentFlow.objects.filter(definition=definition).select_related(
        "from_segment", "to_segment"
    )
    pairs = {(f.period_from, f.period_to) for f in flows}
    assert pairs == {(a, b) for a in PERIODS for b in PERIODS if a < b}
    consecutive = [
        f for f in flows if PERIODS.index(f.period_to) == PERIODS.index(f.period_from) + 1
    ]
    transitions = SegmentTransition.objects.filter(definition=definition).select_related(
        "from_segment", "to_segment"
    )
    assert _counts(consecutive) == _counts(transitions)
    assert SegmentDefinition.objects.get(is_active=True) == definition
