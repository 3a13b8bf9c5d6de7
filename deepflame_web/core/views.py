from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deepflame_web.core.access import ADMINS_WRITE, EVERYONE_READS, PUBLIC, role_required
from deepflame_web.core.models import Run, RunKind
from deepflame_web.core.selectors import runs_recent, system_overview
from deepflame_web.core.services import RunAlreadyActive, run_cancel, system_check_start

login_view = role_required(PUBLIC)(
    auth_views.LoginView.as_view(template_name="core/login.html", redirect_authenticated_user=True)
)
logout_view = role_required(PUBLIC)(auth_views.LogoutView.as_view())


@role_required(EVERYONE_READS)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"overview": system_overview()})


@role_required(ADMINS_WRITE)
def run_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    context = {"runs": runs_recent(kind=kind, limit=100), "kinds": RunKind.choices, "kind": kind}
    return render(request, "core/run_list.html", context)


@role_required(ADMINS_WRITE)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("started_by"), pk=run_id)
    template = "core/partials/run_status.html" if request.headers.get("HX-Request") else None
    return render(request, template or "core/run_detail.html", {"run": run})


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
