"""The runs page's Admin buttons, the pipeline service and task.

Fast layer, like test_runs.py: enqueueing is recorded instead of sent, and the pipeline's
executors are replaced so its ordering and stopping are tested without Spark or torch.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from deepflame_web.console.pipeline import PIPELINE_TASK, pipeline_execute, pipeline_start
from deepflame_web.console.tasks import heavy_run_pipeline, scheduled_pipeline
from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import RunAlreadyActive, run_advance, run_execute, run_start

pytestmark = pytest.mark.django_db

BUTTONS = {
    "/runs/retrain-segments/": (RunKind.SEGMENTATION, "segments.tasks.heavy_run_segmentation"),
    "/runs/retrain-model/": (RunKind.TRAINING, "recommender.tasks.heavy_train_recommender"),
    "/runs/reassign-offers/": (RunKind.ASSIGNMENT, "recommender.tasks.heavy_assign_offers"),
}


@pytest.fixture(autouse=True)
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Record what would reach the broker instead of sending it."""
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "deepflame_web.core.services._enqueue", lambda run: calls.append((run.task_name, run.pk))
    )
    monkeypatch.setattr(
        "deepflame_web.console.pipeline._enqueue_pipeline",
        lambda run_ids: calls.append((PIPELINE_TASK, run_ids)),
    )
    return calls


@pytest.mark.parametrize("url", list(BUTTONS))
def test_each_button_queues_its_run_kind_for_the_admin_and_links_to_it(
    url: str,
    client: Client,
    admin_user: Any,
    sent: list[tuple[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client.force_login(admin_user)
    kind, task = BUTTONS[url]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)

    run = Run.objects.get()
    assert response.redirect_chain == [("/runs/", 302)]
    assert (run.kind, run.status, run.task_name) == (kind, RunStatus.QUEUED, task)
    assert run.started_by == admin_user
    assert sent == [(task, run.pk)]
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1
    assert f'<a href="/runs/{run.pk}/">run #{run.pk}</a>' in messages[0]
    assert f'<a href="/runs/{run.pk}/">run #{run.pk}</a>'.encode() in response.content


def test_segments_button_uses_the_segmentation_pages_defaults(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)

    client.post("/runs/retrain-segments/")

    params = Run.objects.get().parameters
    assert (params["k"], params["refit"], params["until"], params["fit_fraction"]) == (
        None,
        False,
        None,
        1.0,
    )


def test_reassign_button_assigns_now_with_a_five_percent_holdout(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)

    client.post("/runs/reassign-offers/")

    params = Run.objects.get().parameters
    assert params["holdout_share"] == 0.05
    queued_at = dt.datetime.fromisoformat(params["at"])
    assert abs((timezone.now() - queued_at).total_seconds()) < 60


def test_a_button_while_that_kind_is_active_queues_nothing_and_says_why(
    client: Client, admin_user: Any, sent: list[tuple[str, Any]]
) -> None:
    client.force_login(admin_user)
    active = run_start(kind=RunKind.TRAINING, task_name="x", enqueue=False)

    response = client.post("/runs/retrain-model/", follow=True)

    assert list(Run.objects.values_list("pk", flat=True)) == [active.pk]
    assert sent == []
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Nothing was queued: A training run is already queued")
    assert f"run #{active.pk}" in message


def test_pipeline_button_queues_three_runs_in_order_and_one_task(
    client: Client,
    admin_user: Any,
    sent: list[tuple[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/runs/pipeline/", follow=True)

    runs = list(Run.objects.order_by("pk"))
    ids = [run.pk for run in runs]
    assert [run.kind for run in runs] == [
        RunKind.SEGMENTATION,
        RunKind.TRAINING,
        RunKind.ASSIGNMENT,
    ]
    assert {run.status for run in runs} == {RunStatus.QUEUED}
    assert {run.started_by for run in runs} == {admin_user}
    assert [run.parameters["pipeline"] for run in runs] == [
        {"step": 1, "runs": ids},
        {"step": 2, "runs": ids},
        {"step": 3, "runs": ids},
    ]
    assert runs[2].parameters["holdout_share"] == 0.05
    assert sent == [(PIPELINE_TASK, ids)]
    [message] = [str(m) for m in response.context["messages"]]
    for run in runs:
        assert f'<a href="/runs/{run.pk}/">run #{run.pk}</a>' in message


@pytest.mark.parametrize("kind", [RunKind.SEGMENTATION, RunKind.TRAINING, RunKind.ASSIGNMENT])
def test_pipeline_is_refused_when_any_of_its_runs_is_active(
    kind: RunKind, admin_user: Any, sent: list[tuple[str, Any]]
) -> None:
    active = run_start(kind=kind, task_name="x", enqueue=False)

    with pytest.raises(RunAlreadyActive) as refused:
        pipeline_start(started_by=admin_user)

    assert f"run #{active.pk}" in str(refused.value)
    assert list(Run.objects.values_list("pk", flat=True)) == [active.pk]
    assert sent == []


def test_pipeline_button_refused_says_so_and_queues_nothing(
    client: Client, admin_user: Any, sent: list[tuple[str, Any]]
) -> None:
    client.force_login(admin_user)
    active = run_start(kind=RunKind.ASSIGNMENT, task_name="x", enqueue=False)

    response = client.post("/runs/pipeline/", follow=True)

    assert Run.objects.count() == 1
    assert sent == []
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("The pipeline was not started, nothing was queued:")
    assert f"run #{active.pk}" in message


@pytest.fixture
def executors(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Replace the three execute functions with in-process work that can be told to fail."""

    def install(fail: str | None = None) -> list[str]:
        order: list[str] = []

        def executor(name: str) -> Callable[..., Run | None]:
            def work(run: Run) -> dict[str, str]:
                order.append(name)
                run_advance(run=run, stage=name, progress=50)
                if name == fail:
                    raise RuntimeError(f"{name} broke")
                return {"did": name}

            return lambda *, run_id: run_execute(run_id=run_id, work=work)

        for target, name in (
            ("deepflame_web.console.pipeline.segmentation_run_execute", "segmentation"),
            ("deepflame_web.console.pipeline.training_run_execute", "training"),
            ("deepflame_web.console.pipeline.assignment_run_execute", "assignment"),
        ):
            monkeypatch.setattr(target, executor(name))
        return order

    return install


def test_pipeline_executes_its_runs_in_order_each_as_its_own_run(
    admin_user: Any, executors: Callable[..., list[str]]
) -> None:
    order = executors()
    runs = pipeline_start(started_by=admin_user)

    done = pipeline_execute(run_ids=[run.pk for run in runs])

    assert order == ["segmentation", "training", "assignment"]
    assert [(r.status, r.progress, r.result) for r in done] == [
        (RunStatus.SUCCEEDED, 100, {"did": "segmentation"}),
        (RunStatus.SUCCEEDED, 100, {"did": "training"}),
        (RunStatus.SUCCEEDED, 100, {"did": "assignment"}),
    ]
    assert done[2].parameters["at"] >= runs[2].parameters["at"]


def test_pipeline_stops_at_the_first_failure_and_records_why(
    admin_user: Any, executors: Callable[..., list[str]]
) -> None:
    order = executors(fail="training")
    runs = pipeline_start(started_by=admin_user)

    done = pipeline_execute(run_ids=[run.pk for run in runs])

    assert order == ["segmentation", "training"]
    assert [r.status for r in done] == [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.FAILED]
    assert done[1].error.startswith("RuntimeError: training broke")
    assert done[2].error == (
        f"Not run: the pipeline stopped because training run #{runs[1].pk} failed."
    )
    assert done[2].stage == "skipped"
    assert done[2].started_at is None


def test_pipeline_stops_when_a_queued_step_was_cancelled(
    admin_user: Any, executors: Callable[..., list[str]]
) -> None:
    order = executors()
    runs = pipeline_start(started_by=admin_user)
    Run.objects.filter(pk=runs[1].pk).update(status=RunStatus.CANCELLED)

    done = pipeline_execute(run_ids=[run.pk for run in runs])

    assert order == ["segmentation"]
    assert [r.status for r in done] == [RunStatus.SUCCEEDED, RunStatus.CANCELLED, RunStatus.FAILED]
    assert f"training run #{runs[1].pk} cancelled" in done[2].error


def test_pipeline_task_is_registered_on_the_heavy_queue() -> None:
    from deepflame_web.celery import app

    assert heavy_run_pipeline.name == PIPELINE_TASK
    assert app.tasks[PIPELINE_TASK].name == PIPELINE_TASK
    assert app.amqp.router.route({}, PIPELINE_TASK)["queue"].name == "heavy"


@pytest.mark.parametrize("role", ["marketer", "analyst"])
@pytest.mark.parametrize("url", [*BUTTONS, "/runs/pipeline/"])
def test_marketers_and_analysts_are_refused_and_see_no_buttons(
    role: str, url: str, client: Client, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(role))

    assert client.post(url).status_code == 403
    page = client.get("/runs/").content.decode()

    assert Run.objects.count() == 0
    assert 'id="run-actions"' not in page
    assert f'action="{url}"' not in page


def test_admin_sees_the_buttons_as_csrf_protected_posts(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)

    page = client.get("/runs/").content.decode()

    for url in [*BUTTONS, "/runs/pipeline/"]:
        form = page[page.index(f'action="{url}"') :]
        assert form.index("csrfmiddlewaretoken") < form.index("</form>")


def test_a_post_without_the_csrf_token_is_refused(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.post("/runs/pipeline/").status_code == 403
    assert Run.objects.count() == 0


def test_the_scheduled_pipeline_queues_the_pipeline_and_skips_while_one_is_active(
    sent: list[tuple[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:

    with django_capture_on_commit_callbacks(execute=True):
        first = scheduled_pipeline()
        second = scheduled_pipeline()

    runs = list(Run.objects.order_by("pk"))
    assert first == [run.pk for run in runs] and len(runs) == 3
    assert all(run.started_by is None for run in runs)
    assert second == []
    assert sent == [(PIPELINE_TASK, first)]
    assert "The scheduled pipeline was skipped" in caplog.text


def test_the_runs_table_refreshes_itself_only_while_a_run_is_active(
    client: Client, admin_user: Any
) -> None:
    client.force_login(admin_user)
    finished = Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.SUCCEEDED)

    quiet = client.get("/runs/").content.decode()
    run = run_start(kind=RunKind.TRAINING, task_name="t", enqueue=False)
    run_advance(run=run, stage="epoch 2 of 5", progress=40)
    busy = client.get("/runs/").content.decode()
    swapped = client.get("/runs/", headers={"HX-Request": "true"}).content.decode()

    assert 'id="run-table"' in quiet and 'hx-trigger="every 3s"' not in quiet
    assert 'hx-trigger="every 3s"' in busy
    assert swapped.lstrip().startswith('<section class="card" id="run-table"')
    assert "Periodic schedule" not in swapped
    assert f'data-run="{run.pk}"' in swapped and f'data-run="{finished.pk}"' in swapped
    assert "epoch 2 of 5" in swapped and "40%" in swapped
