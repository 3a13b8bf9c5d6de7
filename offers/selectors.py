from django.db.models import QuerySet

from offers.models import AuditEntry, Item, Offer, Store


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
