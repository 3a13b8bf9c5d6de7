"""Writes to the offer catalog and the audit log; every change here leaves an audit entry."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict

from offers.models import AuditEntry, Daypart, Offer

OFFER_FIELDS = (
    "offer_id",
    "name",
    "description",
    "image",
    "category",
    "pricing_tiers",
    "dayparts",
    "channels",
    "item_ids",
    "tags",
    "discount_value",
    "valid_from",
    "valid_to",
)


def audit_record(
    *,
    user: Any,
    action: str,
    object_type: str,
    object_id: str | int,
    object_repr: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """One audit entry; call it inside the transaction of the change it records."""
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    return AuditEntry.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:300],
        before=before,
        after=after,
    )


def offer_snapshot(offer: Offer) -> dict[str, Any]:
    """The offer as JSON for the audit log."""
    data = model_to_dict(offer, fields=OFFER_FIELDS)
    for name in ("valid_from", "valid_to"):
        data[name] = data[name].isoformat() if data[name] else None
    data["discount_value"] = str(data["discount_value"]) if data["discount_value"] else None
    return data


def _offer_check(offer: Offer) -> None:
    offer.full_clean()
    names = set(Daypart.objects.values_list("name", flat=True))
    unknown = [d for d in offer.dayparts if ":" not in d and d not in names]
    if unknown:
        raise ValidationError(
            {
                "dayparts": [
                    f"Unknown daypart {', '.join(unknown)}; known: {', '.join(sorted(names))}."
                ]
            }
        )


def offer_create(*, user: Any, **fields: Any) -> Offer:
    unknown = set(fields) - set(OFFER_FIELDS)
    if unknown:
        raise TypeError(f"unknown offer fields {sorted(unknown)}")
    offer = Offer(**fields)
    _offer_check(offer)
    with transaction.atomic():
        offer.save()
        audit_record(
            user=user,
            action="offer_create",
            object_type="offer",
            object_id=offer.offer_id,
            object_repr=str(offer),
            after=offer_snapshot(offer),
        )
    return offer


def offer_update(*, offer: Offer, user: Any, data: dict[str, Any]) -> Offer:
    """Change the given fields; the offer id stays (assignments and history refer to it)."""
    unknown = set(data) - set(OFFER_FIELDS)
    if unknown:
        raise TypeError(f"unknown offer fields {sorted(unknown)}")
    if "offer_id" in data and data["offer_id"] != offer.offer_id:
        raise ValidationError({"offer_id": ["An offer's id cannot change."]})
    before = offer_snapshot(offer)
    for name, value in data.items():
        setattr(offer, name, value)
    _offer_check(offer)
    with transaction.atomic():
        offer.save()
        after = offer_snapshot(offer)
        if after != before:
            audit_record(
                user=user,
                action="offer_update",
                object_type="offer",
                object_id=offer.offer_id,
                object_repr=str(offer),
                before=before,
                after=after,
            )
    return offer
