"""The segmentation commit writes flows for every pair of periods in its transaction, equal
to the flows counted here from the customer-periods and their labels."""

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest

from deepflame_web.core.models import Run, RunKind, RunStatus
from segments.models import Segment, SegmentDefinition, SegmentFlow
from segments.segmentation.definition import assign
from segments.segmentation.services import _commit, fit_definition
from segments.spark.features import FeatureSet
from tests.segments.segmentation_data import NAMES, PERIODS, _features

pytestmark = pytest.mark.django_db


def _counts(
    rows: Iterable[SegmentFlow],
) -> dict[tuple[str, str, int | None, int | None], int]:
    return {
        (r.period_from, r.period_to, _key(r.from_segment), _key(r.to_segment)): r.customers
        for r in rows
    }


def _key(segment: Segment | None) -> int | None:
    return segment.key if segment is not None else None


def test_the_commit_writes_the_flows_between_every_pair_of_periods() -> None:
    frame, _ = _features(np.random.default_rng(7))
    fitted = fit_definition(frame=frame, names=NAMES, k=4, fit_fraction=1.0, sample_limit=10_000)
    labels, distances = assign(frame, fitted.transform, fitted.centroids)
    run = Run.objects.create(kind=RunKind.SEGMENTATION, task_name="t", status=RunStatus.RUNNING)
    features = FeatureSet(frame=frame, names=NAMES, periods=PERIODS, dayparts=[], channels=[])

    definition = _commit(run, features, fitted, labels, distances, None)

    flows = SegmentFlow.objects.filter(definition=definition).select_related(
        "from_segment", "to_segment"
    )
    pairs = {(f.period_from, f.period_to) for f in flows}
    assert pairs == {(a, b) for a in PERIODS for b in PERIODS if a < b}
    assert _counts(flows) == _counted(frame, labels, definition)
    assert SegmentDefinition.objects.get(is_active=True) == definition


def _counted(
    frame: pd.DataFrame, labels: np.ndarray, definition: SegmentDefinition
) -> dict[tuple[str, str, int | None, int | None], int]:
    """The same flows counted here from the customer-periods and their labels."""
    keys = dict(definition.segments.values_list("position", "key"))
    placed = frame.assign(key=[keys[int(label)] for label in labels])
    grid = placed.pivot(index="customer_id", columns="period", values="key")
    counts: dict[tuple[str, str, int | None, int | None], int] = {}
    for a in PERIODS:
        for b in (p for p in PERIODS if p > a):
            seen = grid[[a, b]].dropna(how="all").fillna(-1).astype(int)
            for (x, y), n in seen.value_counts().items():
                counts[(a, b, None if x < 0 else x, None if y < 0 else y)] = int(n)
    return counts
