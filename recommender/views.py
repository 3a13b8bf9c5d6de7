from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deepflame_web.core.access import (
    ADMINS_ONLY,
    ADMINS_WRITE,
    EVERYONE_READS,
    EVERYONE_WRITES,
    role_required,
)
from deepflame_web.core.services import RunAlreadyActive
from recommender.assignment.receipts import decision_replay, receipt_segment_names
from recommender.evaluation import METRICS
from recommender.forms import TrainingRunForm
from recommender.models import Decision, EmbeddingSpace, RecommenderModel
from recommender.registry import model_activate
from recommender.services import training_run_start
from segments.views import segment_color

METHOD_ORDER = (
    "TxT",
    "TxT without context",
    "GRU (no context)",
    "Contextual item-CF",
    "Segment popularity",
    "Global popularity",
)


def _metric_rows(model: RecommenderModel) -> list[dict[str, Any]]:
    baselines = [
        values["HR@3"] for name, values in model.metrics.items() if not name.startswith("TxT")
    ]
    best = max(baselines) if baselines else 0.0
    rows = []
    for name in sorted(
        model.metrics, key=lambda n: METHOD_ORDER.index(n) if n in METHOD_ORDER else 99
    ):
        values = model.metrics[name]
        rows.append(
            {
                "name": name,
                "values": [values.get(metric) for metric in METRICS],
                "vs_best": f"{(values['HR@3'] / best - 1) * 100:+.1f}%" if best else "",
            }
        )
    return rows


@role_required(ADMINS_WRITE)
def model_list(request: HttpRequest) -> HttpResponse:
    models = list(RecommenderModel.objects.select_related("run", "activated_by")[:50])
    context = {
        "models": [{"model": m, "rows": _metric_rows(m)} for m in models],
        "metrics": METRICS,
        "space": EmbeddingSpace.objects.filter(is_active=True).first(),
        "form": TrainingRunForm(),
    }
    return render(request, "recommender/model_list.html", context)


@role_required(ADMINS_ONLY)
@require_POST
def model_train(request: HttpRequest) -> HttpResponse:
    form = TrainingRunForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.get_json_data().items():
            messages.error(request, f"{field}: {' '.join(e['message'] for e in errors)}")
        return redirect("model_list")
    try:
        run = training_run_start(
            until=form.cleaned_data["until"],
            epochs=form.cleaned_data["epochs"],
            started_by=request.user,
        )
    except (RunAlreadyActive, ValueError) as exc:
        messages.error(request, str(exc))
        return redirect("model_list")
    messages.success(request, f"Training run #{run.pk} is queued.")
    return redirect("run_detail", run_id=run.pk)


@role_required(ADMINS_ONLY)
@require_POST
def model_activate_view(request: HttpRequest, version: int) -> HttpResponse:
    get_object_or_404(RecommenderModel, version=version)
    try:
        model = model_activate(version=version, user=request.user)
    except FileNotFoundError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Model v{model.version} is now active.")
    return redirect("model_list")


def _score_bars(slots: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    bars = []
    for slot in slots:
        for role, entries in (("chosen", slot["chosen"]), ("runner-up", slot["runners_up"])):
            for entry in entries:
                name = names.get(entry["offer_id"], entry["offer_id"])
                bars.append(
                    {
                        "label": f"{slot['slot']}. {name}",
                        "role": role,
                        "score": entry["score"],
                        "goal_value": entry["goal_value"],
                        "goal": slot["goal"],
                    }
                )
    return bars


@role_required(EVERYONE_READS)
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    decision = get_object_or_404(
        Decision.objects.select_related("batch", "rule_version", "model", "catalog", "exclusions"),
        pk=pk,
    )
    names = {o["offer_id"]: o["name"] for o in decision.catalog.offers}
    segments = receipt_segment_names(decision)
    context = {
        "decision": decision,
        "names": names,
        "segment_name": segments.get(decision.segment_key),
        "trajectory": [
            {"period": p, "key": k, "name": segments.get(k, f"#{k}"), "color": segment_color(k)}
            for p, k in decision.trajectory
        ],
        "slots": [
            {**slot, "chosen_names": [names.get(c["offer_id"], "") for c in slot["chosen"]]}
            for slot in decision.slots
        ],
        "excluded": sorted(decision.exclusions.excluded.items()),
        "bars": {"bars": _score_bars(decision.slots, names)},
        "replay": request.session.pop(f"replay-{pk}", None),
    }
    return render(request, "recommender/receipt_detail.html", context)


@role_required(EVERYONE_WRITES)
@require_POST
def receipt_replay(request: HttpRequest, pk: int) -> HttpResponse:
    decision = get_object_or_404(Decision, pk=pk)
    request.session[f"replay-{pk}"] = decision_replay(decision).same
    return redirect("receipt_detail", pk=pk)
