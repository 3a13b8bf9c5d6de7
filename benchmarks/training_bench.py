"""Training benchmark: TxT training speed on this CPU, the pipeline beside a bare PyTorch loop,
and the time to train on 1M customers' history.

The data are synthetic shapes, not a demo chain: the speed of one training step depends on the
shapes only (batch, history length, vocabulary, offers, offer vector width, context fields,
long-horizon features), not on what the tokens mean. Examples are drawn at random with the
shapes of a demo chain's split: 60 items, `--offers` offers (60 in the demo chain, 981 in the
real grocery chain), offer vectors of OFFER_EMBEDDING_DIM content dimensions plus one feature
per pricing tier, channel and daypart (and one per item when TxT has the item match), the 7
context fields, histories of 0..20 events (right-aligned, uniform lengths), about 80% of offers
valid on each example's date, and what the count inputs of TxT's scoring head [example, offer,
COUNT_FEATURES] (recommender.ml.affinity) are built from: each example's customer bought about
8 of 60 items (1 or more times, at a random age; counted plainly and decayed with each
half-life), each offer applies to 1..3 of them in one of 6 categories, and the redemption
counts of 365 days per segment give each example's popularities.

- pipeline: `recommender.ml.distributed.model_train` on the CPU with TRAINING_PROCESSES
  `--processes` (1: `recommender.ml.txt.model_train` in this process; 2: two data-parallel
  processes of one thread, what `auto` chooses for 1M customers on 2 or more cores), with the
  model `recommender.ml.training.neural_fit` builds for TxT and `recommender_train`'s
  defaults (d_model 64, 2 layers, dropout 0.3, the long-horizon inputs, learning rate 1e-3,
  batch 256) on the training sample, scoring a validation set after every epoch (3 validation
  weeks per 45 training weeks, as the default split); its own samples/s (training loop only)
  and the epoch's time with validation (the processes' start, once a run, apart);
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

The memory of the count inputs: training builds them a batch at a time
(recommender.ml.count_inputs) from what each example holds (its customer's sparse purchases,
its day and segment, the popularity tables and the offers' dates); the report gives that per
example, beside what the same inputs would take held dense (offers x features x 4 bytes per
example, as training held them before), for the 1M customers' examples at `--offers` and at
the real chain's 981 offers. The bare loop holds them dense, built before its clock starts:
the time ratio pipeline / bare includes building them per batch.

    python benchmarks/training_bench.py
    python benchmarks/training_bench.py --offers 981
    python benchmarks/training_bench.py --customers 1000000 --full-epoch
    python benchmarks/training_bench.py --processes 2 --full-epoch
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
    from recommender.ml.affinity import LifecycleCounts, OfferIncidence, PopularityCounts, Purchases
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
PURCHASE_ITEMS = 60
CATEGORIES = 6
MEAN_ITEMS_BOUGHT = 8.0
"""Distinct items each example's customer bought before it (of PURCHASE_ITEMS)."""
DAYS = 365
MEAN_PURCHASES = 3.0
MEAN_PURCHASE_AGE_DAYS = 120.0
FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Measured:
    examples: int
    train_seconds: float
    """The training loop alone (no validation)."""
    wall_seconds: float
    """The epoch with its validation scoring."""
    loss: float
    start_seconds: float = 0.0
    """What the call took beyond the epoch: the training processes' start and their result's
    return (paid once a training run, not once an epoch)."""

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
        "--processes",
        type=int,
        default=1,
        help="TRAINING_PROCESSES for the pipeline: above 1, data-parallel torch processes of "
        "one thread each (recommender.ml.distributed); the bare loop stays one process",
    )
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
    total = round(args.customers * args.examples_per_customer)
    print(train_as_the_full_run(args.offers, total))
    warm_up(vectors, train)
    if args.processes > 1:
        from deepflame_web.core.spark import spark_session

        spark_session()  # the worker's warm session; not part of any measured figure

    pipelines, bares = [], []
    for run in range(1, args.repeats + 1):
        pipelines.append(pipeline_epoch(vectors, train, validation, args.processes))
        print(f"run {run}: pipeline epoch {pipelines[-1].wall_seconds:.1f} s", end="", flush=True)
        bares.append(bare_epoch(vectors, train))
        print(f", bare epoch {bares[-1].train_seconds:.1f} s", flush=True)
    # The fastest of each: the run least slowed by other work on the machine.
    pipeline = min(pipelines, key=lambda m: m.wall_seconds)
    bare = min(bares, key=lambda m: m.train_seconds)
    full = None
    if args.full_epoch:
        print(f"building {total:,} examples", flush=True)
        full = pipeline_epoch(
            vectors,
            synthetic_examples(total, offers=args.offers, seed=3),
            synthetic_examples(round(total * VALIDATION_SHARE), offers=args.offers, seed=4),
            args.processes,
        )
        print(f"full pipeline epoch: {full.wall_seconds:.1f} s", flush=True)
    ranker = ranker_epoch(vectors.shape[1], train, validation)
    print(f"count ranker epoch {ranker.wall_seconds:.1f} s", flush=True)
    print(f"load average after: {_load()}")
    if not all(np.isfinite(m.loss) for m in [*pipelines, *bares, *([full] if full else [])]):
        print("WARNING: a loss is not finite; the model diverged or is broken on these shapes")
    report(args, train, pipeline, bare, full, total)
    report_ranker(args, ranker, total)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _gigabytes(size: float) -> str:
    return f"{size / 1e9:,.2f} GB"


def _affinity_shape(examples: Examples) -> str:
    from recommender.ml.affinity import AFFINITY_KINDS, COUNT_FEATURES, PURCHASE_MEASURES

    sample = dense_counts(examples.take(np.arange(min(len(examples), 2_000))), COUNT_FEATURES)
    on_items = sample[:, :, 0] == 0
    in_category = sample[:, :, AFFINITY_KINDS.index("category") * len(PURCHASE_MEASURES)] == 0
    return (
        f"long-horizon inputs [{len(examples)}, {sample.shape[1]}, {sample.shape[2]}] zero for "
        f"{on_items.mean():.0%} (items) / {in_category.mean():.0%} (category) of (example, "
        f"offer) pairs"
    )


def train_as_the_full_run(offers: int, total: int) -> str:
    """Make the sample's epochs hold their count inputs or build them per batch, as training
    on `total` examples would (recommender.ml.count_inputs.HELD_BYTES)."""
    from recommender.ml import count_inputs
    from recommender.ml.affinity import COUNT_FEATURES

    full = total * (1 + VALIDATION_SHARE) * offers * COUNT_FEATURES * FLOAT32_BYTES
    if full <= count_inputs.HELD_BYTES:
        return f"count inputs held: {_gigabytes(full)} at {total:,} examples fit"
    count_inputs.HELD_BYTES = 0
    return f"count inputs built per batch, as at {total:,} examples ({_gigabytes(full)} dense)"


def dense_counts(examples: Examples, width: int) -> np.ndarray:
    """Every example's first `width` count inputs at once, as training held them before
    they were built per batch."""
    return examples.count_inputs(width).rows(np.arange(len(examples)))


def affinity_bytes_per_example(offers: int) -> int:
    """The count inputs held dense: every offer has every feature, bought or not (the
    lifecycle after them, which the count ranker reads)."""
    from recommender.ml.affinity import COUNT_FEATURES, LIFECYCLE_FEATURES

    return offers * (COUNT_FEATURES + LIFECYCLE_FEATURES) * FLOAT32_BYTES


def held_bytes(examples: Examples) -> tuple[int, float]:
    """(once, per example): what the examples hold to build their count inputs from. Once:
    the popularity tables; per example: its customer's sparse purchases, its day and its
    segment."""
    assert examples.purchases is not None and examples.popularity is not None
    popularity = examples.popularity
    once = [popularity.overall, popularity.by_segment, popularity.exposure]
    each = [
        part
        for matrix in examples.purchases.matrices.values()
        for part in (matrix.data, matrix.indices, matrix.indptr)
    ]
    each += [popularity.state, popularity.segment]
    if examples.lifecycle is not None:
        each.append(examples.lifecycle.day)
    return sum(a.nbytes for a in once), sum(a.nbytes for a in each) / len(examples)


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
        purchases=synthetic_purchases(rng, n),
        incidence=synthetic_incidence(np.random.default_rng(SEED), offers),
        popularity=synthetic_popularity(rng, n, offers),
        lifecycle=synthetic_lifecycle(rng, n, offers),
    )


def synthetic_lifecycle(rng: np.random.Generator, examples: int, offers: int) -> LifecycleCounts:
    """Offers listed 0..90 days before the examples' day with 0..60 days left, on 1..200
    items."""
    from recommender.ml.affinity import LifecycleCounts

    day = np.datetime64("2025-01-01", "D")
    return LifecycleCounts(
        day=np.full(examples, day),
        start=day - rng.integers(0, 91, size=offers).astype("timedelta64[D]"),
        end=day + rng.integers(0, 61, size=offers).astype("timedelta64[D]"),
        sizes=rng.integers(1, 201, size=offers).astype(np.float64),
    )


def synthetic_popularity(rng: np.random.Generator, examples: int, offers: int) -> PopularityCounts:
    """Redemption counts as they stood on each of DAYS days, per segment, each example on a
    random day in a random segment (as `Popularity.counts_before` gives them)."""
    from recommender.ml.affinity import PopularityCounts

    segments = CONTEXT_SIZES[-1]
    per_day = rng.poisson(0.5, size=(DAYS, segments, offers)).astype(np.float64)
    before = np.cumsum(per_day, axis=0) - per_day
    return PopularityCounts(
        overall=before.sum(axis=1),
        by_segment=before,
        exposure=np.broadcast_to(np.arange(DAYS, dtype=np.float64)[:, None], (DAYS, offers)),
        state=rng.integers(0, DAYS, size=examples),
        segment=rng.integers(0, segments, size=examples),
    )


def synthetic_incidence(rng: np.random.Generator, offers: int) -> OfferIncidence:
    """Each offer on 1..3 of PURCHASE_ITEMS items, in one of CATEGORIES categories."""
    from recommender.ml.affinity import incidence_build

    items = [f"I{i}" for i in range(PURCHASE_ITEMS)]
    category = {item: f"C{i % CATEGORIES}" for i, item in enumerate(items)}
    offer_items = [
        list(rng.choice(items, size=rng.integers(1, 4), replace=False)) for _ in range(offers)
    ]
    return incidence_build(
        items=items,
        offer_items=offer_items,
        offer_categories=[category[listed[0]] for listed in offer_items],
        item_categories=category,
    )


def synthetic_purchases(rng: np.random.Generator, examples: int) -> Purchases:
    """Each example's customer bought about MEAN_ITEMS_BOUGHT of PURCHASE_ITEMS items, 1 or
    more times each, at a random age: the plain count, then decayed by each half-life."""
    from scipy import sparse

    from recommender.ml.affinity import PURCHASE_MEASURES, Purchases
    from recommender.ml.spark_examples import PURCHASE_HALF_LIVES

    bought = rng.random((examples, PURCHASE_ITEMS)) < MEAN_ITEMS_BOUGHT / PURCHASE_ITEMS
    rows, columns = np.nonzero(bought)
    counts = 1 + np.floor(rng.standard_exponential(len(rows)) * MEAN_PURCHASES)
    age = rng.standard_exponential(len(rows)) * MEAN_PURCHASE_AGE_DAYS
    half_lives = (np.inf, *PURCHASE_HALF_LIVES)  # the plain count never halves
    return Purchases(
        [f"I{i}" for i in range(PURCHASE_ITEMS)],
        {
            measure: sparse.csr_matrix(
                (counts * 0.5 ** (age / half_life), (rows, columns)),
                shape=(examples, PURCHASE_ITEMS),
            )
            for measure, half_life in zip(PURCHASE_MEASURES, half_lives, strict=True)
        },
    )


def warm_up(vectors: np.ndarray, train: Examples) -> None:
    """A few steps on a throwaway model, so neither measured run pays the first-call costs."""
    from recommender.ml.affinity import COUNT_FEATURES

    model = new_model(vectors)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    history, context = torch.as_tensor(train.history), torch.as_tensor(train.context)
    affinity = torch.from_numpy(dense_counts(train, COUNT_FEATURES))
    target = torch.as_tensor(train.target)
    model.train()
    for i in range(0, min(20 * 256, len(train)), 256):
        rows = slice(i, i + 256)
        logits = model(history[rows], context[rows], affinity=affinity[rows])
        loss = nn.functional.cross_entropy(logits, target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def pipeline_epoch(
    vectors: np.ndarray, train: Examples, validation: Examples, processes: int = 1
) -> Measured:
    """One epoch of `model_train` as `recommender_train` calls it with TRAINING_PROCESSES
    `processes`."""
    return _one_epoch(
        new_model(vectors), train, validation, processes=processes, learning_rate=1e-3
    )


def ranker_epoch(offer_dim: int, train: Examples, validation: Examples) -> Measured:
    """One epoch of the count ranker as `ensemble_fit` trains it."""
    from recommender.ml.training import RANKER_TRAINING
    from recommender.ml.txt import CountRanker, ranker_config

    torch.manual_seed(SEED)
    ranker = CountRanker(ranker_config(txt_config(offer_dim)))
    ranker.standardize_on(train)
    return _one_epoch(ranker, train, validation, **RANKER_TRAINING)


def _one_epoch(
    model: nn.Module, train: Examples, validation: Examples, *, processes: int = 1, **options: Any
) -> Measured:
    from recommender.ml.distributed import model_train

    if processes == 1:
        options["device"] = "cpu"
    started = time.perf_counter()
    result = model_train(
        model,
        train=train,
        validation=validation,
        processes=processes,
        epochs=1,
        seed=SEED,
        **options,
    )
    call = time.perf_counter() - started
    epoch = result.epochs[0]
    return Measured(
        len(train),
        len(train) / result.samples_per_second,
        epoch.seconds,
        epoch.loss,
        start_seconds=call - epoch.seconds,
    )


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
    """One epoch of the same model in a plain loop on in-memory tensors, its count inputs
    built for every example before the clock starts and held dense."""
    from recommender.ml.affinity import COUNT_FEATURES

    model = new_model(vectors)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    history, context = torch.as_tensor(train.history), torch.as_tensor(train.context)
    affinity = torch.from_numpy(dense_counts(train, COUNT_FEATURES))
    target = torch.as_tensor(train.target)
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
    train: Examples,
    pipeline: Measured,
    bare: Measured,
    full: Measured | None,
    total: int,
) -> None:
    print()
    print(f"{'one epoch, ' + f'{pipeline.examples:,} examples':<44}{'s':>8}{'samples/s':>11}")
    pipeline_label = "pipeline model_train"
    if args.processes > 1:
        pipeline_label += f" ({args.processes} processes)"
    rows = [
        (f"{pipeline_label}, training loop", pipeline.train_seconds),
        (f"{pipeline_label}, with validation", pipeline.wall_seconds),
        (
            f"bare PyTorch loop ({args.threads} thread{'s' if args.threads > 1 else ''})",
            bare.train_seconds,
        ),
    ]
    for label, seconds in rows:
        print(f"{label:<44}{seconds:>8.1f}{pipeline.examples / seconds:>11,.0f}")
    print(
        f"overhead (time pipeline / bare): x{pipeline.train_seconds / bare.train_seconds:.2f} "
        f"training loop, x{pipeline.wall_seconds / bare.train_seconds:.2f} with validation; "
        f"epoch loss {pipeline.loss:.3f} / {bare.loss:.3f} (random targets; the pipeline "
        f"leaves out offers not valid on the date, the bare loop scores all {args.offers})"
    )
    if args.processes > 1:
        print(
            f"the {args.processes} processes' start and their result's return: "
            f"{pipeline.start_seconds:.1f} s, once a training run (not in the figures above)"
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
    report_affinity_memory(args, train, total)


def report_affinity_memory(args: argparse.Namespace, examples: Examples, total: int) -> None:
    from recommender.ml.affinity import COUNT_FEATURES, LIFECYCLE_FEATURES, PURCHASE_MEASURES

    def with_validation(per_example: float) -> str:
        validation = round(total * VALIDATION_SHARE)
        size = per_example * (total + validation)
        return f"{total:,} + {validation:,} validation examples: {_gigabytes(size)}"

    once, held = held_bytes(examples)
    print(
        f"\ncount inputs (purchase affinities, popularities and the offers' lifecycle, "
        f"[example, offer, feature] float32), built a batch at a time from what the examples "
        f"hold: {held:,.0f} B per example (sparse purchases of {MEAN_ITEMS_BOUGHT:.0f} items "
        f"x {len(PURCHASE_MEASURES)} measures, day, segment) and {_gigabytes(once)} once "
        f"(popularity tables over {DAYS} days); held dense they would take {args.offers} "
        f"offers x {COUNT_FEATURES + LIFECYCLE_FEATURES} features x {FLOAT32_BYTES} B = "
        f"{affinity_bytes_per_example(args.offers):,} B per example, growing with the offers:"
    )
    print(f"  {args.customers:,} customers, built per batch: {with_validation(held)}")
    print(
        f"  {args.customers:,} customers, held dense: "
        f"{with_validation(affinity_bytes_per_example(args.offers))}"
    )
    if args.offers != REAL_CHAIN_OFFERS:
        print(
            f"  held dense at the real chain's {REAL_CHAIN_OFFERS} offers: "
            f"{with_validation(affinity_bytes_per_example(REAL_CHAIN_OFFERS))}"
        )


if __name__ == "__main__":
    main()
