"""Catalog, segmentation and lake rows for the offers tests, written through the ORM."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
import numpy as np
import pyarrow as pa

from deepflame_web.core.lake import LakeStage
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from offers.models import Item, Offer, Store
from segments.models import Segment, SegmentDefinition
from segments.segmentation.writer import current_segments_write
from tests.factories import customers_insert


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    store_id = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda s: f"Store {s.store_id}")
    pricing_tier = "value"
    timezone = "America/New_York"


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    item_id = factory.Sequence(lambda n: f"I{n:03d}")
    name = factory.LazyAttribute(lambda i: f"Item {i.item_id}")
    category = "burgers"


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    offer_id = factory.Sequence(lambda n: f"O{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Offer {o.offer_id}")
    description = "A tasty deal."
    category = "burgers"


def members_write(definition: SegmentDefinition, members: dict[str, int]) -> None:
    """Customers and their current segment ({customer_id: segment key}), by the real writer."""
    customers_insert({c: {} for c in members})
    segment_ids = dict(Segment.objects.filter(definition=definition).values_list("key", "pk"))
    customers = np.array(list(members), dtype=object)
    current_segments_write(
        definition_id=definition.pk,
        customer_ids=customers,
        periods=np.array(["2026-01"] * len(customers), dtype=object),
        segment_ids=np.array([segment_ids[k] for k in members.values()], dtype=np.int64),
        distances=np.zeros(len(customers)),
    )


def lake_events_write(table: str, events: list[tuple[str, str]]) -> None:
    """(customer_id, offer_id) events into the lake's `table`, committed in the manifest."""
    run = Run.objects.create(kind=RunKind.IMPORT, status=RunStatus.SUCCEEDED, task_name="test")
    stage = LakeStage(run.pk)
    columns: dict[str, Any] = {
        "customer_id": [c for c, _ in events],
        "offer_id": [o for _, o in events],
        "month": ["2026-01"] * len(events),
    }
    stage.write(table=table, data=pa.table(columns))
    LakeFile.objects.bulk_create(stage.files)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
