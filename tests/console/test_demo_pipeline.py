"""The README's main job on a small chain: generated, imported, segmented, offers embedded,
the recommender trained; run again, it keeps what is there."""

from datetime import date

import pytest
from django.core.management import call_command

from deepflame_web.core.lake import lake_row_counts
from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import Offer
from recommender.models import EmbeddingSpace, RecommenderModel
from segments.models import Customer
from segments.selectors import segmentation_active

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_the_demo_pipeline_runs_end_to_end_and_twice_changes_nothing() -> None:
    call_command("demo_pipeline", customers=150, months=3, epochs=1)

    assert Customer.objects.count() == 150
    assert lake_row_counts()["orders"] > 0
    active = segmentation_active()
    assert active is not None and active.periods[-1] < f"{date.today():%Y-%m}"
    assert EmbeddingSpace.objects.get(is_active=True).offers == Offer.objects.count()
    assert Offer.objects.filter(valid_to__gte=date.today()).exists()
    runs = list(Run.objects.values_list("kind", "status"))
    assert runs.count((RunKind.IMPORT, RunStatus.SUCCEEDED)) == 1
    assert runs.count((RunKind.TRAINING, RunStatus.SUCCEEDED)) == 1
    assert RecommenderModel.objects.get().is_active

    call_command("demo_pipeline", customers=150, months=3, epochs=1)

    assert Run.objects.filter(kind=RunKind.IMPORT).count() == 1
    assert segmentation_active() == active
    assert EmbeddingSpace.objects.count() == 1
    assert RecommenderModel.objects.count() == 1
