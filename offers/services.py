"""Writes to the offer catalog and the audit log; every change here leaves an audit entry.

Offer validation, images and the embedding hook live in `offers.catalog` (the catalog pages
use them); these wrappers add marketer tags and the audit entry, and are what the API calls.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.forms.models import model_to_dict

from offers import catalog
from offers.models import AuditEntry, Offer, OfferTag

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


def _tag_errors(fields: dict[str, Any]) -> list[str]:
    tags = fields.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return ["give a list of tags"]
    allowed = (OfferTag.HIGH_MARGIN, OfferTag.WIN_BACK)
    unknown = [t for t in tags if t not in allowed]
    if unknown:
        return [f"unknown tag {', '.join(unknown)} (known: {', '.join(allowed)})"]
    return []


def _offer_write(
    *, offer: Offer | None, user: Any, fields: dict[str, Any], image: File | None
) -> Offer:
    """The catalog's save (its validation, image handling and embedding hook) plus the tags
    and an audit entry, in one transaction; tag errors are reported with the others."""
    fields = dict(fields)
    tags = fields.pop("tags", None)
    tag_errors = _tag_errors({"tags": tags}) if tags is not None else []
    before = offer_snapshot(offer) if offer is not None else None
    with transaction.atomic():
        try:
            if offer is None:
                saved = catalog.offer_create(fields=fields, image=image)
            else:
                saved = catalog.offer_update(offer=offer, fields=fields, image=image)
        except ValidationError as error:
            if tag_errors:
                raise ValidationError({**error.message_dict, "tags": tag_errors}) from error
            raise
        if tag_errors:
            raise ValidationError({"tags": tag_errors})
        if tags is not None and tags != saved.tags:
            saved.tags = list(dict.fromkeys(tags))
            saved.save(update_fields=["tags"])
        after = offer_snapshot(saved)
        if after != before:
            audit_record(
                user=user,
                action="offer_create" if offer is None else "offer_update",
                object_type="offer",
                object_id=saved.offer_id,
                object_repr=str(saved),
                before=before,
                after=after,
            )
    return saved


def offer_create(*, user: Any, fields: dict[str, Any], image: File | None = None) -> Offer:
    return _offer_write(offer=None, user=user, fields=fields, image=image)


def offer_update(
    *, offer: Offer, user: Any, fields: dict[str, Any], image: File | None = None
) -> Offer:
    """Change the given fields; the offer id stays (assignments and history refer to it)."""
    if "offer_id" in fields and fields["offer_id"] != offer.offer_id:
        raise ValidationError({"offer_id": ["An offer's id cannot change."]})
    return _offer_write(offer=offer, user=user, fields=fields, image=image)
