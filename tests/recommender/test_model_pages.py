"""The models page: encoders in use, every registered version with its metrics, and the Admin's
training and activation buttons (registry rows written through the ORM, no training)."""

from typing import Any

import pytest
from django.test import Client

from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import AuditEntry
from recommender.models import RecommenderModel
from tests.recommender.registry_data import CURVES, embedding_space_create, registered

pytestmark = pytest.mark.django_db


def test_everyone_sees_encoders_versions_and_metrics(client: Client, analyst: Any) -> None:
    embedding_space_create()
    registered(1, active=True)
    registered(2, active=False)
    client.force_login(analyst)

    html = client.get("/models/").content.decode()

    assert "all-MiniLM-L6-v2" in html and "no installable package ships ResNet-50" in html
    assert 'id="model-v1"' in html and 'id="model-v2"' in html
    assert "0.275" in html and "+10.0%" in html  # 0.275 vs the best baseline's 0.25
    assert "Start training" not in html and "Activate v2" not in html


def test_a_version_that_serves_a_simple_baseline_says_so_plainly(
    client: Client, analyst: Any
) -> None:
    registered(1, active=False)
    registered(2, active=True, scorer="Contextual item-CF")
    client.force_login(analyst)

    html = client.get("/models/").content.decode()

    assert "v2: serves Contextual item-CF" in html and "v1: serves TxT" in html
    assert 'id="baseline-serves-v2"' in html and 'id="baseline-serves-v1"' not in html
    assert (
        "no neural model beat Contextual item-CF on this version's held-out weeks by more than "
        "chance, so Contextual item-CF picks the offers in batch assignment and the real-time API"
    ) in html


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


def test_an_admin_chooses_the_method_a_version_serves_and_the_page_says_so(
    client: Client, admin_user: Any
) -> None:
    registered(1, active=True, scorer="Contextual item-CF")
    client.force_login(admin_user)
    page = client.get("/models/").content.decode()
    assert page.count(">Serve</button>") == 2  # TxT and Global popularity, not the one serving

    response = client.post("/models/1/scorer/", {"scorer": "TxT"}, follow=True)

    model = RecommenderModel.objects.get(version=1)
    assert (model.scorer, model.champion) == ("TxT", "Contextual item-CF")
    html = response.content.decode()
    assert "Model v1 serves TxT in batch assignment and the real-time API from now on." in html
    assert 'id="scorer-chosen-v1"' in html and 'id="baseline-serves-v1"' not in html
    assert (
        "The champion rule chose Contextual item-CF: no neural model beat it on this version's "
        "held-out weeks by more than chance."
    ) in html
    entry = AuditEntry.objects.get(action="model_scorer_choose")
    assert entry.before == {"scorer": "Contextual item-CF"} and entry.after == {"scorer": "TxT"}
    assert entry.username == admin_user.username


def test_a_method_that_is_not_there_is_refused_with_its_reason(
    client: Client, admin_user: Any, analyst: Any
) -> None:
    registered(1, active=True)
    client.force_login(admin_user)

    unknown = client.post("/models/1/scorer/", {"scorer": "Magic"}, follow=True).content.decode()
    no_files = client.post(
        "/models/1/scorer/", {"scorer": "Global popularity"}, follow=True
    ).content.decode()

    methods = "Contextual item-CF, Global popularity, TxT"
    assert f"Model v1 has no method “Magic”; its methods: {methods}." in unknown
    assert "The files of Global popularity in model v1 are missing" in no_files
    assert RecommenderModel.objects.get(version=1).scorer == "TxT"
    assert not AuditEntry.objects.filter(action="model_scorer_choose").exists()
    client.force_login(analyst)
    assert ">Serve</button>" not in client.get("/models/").content.decode()
    assert client.post("/models/1/scorer/", {"scorer": "TxT"}).status_code == 403


def test_a_training_runs_page_shows_the_model_it_made_with_metrics_and_curves(
    client: Client, admin_user: Any
) -> None:
    run = Run.objects.create(kind=RunKind.TRAINING, task_name="t", status=RunStatus.SUCCEEDED)
    embedding_space_create()
    registered(1, active=True, run=run)
    client.force_login(admin_user)

    response = client.get(f"/runs/{run.pk}/")

    html = response.content.decode()
    assert 'href="/models/#model-v1">v1, serving TxT</a>' in html
    assert "0.275" in html and "+10.0%" in html
    assert response.context["outputs"]["model"]["curves"]["methods"] == CURVES
    assert 'data-chart="trainingCurves"' in html and 'id="curves-v1"' in html


def test_a_running_training_shows_no_outputs_yet(client: Client, admin_user: Any) -> None:
    run = Run.objects.create(kind=RunKind.TRAINING, task_name="t", status=RunStatus.RUNNING)
    client.force_login(admin_user)

    html = client.get(f"/runs/{run.pk}/").content.decode()

    assert "run-outputs" not in html and "hx-trigger" in html


def test_the_never_redeemed_offers_slice_names_the_scorer_that_serves(
    client: Client, analyst: Any
) -> None:
    model = registered(1, active=True, scorer="Purchase affinity")
    model.cold_start = {
        "offers": 46,
        "examples": 71,
        "chance_hr3": 0.011,
        "hr3": {"TxT": 0.042, "Purchase affinity": 0.0, "Global popularity": 0.0},
        "hr10": {"TxT": 0.169, "Purchase affinity": 0.225, "Global popularity": 0.0},
        "ndcg10": {"TxT": 0.066, "Purchase affinity": 0.073, "Global popularity": 0.0},
    }
    model.save()
    client.force_login(analyst)

    html = client.get("/models/").content.decode()

    assert (
        "71 holdout redemptions of 46 offers. HR@3 / HR@10: "
        "<strong>Purchase affinity (serves)</strong> 0.000 / 0.225; TxT 0.042 / 0.169 "
        "(chance HR@3 0.011)"
    ) in html
