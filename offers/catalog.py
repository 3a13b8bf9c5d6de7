"""The offer catalog as its pages read and write it: search, where an offer may run, and one
validated save.

The rules backend owns `offers/services.py` and `offers/selectors.py`; the catalog pages keep
their reads and their one write here, so both can grow without editing the same file.
"""

import datetime as dt
import hashlib
import io
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from offers.dayparts import (
    MINUTES_PER_DAY,
    crosses_midnight,
    daypart_windows,
    parse_window,
    runs_in_window,
    window_spans,
)
from offers.models import Daypart, Item, Offer, Store

# The ordering channels of the data contract; channels seen on imported offers count too.
DEFAULT_CHANNELS = ("counter", "delivery", "drive_thru", "kiosk", "mobile_app")
CHANNEL_LABELS = {"drive_thru": "Drive-thru", "mobile_app": "Mobile app"}
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_MAX_PIXELS = 16_000_000
IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg"}
THUMBNAIL_PX = 160
LIST_FIELDS = ("pricing_tiers", "dayparts", "channels", "item_ids")
EDITABLE_FIELDS = (
    "offer_id",
    "name",
    "description",
    "category",
    *LIST_FIELDS,
    "discount_value",
    "valid_from",
    "valid_to",
)
CONTENT_FIELDS = ("name", "description", "image_sha256")
ACTIVE, EXPIRED, UPCOMING = "active", "expired", "upcoming"
STATUSES = (ACTIVE, EXPIRED, UPCOMING)


# --- reads


@dataclass(frozen=True)
class OfferFilters:
    """The offer list's search box and filters; empty means no filter."""

    query: str = ""
    category: str = ""
    tier: str = ""
    daypart: str = ""
    channel: str = ""
    status: str = ""
    on: dt.date | None = None


def offers_search(*, filters: OfferFilters, today: dt.date) -> QuerySet[Offer] | list[Offer]:
    """Offers matching every filter; an empty restriction list on an offer means "any".

    Text, category and dates filter in the database; tiers, dayparts and channels are JSON
    lists (and dayparts need window overlap), so those filter the catalog's rows in Python.
    """
    offers: QuerySet[Offer] = Offer.objects.all()
    if filters.query:
        q = filters.query
        offers = offers.filter(
            Q(offer_id__icontains=q) | Q(name__icontains=q) | Q(description__icontains=q)
        )
    if filters.category:
        offers = offers.filter(category=filters.category)
    day = filters.on or today
    if filters.status == ACTIVE:
        offers = offers.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
        )
    elif filters.status == EXPIRED:
        offers = offers.filter(valid_to__lt=day)
    elif filters.status == UPCOMING:
        offers = offers.filter(valid_from__gt=day)
    if not (filters.tier or filters.channel or filters.daypart):
        return offers
    windows = daypart_windows()
    wanted = windows.get(filters.daypart)
    return [
        offer
        for offer in offers
        if (not filters.tier or _listed(offer.pricing_tiers, filters.tier))
        and (not filters.channel or _listed(offer.channels, filters.channel))
        and (
            not filters.daypart
            or (wanted is not None and runs_in_window(offer.dayparts, wanted, windows))
        )
    ]


def _listed(values: list[str], value: str) -> bool:
    return not values or value in values


def offer_status(offer: Offer, day: dt.date) -> str:
    if offer.valid_to is not None and offer.valid_to < day:
        return EXPIRED
    if offer.valid_from is not None and offer.valid_from > day:
        return UPCOMING
    return ACTIVE


def known_tiers() -> list[str]:
    return sorted(set(Store.objects.values_list("pricing_tier", flat=True).distinct()))


def known_channels() -> list[str]:
    seen = {c for channels in Offer.objects.values_list("channels", flat=True) for c in channels}
    return sorted(seen | set(DEFAULT_CHANNELS))


def known_categories() -> list[str]:
    used = Offer.objects.exclude(category="").values_list("category", flat=True).distinct()
    return sorted(set(used))


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


def _hhmm(value: dt.time) -> str:
    return f"{value:%H:%M}"


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


@dataclass
class DaypartLine:
    label: str
    window: str
    crosses_midnight: bool
    known: bool = True


@dataclass
class OfferReach:
    """Where and when an offer may run, as sentences a marketer reads."""

    tiers: list[tuple[str, int]]
    all_tiers: bool
    stores_total: int
    dayparts: list[DaypartLine]
    channels: list[str]
    dates: str
    status: str
    items: list[Item] = field(default_factory=list)
    missing_items: list[str] = field(default_factory=list)


def offer_reach(*, offer: Offer, today: dt.date) -> OfferReach:
    per_tier = Counter(Store.objects.values_list("pricing_tier", flat=True))
    windows = daypart_windows()
    dayparts = []
    for entry in offer.dayparts:
        window = windows.get(entry)
        if window is not None:
            label = entry.replace("_", " ").capitalize()
        else:
            window = parse_window(entry)
            label = "Custom window"
        if window is None:
            dayparts.append(DaypartLine(entry, "unknown daypart", False, known=False))
            continue
        dayparts.append(
            DaypartLine(
                label,
                f"{_hhmm(window[0])}–{_hhmm(window[1])}",
                crosses_midnight(*window),
            )
        )
    items = {i.item_id: i for i in Item.objects.filter(item_id__in=offer.item_ids)}
    return OfferReach(
        tiers=[(tier, per_tier.get(tier, 0)) for tier in offer.pricing_tiers],
        all_tiers=not offer.pricing_tiers,
        stores_total=sum(per_tier.values()),
        dayparts=dayparts,
        channels=[channel_label(c) for c in offer.channels],
        dates=_dates_in_words(offer, today),
        status=offer_status(offer, today),
        items=[items[i] for i in offer.item_ids if i in items],
        missing_items=[i for i in offer.item_ids if i not in items],
    )


def _dates_in_words(offer: Offer, today: dt.date) -> str:
    start, end = offer.valid_from, offer.valid_to
    if start is None and end is None:
        return "Any date: no start or end date."
    if start is None:
        assert end is not None
        words = f"Until {_day(end)}"
    elif end is None:
        words = f"From {_day(start)}, with no end date"
    else:
        words = f"From {_day(start)} to {_day(end)}"
    if end is not None and end < today:
        days = (today - end).days
        return f"{words} (ended {days} day{'s' if days != 1 else ''} ago)."
    if start is not None and start > today:
        days = (start - today).days
        return f"{words} (starts in {days} day{'s' if days != 1 else ''})."
    return f"{words}."


@dataclass
class TierGroup:
    tier: str
    stores: list[Store]
    zones: list[tuple[str, int, str]]
    offers: int


def stores_by_tier(*, now: dt.datetime) -> list[TierGroup]:
    """Stores grouped by pricing tier, each with its time zones and the local time there."""
    by_tier: dict[str, list[Store]] = defaultdict(list)
    for store in Store.objects.order_by("pricing_tier", "timezone", "store_id"):
        by_tier[store.pricing_tier].append(store)
    tier_lists = list(Offer.objects.values_list("pricing_tiers", flat=True))
    groups = []
    for tier, stores in by_tier.items():
        zones = Counter(s.timezone for s in stores)
        groups.append(
            TierGroup(
                tier=tier,
                stores=stores,
                zones=[(zone, n, local_time(now, zone)) for zone, n in sorted(zones.items())],
                offers=sum(1 for tiers in tier_lists if _listed(tiers, tier)),
            )
        )
    return groups


def local_time(now: dt.datetime, zone: str) -> str:
    try:
        return f"{now.astimezone(zoneinfo.ZoneInfo(zone)):%H:%M}"
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "unknown zone"


@dataclass
class DaypartRow:
    daypart: Daypart
    crosses_midnight: bool
    minutes: int
    spans: list[tuple[float, float]]
    offers: int

    @property
    def length(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def dayparts_overview() -> list[DaypartRow]:
    """Each daypart with its length, whether it crosses midnight and the offers that may run."""
    windows = daypart_windows()
    entries = list(Offer.objects.values_list("dayparts", flat=True))
    rows = []
    for daypart in Daypart.objects.order_by("start"):
        window = (daypart.start, daypart.end)
        spans = window_spans(*window)
        rows.append(
            DaypartRow(
                daypart=daypart,
                crosses_midnight=crosses_midnight(*window),
                minutes=sum(b - a for a, b in spans),
                spans=[(_percent(a), _percent(b - a)) for a, b in spans],
                offers=sum(1 for e in entries if runs_in_window(e, window, windows)),
            )
        )
    return rows


def _percent(minutes: int) -> float:
    return round(100 * minutes / MINUTES_PER_DAY, 3)


def offer_image_path(*, offer: Offer) -> Path | None:
    """The stored image file, only if it lies inside MEDIA_ROOT."""
    if not offer.image:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / offer.image).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def offer_thumbnail_path(*, offer: Offer) -> Path | None:
    """A small JPEG of the offer image, made once per image content and kept beside it."""
    source = offer_image_path(offer=offer)
    if source is None:
        return None
    key = offer.image_sha256[:16] or source.stem
    thumb = Path(settings.MEDIA_ROOT) / "offers" / "thumbs" / f"{key}-{THUMBNAIL_PX}.jpg"
    if not thumb.is_file():
        thumb.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as image:
            image.thumbnail((THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))
            canvas = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            canvas.paste(rgba, mask=rgba.getchannel("A"))
            partial = thumb.with_suffix(".part")
            canvas.save(partial, "JPEG", quality=85)
            partial.replace(thumb)
    return thumb


# --- the write


def offer_validate(
    *, fields: dict[str, Any], offer: Offer | None = None, image: File | None = None
) -> Offer:
    """The offer as it would be saved, checked against the catalog and the model.

    Raises ValidationError with a message per field; the live form check and the save share
    it, so what the marketer sees while typing is what the save enforces.
    """
    target = Offer() if offer is None else Offer.objects.get(pk=offer.pk)
    previous = {name: list(getattr(target, name)) for name in LIST_FIELDS}
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS or (offer is not None and name == "offer_id"):
            continue
        setattr(target, name, value)
    if fields.get("image") == "":
        target.image, target.image_sha256 = "", ""
    errors: dict[str, list[str]] = defaultdict(list)
    _check_catalog_terms(target, previous, errors)
    _check_dates_and_money(target, errors)
    if target.offer_id:
        taken = Offer.objects.filter(offer_id=target.offer_id).exclude(pk=target.pk).first()
        if taken is not None:
            errors["offer_id"].append(
                f"offer id {target.offer_id!r} is taken by “{taken.name}”; pick another"
            )
    if image is not None:
        problem = image_problem(image)
        if problem:
            errors["image"].append(problem)
    try:
        target.full_clean(
            exclude=list(errors),
            validate_constraints=not {"valid_from", "valid_to"} & set(errors),
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors[name].extend(messages)
    if errors:
        raise ValidationError(dict(errors))
    return target


def _check_catalog_terms(
    target: Offer, previous: dict[str, list[str]], errors: dict[str, list[str]]
) -> None:
    """Tiers, dayparts, channels and items must exist; values the offer already had stay valid."""
    tiers = set(known_tiers()) | set(previous["pricing_tiers"])
    unknown = [t for t in target.pricing_tiers if t not in tiers]
    if unknown:
        known = ", ".join(known_tiers()) or "no store is imported yet"
        errors["pricing_tiers"].append(
            f"no store has pricing tier {_names(unknown)} (known: {known})"
        )
    windows = daypart_windows()
    for entry in target.dayparts:
        if entry in windows or entry in previous["dayparts"]:
            continue
        window = parse_window(entry)
        if window is None:
            errors["dayparts"].append(
                f"unknown daypart {entry!r} (known: {', '.join(windows)}; "
                "or a window like 22:00-02:00 in store local time)"
            )
        elif window[0] == window[1]:
            errors["dayparts"].append(
                f"window {entry!r} starts and ends at the same time; "
                "leave dayparts empty for the whole day"
            )
    channels = set(known_channels()) | set(previous["channels"])
    unknown = [c for c in target.channels if c not in channels]
    if unknown:
        errors["channels"].append(
            f"unknown channel {_names(unknown)} (known: {', '.join(known_channels())})"
        )
    if target.item_ids:
        items = Item.objects.filter(item_id__in=target.item_ids)
        found = set(items.values_list("item_id", flat=True))
        unknown = [i for i in target.item_ids if i not in found and i not in previous["item_ids"]]
        if unknown:
            errors["item_ids"].append(f"no menu item has id {_names(unknown)}")


def _check_dates_and_money(target: Offer, errors: dict[str, list[str]]) -> None:
    start, end = target.valid_from, target.valid_to
    if start is not None and end is not None and end < start:
        errors["valid_to"].append(f"valid to ({end}) is before valid from ({start})")
    if target.discount_value is not None and target.discount_value < Decimal(0):
        errors["discount_value"].append("the discount cannot be negative")


def _names(values: Iterable[str]) -> str:
    return ", ".join(repr(v) for v in values)


def image_problem(image: File) -> str:
    """Why an upload is not a usable offer image, or "" when it is a whole PNG or JPEG.

    The pixel count is checked before decoding, so a small file that unpacks to a huge
    picture cannot exhaust the web process's memory.
    """
    size = image.size or 0
    if size > IMAGE_MAX_BYTES:
        return f"the image is {size / 2**20:.1f} MiB; the limit is {IMAGE_MAX_BYTES // 2**20} MiB"
    content = _read(image)
    not_an_image = f"{Path(image.name or 'the file').name} is not an image; upload a PNG or JPEG"
    try:
        with Image.open(io.BytesIO(content)) as opened:
            kind, (width, height) = opened.format, opened.size
            if kind not in IMAGE_SUFFIXES:
                return f"the image is {kind}; upload a PNG or JPEG"
            if width * height > IMAGE_MAX_PIXELS:
                return (
                    f"the image is {width}×{height} pixels; "
                    f"the limit is {IMAGE_MAX_PIXELS // 1_000_000} million pixels"
                )
            opened.verify()
        with Image.open(io.BytesIO(content)) as opened:
            opened.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return not_an_image
    return ""


def _read(image: File) -> bytes:
    image.seek(0)
    content = image.read()
    image.seek(0)
    return content


def _store_image(target: Offer, image: File) -> None:
    """Content-addressed like the import's copies, so a file left by a failed save is harmless."""
    content = _read(image)
    digest = hashlib.sha256(content).hexdigest()
    with Image.open(io.BytesIO(content)) as opened:
        suffix = IMAGE_SUFFIXES[str(opened.format)]
    folder = Path(settings.MEDIA_ROOT) / "offers"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{digest[:16]}{suffix}"
    if not (folder / name).is_file():
        partial = folder / f"{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)
    target.image = f"offers/{name}"
    target.image_sha256 = digest


def offer_create(*, fields: dict[str, Any], image: File | None = None) -> Offer:
    return _offer_save(offer=None, fields=fields, image=image)


def offer_update(*, offer: Offer, fields: dict[str, Any], image: File | None = None) -> Offer:
    """Save an edit; a new image replaces the old one, and `fields["image"] == ""` drops it."""
    return _offer_save(offer=offer, fields=fields, image=image)


def _offer_save(*, offer: Offer | None, fields: dict[str, Any], image: File | None) -> Offer:
    with transaction.atomic():
        before = None
        if offer is not None:
            before = Offer.objects.select_for_update().get(pk=offer.pk)
        target = offer_validate(fields=fields, offer=offer, image=image)
        if image is not None:
            _store_image(target, image)
        try:
            with transaction.atomic():
                target.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"offer_id": [f"offer id {target.offer_id!r} was just taken; pick another"]}
            ) from exc
        if before is None or any(
            getattr(before, name) != getattr(target, name) for name in CONTENT_FIELDS
        ):
            offer_content_changed(offer=target)
    return target


def offer_content_changed(*, offer: Offer) -> None:
    """Runs inside the save's transaction when the offer's name, description or image changed:
    once it commits, a worker re-encodes the offer into the active embedding space."""
    pk = offer.pk
    transaction.on_commit(
        lambda: current_app.send_task("recommender.tasks.heavy_refresh_offer_embedding", args=[pk])
    )


def today() -> dt.date:
    return timezone.localdate()
