"""Training benchmark: TxT training speed on this CPU, the pipeline beside a bare PyTorch loop,
and the time to train on 1M customers' history.

The data are synthetic shapes, not a demo chain: the speed of one training step depends on the
shapes only (batch, history length, vocabulary, offers, offer vector width, context fields,
long-horizon features), not on what the tokens mean. Examples are drawn at random with the
shapes of a demo chain's split: 60 items, `--offers` offers (60 in the demo chain, 981 in the
real grocery chain), offer vectors of OFFER_EMBEDDING_DIM content dimensions plus one feature
per pricing tier, channel and daypart (and one per item when TxT has the item match), the 7
context fields, histories of 0..20 events (right-aligned, uniform lengths), about 80% of offers
valid on each example's date, and the count inputs of TxT's scoring head [example, offer,
COUNT_FEATURES] (recommender.ml.affinity): `Examples.affinity`, log1p of the customer's
purchases of the offer's items (zero for about 85% of (example, offer) pairs; also scaled
x100) and of items in its category (a superset, zero for about 42%), counted plainly and
decayed with each half-life; then `Examples.popularity`, the offer's log popularity overall
and in the customer's segment.

- pipeline: `recommender.ml.txt.model_train` on the CPU (what training runs with the default
  TRAINING_PROCESSES=1) with the model `recommender.ml.training.neural_fit` builds for TxT and
  `recommender_train`'s defaults (d_model 64, 2 layers, dropout 0.3, the long-horizon inputs,
  learning rate 1e-3, batch 256) on the training sample,
  scoring a validation set after every epoch (3 validation weeks per 45 training weeks, as the
  default split); its own samples/s (training loop only) and the wall time with validation;
- bare: the same model (same config, same seed, the same long-horizon inputs) in a plain loop
  on in-memory tensors: one permutation per epoch, contiguous slices, forward, cross-entropy,
  AdamW step; no validity mask, no gradient clipping, no validation. The time ratio
  pipeline / bare is the pipeline's overhead.

The time for 1M customers is extrapolated from the measured epoch: one epoch over
customers x examples-per-customer examples (1.7 offer redemptions per customer over 12 months
in the demo chain, see the import benchmark), its validation set in the same proportion.
`--full-epoch` also measures one pipeline epoch on that many examples.

- count ranker: one epoch of the count ranker that TxT + count ranker trains beside TxT
  (`recommender.ml.training.ensemble_fit`: a 32-unit MLP over the count inputs and the offers'
  lifecycle, `RANKER_TRAINING`'s batch and learning rate), on the same sample, with its
  validation; extrapolated to 1M customers per epoch and for its epoch budget
  (RANKER_EPOCHS_PER_EPOCH per epoch of the run's; early stopping usually ends it sooner).

The memory of the count inputs: they are dense float32, so each example takes offers x
COUNT_FEATURES x 4 bytes, whatever the customer bought; the report gives it
per example, for the measured sample and for the 1M customers' examples (training and
validation), at `--offers` and at the real chain's 981 offers. That is one copy, held whole in
memory during training (and on the GPU when training runs there); `neural_fit` makes more
(the splits with their date-only candidates, training and validation joined for the refit).

    python benchmarks/training_bench.py
    python benchmarks/training_bench.py --offers 981
    python benchmarks/training_bench.py --customers 1000000 --full-epoch
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from recommender.ml.training_data import Examples
    from recommender.ml.txt import TxTConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
os.environ.setdefault("DEBUG", "true")  # as the other benchmarks run; no database is used

ITEMS = 60
DEMO_OFFERS = 60
REAL_CHAIN_OFFERS = 981
"""Offers in the real grocery chain's catalog."""
# store, tier, daypart, weekday, channel, weather, segment (code 0 is "none" in each).
CONTEXT_SIZES = [40, 4, 6, 8, 6, 9, 9]
VALIDATION_SHARE = 3 / 45
"""Validation examples per training example: 3 validation weeks beside 45 training weeks."""
SEED = 0
ITEM_PURCHASE_SHARE = 0.15
"""(example, offer) pairs where the customer bought some of the offer's items before."""
CATEGORY_PURCHASE_SHARE = 0.5
"""Pairs where the customer bought other items of the offer's category (besides the above)."""
MEAN_PURCHASES = 3.0
MEAN_PURCHASE_AGE_DAYS = 120.0
FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Measured:
    examples: int
    train_seconds: float
    """The training loop alone (no validation)."""
    wall_seconds: float
    """Everything the call took, validation scoring included."""
    loss: float

    @property
    def samples_per_second(self) -> float:
        return self.examples / self.train_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000, help="training sample size")
    parser.add_argument(
        "--offers",
        type=int,
        default=DEMO_OFFERS,
        help=f"offers in the catalog ({DEMO_OFFERS} in the demo chain, "
        f"{REAL_CHAIN_OFFERS} in the real grocery chain)",
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--examples-per-customer", type=float, default=1.7)
    parser.add_argument(
        "--epochs", type=int, default=10, help="epochs for the extrapolated total (early stop)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--repeats", type=int, default=1, help="pipeline and bare epochs, alternated; best kept"
    )
    parser.add_argument(
        "--full-epoch", action="store_true", help="also measure one epoch on every example"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    torch.set_num_threads(args.threads)
    vectors = synthetic_offer_vectors(settings.OFFER_EMBEDDING_DIM, offers=args.offers)
    validation_size = round(args.examples * VALIDATION_SHARE)
    train = synthetic_examples(args.examples, offers=args.offers, seed=1)
    validation = synthetic_examples(validation_size, offers=args.offers, seed=2)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads "
        f"(OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"
    )
    print(
        f"SYNTHETIC SHAPES (random tokens, speed only): {len(train):,} training + "
        f"{len(validation):,} validation examples; {ITEMS} items, {args.offers} offers x "
        f"{vectors.shape[1]} dims, context sizes {CONTEXT_SIZES}, history 0..20 events "
        f"(mean {(train.history > 0).sum(1).mean():.1f}); {_affinity_shape(train)}"
    )
    print(f"load average before: {_load()} (other jobs on the machine slow every figure)")
    if args.threads > 1 and os.getloadavg()[0] > 1 and "OMP_WAIT_POLICY" not in os.environ:
        print(
            "note: OpenMP threads spin while they wait for each other; with other jobs on the "
            "cores that can make several threads many times slower than one "
            "(compare --threads 1, or OMP_WAIT_POLICY=PASSIVE)"
        )
    warm_up(vectors, train)

    pipelines, bares = [], []
    for run in range(1, args.repeats + 1):
        pipelines.append(pipeline_epoch(vectors, train, validation))
        print(f"run {run}: pipeline epoch {pipelines[-1].wall_seconds:.1f} s", end="", flush=True)
        bares.append(bare_epoch(vectors, train))
        print(f", bare epoch {bares[-1].train_seconds:.1f} s", flush=True)
    # The fastest of each: the run least slowed by other work on the machine.
    pipeline = min(pipelines, key=lambda m: m.wall_seconds)
    bare = min(bares, key=lambda m: m.train_seconds)
    full = None
    total = round(args.customers * args.examples_per_customer)
    if args.full_epoch:
        print(
            f"building {total:,} examples; their long-horizon inputs alone take "
            f"{_gigabytes(total * affinity_bytes_per_example(args.offers))}",
            flush=True,
        )
        full = pipeline_epoch(
            vectors,
            synthetic_examples(total, offers=args.offers, seed=3),
            synthetic_examples(round(total * VALIDATION_SHARE), offers=args.offers, seed=4),
        )
        print(f"full pipeline epoch: {full.wall_seconds:.1f} s", flush=True)
    ranker = ranker_epoch(vectors.shape[1], train, validation)
    print(f"count ranker epoch {ranker.wall_seconds:.1f} s", flush=True)
    print(f"load average after: {_load()}")
    if not all(np.isfinite(m.loss) for m in [*pipelines, *bares, *([full] if full else [])]):
        print("WARNING: a loss is not finite; the model diverged or is broken on these shapes")
    report(args, pipeline, bare, full, total)
    report_ranker(args, ranker, total)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _gigabytes(size: float) -> str:
    return f"{size / 1e9:,.2f} GB"


def _affinity_shape(examples: Examples) -> str:
    from recommender.ml.affinity import AFFINITY_KINDS, PURCHASE_MEASURES

    assert examples.affinity is not None
    on_items = examples.affinity[:, :, 0] == 0
    category = AFFINITY_KINDS.index("category") * len(PURCHASE_MEASURES)
    in_category = examples.affinity[:, :, category] == 0
    return (
        f"long-horizon inputs {list(examples.affinity.shape)} zero for {on_items.mean():.0%} "
        f"(items) / {in_category.mean():.0%} (category) of (example, offer) pairs"
    )


def affinity_bytes_per_example(offers: int) -> int:
    """The count inputs are dense: every offer has every feature, bought or not (the
    lifecycle after them, which the count ranker reads)."""
    from recommender.ml.affinity import COUNT_FEATURES, LIFECYCLE_FEATURES

    return offers * (COUNT_FEATURES + LIFECYCLE_FEATURES) * FLOAT32_BYTES


def txt_config(offer_dim: int) -> TxTConfig:
    from recommender.ml.affinity import COUNT_FEATURES
    from recommender.ml.training_data import HISTORY_LENGTH
    from recommender.ml.txt import TxTConfig

    # What neural_fit builds for TxT with recommender_train's defaults.
    return TxTConfig(
        items=ITEMS,
        offer_dim=offer_dim,
        context_sizes=CONTEXT_SIZES,
        history_length=HISTORY_LENGTH,
        d_model=64,
        layers=2,
        dropout=0.3,
        use_context=True,
        affinity_features=COUNT_FEATURES,
    )


def new_model(vectors: np.ndarray) -> nn.Module:
    from recommender.ml.txt import TxT

    torch.manual_seed(SEED)
    return TxT(txt_config(vectors.shape[1]), vectors)


def synthetic_offer_vectors(embedding_dim: int, *, offers: int) -> np.ndarray:
    """[offer, dim] as `recommender_train` builds them: the content embedding, then
    `offer_features`' columns (one per pricing tier, channel and daypart, then one per item the
    offer applies to when the model has the item match)."""
    from dataclasses import fields

    from recommender.ml.txt import TxTConfig

    rng = np.random.default_rng(SEED)
    embedding = rng.normal(size=(offers, embedding_dim))
    where = rng.random((offers, sum(CONTEXT_SIZES[i] - 1 for i in (1, 2, 4)))) < 0.7
    parts = [embedding, where]
    if "item_match" in {f.name for f in fields(TxTConfig)}:
        items = np.zeros((offers, ITEMS))
        for row in items:
            row[rng.choice(ITEMS, size=rng.integers(1, 4), replace=False)] = 1.0
        parts.append(items)
    return np.hstack(parts).astype(np.float32)


def synthetic_examples(n: int, *, offers: int, seed: int) -> Examples:
    """`n` examples with the shapes of a real split and random contents."""
    from recommender.ml.training_data import HISTORY_LENGTH, Examples

    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, HISTORY_LENGTH + 1, size=n)
    # About one event in seven is an offer redeemed, the rest items ordered.
    tokens = np.where(
        rng.random((n, HISTORY_LENGTH)) < 0.15,
        ITEMS + 1 + rng.integers(0, offers, size=(n, HISTORY_LENGTH)),
        rng.integers(1, ITEMS + 1, size=(n, HISTORY_LENGTH)),
    )
    filled = np.arange(HISTORY_LENGTH)[None, :] >= HISTORY_LENGTH - lengths[:, None]
    history = np.where(filled, tokens, 0).astype(np.int64)
    context = np.stack([rng.integers(0, size, size=n) for size in CONTEXT_SIZES], axis=1)
    target = rng.integers(0, offers, size=n).astype(np.int64)
    valid = rng.random((n, offers)) < 0.8
    valid[np.arange(n), target] = True
    return Examples(
        customer_id=np.arange(n).astype(str),
        at=np.full(n, np.datetime64("2025-01-01T12:00"), dtype="datetime64[ns]"),
        history=history,
        history_at=np.full((n, HISTORY_LENGTH), np.datetime64("NaT"), dtype="datetime64[ns]"),
        context=context.astype(np.int64),
        target=target,
        valid=valid,
        affinity=synthetic_affinity(rng, (n, offers)),
        popularity=synthetic_popularity(rng, (n, offers)),
        lifecycle=synthetic_lifecycle(rng, (n, offers)),
    )


def synthetic_lifecycle(rng: np.random.Generator, pairs: tuple[int, int]) -> np.ndarray:
    """[example, offer, LIFECYCLE_FEATURES] float32 as `offer_lifecycle` gives them: offers
    listed 0..90 days before with 0..60 days left, on 1..200 items."""
    from recommender.ml.affinity import offer_lifecycle

    day = np.datetime64("2025-01-01", "D")
    start = day - rng.integers(0, 91, size=pairs[1]).astype("timedelta64[D]")
    end = day + rng.integers(0, 61, size=pairs[1]).astype("timedelta64[D]")
    sizes = rng.integers(1, 201, size=pairs[1]).astype(np.float64)
    return offer_lifecycle(day=np.full(pairs[0], day), start=start, end=end, sizes=sizes)


def synthetic_popularity(rng: np.random.Generator, pairs: tuple[int, int]) -> np.ndarray:
    """[example, offer, POPULARITY_FEATURES] float32: log probabilities, as
    `Popularity.features` gives them (overall, then in the example's segment)."""
    from recommender.ml.affinity import POPULARITY_FEATURES

    counts = rng.standard_exponential((*pairs, POPULARITY_FEATURES), dtype=np.float32) + 1
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def synthetic_affinity(rng: np.random.Generator, pairs: tuple[int, int]) -> np.ndarray:
    """[example, offer, AFFINITY_FEATURES] float32 laid out as `affinity_features` lays them out:
    per AFFINITY_KINDS, the purchases of the offer's items (plain, then x100), then of its
    category (which holds its items), per measure; each pair's purchases are dated together,
    at a random age."""
    from recommender.ml.affinity import AFFINITY_FEATURES, PURCHASE_MEASURES
    from recommender.ml.spark_examples import PURCHASE_HALF_LIVES

    on_items = _purchase_counts(rng, pairs, share=ITEM_PURCHASE_SHARE)
    in_category = on_items + _purchase_counts(rng, pairs, share=CATEGORY_PURCHASE_SHARE)
    age = rng.standard_exponential(pairs, dtype=np.float32) * MEAN_PURCHASE_AGE_DAYS
    # The plain count is a decay that never halves.
    half_lives = (np.inf, *PURCHASE_HALF_LIVES)
    features = np.empty((*pairs, AFFINITY_FEATURES), np.float32)
    kinds = ((on_items, 1.0), (on_items, 100.0), (in_category, 1.0))
    for k, (counts, scale) in enumerate(kinds):
        for m, half_life in enumerate(half_lives):
            decayed = scale * counts * np.float32(0.5) ** (age / np.float32(half_life))
            features[:, :, k * len(PURCHASE_MEASURES) + m] = np.log1p(decayed)
    return features


def _purchase_counts(
    rng: np.random.Generator, pairs: tuple[int, int], *, share: float
) -> np.ndarray:
    """[example, offer] float32: 0 outside `share` of the pairs, else 1 or more purchases."""
    bought = rng.random(pairs, dtype=np.float32) < share
    more = np.floor(rng.standard_exponential(pairs, dtype=np.float32) * MEAN_PURCHASES)
    return np.where(bought, 1 + more, np.float32(0))


def warm_up(vectors: np.ndarray, train: Examples) -> None:
    """A few steps on a throwaway model, so neither measured run pays the first-call costs."""
    from recommender.ml.txt import example_tensors

    model = new_model(vectors)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    history, context = torch.as_tensor(train.history), torch.as_tensor(train.context)
    affinity, target = example_tensors(train).affinity, torch.as_tensor(train.target)
    model.train()
    for i in range(0, min(20 * 256, len(train)), 256):
        rows = slice(i, i + 256)
        logits = model(history[rows], context[rows], affinity=affinity[rows])
        loss = nn.functional.cross_entropy(logits, target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def pipeline_epoch(vectors: np.ndarray, train: Examples, validation: Examples) -> Measured:
    """One epoch of `model_train` as `recommender_train` calls it."""
    return _one_epoch(new_model(vectors), train, validation, learning_rate=1e-3)


def ranker_epoch(offer_dim: int, train: Examples, validation: Examples) -> Measured:
    """One epoch of the count ranker as `ensemble_fit` trains it."""
    from recommender.ml.training import RANKER_TRAINING
    from recommender.ml.txt import CountRanker, ranker_config

    torch.manual_seed(SEED)
    ranker = CountRanker(ranker_config(txt_config(offer_dim)))
    ranker.standardize_on(train)
    return _one_epoch(ranker, train, validation, **RANKER_TRAINING)


def _one_epoch(model: nn.Module, train: Examples, validation: Examples, **options: Any) -> Measured:
    from recommender.ml.txt import model_train

    started = time.perf_counter()
    result = model_train(
        model, train=train, validation=validation, epochs=1, seed=SEED, device="cpu", **options
    )
    wall = time.perf_counter() - started
    return Measured(len(train), len(train) / result.samples_per_second, wall, result.epochs[0].loss)


def report_ranker(args: argparse.Namespace, ranker: Measured, total: int) -> None:
    from recommender.ml.training import RANKER_EPOCHS_PER_EPOCH

    per_epoch = ranker.wall_seconds * total / ranker.examples
    budget = RANKER_EPOCHS_PER_EPOCH * args.epochs
    print(
        f"\ncount ranker (TxT + count ranker), one epoch on {ranker.examples:,} examples: "
        f"{ranker.wall_seconds:.1f} s with validation ({ranker.samples_per_second:,.0f} "
        f"samples/s in the training loop); {args.customers:,} customers EXTRAPOLATED: one "
        f"epoch {per_epoch:,.0f} s, its budget of {budget} epochs at most "
        f"{per_epoch * budget / 60:.1f} min"
    )


def bare_epoch(vectors: np.ndarray, train: Examples) -> Measured:
    """One epoch of the same model in a plain loop on in-memory tensors."""
    from recommender.ml.txt import example_tensors

    model = new_model(vectors)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    history, context = torch.as_tensor(train.history), torch.as_tensor(train.context)
    affinity, target = example_tensors(train).affinity, torch.as_tensor(train.target)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    batch, n = 256, len(train)
    started = time.perf_counter()
    model.train()
    order = torch.randperm(n, generator=generator)
    history, context = history[order], context[order]
    affinity, target = affinity[order], target[order]
    total = torch.zeros(())
    for i in range(0, n, batch):
        rows = slice(i, i + batch)
        logits = model(history[rows], context[rows], affinity=affinity[rows])
        loss = nn.functional.cross_entropy(logits, target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(logits)
    seconds = time.perf_counter() - started
    return Measured(n, seconds, seconds, float(total) / n)


def report(
    args: argparse.Namespace,
    pipeline: Measured,
    bare: Measured,
    full: Measured | None,
    total: int,
) -> None:
    print()
    print(f"{'one epoch, ' + f'{pipeline.examples:,} examples':<44}{'s':>8}{'samples/s':>11}")
    rows = [
        ("pipeline model_train, training loop", pipeline.train_seconds),
        ("pipeline model_train, with validation", pipeline.wall_seconds),
        ("bare PyTorch loop", bare.train_seconds),
    ]
    for label, seconds in rows:
        print(f"{label:<44}{seconds:>8.1f}{pipeline.examples / seconds:>11,.0f}")
    print(
        f"overhead (time pipeline / bare): x{pipeline.train_seconds / bare.train_seconds:.2f} "
        f"training loop, x{pipeline.wall_seconds / bare.train_seconds:.2f} with validation; "
        f"epoch loss {pipeline.loss:.3f} / {bare.loss:.3f} (random targets; the pipeline "
        f"leaves out offers not valid on the date, the bare loop scores all {args.offers})"
    )
    per_epoch = pipeline.wall_seconds * total / pipeline.examples
    print(
        f"\n{args.customers:,} customers x {args.examples_per_customer} examples = "
        f"{total:,} examples (+ {round(total * VALIDATION_SHARE):,} validation), "
        f"EXTRAPOLATED from the measured epoch on {pipeline.examples:,} examples:"
    )
    print(
        f"  one epoch {per_epoch:,.0f} s ({per_epoch / 60:.1f} min); "
        f"{args.epochs} epochs {per_epoch * args.epochs / 60:.1f} min "
        f"({per_epoch * args.epochs / 3600:.2f} h)"
    )
    if full is not None:
        print(
            f"  MEASURED: one pipeline epoch on {full.examples:,} examples "
            f"{full.wall_seconds:,.0f} s ({full.wall_seconds / 60:.1f} min, "
            f"{full.samples_per_second:,.0f} samples/s in the training loop); "
            f"{args.epochs} epochs {full.wall_seconds * args.epochs / 60:.1f} min"
        )
    report_affinity_memory(args, pipeline.examples, total)


def report_affinity_memory(args: argparse.Namespace, measured: int, total: int) -> None:
    from recommender.ml.affinity import COUNT_FEATURES, LIFECYCLE_FEATURES

    def with_validation(examples: int, offers: int) -> str:
        validation = round(examples * VALIDATION_SHARE)
        size = (examples + validation) * affinity_bytes_per_example(offers)
        return f"{examples:,} + {validation:,} validation examples: {_gigabytes(size)}"

    print(
        f"\ncount inputs (purchase affinities, popularities and the offers' lifecycle, dense "
        f"float32 [example, offer, feature]), {args.offers} offers x "
        f"{COUNT_FEATURES + LIFECYCLE_FEATURES} features x {FLOAT32_BYTES} B = "
        f"{affinity_bytes_per_example(args.offers):,} B per example; it grows with the offers:"
    )
    print(f"  measured sample, {with_validation(measured, args.offers)}")
    print(f"  {args.customers:,} customers, {with_validation(total, args.offers)}")
    if args.offers != REAL_CHAIN_OFFERS:
        print(
            f"  at the real chain's {REAL_CHAIN_OFFERS} offers "
            f"({affinity_bytes_per_example(REAL_CHAIN_OFFERS):,} B per example): "
            f"{args.customers:,} customers, {with_validation(total, REAL_CHAIN_OFFERS)}"
        )


if __name__ == "__main__":
    main()
