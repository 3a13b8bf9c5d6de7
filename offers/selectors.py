"""Reads of the offer catalog: search, status, where and when an offer may run, stores by tier,
the dayparts overview, the terms the catalog knows, and where an offer's image lies."""

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from PIL import Image

from deepflame_web.core.lake import lake_read, lake_root
from deepflame_web.core.models import LakeFile
from offers.dayparts import (
    MINUTES_PER_DAY,
    crosses_midnight,
    daypart_minutes,
    parse_window,
    runs_in_window,
    window_spans,
    window_text,
)
from offers.models import AuditEntry, Daypart, Item, Offer, Store

# The ordering channels of the data contract; channels seen on imported offers count too.
DEFAULT_CHANNELS = ("counter", "delivery", "drive_thru", "kiosk", "mobile_app")
CHANNEL_LABELS = {"drive_thru": "Drive-thru", "mobile_app": "Mobile app"}
THUMBNAIL_PX = 160
ACTIVE, EXPIRED, UPCOMING = "active", "expired", "upcoming"
STATUSES = (ACTIVE, EXPIRED, UPCOMING)


def today() -> dt.date:
    """The catalog's "today" in the site's time zone (tests pin it)."""
    return timezone.localdate()


def catalog_counts() -> dict[str, int]:
    return {
        "stores": Store.objects.count(),
        "items": Item.objects.count(),
        "offers": Offer.objects.count(),
    }


def audit_entries(*, object_type: str = "", object_id: str = "") -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("user")
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    return entries


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
    windows = daypart_minutes()
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
    """The contract's channels, those on offers and every channel of the imported orders: a
    chain's own words (`curbside`) are data the import takes, so an offer may target them."""
    seen = {c for channels in Offer.objects.values_list("channels", flat=True) for c in channels}
    return sorted(seen | set(DEFAULT_CHANNELS) | order_channels())


_ORDER_CHANNELS: dict[tuple[str, int, int | None], frozenset[str]] = {}


def order_channels() -> frozenset[str]:
    """The distinct channels of the imported orders, read again only after the lake's orders
    change (an import adds manifest rows), so a page reads the lake once per import."""
    files = LakeFile.objects.filter(table="orders").aggregate(n=Count("pk"), last=Max("pk"))
    version = (str(lake_root()), files["n"], files["last"])
    if version not in _ORDER_CHANNELS:
        column = lake_read(table="orders", columns=["channel"]).column("channel")
        channels = frozenset(c for c in pc.unique(column).to_pylist() if c)
        _ORDER_CHANNELS.clear()
        _ORDER_CHANNELS[version] = channels
    return _ORDER_CHANNELS[version]


def known_categories() -> list[str]:
    used = Offer.objects.exclude(category="").values_list("category", flat=True).distinct()
    return sorted(set(used))


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


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
    windows = daypart_minutes()
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
                window_text(*window),
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
    windows = daypart_minutes()
    entries = list(Offer.objects.values_list("dayparts", flat=True))
    rows = []
    for daypart in Daypart.objects.order_by("start"):
        window = windows[daypart.name]
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
