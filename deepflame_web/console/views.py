"""Pages that compose every app: the guided first page, the runs with their Admin buttons, and
a customer (their segment trajectory beside the offers they were given)."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from deepflame_web.console.fields import run_fields
from deepflame_web.console.guide import guide
from deepflame_web.console.pipeline import pipeline_start
from deepflame_web.console.selectors import system_overview
from deepflame_web.core.access import ADMINS_ONLY, ADMINS_WRITE, EVERYONE_READS, role_required
from deepflame_web.core.errors import DomainError
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.schedule import ScheduleError, schedule_rows, schedule_update
from deepflame_web.core.selectors import run_error_shown, runs_recent
from deepflame_web.core.services import RunAlreadyActive, run_cancel, system_check_start
from recommender.assignment.batch import assignment_run_start
from recommender.forms import ReassignForm
from recommender.models import AssignmentBatch, RecommenderModel
from recommender.presentation import model_results
from recommender.selectors import customer_decisions, customer_recent_events
from recommender.services import training_run_start
from segments.models import Customer, SegmentDefinition
from segments.presentation import format_value, segment_color, z_words
from segments.segmentation.profiles import feature_label
from segments.segmentation.services import segmentation_run_start
from segments.selectors import (
    customer_count,
    customer_trajectory_explained,
    customers_latest_segment,
    customers_search,
    segmentation_active,
)

CUSTOMERS_PER_PAGE = 50
CUSTOMERS_COUNTED = 10_000
"""A prefix search counts its matches up to this many; more are shown as "more than"."""


@role_required(EVERYONE_READS)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {"overview": system_overview(), "guide": guide()})


@role_required(ADMINS_WRITE)
def run_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    runs = runs_recent(kind=kind, limit=100)
    # While a listed run is active the table refreshes itself (htmx asks for it alone).
    live = any(run.is_active for run in runs)
    if request.headers.get("HX-Request"):
        return render(request, "console/partials/run_table_live.html", {"runs": runs, "live": live})
    context = {
        "runs": runs,
        "live": live,
        "kinds": RunKind.choices,
        "kind": kind,
        "schedule": schedule_rows(),
    }
    return render(request, "console/run_list.html", context)


@role_required(ADMINS_WRITE)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("started_by"), pk=run_id)
    template = "console/partials/run_status.html" if request.headers.get("HX-Request") else None
    context = {
        "run": run,
        "error": run_error_shown(run=run, user=request.user),
        "outputs": _run_outputs(run),
        "parameters": run_fields(run.parameters),
        "result": run_fields(run.result),
    }
    return render(request, template or "console/run_detail.html", context)


def _run_outputs(run: Run) -> dict[str, Any]:
    """What a finished run made: the segmentation with its K curve, the trained model with its
    metrics and training curves, or the assignment batch."""
    if run.is_active:
        return {}
    if run.kind == RunKind.TRAINING:
        model = RecommenderModel.objects.filter(run=run).first()
        return {"model": model_results(model)} if model else {}
    if run.kind == RunKind.SEGMENTATION:
        definition = SegmentDefinition.objects.filter(run=run).first()
        if definition is None:
            return {}
        chart = {"k_curve": definition.k_curve, "k": definition.k}
        return {"definition": definition, "k_chart": chart}
    if run.kind == RunKind.ASSIGNMENT:
        return {"batch": AssignmentBatch.objects.filter(run=run).first()}
    return {}


@role_required(ADMINS_WRITE)
@require_POST
def run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=run_id)
    run = run_cancel(run=run)
    messages.info(request, f"Run #{run.pk} is {run.status}.")
    return redirect("run_detail", run_id=run.pk)


@role_required(ADMINS_WRITE)
@require_POST
def system_check_start_view(request: HttpRequest) -> HttpResponse:
    try:
        run = system_check_start(started_by=request.user)
    except RunAlreadyActive as exc:
        messages.error(request, str(exc))
        return redirect("run_list")
    return redirect("run_detail", run_id=run.pk)


def _queue(request: HttpRequest, what: str, start: Callable[[], Run]) -> HttpResponse:
    """Start one run from a runs-page button and say what was queued, linking to the run."""
    try:
        run = start()
    except (RunAlreadyActive, DomainError) as exc:
        messages.error(request, f"Nothing was queued: {exc}")
    else:
        messages.success(
            request,
            format_html(
                '{} queued as <a href="{}">run #{}</a>.',
                what,
                reverse("run_detail", args=[run.pk]),
                run.pk,
            ),
        )
    return redirect("run_list")


@role_required(ADMINS_ONLY)
@require_POST
def segments_retrain_view(request: HttpRequest) -> HttpResponse:
    return _queue(
        request,
        "Segment retraining (K suggested or kept, no refit, every month)",
        lambda: segmentation_run_start(started_by=request.user),
    )


@role_required(ADMINS_ONLY)
@require_POST
def model_retrain_view(request: HttpRequest) -> HttpResponse:
    return _queue(
        request,
        "Model retraining (default settings)",
        lambda: training_run_start(started_by=request.user),
    )


@role_required(ADMINS_ONLY)
@require_POST
def offers_reassign_view(request: HttpRequest) -> HttpResponse:
    form = ReassignForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.get_json_data().items():
            label = form.fields[field].label if field in form.fields else field
            messages.error(
                request, f"Nothing was queued: {label}: {' '.join(e['message'] for e in errors)}"
            )
        return redirect("run_list")
    valid_from, valid_days = form.cleaned_data["valid_from"], form.cleaned_data["valid_days"]
    window = (
        f"valid from {valid_from or 'today'}, "
        f"{f'{valid_days} days' if valid_days else 'until the next batch'}"
    )
    return _queue(
        request,
        f"Offer assignment (5% holdout, {window})",
        lambda: assignment_run_start(
            holdout_share=0.05,
            valid_from=valid_from,
            valid_days=valid_days,
            started_by=request.user,
        ),
    )


@role_required(ADMINS_ONLY)
@require_POST
def pipeline_start_view(request: HttpRequest) -> HttpResponse:
    try:
        runs = pipeline_start(started_by=request.user)
    except RunAlreadyActive as exc:
        messages.error(request, f"The pipeline was not started, nothing was queued: {exc}")
        return redirect("run_list")
    links = format_html_join(
        ", then ",
        '{} <a href="{}">run #{}</a>',
        (
            (run.get_kind_display().lower(), reverse("run_detail", args=[run.pk]), run.pk)
            for run in runs
        ),
    )
    messages.success(request, format_html("Pipeline queued: {}.", links))
    return redirect("run_list")


@role_required(ADMINS_ONLY)
@require_POST
def schedule_update_view(request: HttpRequest, name: str) -> HttpResponse:
    enabled = request.POST.get("enabled") == "on"
    try:
        row = schedule_update(
            name=name, when=request.POST.get("when", ""), enabled=enabled, user=request.user
        )
    except ScheduleError as exc:
        messages.error(request, f"The schedule was not changed: {exc}")
    else:
        state = "runs" if row.enabled else "is paused"
        messages.success(request, f"“{row.name}” now {state}: {row.when}.")
    return redirect(f"{reverse('run_list')}#schedule")


@role_required(EVERYONE_READS)
def customer_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    customers = customers_search(prefix=query)
    # A million-row COUNT(*) per view is what a list of every customer must not do: the
    # whole list's count is kept by the imports, a prefix's is counted up to a cap.
    matches = customers[: CUSTOMERS_COUNTED + 1].count() if query else customer_count()
    paginator = CountedPaginator(customers, CUSTOMERS_PER_PAGE, count=matches)
    page = paginator.get_page(request.GET.get("page"))
    latest = customers_latest_segment(customer_ids=[c.customer_id for c in page])
    rows = []
    for customer in page:
        period, segment = latest.get(customer.customer_id, (None, None))
        color = segment_color(segment.key) if segment is not None else None
        rows.append({"customer": customer, "period": period, "segment": segment, "color": color})
    context = {
        "query": query,
        "page": page,
        "rows": rows,
        "more_than": CUSTOMERS_COUNTED if matches > CUSTOMERS_COUNTED else None,
    }
    return render(request, "console/customer_search.html", context)


class CountedPaginator(Paginator):
    """A paginator told its count instead of counting the rows."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @property
    def count(self) -> int:
        return self.known_count


@role_required(EVERYONE_READS)
def customer_detail(request: HttpRequest, customer_id: str) -> HttpResponse:
    customer = get_object_or_404(Customer, customer_id=customer_id)
    definition = segmentation_active()
    trajectory = []
    if definition is not None:
        for step in customer_trajectory_explained(
            customer_id=customer.customer_id, definition=definition
        ):
            trajectory.append(
                {
                    **step,
                    "color": segment_color(step["segment_key"]),
                    "reasons": [
                        {
                            "label": feature_label(r["feature"]),
                            "value": format_value(r["feature"], r["value"]),
                            "z": r["z"],
                            "words": z_words(r["z"]),
                        }
                        for r in step.get("reasons", [])
                    ],
                    "values": [
                        (feature_label(name), format_value(name, value))
                        for name, value in step["features"].items()
                    ],
                }
            )
    context = {
        "customer": customer,
        "attributes": sorted(customer.attributes.items()),
        "definition": definition,
        "trajectory": trajectory,
        "decisions": customer_decisions(customer_id=customer.customer_id),
        "recent": customer_recent_events(customer_id=customer.customer_id),
    }
    return render(request, "console/customer_detail.html", context)
