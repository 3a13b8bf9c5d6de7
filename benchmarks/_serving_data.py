"""The serving benchmark's data steps that need Django (run by serving_bench.py in its own
process, with DATABASE_URL and VAR_DIR of the benchmark's data).

    python benchmarks/_serving_data.py offers --total 200
    python benchmarks/_serving_data.py load-inputs --count 20000 --out load.json
    python benchmarks/_serving_data.py feedback-inputs --count 2000 --tag T --out feedback.json
    python benchmarks/_serving_data.py count --since ISO --answered answered.json

`offers` fills the catalog up to --total offers, each new one derived from a demo offer (new
id and name, the same kind of text, image, items and restrictions) through the same service
a marketer's save goes through, then embeds every offer still without a vector into the
active embedding space in one batch (the frozen encoder, no retraining; the model scores an
offer from its content vector). `load-inputs` writes a machine client's token and a request
mix drawn from the data. `feedback-inputs` writes what a chain's systems post back while the
endpoint serves: impressions, clicks and redemptions of offers the active batch assigned, each
with its own event id (the run's tag in it, so reruns never collide) and the present instant.
`count` prints, as JSON, how many of the answered decision ids and accepted event ids are in
the database, and how many real-time receipts and feedback events were written since --since.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
# offer_create hands each new offer to a worker for embedding once it commits; this process
# embeds them itself (in one batch), so the hand-off goes to an in-memory broker and is lost.
os.environ["CELERY_BROKER_URL"] = "memory://"

DERIVED_PREFIX = "BX"
VARIANTS = (
    ("{name}, weekday edition", "{description} Weekdays only, while the promotion runs."),
    ("Members: {name}", "{description} For loyalty members, one per visit."),
    ("{name} (limited time)", "{description} A limited-time return of a favorite."),
    ("{name} for two", "{description} Bring a friend: the deal applies to two orders."),
)
DISCOUNT_FACTORS = (Decimal("0.90"), Decimal("1.10"), Decimal("1.00"), Decimal("1.20"))
KNOWN_SHARE = 0.8
CART_SHARE = 0.3
HISTORY_DAYS = 1
ZONES = ("UTC", "Europe/Berlin", "Asia/Kolkata", "America/Sao_Paulo")
"""Offsets a client may write `at` in, besides the stores' own zones (the same instant)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    offers = commands.add_parser("offers")
    offers.add_argument("--total", type=int, default=200)
    load = commands.add_parser("load-inputs")
    load.add_argument("--count", type=int, default=20_000)
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--out", type=Path, required=True)
    feedback = commands.add_parser("feedback-inputs")
    feedback.add_argument("--count", type=int, default=2_000)
    feedback.add_argument("--seed", type=int, default=1)
    feedback.add_argument("--tag", required=True, help="in every event id: unique per run")
    feedback.add_argument("--out", type=Path, required=True)
    count = commands.add_parser("count")
    count.add_argument("--since", required=True, help="ISO 8601 instant")
    count.add_argument("--answered", type=Path, required=True)
    serve = commands.add_parser("serve-as")
    serve.add_argument("--scorer", required=True, help="a method of the active model")
    args = parser.parse_args()
    import django

    django.setup()
    if args.command == "offers":
        added = offers_fill(total=args.total)
        embedded = offers_embed_missing()
        print(f"offers: {added} added, {embedded} embedded into the active space")
    elif args.command == "serve-as":
        print(json.dumps({"scorer": args.scorer, "before": serve_as(args.scorer)}))
    elif args.command == "count":
        answered = json.loads(args.answered.read_text())
        since = dt.datetime.fromisoformat(args.since)
        print(json.dumps(stored_count(answered=answered, since=since)))
    elif args.command == "feedback-inputs":
        posts = feedback_mix(count=args.count, seed=args.seed, tag=args.tag)
        args.out.write_text(json.dumps({"token": bench_token(), "requests": posts}))
        print(f"feedback inputs: {len(posts):,} posts written to {args.out}")
    else:
        token = bench_token()
        requests = request_mix(count=args.count, seed=args.seed)
        args.out.write_text(json.dumps({"token": token, "requests": requests}))
        print(f"load inputs: {len(requests):,} requests written to {args.out}")


def serve_as(scorer: str) -> str:
    """Make the active model serve `scorer` (one of its methods: a neural model's files are
    there, a baseline's fit too); returns the scorer it served before."""
    from recommender.models import RecommenderModel
    from recommender.registry import model_scorer_choose

    model = RecommenderModel.objects.get(is_active=True)
    try:
        model_scorer_choose(version=model.version, scorer=scorer)
    except (ValueError, FileNotFoundError) as exc:
        sys.exit(str(exc))
    return model.scorer


def offers_fill(*, total: int) -> int:
    """Derived offers until the catalog holds `total`; their ids go on from the last one
    added, so an interrupted fill resumes."""
    from django.core.files import File

    from offers.models import Offer
    from offers.selectors import offer_image_path
    from offers.services import offer_create

    existing = list(Offer.objects.order_by("offer_id"))
    sources = [o for o in existing if not o.offer_id.startswith(DERIVED_PREFIX)]
    derived = len(existing) - len(sources)
    needed = total - len(existing)
    if needed <= 0:
        return 0
    if not sources:
        sys.exit("no demo offers to derive new ones from; run demo_pipeline first")
    for index in range(derived, derived + needed):
        source = sources[index % len(sources)]
        round_ = index // len(sources)
        name, description = VARIANTS[round_ % len(VARIANTS)]
        discount = source.discount_value
        if discount is not None:
            factor = DISCOUNT_FACTORS[round_ % len(DISCOUNT_FACTORS)]
            discount = (discount * factor).quantize(Decimal("0.01"))
        fields: dict[str, Any] = {
            "offer_id": f"{DERIVED_PREFIX}{index + 1:04d}",
            "name": name.format(name=source.name)[:200],
            "description": description.format(description=source.description),
            "category": source.category,
            "pricing_tiers": list(source.pricing_tiers),
            "dayparts": list(source.dayparts),
            "channels": list(source.channels),
            "item_ids": list(source.item_ids),
            "tags": list(source.tags),
            "discount_value": discount,
            "valid_from": source.valid_from,
            "valid_to": source.valid_to,
        }
        path = offer_image_path(offer=source)
        if path is None:
            offer_create(user=None, fields=fields)
            continue
        with path.open("rb") as handle:
            offer_create(user=None, fields=fields, image=File(handle, name=path.name))
    return needed


def offers_embed_missing() -> int:
    """Every offer without a vector in the active space gets one, in one batch: the same
    frozen encoder and autoencoder `offer_embedding_refresh` uses for one offer."""
    from django.conf import settings

    from offers.models import Offer
    from recommender.ml.autoencoder import autoencoder_load, offer_embeddings
    from recommender.ml.embeddings import offer_encodings
    from recommender.models import EmbeddingSpace, OfferEmbedding

    space = EmbeddingSpace.objects.filter(is_active=True).first()
    if space is None:
        sys.exit("no embedding space is active; run demo_pipeline first")
    missing = list(Offer.objects.exclude(embeddings__space=space).order_by("offer_id"))
    if not missing:
        return 0
    model = autoencoder_load(Path(settings.MODEL_DIR) / space.artifact)
    encoded = offer_encodings(missing)
    vectors = offer_embeddings(model, encoded.text, encoded.image)
    OfferEmbedding.objects.bulk_create(
        OfferEmbedding(space=space, offer=o, vector=v.tolist(), content_sha256=content)
        for o, v, content in zip(missing, vectors, encoded.content, strict=True)
    )
    return len(missing)


def bench_token() -> str:
    """The key of a machine client's token (an Admin user named bench)."""
    import secrets

    from django.contrib.auth import get_user_model

    from deepflame_web.core.api_tokens import api_token_issue
    from deepflame_web.core.services import user_create_admin

    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user, _ = user_create_admin(username="bench", email="", password=secrets.token_urlsafe(12))
    _, key = api_token_issue(user=user)
    return key


def _history_end() -> dt.datetime:
    import duckdb

    from deepflame_web.core.lake import lake_paths

    paths = [str(p) for p in lake_paths(table="orders")]
    if not paths:
        sys.exit("the lake has no orders; run demo_pipeline first")
    with duckdb.connect() as db:
        row = db.execute("SELECT max(ordered_at) FROM read_parquet($paths)", {"paths": paths})
        end = row.fetchone()
    assert end is not None and end[0] is not None
    value: dt.datetime = end[0]
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def request_mix(*, count: int, seed: int) -> list[dict[str, Any]]:
    """Request bodies drawn from the data: 80% known customers (the rest send no id), random
    stores and channels, instants spread over the last day of history (a real-time endpoint
    serves the present; every daypart of that day in every store's zone)
    written in various offsets, 30% with a cart of 1-3 real items."""
    from deepflame_web.console.demo.personas import CHANNELS
    from offers.models import Item, Store
    from segments.models import Customer

    rng = random.Random(seed)
    customers = list(Customer.objects.values_list("customer_id", flat=True))
    stores = list(Store.objects.values_list("store_id", "timezone"))
    items = list(Item.objects.values_list("item_id", flat=True))
    end = _history_end()
    span = dt.timedelta(days=HISTORY_DAYS).total_seconds()
    zones = sorted({zone or "UTC" for _, zone in stores} | set(ZONES))
    requests = []
    for _ in range(count):
        store_id, _zone = rng.choice(stores)
        at = end - dt.timedelta(seconds=rng.uniform(0, span))
        body: dict[str, Any] = {
            "store_id": store_id,
            "at": at.astimezone(ZoneInfo(rng.choice(zones))).isoformat(timespec="seconds"),
            "channel": rng.choice(CHANNELS),
        }
        if rng.random() < KNOWN_SHARE:
            body["customer_id"] = rng.choice(customers)
        if rng.random() < CART_SHARE:
            body["cart"] = rng.sample(items, rng.randint(1, 3))
        requests.append(body)
    return requests


FEEDBACK_KINDS = ("impression", "click", "redemption")
FEEDBACK_WEIGHTS = (0.6, 0.3, 0.1)


def feedback_mix(*, count: int, seed: int, tag: str) -> list[dict[str, Any]]:
    """Posts for the feedback endpoints, each {"path": ..., "body": ...}: offers of the active
    batch's assignments, at the present instant (feedback must not predate the history or lie
    in the future)."""
    from recommender.models import Assignment
    from recommender.selectors import batch_active

    batch = batch_active()
    if batch is None:
        sys.exit("no active assignment batch; run demo_pipeline first")
    rng = random.Random(seed)
    assigned = list(
        Assignment.objects.filter(batch=batch).values_list(
            "decision__customer_id", "offer_id", "decision_id"
        )[:50_000]
    )
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    posts = []
    for i in range(count):
        customer_id, offer_id, decision_id = rng.choice(assigned)
        kind = rng.choices(FEEDBACK_KINDS, FEEDBACK_WEIGHTS)[0]
        body: dict[str, Any] = {
            "event_id": f"load-{tag}-{i}",
            "customer_id": customer_id,
            "offer_id": offer_id,
            "decision_id": decision_id,
        }
        if kind == "redemption":
            posts.append({"path": "/api/v1/redemptions/", "body": {**body, "redeemed_at": now}})
        else:
            posts.append({"path": "/api/v1/events/", "body": {**body, "kind": kind, "at": now}})
    return posts


def stored_count(*, answered: dict[str, list[Any]], since: dt.datetime) -> dict[str, int]:
    from recommender.models import Decision, DecisionSource, FeedbackEvent

    decision_ids, event_ids = answered["decision_ids"], answered["event_ids"]
    return {
        "answered": len(decision_ids),
        "answered_distinct": len(set(decision_ids)),
        "receipts_found": Decision.objects.filter(pk__in=decision_ids).count(),
        "receipts_since": Decision.objects.filter(
            source=DecisionSource.API, created_at__gte=since
        ).count(),
        "accepted": len(event_ids),
        "events_found": FeedbackEvent.objects.filter(event_id__in=event_ids).count(),
        "events_since": FeedbackEvent.objects.filter(received_at__gte=since).count(),
    }


if __name__ == "__main__":
    main()
