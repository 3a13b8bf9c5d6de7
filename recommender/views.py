import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deepflame_web.core.access import (
    ADMINS_ONLY,
    ADMINS_WRITE,
    EVERYONE_READS,
    PEOPLE_WRITE,
    role_required,
)
from deepflame_web.core.parsing import ascii_int
from deepflame_web.core.services import RunAlreadyActive
from offers.models import Item, Offer, Store
from recommender.assignment.performance import (
    performance_history,
    performance_refresh_queue,
    performance_summary,
)
from recommender.assignment.receipt_queue import receipts_flush
from recommender.assignment.receipts import (
    decided_for_text,
    decision_replay,
    receipt_segment_names,
    validity_text,
)
from recommender.errors import RecommenderError
from recommender.forms import TrainingRunForm
from recommender.ml.evaluation import METRICS
from recommender.models import (
    AssignmentBatch,
    Decision,
    RecommenderModel,
)
from recommender.presentation import model_results
from recommender.registry import model_activate, model_scorer_choose
from recommender.selectors import batch_active, embedding_space_active
from recommender.services import training_run_start
from segments.presentation import segment_color


@role_required(ADMINS_WRITE)
def model_list(request: HttpRequest) -> HttpResponse:
    models = list(RecommenderModel.objects.select_related("run", "activated_by")[:50])
    context = {
        "models": [model_results(m, choosable=True) for m in models],
        "metrics": METRICS,
        "space": embedding_space_active(),
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
    except (RunAlreadyActive, RecommenderError) as exc:
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


@role_required(ADMINS_ONLY)
@require_POST
def model_scorer_view(request: HttpRequest, version: int) -> HttpResponse:
    get_object_or_404(RecommenderModel, version=version)
    scorer = request.POST.get("scorer", "")
    try:
        model = model_scorer_choose(version=version, scorer=scorer, user=request.user)
    except (ValueError, FileNotFoundError) as exc:
        messages.error(request, str(exc))
    else:
        where = " in batch assignment and the real-time API" if model.is_active else ""
        serves = f"Model v{model.version} serves {model.scorer}"
        messages.success(request, f"{serves}{where} from now on.")
    return redirect(f"{reverse('model_list')}#model-v{version}")


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


RECEIPT_PURCHASES = 20


@role_required(EVERYONE_READS)
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    receipts_flush()  # an answer of a moment ago may still be queued
    decision = get_object_or_404(
        Decision.objects.select_related("batch", "rule_version", "model", "catalog", "exclusions"),
        pk=pk,
    )
    names = {o["offer_id"]: o["name"] for o in decision.catalog.offers}
    segments = receipt_segment_names(decision)
    validity = decision.context.get("validity")
    store_id = (decision.context.get("decided_for") or {}).get("store_id")
    store_names = dict(
        Store.objects.filter(store_id__in=[store_id, decision.context.get("store_id")]).values_list(
            "store_id", "name"
        )
    )
    context = {
        "decision": decision,
        "store_name": store_names.get(decision.context.get("store_id") or ""),
        "decided_for": decided_for_text(decision.context, store_names.get(store_id or "")),
        "validity": validity_text(validity.get("from"), validity.get("days")) if validity else "",
        "names": names,
        "segment_name": segments.get(decision.segment_key),
        "trajectory": [
            {"period": p, "key": k, "name": segments.get(k, f"#{k}"), "color": segment_color(k)}
            for p, k in decision.trajectory
        ],
        "slots": [_named_slot(slot, names) for slot in decision.slots],
        "excluded": [
            (offer_id, names.get(offer_id, ""), reason)
            for offer_id, reason in sorted(decision.exclusions.excluded.items())
        ],
        "purchases_top": _named_purchases(decision.purchases),
        "bars": {"bars": _score_bars(decision.slots, names)},
        "replay": request.session.pop(f"replay-{pk}", None),
        "currency": settings.CURRENCY_SYMBOL,
    }
    return render(request, "recommender/receipt_detail.html", context)


def _named_slot(slot: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A receipt slot whose offers carry their catalog names (as of the decision)."""

    def named(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**e, "name": names.get(e["offer_id"], "")} for e in entries]

    return {**slot, "chosen": named(slot["chosen"]), "runners_up": named(slot["runners_up"])}


def _named_purchases(purchases: dict[str, list[float]]) -> list[tuple[str, str, list[float]]]:
    """The most bought items first, each with its name."""
    top = sorted(purchases.items(), key=lambda kv: (-kv[1][0], kv[0]))[:RECEIPT_PURCHASES]
    listed = Item.objects.filter(item_id__in=[item for item, _ in top])
    names = dict(listed.values_list("item_id", "name"))
    return [(item, names.get(item, ""), values) for item, values in top]


@role_required(PEOPLE_WRITE)
@require_POST
def receipt_replay(request: HttpRequest, pk: int) -> HttpResponse:
    receipts_flush()
    decision = get_object_or_404(Decision, pk=pk)
    request.session[f"replay-{pk}"] = decision_replay(decision).same
    return redirect("receipt_detail", pk=pk)


# -- offer performance ---------------------------------------------------------------------

PERFORMANCE_OFFERS_SHOWN = 50
PERFORMANCE_PICKER_BATCHES = 50


def _percent(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if sign else f"{value * 100:.1f}%"


def _performance_row(row: dict[str, Any], label: str, key: str = "") -> dict[str, Any]:
    """A summary row with the label and the percentages the page shows."""
    return {
        **row,
        "label": label,
        "key": key,
        "treated_rate_text": _percent(row["treated_rate"]),
        "holdout_rate_text": _percent(row["holdout_rate"]),
        "lift_text": _percent(row["lift"], sign=True),
        "lift_interval_text": _interval_text(row),
    }


def _interval_text(row: dict[str, Any]) -> str:
    if row["lift_low"] is None:
        return "—"
    return f"{_percent(row['lift_low'], sign=True)} to {_percent(row['lift_high'], sign=True)}"


def _segment_label(row: dict[str, Any]) -> str:
    if row["segment_key"] is None:
        return "no segment"
    name = row.get("segment_name")
    return f"{name} (#{row['segment_key']})" if name else f"#{row['segment_key']}"


def _performance_tables(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The breakdowns of a batch, each a table: segment, slot, daypart, tier and top offers."""
    names = {r["segment_key"]: _segment_label(r) for r in summary["segments"]}
    offers = sorted(
        summary["offers"],
        key=lambda r: (-r["treated_redemptions"], -r["holdout_redemptions"], r["offer_id"]),
    )
    shown = offers[:PERFORMANCE_OFFERS_SHOWN]
    known = {
        o["offer_id"]: o
        for o in Offer.objects.filter(offer_id__in=[r["offer_id"] for r in shown]).values(
            "pk", "offer_id", "name"
        )
    }
    offer_rows = []
    for row in shown:
        offer = known.get(row["offer_id"])
        label = f"{offer['name']} ({row['offer_id']})" if offer else row["offer_id"]
        offer_rows.append({**_performance_row(row, label, row["offer_id"]), "offer": offer})
    return [
        {
            "id": "by-segment",
            "title": "By segment",
            "heading": "Segment",
            "rows": [
                _performance_row(r, _segment_label(r), str(r["segment_key"]))
                for r in summary["segments"]
            ],
        },
        {
            "id": "by-slot",
            "title": "By slot",
            "heading": "Segment · slot",
            "rows": [
                _performance_row(
                    r,
                    f"{names.get(r['segment_key'], _segment_label(r))} · "
                    f"{r['slot']}. {r['slot_label']}",
                    f"{r['segment_key']}-{r['slot']}",
                )
                for r in summary["slots"]
            ],
        },
        {
            "id": "by-daypart",
            "title": "By daypart",
            "heading": "Daypart",
            "rows": [
                _performance_row(r, r["daypart"] or "no daypart", r["daypart"])
                for r in summary["dayparts"]
            ],
        },
        {
            "id": "by-tier",
            "title": "By pricing tier",
            "heading": "Tier",
            "rows": [
                _performance_row(r, r["tier"] or "no tier", r["tier"]) for r in summary["tiers"]
            ],
        },
        {
            "id": "by-offer",
            "title": (
                f"Top {len(shown)} of {len(offers)} offers, by treated redemptions"
                if len(offers) > len(shown)
                else "By offer, most treated redemptions first"
            ),
            "heading": "Offer",
            "rows": offer_rows,
        },
    ]


def _batch_number(value: str) -> int | None:
    """An ASCII number that fits a database id, else None."""
    return ascii_int(value)


def _chosen_batch(
    request: HttpRequest, batches: QuerySet[AssignmentBatch]
) -> tuple[AssignmentBatch | None, str, int]:
    """The batch asked for (?batch=N, an activated one) or the active one; a problem and an
    HTTP status when the value is bad."""
    given = request.GET.get("batch", "").strip()
    if not given:
        return batch_active(), "", 200
    number = _batch_number(given)
    if number is None:
        return None, f"“{given}” is not a batch number: pick a batch below.", 400
    batch = batches.filter(pk=number).first()
    if batch is None:
        return None, f"There is no activated assignment batch #{given}; pick one below.", 404
    return batch, "", 200


@role_required(EVERYONE_READS)
@require_GET
def offer_performance(request: HttpRequest) -> HttpResponse:
    batches = AssignmentBatch.objects.filter(activated_at__isnull=False)
    batch, problem, status = _chosen_batch(request, batches)
    context: dict[str, Any] = {
        "batch": batch,
        "problem": problem,
        "batches": list(
            batches.order_by("-at", "-pk").values("pk", "at", "is_active")[
                :PERFORMANCE_PICKER_BATCHES
            ]
        ),
    }
    summary = performance_summary(batch=batch) if batch is not None else None
    if summary is not None and summary["computed_at"] is not None:
        context["computed_at"] = dt.datetime.fromisoformat(summary["computed_at"])
    if batch is not None and summary is not None and summary["total"] is not None:
        context.update(
            total=_performance_row(summary["total"], "all"),
            min_redemptions=summary["min_redemptions"],
            feedback_not_counted=summary["feedback_not_counted"],
            tables=_performance_tables(summary),
            lift_chart={
                "segments": [
                    {
                        "label": _segment_label(r),
                        "treated": r["treated_rate"],
                        "holdout": r["holdout_rate"],
                        "lift": r["lift"],
                        "lift_text": _percent(r["lift"], sign=True),
                        "interval_text": _interval_text(r),
                        "too_few": r["too_few"],
                    }
                    for r in summary["segments"]
                ]
            },
            history={"batches": performance_history(batches=batches), "current": batch.pk},
        )
    return render(request, "recommender/performance.html", context, status=status)


@role_required(ADMINS_ONLY)
@require_POST
def offer_performance_recount(request: HttpRequest) -> HttpResponse:
    """Queue a recount of the batch's figures (the worker's heavy queue does the counting)."""
    given = request.POST.get("batch", "")
    number = _batch_number(given)
    batch = (
        None
        if number is None
        else AssignmentBatch.objects.filter(activated_at__isnull=False, pk=number).first()
    )
    if batch is None:
        messages.error(request, f"There is no activated assignment batch “{given}” to recount.")
        return redirect("offer_performance")
    batch_id = batch.pk
    performance_refresh_queue(batch=batch)
    messages.success(
        request,
        f"Recount of batch #{batch_id} is queued: reload in a minute to see the new figures.",
    )
    return redirect(f"{reverse('offer_performance')}?batch={batch_id}")
