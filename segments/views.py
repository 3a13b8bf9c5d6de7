import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from deepflame_web.core.access import (
    ADMIN,
    ADMINS_ONLY,
    EVERYONE_READS,
    MARKETER,
    MARKETERS_WRITE,
    role_required,
    user_roles,
)
from deepflame_web.core.exports import csv_row
from deepflame_web.core.parsing import ascii_int
from deepflame_web.core.services import RunAlreadyActive
from segments.errors import SegmentsError
from segments.forms import SegmentationRunForm, SegmentRenameForm
from segments.ingest.catalog_rows import KEEP_EDITS, TAKE_EXTRACT
from segments.models import Segment, SegmentDefinition
from segments.presentation import format_value, segment_color, z_words
from segments.segmentation.profiles import feature_label, segment_description
from segments.segmentation.services import segmentation_run_start
from segments.selectors import (
    ANY_SEGMENT,
    Cell,
    Period,
    Side,
    period_pair_default,
    population_means,
    population_means_by_period,
    segment_flows,
    segment_get,
    segment_movers_all,
    segment_movers_page,
    segment_profile_over_time,
    segment_sizes_by_period,
    segmentation_active,
    segmentation_periods,
    segments_current,
)
from segments.services import history_import_start, segment_rename
from segments.uploads import (
    MAX_UPLOAD_BYTES,
    UploadFolderHandler,
    archive_remove,
    upload_refused,
    upload_store,
)

CONTRACT_FILE = settings.BASE_DIR / "docs" / "data-contract.md"
EXAMPLE_FOLDER = settings.BASE_DIR / "docs" / "example-data"
MOVERS_PER_PAGE = 50
CSV_CHUNK = 64 * 1024
PROFILE_CHART_FEATURES = 3
NOT_ACTIVE = "not active"


class ImportUploadForm(forms.Form):
    archive = forms.FileField(help_text="A .zip of a folder in the import format")
    offers = forms.ChoiceField(
        label="Offers edited here",
        choices=[
            (KEEP_EDITS, "Keep the edits made here (skip the extract's version, list it)"),
            (TAKE_EXTRACT, "Take the extract's version (overwrite the edits, list them)"),
        ],
        initial=KEEP_EDITS,
        required=False,
    )
    dry_run = forms.BooleanField(
        label="Dry run: check and list what would change, write nothing", required=False
    )

    def clean_archive(self) -> object:
        archive = self.cleaned_data["archive"]
        if not archive.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip file of the extract folder.")
        if archive.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The archive is larger than 2 GiB; use import_data.")
        return archive


@csrf_exempt  # checked by _import_upload, once the body's size is known to be acceptable
@role_required(ADMINS_ONLY)
def import_upload(request: HttpRequest) -> HttpResponse:
    """Refuse an upload over the cap from its Content-Length, before a byte of it is read
    (the CSRF check would read it all), and stream an accepted one under VAR_DIR."""
    if request.method == "POST":
        refused = upload_refused(request.META.get("CONTENT_LENGTH"))
        if refused is not None:
            context = {"form": ImportUploadForm(), "refused": refused}
            return render(request, "segments/import_upload.html", context, status=413)
        request.upload_handlers = [MemoryFileUploadHandler(request), UploadFolderHandler(request)]
    return _import_upload(request)


@csrf_protect
def _import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            path = upload_store(content=form.cleaned_data["archive"])
        except SegmentsError as exc:
            form.add_error("archive", str(exc))
            return render(request, "segments/import_upload.html", {"form": form}, status=400)
        try:
            run = history_import_start(
                archive=path,
                started_by=request.user,
                offers_policy=form.cleaned_data["offers"] or KEEP_EDITS,
                dry_run=form.cleaned_data["dry_run"],
            )
        except RunAlreadyActive as exc:
            archive_remove(path)
            messages.error(request, str(exc))
        else:
            return redirect("run_detail", run_id=run.pk)
    return render(request, "segments/import_upload.html", {"form": form})


@role_required(EVERYONE_READS)
def import_contract(request: HttpRequest) -> HttpResponse:
    """The import format as the product documents it (docs/data-contract.md), as text."""
    return render(
        request, "segments/import_contract.html", {"contract": CONTRACT_FILE.read_text("utf-8")}
    )


@role_required(EVERYONE_READS)
def import_example(request: HttpRequest) -> HttpResponse:
    """The example folder as a zip: a template to fill in with the chain's rows."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(EXAMPLE_FOLDER.rglob("*")):
            if path.is_file():
                archive.write(path, Path("example-data") / path.relative_to(EXAMPLE_FOLDER))
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="example-data.zip"'
    return response


@role_required(EVERYONE_READS)
def segment_list(request: HttpRequest) -> HttpResponse:
    definition = segmentation_active()
    if definition is None:
        return render(request, "segments/segment_list.html", {"definition": None})
    segments = segments_current(definition=definition)
    live = [s for s in segments if not s.is_vanished]
    total = sum(s.size for s in live) or 1
    sizes = segment_sizes_by_period(definition=definition)
    periods = sorted(set(definition.periods) | set(sizes))
    months = segmentation_periods(definition=definition)
    context = {
        "definition": definition,
        "months": months,
        "incomplete": _incomplete(months),
        "cards": [_card(s, total) for s in segments],
        "new_count": sum(s.is_new for s in segments),
        "vanished": [s for s in segments if s.is_vanished],
        "charts": {
            "periods": periods,
            "series": [
                {
                    "name": s.name,
                    "color": segment_color(s.key),
                    "customers": [sizes.get(p, {}).get(s.key, 0) for p in periods],
                }
                for s in live
            ],
            "k_curve": definition.k_curve,
            "k": definition.k,
        },
    }
    return render(request, "segments/segment_list.html", context)


@role_required(MARKETERS_WRITE)
def segment_detail(request: HttpRequest, key: int) -> HttpResponse:
    definition = segmentation_active()
    segment = segment_get(key=key, definition=definition)
    if definition is None or segment is None:
        raise Http404("No segment with this key in the active segmentation.")
    can_rename = bool({ADMIN, MARKETER} & user_roles(request.user))
    form = SegmentRenameForm(
        request.POST or None,
        initial={"name": segment.name, "description": segment.description},
    )
    if request.method == "POST" and form.is_valid():
        old_name = segment.name
        try:
            segment_rename(
                segment=segment,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                user=request.user,
            )
        except ValidationError as exc:
            _add_model_errors(form, exc)
            segment.refresh_from_db()
        else:
            messages.success(
                request, f"Segment #{segment.key} renamed: {old_name} → {segment.name}."
            )
            return redirect("segment_detail", key=segment.key)
    context = {
        "definition": definition,
        "incomplete": _incomplete(segmentation_periods(definition=definition)),
        "segment": segment,
        "color": segment_color(segment.key),
        "form": form,
        "can_rename": can_rename,
        "features": _feature_rows(segment, population_means(definition=definition)),
        "top": _top_words(segment),
        "chart": _profile_chart(segment, definition),
    }
    return render(request, "segments/segment_detail.html", context)


@role_required(EVERYONE_READS)
def movements(request: HttpRequest) -> HttpResponse:
    definition = segmentation_active()
    if definition is None:
        return render(request, "segments/movements.html", {"definition": None})
    periods = segmentation_periods(definition=definition)
    default = period_pair_default(periods)
    context: dict[str, Any] = {
        "definition": definition,
        "periods": periods,
        "incomplete": _incomplete(periods),
    }
    if default is None:
        context["error"] = "Movements need two periods; this segmentation has one."
        return render(request, "segments/movements.html", context)
    period_from, period_to, context["error"] = _period_pair(
        request, [p.month for p in periods], default
    )
    flows = segment_flows(period_from=period_from, period_to=period_to, definition=definition)
    if flows is None:
        context["error"] = (
            "This segmentation was written before movements were counted with it; "
            "run a segmentation again to see them."
        )
        return render(request, "segments/movements.html", context)
    segments = {s.key: s for s in segments_current(definition=definition)}
    matrix = _matrix(flows, segments)
    cell = _cell(request.GET.get("cell", ""), segments)
    if cell is _BAD_CELL:
        context["error"] = "That cell of the matrix is not one of this segmentation's."
        cell = None
    shown_total = matrix["movers_total"] if cell is None else _cell_count(flows, cell)
    page = _page_number(request.GET.get("page"), shown_total)
    rows = segment_movers_page(
        period_from=period_from,
        period_to=period_to,
        offset=(page - 1) * MOVERS_PER_PAGE,
        limit=MOVERS_PER_PAGE,
        definition=definition,
        cell=cell,
    )
    involved = sorted({k for pair, n in flows.items() if n for k in pair if k is not None})
    context.update(
        period_from=period_from,
        period_to=period_to,
        **matrix,
        movers=[
            {
                "customer_id": customer,
                "before": segments[before] if before is not None else None,
                "after": segments[after] if after is not None else None,
                "before_color": segment_color(before) if before is not None else None,
                "after_color": segment_color(after) if after is not None else None,
            }
            for customer, before, after in rows
        ],
        cell=_cell_text(cell),
        cell_title=_cell_title(cell, segments, period_from, period_to),
        shown_total=shown_total,
        movers_page=page,
        movers_pages=max(1, -(-shown_total // MOVERS_PER_PAGE)),
        movers_first=(page - 1) * MOVERS_PER_PAGE + 1,
        movers_last=(page - 1) * MOVERS_PER_PAGE + len(rows),
        profile_cards=[_card(segments[k], 1) for k in involved if k in segments],
        charts=_movement_charts(flows, segments, matrix, definition),
    )
    return render(request, "segments/movements.html", context)


@role_required(EVERYONE_READS)
def movers_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every mover of the chosen pair, streamed as the lake files are read."""
    definition = segmentation_active()
    if definition is None:
        raise Http404("No segmentation yet.")
    periods = sorted(definition.periods)
    period_from, period_to = request.GET.get("from", ""), request.GET.get("to", "")
    if period_from not in periods or period_to not in periods or period_from == period_to:
        raise Http404("Pick two different periods of the active segmentation.")
    segments = {s.key: s for s in segments_current(definition=definition)}
    names: dict[int | None, str] = {k: s.name for k, s in segments.items()}
    names[None] = NOT_ACTIVE
    cell = _cell(request.GET.get("cell", ""), segments)
    if cell is _BAD_CELL:
        raise Http404("That cell of the matrix is not one of this segmentation's.")
    movers = segment_movers_all(
        period_from=period_from, period_to=period_to, definition=definition, cell=cell
    )

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["customer_id", f"segment_key_{period_from}", f"segment_{period_from}",
             f"segment_key_{period_to}", f"segment_{period_to}"]
        )  # fmt: skip
        for customer, before, after in movers:
            writer.writerow(csv_row([customer, before, names[before], after, names[after]]))
            if buffer.tell() > CSV_CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    which = f"-{_cell_text(cell)}" if cell is not None else ""
    response["Content-Disposition"] = (
        f'attachment; filename="movers-{period_from}-to-{period_to}{which}.csv"'
    )
    return response


def _incomplete(periods: list[Period]) -> Period | None:
    return next((p for p in periods if not p.complete), None)


def _short_label(side: dict[str, Any]) -> str:
    """An axis label that fits beside a heatmap; unique by key, the full name in the hover."""
    if side["key"] is None:
        return str(side["name"])
    name = str(side["name"])
    return f"#{side['key']} {name if len(name) <= 22 else name[:21] + '…'}"


def _period_pair(
    request: HttpRequest, periods: list[str], default: tuple[str, str]
) -> tuple[str, str, str | None]:
    """The asked periods, or the default pair (the last two complete periods) with the reason
    when they cannot be shown."""
    period_from = request.GET.get("from") or default[0]
    period_to = request.GET.get("to") or default[1]
    if period_from not in periods or period_to not in periods:
        return (
            *default,
            f"Pick periods of this segmentation ({periods[0]} to {periods[-1]}); "
            f"showing {default[0]} to {default[1]} instead.",
        )
    if period_from == period_to:
        return (*default, f"Pick two different periods; showing {default[0]} to {default[1]}.")
    return period_from, period_to, None


def _page_number(asked: str | None, total: int) -> int:
    pages = max(1, -(-total // MOVERS_PER_PAGE))
    return min(max(1, ascii_int(asked) or 1), pages)


def _movement_charts(
    flows: dict[tuple[int | None, int | None], int],
    segments: dict[int, Segment],
    matrix: dict[str, Any],
    definition: SegmentDefinition,
) -> dict[str, Any]:
    """Sankey, row-share heatmap and sizes over time, all from the pre-aggregated rows."""
    sides = [column["key"] for column in matrix["columns"]]
    labels = [column["name"] for column in matrix["columns"]]
    colors = [column["color"] for column in matrix["columns"]]
    links = [
        {"source": sides.index(a), "target": len(sides) + sides.index(b), "value": n}
        for (a, b), n in sorted(flows.items(), key=lambda item: str(item[0]))
        if n and a in sides and b in sides
    ]
    heat_rows = [row for row in matrix["rows"] if row["total"]]
    sizes = segment_sizes_by_period(definition=definition)
    periods = sorted(set(definition.periods) | set(sizes))
    return {
        "sankey": {"labels": labels + labels, "colors": colors + colors, "links": links},
        "heatmap": {
            "rows": [_short_label(row["side"]) for row in heat_rows],
            "columns": [_short_label(column) for column in matrix["columns"]],
            "row_names": [row["side"]["name"] for row in heat_rows],
            "column_names": labels,
            "share": [
                [None if c["void"] else round(c["count"] / row["total"], 4) for c in row["cells"]]
                for row in heat_rows
            ],
            "count": [
                [None if c["void"] else c["count"] for c in row["cells"]] for row in heat_rows
            ],
        },
        "periods": periods,
        "series": [
            {
                "name": s.name,
                "color": segment_color(s.key),
                "customers": [sizes.get(p, {}).get(s.key, 0) for p in periods],
            }
            for s in segments.values()
            if not s.is_vanished
        ],
    }


@role_required(ADMINS_ONLY)
def segmentation_run_new(request: HttpRequest) -> HttpResponse:
    form = SegmentationRunForm(request.POST or None)
    active_run = None
    if request.method == "POST" and form.is_valid():
        try:
            run = segmentation_run_start(
                k=form.cleaned_data["k"],
                refit=form.cleaned_data["refit"],
                until=form.cleaned_data["until"],
                started_by=request.user,
            )
        except RunAlreadyActive as exc:
            form.add_error(None, str(exc))
            active_run = exc.active
        except SegmentsError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Segmentation run #{run.pk} is queued.")
            return redirect("run_detail", run_id=run.pk)
    context = {"form": form, "definition": segmentation_active(), "active_run": active_run}
    return render(request, "segments/segmentation_run_new.html", context)


def _top_words(segment: Segment) -> list[dict[str, Any]]:
    return [
        {"label": t["label"], "z": t["z"], "words": z_words(t["z"])}
        for t in segment.profile.get("top", [])
    ]


def _card(segment: Segment, total: int) -> dict[str, Any]:
    return {
        "segment": segment,
        "color": segment_color(segment.key),
        "share": f"{segment.size / total:.0%}" if not segment.is_vanished else None,
        "top": _top_words(segment),
        "custom_description": segment.description
        if segment.profile.get("top") is None
        or segment.description != segment_description(segment.profile)
        else "",
    }


def _feature_rows(segment: Segment, population: dict[str, float]) -> list[dict[str, Any]]:
    means = segment.profile.get("means", {})
    zs = segment.profile.get("z", {})
    rows = [
        {
            "feature": name,
            "label": feature_label(name),
            "segment": format_value(name, means.get(name)),
            "population": format_value(name, population.get(name)),
            "z": zs.get(name),
            "words": z_words(zs.get(name)),
        }
        for name in means
    ]
    return sorted(rows, key=lambda row: -abs(row["z"] or 0.0))


def _profile_chart(segment: Segment, definition: SegmentDefinition) -> dict[str, Any]:
    over_time = segment_profile_over_time(segment_key=segment.key, definition=definition)
    population = population_means_by_period(definition=definition)
    periods = [p["period"] for p in over_time]
    features = [t["feature"] for t in segment.profile.get("top", [])][:PROFILE_CHART_FEATURES]
    return {
        "periods": periods,
        "customers": [p["customers"] for p in over_time],
        "color": segment_color(segment.key),
        "features": [
            {
                "label": feature_label(name),
                "percent": "share" in name,
                "segment": [p["means"].get(name) for p in over_time],
                "population": [population.get(period, {}).get(name) for period in periods],
            }
            for name in features
        ],
    }


def _matrix(
    matrix: dict[tuple[int | None, int | None], int], segments: dict[int, Segment]
) -> dict[str, Any]:
    """The movement matrix as table rows, each cell shaded by its share of the row.

    Vanished segments hold nobody under this definition, so they get no row or column.
    """
    sides: list[int | None] = [
        *sorted(k for k, s in segments.items() if not s.is_vanished),
        None,
    ]
    rows = []
    for source in sides:
        total = sum(matrix.get((source, target), 0) for target in sides)
        cells = [
            {
                "to": target,
                "count": matrix.get((source, target), 0),
                "stay": source == target and source is not None,
                "void": source is None and target is None,
                "shade": round(matrix.get((source, target), 0) / total, 2) if total else 0,
                "cell": _cell_text((source, target)),
            }
            for target in sides
        ]
        rows.append({"side": _side(source, segments), "cells": cells, "total": total})
    movers_total = sum(
        n for (a, b), n in matrix.items() if a is not None and b is not None and a != b
    )
    return {
        "columns": [_side(k, segments) for k in sides],
        "rows": rows,
        "column_totals": [sum(matrix.get((source, t), 0) for source in sides) for t in sides],
        "grand_total": sum(matrix.values()),
        "movers_total": movers_total,
    }


_BAD_CELL: Cell = ("bad", "bad")


def _cell(value: str, segments: dict[int, Segment]) -> Cell | None:
    """`3-5`, `3-none` (lapsed from #3), `any-none` (every lapsed customer), `none-2` (new
    in #2): a cell of the matrix, None for the default list of movers, _BAD_CELL otherwise."""
    if not value:
        return None
    parts = value.split("-")
    if len(parts) != 2:
        return _BAD_CELL
    sides: list[Side] = []
    for part in parts:
        if part in ("none", ANY_SEGMENT):
            sides.append(None if part == "none" else ANY_SEGMENT)
            continue
        key = ascii_int(part)
        if key is None or key not in segments:
            return _BAD_CELL
        sides.append(key)
    return (sides[0], sides[1])


def _cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return "-".join("none" if side is None else str(side) for side in cell)


def _cell_count(flows: dict[tuple[int | None, int | None], int], cell: Cell) -> int:
    def fits(side: Side, key: int | None) -> bool:
        return key is not None if side == ANY_SEGMENT else key == side

    return sum(n for (a, b), n in flows.items() if fits(cell[0], a) and fits(cell[1], b))


def _cell_title(
    cell: Cell | None, segments: dict[int, Segment], period_from: str, period_to: str
) -> str:
    if cell is None:
        return ""

    def name(side: Side) -> str:
        if side is None:
            return NOT_ACTIVE
        if side == ANY_SEGMENT:
            return "any segment"
        return segments[int(side)].name

    return f"In {name(cell[0])} in {period_from}, {name(cell[1])} in {period_to}"


def _side(key: int | None, segments: dict[int, Segment]) -> dict[str, Any]:
    if key is None:
        return {"key": None, "name": NOT_ACTIVE, "color": "#bbb"}
    return {"key": key, "name": segments[key].name, "color": segment_color(key)}


def _add_model_errors(form: forms.Form, error: ValidationError) -> None:
    """Model errors onto the form: on their field when the form has it, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, problems in error.error_dict.items():
        form.add_error(field if field in form.fields else None, problems)
