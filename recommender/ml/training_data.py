"""Training examples for the offer recommender, read from the lake with DuckDB.

One example per offer redemption at time t: the customer's last events strictly before t
(items ordered and offers redeemed, most recent last), the context at t and the offer
redeemed. The split is by time, so that evaluation looks like serving: training examples
happen before the cutoff, evaluation examples in the weeks after it, and every history only
holds what had happened before its own example.

The segment in the context is the customer's segment of the month *before* the example's
month: a month's segment is computed from that whole month's orders, so the same month's
segment would carry information from after t.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy import sparse

from deepflame_web.core.lake import lake_paths, lake_root
from deepflame_web.core.models import LakeFile
from deepflame_web.core.spark import spark_session
from offers.dayparts import Window, daypart_minutes, daypart_rows, runs_in_window
from offers.models import Item, Offer, Store
from recommender.ml import spark_examples
from recommender.ml.affinity import (
    PURCHASE_MEASURES,
    LifecycleCounts,
    OfferIncidence,
    PopularityCounts,
    Purchases,
    incidence_build,
)
from recommender.ml.count_inputs import CountInputs
from segments.selectors import membership_files, segmentation_active
from segments.spark.combine import month_shift
from segments.spark.features import scratch_remove

HISTORY_LENGTH = 20
CONTEXT_FIELDS = ("store", "tier", "daypart", "weekday", "channel", "weather", "segment")
UNKNOWN = "none"


class TrainingDataError(Exception):
    """Why examples cannot be made (shown to the user as is)."""


@dataclass
class Vocabulary:
    """Token and context codes. History token 0 is padding, 1..len(items) are items, and
    len(items)+1+j is offer j (the row of offer j's embedding)."""

    items: list[str]
    offers: list[str]
    context: dict[str, list[str]] = field(default_factory=dict)

    @property
    def offer_offset(self) -> int:
        return len(self.items) + 1

    def context_sizes(self) -> list[int]:
        return [len(self.context[name]) for name in CONTEXT_FIELDS]

    def as_dict(self) -> dict[str, object]:
        return {"items": self.items, "offers": self.offers, "context": self.context}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(items=list(data["items"]), offers=list(data["offers"]), context=data["context"])


@dataclass
class Examples:
    """Examples as arrays, one row each. `history` is right-aligned (most recent event in the
    last column, padding 0 on the left); `history_at` holds each event's time (NaT on padding);
    `valid` marks the candidates: the offers the engine could give in the example's context
    (see `candidates_restrict`), the same for every method; `dated` (when set) the wider
    date-only candidates, kept for the variant of the table; `purchases` (when prepared) is
    the customer's long-horizon buying before each example, `incidence` (when attached) the
    offers' items and categories its affinities are counted against and `popularity` (when
    attached) each offer's popularity overall and in the example's segment: the counts TxT's
    scoring head reads; `lifecycle` (when attached) where each offer stood in its life that
    day, which the count ranker reads after them (recommender.ml.affinity). Their dense
    [example, offer, feature] form is built a batch at a time (`count_inputs`)."""

    customer_id: np.ndarray
    at: np.ndarray
    history: np.ndarray
    history_at: np.ndarray
    context: np.ndarray
    target: np.ndarray
    valid: np.ndarray
    purchases: Purchases | None = None
    dated: np.ndarray | None = None
    incidence: OfferIncidence | None = None
    popularity: PopularityCounts | None = None
    lifecycle: LifecycleCounts | None = None

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: np.ndarray) -> Examples:
        return Examples(
            customer_id=self.customer_id[rows],
            at=self.at[rows],
            history=self.history[rows],
            history_at=self.history_at[rows],
            context=self.context[rows],
            target=self.target[rows],
            valid=self.valid[rows],
            purchases=self.purchases.take(rows) if self.purchases is not None else None,
            dated=self.dated[rows] if self.dated is not None else None,
            incidence=self.incidence,
            popularity=self.popularity.take(rows) if self.popularity is not None else None,
            lifecycle=self.lifecycle.take(rows) if self.lifecycle is not None else None,
        )

    def count_inputs(self, width: int) -> CountInputs:
        """The first `width` count inputs of these examples (what a model reads), built a
        batch at a time."""
        return CountInputs(
            examples=len(self),
            offers=self.valid.shape[1],
            width=width,
            purchases=self.purchases,
            incidence=self.incidence,
            popularity=self.popularity,
            lifecycle=self.lifecycle,
        )

    def context_column(self, name: str) -> np.ndarray:
        return self.context[:, CONTEXT_FIELDS.index(name)]


@dataclass
class Split:
    """Training (before the validation start), validation (the last weeks before the cutoff,
    for early stopping and choices) and evaluation (the weeks after the cutoff)."""

    cutoff: dt.datetime
    end: dt.datetime
    validation_start: dt.datetime
    train: Examples
    validation: Examples
    evaluation: Examples
    vocabulary: Vocabulary

    @property
    def fit(self) -> Examples:
        """Training and validation together (what a model without early stopping sees)."""
        return _concat(self.train, self.validation)


def _concat(first: Examples, second: Examples) -> Examples:
    arrays: dict[str, Any] = {
        name: np.concatenate([getattr(first, name), getattr(second, name)]) for name in _FIELDS
    }
    both = (
        first.purchases.concat(second.purchases)
        if first.purchases is not None and second.purchases is not None
        else None
    )
    examples = Examples(**arrays, purchases=both, incidence=first.incidence)
    if first.dated is not None and second.dated is not None:
        examples.dated = np.concatenate([first.dated, second.dated])
    if first.popularity is not None and second.popularity is not None:
        examples.popularity = first.popularity.concat(second.popularity)
    if first.lifecycle is not None and second.lifecycle is not None:
        examples.lifecycle = first.lifecycle.concat(second.lifecycle)
    return examples


_FIELDS = ("customer_id", "at", "history", "history_at", "context", "target", "valid")


def _lake_months() -> list[str]:
    return sorted(set(LakeFile.objects.values_list("month", flat=True)))


def _files(table: str, months: list[str]) -> list[str]:
    return [str(path) for path in lake_paths(table=table, months=months)] if months else []


def _examples_tasks(*, history_length: int, scratch: Path) -> list[dict[str, object]]:
    """One task per month with redemptions. Lake months are store-local, so each task gets
    the event files of every month up to and including the next one (an earlier event can
    sit in the next local month when its store is further east)."""
    months = sorted(
        set(LakeFile.objects.filter(table="offer_redemptions").values_list("month", flat=True))
    )
    if not months:
        raise TrainingDataError("The lake has no offer_redemptions yet; import data first.")
    lake_months = _lake_months()
    stores = [(s, t) for s, t in Store.objects.values_list("store_id", "pricing_tier")]
    dayparts = daypart_rows(daypart_minutes())
    definition = segmentation_active()
    memberships = membership_files(definition=definition) if definition is not None else []
    tasks: list[dict[str, object]] = []
    for month in months:
        through = [m for m in lake_months if m <= month_shift(month, 1)]
        tasks.append(
            {
                "month": month,
                "redemptions": _files("offer_redemptions", [month]),
                "history_redemptions": _files("offer_redemptions", through),
                "order_lines": _files("order_lines", through),
                "orders": _files("orders", through),
                "weather": _files("weather", through),
                "memberships": memberships,
                "stores": stores,
                "dayparts": dayparts,
                "history_length": history_length,
                "unknown": UNKNOWN,
                "output": str(scratch),
            }
        )
    return tasks


def _examples_on_spark(tasks: list[dict[str, object]]) -> list[dict[str, object]]:
    from pyspark import cloudpickle

    # Ship the task module by value: executors need pyarrow and DuckDB, not this project.
    cloudpickle.register_pickle_by_value(spark_examples)
    context = spark_session().sparkContext
    context.setJobDescription(f"training examples: {len(tasks)} months")
    rdd = context.parallelize(tasks, numSlices=len(tasks))
    return rdd.map(spark_examples.run_month).collect()


@dataclass
class RawExamples:
    """The examples before encoding: one row per redemption with its context, one row per
    history event of each, one row per (example, item) the customer bought before it."""

    frame: pd.DataFrame
    events: pd.DataFrame
    purchases: pd.DataFrame


def _examples_renumber(
    frames: list[pd.DataFrame], events: list[pd.DataFrame], purchases: list[pd.DataFrame]
) -> RawExamples:
    """The months' examples as one sequence in (t, customer, offer) order; each month numbers
    its own from 0, and months overlap in time at their (local) boundaries."""
    offsets = np.cumsum([0, *(len(f) for f in frames)])
    frame = pd.concat(frames, ignore_index=True)
    order = frame.sort_values(["at_utc", "customer_id", "offer_id"], kind="stable").index
    number = np.empty(len(frame), np.int64)
    number[order.to_numpy()] = np.arange(len(frame))
    frame["example"] = number
    frame = frame.sort_values("example").reset_index(drop=True)
    history = pd.concat(
        [
            e.assign(example=number[e["example"].to_numpy(np.int64) + offsets[i]])
            for i, e in enumerate(events)
        ],
        ignore_index=True,
    )
    history = history.sort_values(["example", "back"], kind="stable").reset_index(drop=True)
    bought = pd.concat(
        [
            p.assign(example=number[p["example"].to_numpy(np.int64) + offsets[i]])
            for i, p in enumerate(purchases)
        ],
        ignore_index=True,
    )
    return RawExamples(frame, history, bought)


def raw_examples(*, history_length: int = HISTORY_LENGTH) -> RawExamples:
    """The examples with their history events and long-horizon purchases.

    History events are the redemption's customer's order lines and redemptions strictly
    before the redemption time and outside its own order, the last `history_length` of them;
    purchases are all their order lines before it, per item. Prepared on Spark, one
    task per month of redemptions (`recommender.ml.spark_examples`), written into a scratch
    folder of the lake that is removed afterwards."""
    scratch = lake_root() / "_scratch" / f"training-examples-{uuid.uuid4().hex}"
    try:
        tasks = _examples_tasks(history_length=history_length, scratch=scratch)
        results = sorted(_examples_on_spark(tasks), key=lambda r: str(r["month"]))
        frames = [pq.read_table(str(r["examples"])).to_pandas() for r in results]
        events = [pq.read_table(str(r["events"])).to_pandas() for r in results]
        purchases = [pq.read_table(str(r["purchases"])).to_pandas() for r in results]
    finally:
        scratch_remove(scratch)
    return _examples_renumber(frames, events, purchases)


def vocabulary_build(*, frame: pd.DataFrame, events: pd.DataFrame, offers: list[str]) -> Vocabulary:
    """Codes for every item and context value seen in the examples (0 is 'none' in context)."""
    items = sorted(set(events.loc[events["kind"] == "item", "token"].dropna()))
    context = {
        name: [UNKNOWN, *sorted(set(frame[name].astype(str)) - {UNKNOWN})]
        for name in CONTEXT_FIELDS
    }
    return Vocabulary(items=items, offers=list(offers), context=context)


def examples_encode(
    *,
    frame: pd.DataFrame,
    events: pd.DataFrame,
    vocabulary: Vocabulary,
    history_length: int = HISTORY_LENGTH,
    purchases: pd.DataFrame | None = None,
) -> Examples:
    """Arrays for the model; examples whose offer has no embedding are dropped, and so are
    history events the vocabulary does not know (items first sold after the cutoff)."""
    offer_code = {offer_id: j for j, offer_id in enumerate(vocabulary.offers)}
    target = frame["offer_id"].map(offer_code)
    n = len(frame)
    history = np.zeros((n, history_length), np.int64)
    history_at = np.full((n, history_length), np.datetime64("NaT"), "datetime64[us]")
    if len(events):
        item_code = {item: i + 1 for i, item in enumerate(vocabulary.items)}
        offset = vocabulary.offer_offset
        token = np.where(
            events["kind"] == "item",
            events["token"].map(item_code).fillna(0),
            events["token"].map(offer_code).fillna(-offset - 1) + offset,
        ).astype(np.int64)
        token[token < 0] = 0
        rows = events["example"].to_numpy(np.int64)
        columns = history_length - events["back"].to_numpy(np.int64)
        known = token > 0
        history[rows[known], columns[known]] = token[known]
        history_at[rows[known], columns[known]] = _utc_naive(events["at_utc"])[known]
    context = (
        np.stack(
            [
                frame[name]
                .astype(str)
                .map({value: code for code, value in enumerate(vocabulary.context[name])})
                .fillna(0)
                .to_numpy(np.int64)
                for name in CONTEXT_FIELDS
            ],
            axis=1,
        )
        if n
        else np.zeros((0, len(CONTEXT_FIELDS)), np.int64)
    )
    valid = _valid_offers(frame, vocabulary.offers)
    keep = target.notna().to_numpy()
    codes = target.fillna(0).to_numpy(np.int64)
    valid[np.arange(n), codes] |= keep
    examples = Examples(
        customer_id=frame["customer_id"].to_numpy(str),
        at=_utc_naive(frame["at_utc"]),
        history=history,
        history_at=history_at,
        context=context,
        target=codes,
        valid=valid,
        purchases=purchases_encode(purchases, n) if purchases is not None else None,
    )
    return examples.take(np.flatnonzero(keep))


def purchases_encode(purchases: pd.DataFrame, examples: int) -> Purchases:
    """The (example, item, measures...) rows as sparse matrices; `example` is the row."""
    if purchases.empty:
        return Purchases.empty(examples)
    items = sorted(purchases["item"].astype(str).unique())
    rows = purchases["example"].to_numpy(np.int64)
    columns = pd.Index(items).get_indexer(purchases["item"].astype(str))
    return Purchases(
        items,
        {
            measure: sparse.csr_matrix(
                (purchases[measure].to_numpy(np.float64), (rows, columns)),
                shape=(examples, len(items)),
            )
            for measure in PURCHASE_MEASURES
        },
    )


def _utc_naive(column: pd.Series) -> np.ndarray:
    values = pd.to_datetime(column, utc=True).dt.tz_localize(None)
    return values.to_numpy("datetime64[us]")


def offer_windows(offers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each offer's valid_from and valid_to (datetime64[D]; an offer without dates is always
    valid)."""
    windows = {
        o: (str(f or "1900-01-01"), str(t or "2999-12-31"))
        for o, f, t in Offer.objects.values_list("offer_id", "valid_from", "valid_to")
    }
    unknown = ("1900-01-01", "2999-12-31")
    start = np.array([windows.get(o, unknown)[0] for o in offers], "datetime64[D]")
    end = np.array([windows.get(o, unknown)[1] for o in offers], "datetime64[D]")
    return start, end


def _valid_offers(frame: pd.DataFrame, offers: list[str]) -> np.ndarray:
    """[example, offer]: the offer's valid_from..valid_to holds the example's local date (an
    offer without dates is always valid)."""
    start, end = offer_windows(offers)
    local = pd.to_datetime(frame["local_at"].fillna(frame["at_utc"])).dt.tz_localize(None)
    day = local.to_numpy("datetime64[D]")[:, None]
    return (start[None, :] <= day) & (day <= end[None, :])


def training_split(
    *,
    offers: list[str],
    until: dt.date | None = None,
    evaluation_weeks: int = 4,
    validation_weeks: int = 3,
    history_length: int = HISTORY_LENGTH,
) -> Split:
    """Examples split by time at `until` (default: `evaluation_weeks` before the last
    redemption): training before the validation weeks, validation up to the cutoff,
    evaluation from the cutoff for `evaluation_weeks`."""
    raw = raw_examples(history_length=history_length)
    frame, events = raw.frame, raw.events
    if frame.empty:
        raise TrainingDataError("The lake has no offer redemptions to learn from.")
    at = pd.to_datetime(frame["at_utc"], utc=True).dt.tz_localize(None)
    if until is None:
        last = at.max().normalize() + pd.Timedelta(days=1)
        cutoff = (last - pd.Timedelta(weeks=evaluation_weeks)).to_pydatetime()
    else:
        cutoff = dt.datetime.combine(until, dt.time())
    end = cutoff + dt.timedelta(weeks=evaluation_weeks)
    validation_start = cutoff - dt.timedelta(weeks=validation_weeks)
    vocabulary = vocabulary_build(
        frame=frame.loc[(at < cutoff).to_numpy()],
        events=events[events["example"].isin(frame.loc[(at < cutoff).to_numpy(), "example"])],
        offers=offers,
    )
    examples = examples_encode(
        frame=frame,
        events=events,
        vocabulary=vocabulary,
        history_length=history_length,
        purchases=raw.purchases,
    )
    assert examples.purchases is not None
    examples.incidence = offer_incidence(offers=offers, items=examples.purchases.items)
    examples.lifecycle = lifecycle_of(examples, offers)
    candidates_restrict(
        examples=examples,
        features=offer_features(offers=offers, vocabulary=vocabulary),
        vocabulary=vocabulary,
    )
    when = examples.at
    train = np.flatnonzero(when < np.datetime64(validation_start))
    validation = np.flatnonzero(
        (when >= np.datetime64(validation_start)) & (when < np.datetime64(cutoff))
    )
    evaluation = np.flatnonzero((when >= np.datetime64(cutoff)) & (when < np.datetime64(end)))
    if not len(train) or not len(evaluation):
        raise TrainingDataError(
            f"The split at {cutoff:%Y-%m-%d} leaves {len(train)} training and "
            f"{len(evaluation)} evaluation examples; choose another --until."
        )
    return Split(
        cutoff=cutoff,
        end=end,
        validation_start=validation_start,
        train=examples.take(train),
        validation=examples.take(validation),
        evaluation=examples.take(evaluation),
        vocabulary=vocabulary,
    )


CONSTRAINED_CONTEXT = ("tier", "channel", "daypart")
"""The context an offer may be limited to, in the order of offer_feature_rows' columns."""


def candidates_restrict(
    *, examples: Examples, features: np.ndarray, vocabulary: Vocabulary
) -> None:
    """Narrow each example's candidates from the offers valid on its date to those the engine
    could give in its context: allowed in its store's pricing tier, its channel and its
    daypart (a value the example does not record allows every offer). The offer redeemed
    stays a candidate: it was given there. `dated` keeps the date-only candidates."""
    allowed = np.ones_like(examples.valid)
    start = 0
    for name in CONSTRAINED_CONTEXT:
        width = len(vocabulary.context[name]) - 1
        codes = examples.context_column(name)
        known = codes > 0
        block = features[:, start : start + width].astype(bool)  # [offer, context value]
        allowed[known] &= block[:, codes[known] - 1].T
        start += width
    examples.dated = examples.valid.copy()
    examples.valid = examples.valid & allowed
    examples.valid[np.arange(len(examples)), examples.target] = True


def offer_incidence(*, offers: list[str], items: list[str]) -> OfferIncidence:
    """The catalog's items and categories of `offers` against `items` (an offer the catalog
    does not have: none)."""
    categories = dict(Offer.objects.filter(offer_id__in=offers).values_list("offer_id", "category"))
    return incidence_build(
        items=items,
        offer_items=offer_item_lists(offers),
        offer_categories=[categories.get(offer_id) or "" for offer_id in offers],
        item_categories=dict(Item.objects.values_list("item_id", "category")),
    )


def lifecycle_of(examples: Examples, offers: list[str]) -> LifecycleCounts:
    """Where each of `offers` stood in its life on each example's (UTC) day."""
    start, end = offer_windows(offers)
    sizes = np.array([len(items) for items in offer_item_lists(offers)], np.float64)
    return LifecycleCounts(
        day=examples.at.astype("datetime64[D]"), start=start, end=end, sizes=sizes
    )


def offer_item_lists(offers: list[str]) -> list[list[str]]:
    """The items each offer applies to, in `offers` order (none for an unknown offer)."""
    items = dict(Offer.objects.filter(offer_id__in=offers).values_list("offer_id", "item_ids"))
    return [list(items.get(offer_id) or []) for offer_id in offers]


def offer_features(*, offers: list[str], vocabulary: Vocabulary) -> np.ndarray:
    """[offer, feature]: where each offer may run, from the catalog (1 per pricing tier,
    channel and daypart of the vocabulary it allows; no restriction allows all), then which
    of the vocabulary's items it applies to (the last `len(vocabulary.items)` columns, which
    TxT's item match reads). A new offer has these as soon as it is in the catalog, like its
    content embedding."""
    windows = daypart_minutes()
    rows = {o.offer_id: o for o in Offer.objects.filter(offer_id__in=offers)}
    return offer_feature_rows(
        offers=[rows.get(offer_id) for offer_id in offers], vocabulary=vocabulary, windows=windows
    )


def offer_feature_rows(
    *,
    offers: list[Offer | None],
    vocabulary: Vocabulary,
    windows: dict[str, Window],
) -> np.ndarray:
    """`offer_features` of given offers and daypart windows (None: an unknown offer, zeros)."""

    tiers, channels = vocabulary.context["tier"][1:], vocabulary.context["channel"][1:]
    # Every daypart of the vocabulary keeps its column (the width is the model's input width);
    # one no longer defined allows nothing.
    dayparts = vocabulary.context["daypart"][1:]
    item_column = {item: i for i, item in enumerate(vocabulary.items)}
    width = len(tiers) + len(channels) + len(dayparts)
    features = np.zeros((len(offers), width + len(vocabulary.items)), np.float32)
    for j, offer in enumerate(offers):
        if offer is None:
            continue
        allowed = [not offer.pricing_tiers or t in offer.pricing_tiers for t in tiers]
        allowed += [not offer.channels or c in offer.channels for c in channels]
        allowed += [
            d in windows and runs_in_window(offer.dayparts, windows[d], windows) for d in dayparts
        ]
        features[j, :width] = allowed
        for item in offer.item_ids:
            if item in item_column:
                features[j, width + item_column[item]] = 1.0
    return features
