import datetime as dt

from django.db.models import Q, QuerySet

from offers.models import AuditEntry, Item, Offer, RuleSet, Store
from segments.models import SegmentDefinition


def catalog_counts() -> dict[str, int]:
    return {
        "stores": Store.objects.count(),
        "items": Item.objects.count(),
        "offers": Offer.objects.count(),
    }


def offers_filter(
    *,
    q: str = "",
    category: str = "",
    tier: str = "",
    channel: str = "",
    active_on: dt.date | None = None,
) -> QuerySet[Offer]:
    """Offers by text and where they may run; list filters on JSON lists are done in Python
    on the ids, since SQLite has no JSON containment lookup."""
    offers = Offer.objects.all()
    if q:
        offers = offers.filter(
            Q(offer_id__icontains=q) | Q(name__icontains=q) | Q(description__icontains=q)
        )
    if category:
        offers = offers.filter(category=category)
    if active_on is not None:
        offers = offers.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=active_on),
            Q(valid_to__isnull=True) | Q(valid_to__gte=active_on),
        )
    if tier or channel:
        keep = [
            pk
            for pk, tiers, channels in offers.values_list("pk", "pricing_tiers", "channels")
            if (not tier or not tiers or tier in tiers)
            and (not channel or not channels or channel in channels)
        ]
        offers = offers.filter(pk__in=keep)
    return offers


def audit_entries(*, object_type: str = "", object_id: str = "") -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("user")
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    return entries


def rule_set_for_definition(*, definition: SegmentDefinition | None) -> RuleSet | None:
    if definition is None:
        return None
    return (
        RuleSet.objects.select_related("definition", "updated_by")
        .filter(definition=definition)
        .first()
    )
