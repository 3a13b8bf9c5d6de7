from offers.models import Item, Offer, Store


def catalog_counts() -> dict[str, int]:
    return {
        "stores": Store.objects.count(),
        "items": Item.objects.count(),
        "offers": Offer.objects.count(),
    }
