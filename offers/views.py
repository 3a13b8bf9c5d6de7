"""Catalog pages: offers (list, detail, create, edit, image), stores by tier, dayparts."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST
from PIL import Image

from deepflame_web.core.access import EVERYONE_READS, MARKETERS_WRITE, role_required
from offers import selectors, services
from offers.dayparts import daypart_minutes, window_text
from offers.errors import OffersError
from offers.forms import OfferFilterForm, OfferForm
from offers.images import upload_problem
from offers.models import Offer, OfferTag

OFFERS_PER_PAGE = 24
NON_FIELD = "__all__"
SLOTS = [*OfferForm.base_fields, NON_FIELD]


@role_required(EVERYONE_READS)
def offer_list(request: HttpRequest) -> HttpResponse:
    form = OfferFilterForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    filters = selectors.OfferFilters(
        query=(data.get("q") or "").strip(),
        category=data.get("category") or "",
        tier=data.get("tier") or "",
        daypart=data.get("daypart") or "",
        channel=data.get("channel") or "",
        status=data.get("status") or "",
        on=data.get("on"),
    )
    today = selectors.today()
    day = filters.on or today
    offers = selectors.offers_search(filters=filters, today=today)
    page = Paginator(offers, OFFERS_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filters": filters,
        "day": day,
        "page": page,
        "rows": [{"offer": o, "status": selectors.offer_status(o, day)} for o in page],
        "querystring": params.urlencode(),
        "filtered": any(params.get(k) for k in ("q", "category", "tier", "daypart", "channel"))
        or bool(filters.status),
        "options": {
            "categories": selectors.known_categories(),
            "tiers": selectors.known_tiers(),
            "dayparts": list(daypart_minutes()),
            "channels": [(c, selectors.channel_label(c)) for c in selectors.known_channels()],
            "statuses": selectors.STATUSES,
        },
    }
    partial = request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request"
    )
    template = "offers/partials/offer_results.html" if partial else "offers/offer_list.html"
    response = render(request, template, context)
    # The same URL answers a whole page or the results alone; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required(EVERYONE_READS)
def offer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(Offer, pk=pk)
    context = {
        "offer": offer,
        "reach": selectors.offer_reach(offer=offer, today=selectors.today()),
        "tags": [OfferTag(t).label if t in OfferTag.values else t for t in offer.tags],
    }
    return render(request, "offers/offer_detail.html", context)


@role_required(MARKETERS_WRITE)
def offer_create(request: HttpRequest) -> HttpResponse:
    return _offer_form_page(request, offer=None)


@role_required(MARKETERS_WRITE)
def offer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_form_page(request, offer=get_object_or_404(Offer, pk=pk))


@role_required(MARKETERS_WRITE)
@require_POST
def offer_validate(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The live check while the marketer types: error slots only, so no input is replaced."""
    offer = get_object_or_404(Offer, pk=pk) if pk is not None else None
    image = _image(request)
    if request.POST.get("only") == "image":
        problem = upload_problem(image) if image is not None else ""
        context = {"name": "image", "errs": [problem] if problem else [], "oob": False}
        return render(request, "offers/partials/field_errors.html", context)
    form = _bound_form(request, offer)
    errors = _check(form, offer, None, live=True)
    return _feedback(request, errors, live=True, skip={"image"})


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@role_required(EVERYONE_READS)
def offer_image(request: HttpRequest, pk: int) -> FileResponse:
    """Offer images are served to signed-in users only, never from a public media URL."""
    offer = get_object_or_404(Offer, pk=pk)
    try:
        if request.GET.get("size") == "thumb":
            path = selectors.offer_thumbnail_path(offer=offer)
        else:
            path = selectors.offer_image_path(offer=offer)
    except (OSError, Image.DecompressionBombError) as exc:
        raise Http404("The offer image cannot be read.") from exc
    if path is None:
        raise Http404("This offer has no image.")
    handle = path.open("rb")
    content_type = _image_type(handle.read(len(PNG_MAGIC)))
    if content_type is None:
        handle.close()
        raise Http404("The offer image is not a PNG or JPEG.")
    handle.seek(0)
    # The type comes from the bytes, never the file name: a stored "x.html" is not HTML here.
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def _image_type(head: bytes) -> str | None:
    if head.startswith(PNG_MAGIC):
        return "image/png"
    if head.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


@role_required(EVERYONE_READS)
def store_list(request: HttpRequest) -> HttpResponse:
    groups = selectors.stores_by_tier(now=timezone.now())
    context = {
        "groups": groups,
        "stores_total": sum(len(g.stores) for g in groups),
        "zones_total": len({zone for g in groups for zone, _, _ in g.zones}),
    }
    return render(request, "offers/store_list.html", context)


@role_required(EVERYONE_READS)
def daypart_list(request: HttpRequest) -> HttpResponse:
    context = {
        "rows": selectors.dayparts_overview(),
        "hours": [(h, round(h / 24 * 100, 3)) for h in range(0, 25, 3)],
    }
    return render(request, "offers/daypart_list.html", context)


def _image(request: HttpRequest) -> UploadedFile | None:
    image = request.FILES.get("image")
    return image if isinstance(image, UploadedFile) else None


def _initial(offer: Offer | None) -> dict[str, Any]:
    if offer is None:
        return {}
    return {name: getattr(offer, name) for name in (*services.EDITABLE_FIELDS, "tags")}


def _bound_form(request: HttpRequest, offer: Offer | None) -> OfferForm:
    return OfferForm(
        request.POST, request.FILES, initial=_initial(offer), editing=offer is not None
    )


def _check(
    form: OfferForm, offer: Offer | None, image: UploadedFile | None, *, live: bool
) -> dict[str, list[str]]:
    """Parse errors first, then the catalog service's verdict on the fields that parsed.

    While typing (`live`), an empty field is not reported yet: the save reports it.
    """
    form.is_valid()
    errors: dict[str, list[str]] = {
        name: [str(m) for e in found for m in e.messages]
        for name, found in form.errors.as_data().items()
    }
    try:
        services.offer_validate(fields=form.offer_fields(), offer=offer, image=image)
    except ValidationError as exc:
        for name, found in exc.message_dict.items():
            errors.setdefault(name if name in SLOTS else NON_FIELD, []).extend(
                [] if name in form.errors else found
            )
    if live:
        errors = {
            name: found
            for name, found in errors.items()
            if name == NON_FIELD or str(form.data.get(name, "")).strip()
        }
    return {name: errors[name] for name in SLOTS if errors.get(name)}


def _feedback(
    request: HttpRequest, errors: dict[str, list[str]], *, live: bool, skip: set[str]
) -> HttpResponse:
    context = {
        "errors": errors,
        "live": live,
        "slots": [{"name": n, "errs": errors.get(n, [])} for n in SLOTS if n not in skip],
        "labels": _labels(errors),
    }
    return render(request, "offers/partials/form_feedback.html", context)


def _labels(errors: dict[str, list[str]]) -> list[str]:
    fields = OfferForm.base_fields
    return [
        str(fields[n].label or n.replace("_", " ").capitalize()) if n in fields else "the offer"
        for n in errors
    ]


def _offer_form_page(request: HttpRequest, *, offer: Offer | None) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = _bound_form(request, offer)
        image = _image(request)
        errors = _check(form, offer, image, live=False)
        if not errors:
            try:
                saved = _save(request, form, offer, image)
            except ValidationError as exc:
                errors = {n if n in SLOTS else NON_FIELD: m for n, m in exc.message_dict.items()}
            except OffersError as exc:
                errors = {NON_FIELD: [str(exc)]}
            else:
                verb = "created" if offer is None else "saved"
                messages.success(request, f"Offer {saved.offer_id} {verb}.")
                url = reverse("offer_detail", args=[saved.pk])
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = url
                    return response
                return redirect(url)
        if request.headers.get("HX-Request"):
            return _feedback(request, errors, live=False, skip=set())
    else:
        form = OfferForm(initial=_initial(offer), editing=offer is not None)
    context = {
        "offer": offer,
        "form": form,
        "errors": errors,
        "fields": {
            name: {"bound": form[name], "errs": errors.get(name, [])} for name in SLOTS[:-1]
        },
        "non_field": errors.get(NON_FIELD, []),
        "labels": _labels(errors),
        "validate_url": reverse("offer_validate", args=[offer.pk])
        if offer
        else reverse("offer_validate_new"),
        "known": {
            "tiers": selectors.known_tiers(),
            "dayparts": {name: window_text(*w) for name, w in daypart_minutes().items()},
            "channels": selectors.known_channels(),
            "categories": selectors.known_categories(),
        },
    }
    return render(request, "offers/offer_form.html", context)


def _save(
    request: HttpRequest, form: OfferForm, offer: Offer | None, image: UploadedFile | None
) -> Offer:
    """Through the one offer save, which also stores the image, the tags and the audit entry."""
    fields = form.offer_fields()
    if offer is None:
        return services.offer_create(user=request.user, fields=fields, image=image)
    fields.pop("offer_id", None)
    return services.offer_update(offer=offer, user=request.user, fields=fields, image=image)
