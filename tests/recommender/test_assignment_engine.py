"""The assignment engine on a hand-made catalog: slot order, no offer twice, each exclusion's
reason, dayparts in the store's local time, fallbacks, holdout draws and the holdout share.

The model is a real TxT (small, seeded weights): the tests check what the engine does with
any scores (order by goal value, eligibility, rules), not what a trained model prefers."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from offers.rules.document import document_parse
from recommender.assignment.batch import holdout_flags
from recommender.assignment.engine import Engine, Situation, decide
from recommender.assignment.state import _offer_input, snapshot_catalog
from recommender.ml.affinity import (
    COUNT_FEATURES,
    PURCHASE_MEASURES,
    Popularity,
    incidence_build,
)
from recommender.ml.training_data import CONTEXT_FIELDS, Vocabulary
from recommender.ml.txt import TxT, TxTConfig
from recommender.models import CatalogSnapshot

DAYPARTS = {"breakfast": [300, 630], "lunch": [630, 840], "dinner": [960, 1320]}
CONTENT = 8
ITEMS = ["burger", "coffee", "fries", "muffin"]
# 2026-03-10 12:30 UTC: 08:30 in New York (breakfast), 21:30 in Tokyo (dinner).
AT = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)


def offer(offer_id: str, category: str, **fields: Any) -> dict[str, Any]:
    rng = np.random.default_rng(zlib.crc32(offer_id.encode()))
    return {
        "offer_id": offer_id,
        "name": offer_id.title(),
        "category": category,
        "pricing_tiers": [],
        "dayparts": [],
        "channels": [],
        "item_ids": [],
        "tags": [],
        "valid_from": None,
        "valid_to": None,
        "revenue": 5.0,
        "margin": 2.0,
        "high_margin": False,
        "win_back": False,
        "vector": rng.normal(size=CONTENT).round(4).tolist(),
    } | fields


CATALOG = [
    offer("breakfast-muffin", "breakfast", dayparts=["breakfast"], item_ids=["muffin"]),
    offer("burger-deal", "burgers", item_ids=["burger"], revenue=9.0, margin=1.0),
    offer("coffee-2for1", "drinks", item_ids=["coffee"], revenue=3.0, margin=2.5),
    offer("fries-free", "sides", item_ids=["fries"], revenue=2.0, margin=1.8, high_margin=True),
    offer("premium-only", "burgers", pricing_tiers=["premium"]),
    offer("app-only", "drinks", channels=["mobile_app"]),
    offer("expired", "sides", valid_to="2026-02-28"),
    offer("dinner-box", "burgers", dayparts=["dinner"], revenue=12.0, margin=4.0),
    offer("shake", "desserts", revenue=4.0, margin=3.0, high_margin=True),
]

RULES = {
    "segments": [
        {
            "segment_key": 1,
            "slots": [
                {"label": "Food", "count": 2, "categories": ["burgers", "breakfast", "sides"]},
                {"label": "Drinks", "count": 1, "categories": ["drinks"], "goal": "margin"},
                {"label": "Treat", "count": 2, "tags": ["high_margin"], "goal": "revenue"},
            ],
        },
        {
            "segment_key": 2,
            "slots": [
                {
                    "label": "Impossible",
                    "count": 1,
                    "categories": ["salads"],
                    "fallback_offer": "coffee-2for1",
                },
                {"label": "Picky", "count": 1, "categories": ["desserts"], "min_score": 0.999},
            ],
        },
        {"segment_key": None, "slots": [{"label": "Welcome", "count": 2}]},
    ]
}


def make_engine(*, rules: dict[str, Any] = RULES, seed: int = 0) -> Engine:
    vocabulary = Vocabulary(
        items=ITEMS,
        offers=[o["offer_id"] for o in CATALOG],
        context={name: ["none", "a", "b"] for name in CONTEXT_FIELDS},
    )
    vocabulary.context.update(
        tier=["none", "premium", "value"],
        channel=["none", "drive_thru", "mobile_app"],
        daypart=["none", *DAYPARTS],
    )
    snapshot = CatalogSnapshot(sha256="test", offers=CATALOG, dayparts=DAYPARTS)
    catalog = snapshot_catalog(snapshot)
    features = 2 + 2 + len(DAYPARTS) + len(ITEMS)
    config = TxTConfig(
        items=len(ITEMS),
        offer_dim=CONTENT + features,
        context_sizes=vocabulary.context_sizes(),
        d_model=16,
        heads=2,
        layers=1,
        affinity_features=COUNT_FEATURES,
    )
    scorable, offer_input = _offer_input(snapshot, catalog, vocabulary, config.offer_dim)
    torch.manual_seed(0)
    model = TxT(config, offer_input.numpy()).eval()
    return Engine(
        model=model,
        model_id=1,
        model_version=1,
        vocabulary=vocabulary,
        catalog=catalog,
        catalog_sha256="test",
        scorable=scorable,
        offer_input=offer_input,
        rules=document_parse(rules),
        rule_version_id=None,
        rule_version_number=3,
        incidence=incidence_build(
            items=ITEMS,
            offer_items=[list(o.item_ids) for o in catalog.offers],
            offer_categories=[o.category for o in catalog.offers],
            item_categories={},
        ),
        popularity=Popularity.count(
            offers=vocabulary.offers,
            target=np.array([0, 0, 1]),
            segment=np.array([1, 1, 2]),
            segments=len(vocabulary.context["segment"]),
            exposure=np.full(len(vocabulary.offers), 28.0),
        ),
        usual_categories={},
        seed=seed,
    )


def situation(**fields: Any) -> Situation:
    base: dict[str, Any] = {
        "customer_id": "C1",
        "known_customer": True,
        "at": AT,
        "store_id": "NY1",
        "tier": "value",
        "timezone": "America/New_York",
        "channel": "drive_thru",
        "segment_key": 1,
        "history": ("item:burger", "item:fries", "offer:coffee-2for1"),
    }
    return Situation(**(base | fields))


def one(engine: Engine, **fields: Any) -> Any:
    return decide(engine, [situation(**fields)], {k: tuple(v) for k, v in DAYPARTS.items()})[0]


def test_slots_are_filled_in_order_by_goal_value_and_no_offer_is_given_twice() -> None:
    engine = make_engine()
    outcome = one(engine)
    slots = [p.slot for p in outcome.picks]
    assert slots == sorted(slots) and [e["slot"] for e in outcome.slots] == [1, 2, 3]
    ids = [p.offer_id for p in outcome.picks]
    assert len(ids) == len(set(ids))
    # Both high-margin offers are given; one taken by slot 1 leaves slot 3 one short.
    assert {"fries-free", "shake"} <= set(ids)
    taken_first = {c["offer_id"] for c in outcome.slots[0]["chosen"]}
    assert outcome.slots[2]["short"] == ("fries-free" in taken_first)
    for entry in outcome.slots:
        values = [c["goal_value"] for c in entry["chosen"]]
        assert values == sorted(values, reverse=True)
        if entry["runners_up"]:
            assert entry["runners_up"][0]["goal_value"] <= values[-1]
        given_so_far = {p.offer_id for p in outcome.picks if p.slot <= entry["slot"]}
        assert not {c["offer_id"] for c in entry["runners_up"]} & given_so_far
    by_slot = {p.offer_id: p.slot for p in outcome.picks}
    assert by_slot["coffee-2for1"] == 2  # the only drink that may run here
    assert {o for o, s in by_slot.items() if s == 3} <= {"fries-free", "shake"}
    revenue = {o["offer_id"]: o["revenue"] for o in CATALOG}
    for pick in outcome.picks:
        if pick.slot == 3:  # goal revenue: score x expected revenue
            assert pick.goal_value == pytest.approx(pick.score * revenue[pick.offer_id], abs=1e-5)
    assert sum(outcome.slots[0]["chosen"][i]["score"] for i in range(2)) < 1.0


def test_each_excluded_offer_names_the_constraint_that_excluded_it() -> None:
    excluded = one(make_engine()).excluded
    assert excluded["premium-only"].startswith("pricing tier: runs in premium")
    assert "the store's tier is value" in excluded["premium-only"]
    assert excluded["app-only"] == "channel: runs on mobile_app; this is drive_thru"
    assert excluded["expired"].startswith("dates: valid always to 2026-02-28")
    assert excluded["dinner-box"] == "daypart: runs dinner; it is breakfast at the store"
    assert set(excluded) == {"premium-only", "app-only", "expired", "dinner-box"}


def test_an_offer_excluded_again_in_another_context_names_that_context() -> None:
    engine = make_engine()  # one engine: its kept exclusion texts must follow the context
    march = one(engine).excluded["expired"]  # 2026-03-10 at the store
    april = one(engine, at=AT + dt.timedelta(days=31)).excluded["expired"]
    assert march.endswith(f"local date {AT.date()}")
    assert april.endswith(f"local date {(AT + dt.timedelta(days=31)).date()}")
    assert "premium-only" not in one(engine, tier="premium").excluded
    assert "the store's tier is value" in one(engine).excluded["premium-only"]


def test_dayparts_are_read_in_each_store_s_local_time() -> None:
    engine = make_engine()
    new_york = one(engine)
    tokyo = one(engine, store_id="TK1", timezone="Asia/Tokyo")
    assert new_york.context["daypart"] == "breakfast" and tokyo.context["daypart"] == "dinner"
    assert "breakfast-muffin" not in new_york.excluded
    assert tokyo.excluded["breakfast-muffin"].startswith("daypart: runs breakfast")
    assert tokyo.excluded["breakfast-muffin"].endswith("it is dinner at the store")
    assert tokyo.context["local_time"] == "2026-03-10 21:30"
    assert "dinner-box" not in tokyo.excluded and "dinner-box" in new_york.excluded
    all_offers = {p.offer_id for p in tokyo.picks} | {
        c["offer_id"] for e in tokyo.slots for c in e["runners_up"]
    }
    assert "breakfast-muffin" not in all_offers


def test_a_slot_that_cannot_be_filled_takes_its_fallback_and_min_score_leaves_it_short() -> None:
    outcome = one(make_engine(), segment_key=2)
    impossible, picky = outcome.slots
    assert impossible["candidates"] == 0 and impossible["fallback"] == "coffee-2for1"
    assert [p.offer_id for p in outcome.picks] == ["coffee-2for1"] and outcome.picks[0].fallback
    assert picky["chosen"] == [] and picky["short"] is True
    assert picky["below_min_score"] == ["shake"]
    reason = outcome.excluded["burger-deal"]
    assert 'slot 1 "Impossible": category burgers not in salads' in reason
    assert 'slot 2 "Picky": category burgers not in desserts' in reason


def test_a_fallback_that_may_not_run_here_is_not_given() -> None:
    outcome = one(make_engine(), segment_key=2, channel="mobile_app", tier="premium")
    assert outcome.slots[0]["fallback"] == "coffee-2for1"
    rules = {
        "segments": [
            {
                "segment_key": 2,
                "slots": [{"label": "x", "categories": ["salads"], "fallback_offer": "app-only"}],
            }
        ]
    }
    drive_thru = one(make_engine(rules=rules), segment_key=2)
    assert drive_thru.picks == [] and drive_thru.slots[0]["short"] is True


def test_a_new_customer_gets_the_new_customer_rule_and_the_note_says_so() -> None:
    outcome = one(make_engine(), customer_id="", known_customer=False, segment_key=None)
    assert len(outcome.picks) == 2 and outcome.slots[0]["label"] == "Welcome"
    assert outcome.note.startswith("A new customer (not in the customer list)")
    assert "rule for no segment yet" in outcome.note
    missing = one(make_engine(), segment_key=7)
    assert missing.picks == [] and "have no rule for segment 7" in missing.note


def test_the_cart_is_read_as_the_most_recent_events_and_purchases() -> None:
    engine = make_engine()
    bought_now = {item: [1.0] * len(PURCHASE_MEASURES) for item in ("muffin", "coffee")}
    with_cart = one(engine, history=("item:fries",), cart=("muffin", "coffee"))
    as_history = one(
        engine, history=("item:fries", "item:muffin", "item:coffee"), purchases=bought_now
    )
    without = one(engine, history=("item:fries",))

    assert with_cart.context["cart"] == ["muffin", "coffee"]
    assert with_cart.slots == as_history.slots
    assert with_cart.slots != without.slots


def test_holdout_customers_get_fallbacks_or_random_eligible_offers_drawn_reproducibly() -> None:
    engine = make_engine(seed=11)
    customers = [situation(customer_id=f"C{i}", holdout=True) for i in range(40)]
    outcomes = decide(engine, customers, {k: tuple(v) for k, v in DAYPARTS.items()})
    again = decide(make_engine(seed=11), customers, {k: tuple(v) for k, v in DAYPARTS.items()})
    assert [o.slots for o in outcomes] == [o.slots for o in again]
    firsts = {tuple(c["offer_id"] for c in o.slots[0]["chosen"]) for o in outcomes}
    assert len(firsts) > 1  # random, not the model's one best pair
    eligible = {"breakfast-muffin", "burger-deal", "fries-free"}
    assert all({p.offer_id for p in o.picks if p.slot == 1} <= eligible for o in outcomes)
    other_seed = decide(make_engine(seed=12), customers, {k: tuple(v) for k, v in DAYPARTS.items()})
    assert [o.slots for o in other_seed] != [o.slots for o in outcomes]


def test_the_holdout_is_the_asked_share_of_every_segment() -> None:
    keys = pd.Series([1] * 1000 + [2] * 400 + [None] * 60, dtype="Int64")
    flags = holdout_flags(keys, share=0.05, seed=3)
    assert flags[:1000].sum() == 50 and flags[1000:1400].sum() == 20 and flags[1400:].sum() == 3
    assert not np.array_equal(flags, holdout_flags(keys, share=0.05, seed=4))
    assert np.array_equal(flags, holdout_flags(keys, share=0.05, seed=3))


def test_a_decision_does_not_depend_on_who_else_is_decided_with_it() -> None:
    engine = make_engine()
    alone = one(engine, customer_id="C9", history=("item:muffin",))
    crowd = [situation(customer_id=f"C{i}", history=("item:fries",) * i) for i in range(30)]
    crowd.insert(17, situation(customer_id="C9", history=("item:muffin",)))
    together = decide(engine, crowd, {k: tuple(v) for k, v in DAYPARTS.items()})[17]
    assert together.slots == alone.slots and together.exclusions_sha256 == alone.exclusions_sha256


def test_the_traced_scorer_gives_the_eager_model_s_numbers_for_one_or_many() -> None:
    from recommender.assignment.engine import (
        context_codes,
        context_values,
        count_inputs,
        history_codes,
        model_scorer,
        situation_purchases,
    )

    engine = make_engine()
    dayparts = {k: (v[0], v[1]) for k, v in DAYPARTS.items()}
    situations = [
        situation(
            customer_id=f"C{i}",
            history=("item:fries",) * (i % 5),
            channel="drive_thru",
            purchases={"fries": [float(i)] * len(PURCHASE_MEASURES)},
        )
        for i in range(7)
    ]
    history = torch.as_tensor(
        history_codes([s.events for s in situations], engine.vocabulary, engine.history_length)
    )
    codes = context_codes([context_values(s, dayparts) for s in situations], engine.vocabulary)
    context = torch.as_tensor(codes)
    purchases = situation_purchases(situations, engine.incidence.items)
    affinity = torch.as_tensor(count_inputs(engine, purchases, codes))
    with torch.inference_mode():
        eager = engine.model(history, context, engine.offer_input, affinity)
        traced = model_scorer(engine)
        assert torch.allclose(traced(history, context, affinity), eager, atol=1e-6)
        assert torch.allclose(
            traced(history[2:3], context[2:3], affinity[2:3]), eager[2:3], atol=1e-6
        )


def test_a_chunk_scored_in_slices_gets_the_scores_it_gets_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recommender.assignment import engine as engine_module

    engine = make_engine()
    dayparts = {k: (v[0], v[1]) for k, v in DAYPARTS.items()}
    situations = [
        situation(
            customer_id=f"C{i}",
            history=("item:fries",) * (i % 4),
            purchases={"fries": [float(i)] * len(PURCHASE_MEASURES)},
        )
        for i in range(7)
    ]
    at_once = engine_module.model_logits(engine, situations, dayparts)
    monkeypatch.setattr(engine_module, "SCORING_CELLS", 2 * len(engine.catalog.offers))

    in_slices = engine_module.model_logits(engine, situations, dayparts)

    assert in_slices.shape == at_once.shape == (7, len(engine.catalog.offers))
    assert np.allclose(in_slices, at_once, atol=1e-6)
    assert not np.allclose(at_once[0], at_once[6]), "the customers' scores differ"


def test_an_offer_for_another_channel_says_so_when_the_customer_has_no_usual_channel() -> None:
    excluded = one(make_engine(), channel="").excluded

    assert excluded["app-only"] == "channel: runs on mobile_app; the channel is unknown"
