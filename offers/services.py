"""Writes to the offer catalog: one validated save of an offer, its image, tags and audit entry.

Every change of an offer, whether from a page, the API, a benchmark or the system, goes through
`offer_create` / `offer_update`, so every change leaves an audit entry.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.utils import timezone

from offers.columns import OFFER_COLUMNS, OFFER_LIST_COLUMNS
from offers.dayparts import daypart_minutes, parse_window
from offers.errors import OffersError
from offers.images import image_store, upload_content, upload_problem
from offers.models import MARKETER_TAGS, AuditEntry, Item, Offer
from offers.selectors import known_channels, known_tiers

Actor = AbstractBaseUser | AnonymousUser
# What a save may set from `fields`: the contract's columns but the image, which is uploaded.
EDITABLE_FIELDS = tuple(name for name in OFFER_COLUMNS if name != "image")
# What the API shows and the audit log records: the contract's columns and the marketer tags.
OFFER_FIELDS = (*OFFER_COLUMNS, "tags")
# A change to these re-encodes the offer into the embedding space (the text encoder reads
# the name, description and category; the image encoder the image).
CONTENT_FIELDS = ("name", "description", "category", "image_sha256")
EMBEDDING_TASK = "recommender.tasks.heavy_refresh_offer_embedding"
EMBEDDING_QUEUED_FOR = timedelta(hours=1)
"""A queued re-embedding that no worker started within this long counts as lost."""


class OfferConflict(OffersError):
    """The offer changed since the caller loaded it; nothing was saved."""

    def __init__(self, *, offer: Offer, expected_revision: int):
        self.offer = offer
        self.expected_revision = expected_revision
        who = offer.updated_by.get_username() if offer.updated_by else "someone"
        when = f" at {offer.updated_at:%Y-%m-%d %H:%M:%S} UTC" if offer.updated_at else ""
        super().__init__(
            f"Offer {offer.offer_id} was changed by {who}{when} (revision {offer.revision}) "
            f"after you loaded revision {expected_revision}. Nothing was saved: reload the "
            "offer to see their changes, then apply yours again."
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


def offer_validate(
    *, fields: dict[str, Any], offer: Offer | None = None, image: File | None = None
) -> Offer:
    """The offer as it would be saved, checked against the catalog and the model.

    Raises ValidationError with a message per field; the live form check and the save share
    it, so what the marketer sees while typing is what the save enforces.
    """
    target = Offer() if offer is None else Offer.objects.get(pk=offer.pk)
    previous = {name: list(getattr(target, name)) for name in OFFER_LIST_COLUMNS}
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
        problem = upload_problem(image)
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
    windows = daypart_minutes()
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


def _tag_errors(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return ["give a list of tags"]
    unknown = [t for t in tags if t not in MARKETER_TAGS]
    if unknown:
        return [f"unknown tag {', '.join(unknown)} (known: {', '.join(MARKETER_TAGS)})"]
    return []


def offer_create(
    *, fields: dict[str, Any], image: File | None = None, user: Actor | None = None
) -> Offer:
    """A new offer; `user` None records the change as the system's (imports, benchmarks)."""
    fields = {name: value for name, value in fields.items() if name != "revision"}
    return _offer_save(offer=None, fields=fields, image=image, user=user)


def offer_update(
    *,
    offer: Offer,
    fields: dict[str, Any],
    image: File | None = None,
    user: Actor | None = None,
) -> Offer:
    """Change the given fields; the offer id stays (assignments and history refer to it).

    A new image replaces the old one, and `fields["image"] == ""` drops it. With
    `fields["revision"]` (the revision the caller loaded: the page and the API send it), a
    save on top of a newer revision is refused with OfferConflict, as a rules draft is.
    """
    if "offer_id" in fields and fields["offer_id"] != offer.offer_id:
        raise ValidationError({"offer_id": ["An offer's id cannot change."]})
    return _offer_save(offer=offer, fields=fields, image=image, user=user)


def _offer_save(
    *, offer: Offer | None, fields: dict[str, Any], image: File | None, user: Actor | None
) -> Offer:
    """Validation, image, tags, the save, the embedding hook and the audit entry, in one
    transaction; tag errors are reported with the other field errors."""
    fields = dict(fields)
    tags = fields.pop("tags", None)
    expected_revision = fields.pop("revision", None)
    tag_errors = _tag_errors(tags) if tags is not None else []
    with transaction.atomic():
        before = None
        if offer is not None:
            # No join here: a joined row is read as it was before the lock was granted.
            before = Offer.objects.select_for_update().get(pk=offer.pk)
            if expected_revision is not None and before.revision != expected_revision:
                raise OfferConflict(offer=before, expected_revision=expected_revision)
        try:
            target = offer_validate(fields=fields, offer=offer, image=image)
        except ValidationError as error:
            if tag_errors:
                raise ValidationError({**error.message_dict, "tags": tag_errors}) from error
            raise
        if tag_errors:
            raise ValidationError({"tags": tag_errors})
        if tags is not None:
            target.tags = list(dict.fromkeys(tags))
        if image is not None:
            stored = image_store(content=upload_content(image))
            target.image, target.image_sha256 = stored.path, stored.sha256
        changed = before is None or offer_snapshot(before) != offer_snapshot(target)
        if changed:
            authenticated = user is not None and getattr(user, "is_authenticated", False)
            target.revision = 1 if before is None else before.revision + 1
            target.updated_by = user if authenticated else None  # type: ignore[assignment]
            target.updated_at = timezone.now()
        _save_or_refuse_taken_id(target)
        if before is None or _content(before) != _content(target):
            offer_content_changed(offer=target)
        _audit_offer_change(user=user, before=before, after=target)
    return target


def _content(offer: Offer) -> tuple[str, ...]:
    """What the embedding encoders read, as they read it (text stripped)."""
    return tuple(str(getattr(offer, name) or "").strip() for name in CONTENT_FIELDS)


def _save_or_refuse_taken_id(target: Offer) -> None:
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"offer_id": [f"offer id {target.offer_id!r} was just taken; pick another"]}
        ) from exc


def _audit_offer_change(*, user: Actor | None, before: Offer | None, after: Offer) -> None:
    """An entry only when the saved offer differs from what was there; a no-op save leaves none."""
    old = offer_snapshot(before) if before is not None else None
    new = offer_snapshot(after)
    if new == old:
        return
    audit_record(
        user=user,
        action="offer_create" if before is None else "offer_update",
        object_type="offer",
        object_id=after.offer_id,
        object_repr=str(after),
        before=old,
        after=new,
    )


def offer_content_changed(*, offer: Offer) -> bool:
    """Runs inside the save's transaction when what the encoders read changed: once it
    commits, a worker re-encodes the offer into the active embedding space. Not queued again
    while a queued one has not started (it will read the latest content); True when queued."""
    pk = offer.pk
    now = timezone.now()
    queued = (
        Offer.objects.filter(pk=pk)
        .filter(
            Q(embedding_queued_at__isnull=True)
            | Q(embedding_queued_at__lt=now - EMBEDDING_QUEUED_FOR)
        )
        .update(embedding_queued_at=now)
    )
    if queued:
        transaction.on_commit(lambda: current_app.send_task(EMBEDDING_TASK, args=[pk]))
    return bool(queued)


def offer_embedding_started(*, offer_pk: int) -> None:
    """The re-embedding task calls this before it reads the offer: a change saved from now on
    queues a new one, since this one may have read the content before it."""
    Offer.objects.filter(pk=offer_pk).update(embedding_queued_at=None)
