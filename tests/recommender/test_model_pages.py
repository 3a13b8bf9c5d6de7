"""The models page: encoders in use, every registered version with its metrics, and the Admin's
training and activation buttons (registry rows written through the ORM, no training)."""

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from recommender.models import EmbeddingSpace, RecommenderModel
from recommender.training import NEURAL

pytestmark = pytest.mark.django_db

METRICS = {
    "TxT": {"HR@1": 0.11, "HR@3": 0.275, "HR@10": 0.6, "NDCG@10": 0.33},
    "Contextual item-CF": {"HR@1": 0.1, "HR@3": 0.25, "HR@10": 0.55, "NDCG@10": 0.3},
    "Global popularity": {"HR@1": 0.05, "HR@3": 0.125, "HR@10": 0.4, "NDCG@10": 0.2},
}


@pytest.fixture
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deepflame_web.core.services._enqueue", lambda run: None)


def registered(version: int, *, active: bool) -> RecommenderModel:
    folder = Path(settings.MODEL_DIR) / "txt" / f"v{version}"
    folder.mkdir(parents=True)
    (folder / NEURAL["TxT"]).write_bytes(b"weights")
    return RecommenderModel.objects.create(
        version=version,
        is_active=active,
        artifact=f"txt/v{version}",
        metrics=METRICS,
        examples={"training": 900, "validation": 100, "holdout": 240},
        data_window={"cutoff": "2025-06-02T00:00:00", "end": "2025-06-30T00:00:00"},
        hyperparameters={"d_model": 64, "layers": 2},
        decision="activated: the first model (holdout HR@3 0.275)" if active else "kept v1",
    )


def test_everyone_sees_encoders_versions_and_metrics(client: Client, analyst: Any) -> None:
    EmbeddingSpace.objects.create(
        version=3,
        is_active=True,
        artifact="embeddings/v3.pt",
        text_encoder={"name": "all-MiniLM-L6-v2", "path": "/x", "dimensions": 384, "reason": "r1"},
        image_encoder={
            "name": "EfficientNet-Lite0 (ImageNet)",
            "path": "/y",
            "dimensions": 1280,
            "reason": "default: no installable package ships ResNet-50 weights",
        },
        dimensions=64,
        offers=67,
        first_loss=0.9,
        final_loss=0.0004,
    )
    registered(1, active=True)
    registered(2, active=False)
    client.force_login(analyst)

    html = client.get("/models/").content.decode()

    assert "all-MiniLM-L6-v2" in html and "no installable package ships ResNet-50" in html
    assert 'id="model-v1"' in html and 'id="model-v2"' in html
    assert "0.275" in html and "+10.0%" in html  # 0.275 vs the best baseline's 0.25
    assert "Start training" not in html and "Activate v2" not in html


def test_an_admin_activates_an_older_version_and_starts_a_training(
    client: Client, admin_user: Any, no_enqueue: None
) -> None:
    registered(1, active=False)
    registered(2, active=True)
    client.force_login(admin_user)
    assert "Activate v1" in client.get("/models/").content.decode()

    client.post("/models/1/activate/")

    assert RecommenderModel.objects.get(is_active=True).version == 1
    response = client.post("/models/train/", {"epochs": "5", "until": "2025-06-02"})
    run = Run.objects.get(kind=RunKind.TRAINING)
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.status == RunStatus.QUEUED
    assert run.parameters["epochs"] == 5 and run.parameters["until"] == "2025-06-02"
    assert run.started_by == admin_user


def test_bad_training_input_is_named_and_a_second_training_is_refused(
    client: Client, admin_user: Any, no_enqueue: None
) -> None:
    client.force_login(admin_user)

    response = client.post("/models/train/", {"epochs": "0"}, follow=True)

    assert "epochs: Ensure this value is greater than or equal to 1." in response.content.decode()
    assert not Run.objects.exists()
    client.post("/models/train/", {"epochs": "3"})
    again = client.post("/models/train/", {"epochs": "3"}, follow=True).content.decode()
    assert "A training run is already queued" in again
    assert Run.objects.count() == 1


def test_marketers_and_analysts_cannot_train_or_activate(
    client: Client, marketer: Any, analyst: Any
) -> None:
    registered(1, active=True)
    registered(2, active=False)
    for user in (marketer, analyst):
        client.force_login(user)
        assert client.post("/models/train/", {"epochs": "3"}).status_code == 403
        assert client.post("/models/2/activate/").status_code == 403
    assert RecommenderModel.objects.get(is_active=True).version == 1
    assert not Run.objects.exists()
