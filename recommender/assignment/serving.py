"""Real-time recommendations: the engine kept warm in each web process.

The model, rules, catalog, stores and weather are loaded once per process. At most once a
second a request asks the database (one query) whether anything they come from changed: a
model or segmentation activated, rules published, the catalog or stores edited or imported,
an offer embedded, a batch activated. If so, the next request builds a new engine and swaps
it in; requests in flight keep the one they started with. No restart is needed.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from django.db import connection

from offers.eligibility import store_local_time
from offers.models import Item, Store
from offers.selectors import known_channels
from recommender.ml.spark_examples import PURCHASE_HALF_LIVES
from recommender.models import CatalogSnapshot
from recommender.selectors import batch_active

from .engine import Engine, Outcome, Situation, decide
from .inputs import PURCHASE_DIGITS, weather_table
from .receipts import decision_record
from .state import EngineUnavailable, engine_current, snapshot_dayparts

CHECK_SECONDS = 1.0

GENERATION_SQL = """
SELECT (SELECT max(id) FROM recommender_recommendermodel WHERE is_active),
       (SELECT max(id) FROM segments_segmentdefinition WHERE is_active),
       (SELECT max(id) FROM offers_ruleversion),
       (SELECT max(id) FROM offers_auditentry),
       (SELECT max(id) FROM core_run WHERE kind = 'import' AND status = 'succeeded'),
       (SELECT max(id) FROM recommender_assignmentbatch WHERE is_active),
       (SELECT max(id) FROM recommender_offerembedding)
"""

CUSTOMER_SQL = """
SELECT c.customer_id, sg.key, st.history, st.trajectory, st.purchases
FROM segments_customer c
LEFT JOIN segments_customersegment cs
       ON cs.customer_id = c.customer_id AND cs.definition_id = %s
LEFT JOIN segments_segment sg ON sg.id = cs.segment_id
LEFT JOIN recommender_customerstate st
       ON st.customer_id = c.customer_id AND st.batch_id = %s
WHERE c.customer_id = %s
"""
CUSTOMER_STATEMENT = "deepflame_customer_state"
CUSTOMER_SQL_NUMBERED = (
    CUSTOMER_SQL.replace("%s", "$1", 1).replace("%s", "$2", 1).replace("%s", "$3", 1)
)


class RecommendationInvalid(Exception):
    """Input that names something unknown: field -> messages."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__(problems)


@dataclass
class Serving:
    generation: tuple
    engine: Engine
    model_id: int
    catalog: CatalogSnapshot
    definition_id: int
    batch_id: int | None
    batch_at: dt.datetime | None
    dayparts: dict[str, tuple[int, int]]
    stores: dict[str, Store]
    items: set[str]
    weather: dict[tuple[str, dt.date], str]
    segment_names: dict[int, str]
    channels: frozenset[str] = frozenset()
    sheets: dict[str, int] = field(default_factory=dict)
    offer_names: dict[str, str] = field(default_factory=dict)


_lock = threading.Lock()
_state: dict[str, Any] = {"serving": None, "checked": 0.0}


def generation() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(GENERATION_SQL)
        return tuple(cursor.fetchone())


def serving_build(key: tuple) -> Serving:
    # One request is one small forward pass: a second thread costs more than it saves, and
    # the other worker processes need the other cores.
    torch.set_num_threads(1)
    engine, definition, snapshot = engine_current()
    batch = batch_active()
    return Serving(
        generation=key,
        engine=engine,
        model_id=engine.model_id,
        catalog=snapshot,
        definition_id=definition.pk,
        batch_id=batch.pk if batch else None,
        batch_at=batch.at if batch else None,
        dayparts=snapshot_dayparts(snapshot),
        stores={s.store_id: s for s in Store.objects.all()},
        items=set(Item.objects.values_list("item_id", flat=True)),
        weather=weather_table(),
        segment_names=dict(definition.segments.values_list("key", "name")),
        channels=frozenset(known_channels()),
        offer_names={o.offer_id: o.name for o in engine.catalog.offers},
    )


def serving_current() -> Serving:
    """This process's engine, rebuilt when what it was built from has changed."""
    now = time.monotonic()
    serving: Serving | None = _state["serving"]
    if serving is not None and now - _state["checked"] < CHECK_SECONDS:
        return serving
    with _lock:
        serving = _state["serving"]
        if serving is not None and time.monotonic() - _state["checked"] < CHECK_SECONDS:
            return serving
        key = generation()
        if serving is None or serving.generation != key:
            serving = serving_build(key)
            _state["serving"] = serving
            # The engine's objects live as long as it does: keep the collector from walking
            # them again and again (its full passes were the slowest requests).
            gc.collect()
            gc.freeze()
        _state["checked"] = time.monotonic()
        return serving


def serving_reset() -> None:
    """Forget the warm engine (tests that change the database under one process)."""
    with _lock:
        _state["serving"] = None
        _state["checked"] = 0.0


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class KnownCustomer:
    known: bool
    segment_key: int | None = None
    history: list = field(default_factory=list)
    trajectory: list = field(default_factory=list)
    purchases: dict[str, list[float]] = field(default_factory=dict)
    """As of the active batch's instant (decay them to the request's, `purchases_at`)."""


def _customer(serving: Serving, customer_id: str | None) -> KnownCustomer:
    """What serving knows of a customer id (None: a new customer)."""
    if not customer_id:
        return KnownCustomer(False)
    with connection.cursor() as cursor:
        cursor.execute(*_customer_statement([serving.definition_id, serving.batch_id, customer_id]))
        row = cursor.fetchone()
    if row is None:
        return KnownCustomer(False)
    return KnownCustomer(
        True, row[1], _json(row[2]) or [], _json(row[3]) or [], _json(row[4]) or {}
    )


def _customer_statement(params: list[Any]) -> tuple[str, list[Any]]:
    """CUSTOMER_SQL, prepared once per PostgreSQL connection: planning its four-table join
    cost PostgreSQL more than running it (0.2 of 0.3 ms, docs/benchmarks.md)."""
    if connection.vendor != "postgresql":
        return CUSTOMER_SQL, params
    connection.ensure_connection()
    if _state.get("prepared_on") is not connection.connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_prepared_statements WHERE name = %s", [CUSTOMER_STATEMENT]
            )
            if cursor.fetchone() is None:
                cursor.execute(f"PREPARE {CUSTOMER_STATEMENT} AS {CUSTOMER_SQL_NUMBERED}")
        # Held, not just compared by id: a new connection could reuse a freed one's id.
        _state["prepared_on"] = connection.connection
    return f"EXECUTE {CUSTOMER_STATEMENT} (%s, %s, %s)", params


def purchases_at(
    purchases: dict[str, list[float]], *, since: dt.datetime | None, at: dt.datetime
) -> dict[str, list[float]]:
    """Purchases counted at `since` as they count at `at`: each decayed measure shrinks by
    its half-life over the days between (the plain count stays), rounded as the batch rounds."""
    if since is None or not purchases:
        return purchases
    days = max((at - since).total_seconds() / 86400.0, 0.0)
    factors = [1.0, *(0.5 ** (days / half_life) for half_life in PURCHASE_HALF_LIVES)]
    return {
        item: [round(v * f, PURCHASE_DIGITS) for v, f in zip(values, factors, strict=True)]
        for item, values in purchases.items()
    }


def channels_known() -> frozenset[str]:
    """The chain's channels: held by this process's engine (no query per request), read from
    the catalog and the lake while nothing can be served yet."""
    try:
        return serving_current().channels
    except EngineUnavailable:
        return frozenset(known_channels())


def unknown_names(
    serving: Serving, *, store_id: str | None, cart: list[str] | None
) -> dict[str, list[str]]:
    """field -> messages for a store or cart items the chain does not have."""
    problems: dict[str, list[str]] = {}
    if store_id is not None and store_id not in serving.stores:
        problems["store_id"] = [f'Unknown store "{store_id}".']
    unknown_items = [item for item in cart or [] if item not in serving.items]
    if unknown_items:
        problems["cart"] = [f"Unknown item(s): {', '.join(unknown_items)}."]
    return problems


def situation_for(
    serving: Serving,
    *,
    customer_id: str | None,
    store_id: str,
    at: dt.datetime,
    channel: str,
    cart: list[str],
) -> Situation:
    problems = unknown_names(serving, store_id=store_id, cart=cart)
    if problems:
        raise RecommendationInvalid(problems)
    store = serving.stores[store_id]
    customer = _customer(serving, customer_id)
    local = store_local_time(instant=at, timezone=store.timezone or "UTC")
    return Situation(
        customer_id=customer_id or "",
        known_customer=customer.known,
        at=at,
        store_id=store.store_id,
        tier=store.pricing_tier,
        timezone=store.timezone or "UTC",
        channel=channel,
        segment_key=customer.segment_key,
        history=tuple(customer.history),
        cart=tuple(cart),
        weather=serving.weather.get((store.store_id, local.date()), "none"),
        trajectory=tuple((p, int(k)) for p, k in customer.trajectory),
        purchases=purchases_at(customer.purchases, since=serving.batch_at, at=at),
    )


def recommend(
    *,
    customer_id: str | None,
    store_id: str,
    at: dt.datetime,
    channel: str,
    cart: list[str] | None = None,
) -> tuple[int, Outcome, Serving]:
    """Offers for one customer here and now, with the receipt written (its id returned)."""
    serving = serving_current()
    situation = situation_for(
        serving, customer_id=customer_id, store_id=store_id, at=at, channel=channel, cart=cart or []
    )
    outcome = decide(serving.engine, [situation], serving.dayparts)[0]
    decision_id = decision_record(
        outcome=outcome,
        engine=serving.engine,
        model_id=serving.model_id,
        catalog_id=serving.catalog.pk,
        sheets=serving.sheets,
    )
    return decision_id, outcome, serving
