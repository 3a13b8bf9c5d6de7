"""Data-parallel recommender training through Spark's TorchDistributor: two processes on a
real local Spark session (local[2]), a tiny TxT on synthetic examples (no database rows).

With dropout 0, one seed and the same initial weights, two processes take the steps one
process takes (the same permutation, each global batch split in two, DDP averaging the
batch's mean gradient), so the losses agree up to floating-point rounding: summing in another
order changes the last digits, and Adam's normalized steps carry those differences into the
weights, which stay close but not bit-equal."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from django.core.exceptions import ImproperlyConfigured
from scipy import sparse

from deepflame_web.core.spark import spark_stop
from deepflame_web.settings.base import env_processes
from recommender.ml.distributed import (
    DistributedTrainResult,
    array_bytes,
    model_train,
    training_processes,
)
from recommender.ml.training_data import Examples
from recommender.ml.txt import EpochReport, TrainResult, TxT, TxTConfig, model_scores

pytestmark = pytest.mark.integration

OFFERS, ITEMS, LENGTH = 12, 30, 8
CONFIG = TxTConfig(
    items=ITEMS,
    offer_dim=8,
    context_sizes=[3, 4],
    history_length=LENGTH,
    d_model=16,
    heads=2,
    layers=1,
    dropout=0.0,
    item_match=False,
)


def synthetic_examples(rows: int, *, seed: int, random_target: bool = False) -> Examples:
    """The offer follows from the last event and the first context field (learnable), or is
    drawn at random (a validation set that gets worse as the model learns the rule)."""
    draw = np.random.default_rng(seed)
    history = draw.integers(1, ITEMS + 1, (rows, LENGTH))
    history[:, :2] = 0  # right-aligned: padding first
    context = np.stack([draw.integers(0, 3, rows), draw.integers(0, 4, rows)], axis=1)
    target = (history[:, -1] + context[:, 0]) % OFFERS
    if random_target:
        target = draw.integers(0, OFFERS, rows)
    valid = draw.random((rows, OFFERS)) > 0.1
    valid[np.arange(rows), target] = True
    return Examples(
        customer_id=np.arange(rows),
        at=np.full(rows, np.datetime64("2025-03-01T12:00")),
        history=history,
        history_at=np.full((rows, LENGTH), np.datetime64("NaT"), dtype="datetime64[m]"),
        context=context,
        target=target,
        valid=valid,
    )


def a_model() -> TxT:
    torch.manual_seed(0)
    return TxT(CONFIG, np.random.default_rng(3).normal(size=(OFFERS, 8)).astype(np.float32))


@pytest.fixture(scope="module")
def stop_spark_after() -> Iterator[None]:
    yield
    spark_stop()


@pytest.fixture(autouse=True)
def local_spark(settings: Any, stop_spark_after: None) -> None:
    settings.SPARK_MASTER = "local[2]"


def test_two_processes_take_the_steps_of_one_and_report_each_epoch(settings: Any) -> None:
    train, validation = synthetic_examples(512, seed=1), synthetic_examples(128, seed=2)
    options: dict[str, Any] = {"epochs": 4, "batch_size": 64, "patience": 10, "seed": 0}
    alone = a_model()
    initial = copy.deepcopy(alone.state_dict())
    settings.TRAINING_PROCESSES = 1
    single = model_train(alone, train=train, validation=validation, **options)
    model = a_model()
    heard: list[tuple[EpochReport, int]] = []

    settings.TRAINING_PROCESSES = 2
    result = model_train(
        model,
        train=train,
        validation=validation,
        on_epoch=lambda report: heard.append((report, threading.get_ident())),
        **options,
    )

    assert type(single) is TrainResult
    assert isinstance(result, DistributedTrainResult) and result.world_size == 2
    assert sorted(p["rank"] for p in result.processes) == [0, 1]
    assert {p["world_size"] for p in result.processes} == {2}
    assert len({p["pid"] for p in result.processes} | {os.getpid()}) == 3
    assert [p["rows"] for p in result.processes] == [256, 256]  # half of each epoch each
    assert {p["device"] for p in result.processes} == {"cpu"}
    # Every epoch heard once, in order, in the caller's thread.
    assert [report for report, _ in heard] == result.epochs
    assert [r.epoch for r in result.epochs] == [1, 2, 3, 4]
    assert {thread for _, thread in heard} == {threading.get_ident()}
    losses = [r.loss for r in result.epochs]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False))
    assert result.epochs[-1].validation_loss < result.epochs[0].validation_loss
    assert any(not torch.equal(model.state_dict()[k], initial[k]) for k in initial)
    scores = model_scores(model, validation)
    assert np.isfinite(scores[validation.valid]).all()
    assert np.isneginf(scores[~validation.valid]).all()
    # The same trajectory as one process, up to rounding.
    np.testing.assert_allclose(losses, [r.loss for r in single.epochs], rtol=1e-4)
    np.testing.assert_allclose(
        [r.validation_loss for r in result.epochs],
        [r.validation_loss for r in single.epochs],
        rtol=1e-4,
    )
    assert result.best_epoch == single.best_epoch == 4
    np.testing.assert_allclose(scores, model_scores(alone, validation), atol=0.05)


def test_process_zero_stops_both_early_on_one_barrier_task_each() -> None:
    """The cluster path (one barrier Spark task per process) on the local master; process 0
    decides the early stop and the others follow, and the best epoch's weights come back."""
    train = synthetic_examples(256, seed=3)
    validation = synthetic_examples(64, seed=4, random_target=True)
    options: dict[str, Any] = {
        "epochs": 12,
        "batch_size": 64,
        "patience": 1,
        "seed": 0,
        "learning_rate": 1e-2,
    }
    alone = a_model()
    single = model_train(alone, train=train, validation=validation, processes=1, **options)
    model = a_model()

    result = model_train(
        model, train=train, validation=validation, processes=2, local_mode=False, **options
    )

    assert isinstance(result, DistributedTrainResult) and result.world_size == 2
    assert len(result.epochs) == len(single.epochs) < 12
    assert result.best_epoch == single.best_epoch == len(result.epochs) - 1
    np.testing.assert_allclose(
        [r.validation_loss for r in result.epochs],
        [r.validation_loss for r in single.epochs],
        rtol=1e-3,
    )
    # The weights that came back are the best epoch's: they score its validation loss.
    scores = torch.as_tensor(model_scores(model, validation)).clamp(min=-1e9)
    loss = torch.nn.functional.cross_entropy(scores, torch.as_tensor(validation.target))
    assert float(loss) == pytest.approx(result.epochs[result.best_epoch - 1].validation_loss)


GIB = 1 << 30


@pytest.mark.parametrize(
    ("setting", "examples", "cores", "gpu", "copied", "free", "processes"),
    [
        ("auto", 1_700_000, 2, False, 2 * GIB, 16 * GIB, 2),  # 1M customers, 2 cores
        ("auto", 99_999, 2, False, 1, 16 * GIB, 1),  # the start would cost more than it saves
        ("auto", 1_700_000, 1, False, 2 * GIB, 16 * GIB, 1),
        ("auto", 1_700_000, 16, True, 2 * GIB, 16 * GIB, 1),  # one GPU: one process
        ("auto", 4_000_000, 2, False, 5 * GIB, 16 * GIB, 1),  # two copies would not fit
        (1, 1_700_000, 2, False, 2 * GIB, 16 * GIB, 1),
        (3, 10, 2, False, 5 * GIB, 1 * GIB, 3),  # a number is obeyed
    ],
)
def test_training_processes_auto_and_numbers(
    setting: int | str, examples: int, cores: int, gpu: bool, copied: int, free: int, processes: int
) -> None:
    chosen = training_processes(
        setting, examples=examples, cores=cores, gpu=gpu, copied_bytes=copied, free_bytes=free
    )
    assert chosen == processes


def test_array_bytes_counts_what_a_process_is_sent() -> None:
    examples = synthetic_examples(100, seed=1)
    purchases = sparse.csr_matrix(np.eye(100, 30, dtype=np.float32))
    plain = sum(
        getattr(examples, name).nbytes
        for name in ("customer_id", "at", "history", "history_at", "context", "target", "valid")
    )
    stored = purchases.data.nbytes + purchases.indices.nbytes + purchases.indptr.nbytes

    assert array_bytes(examples) == plain
    assert array_bytes((examples, {"bought": purchases}, [purchases])) == plain + 2 * stored


def test_auto_trains_a_small_run_in_this_process(settings: Any) -> None:
    settings.TRAINING_PROCESSES = "auto"
    train, validation = synthetic_examples(128, seed=1), synthetic_examples(32, seed=2)

    result = model_train(a_model(), train=train, validation=validation, epochs=1, seed=0)

    assert type(result) is TrainResult and result.epochs[0].epoch == 1


@pytest.mark.parametrize(("value", "parsed"), [("auto", "auto"), ("", "auto"), ("2", 2)])
def test_training_processes_setting_parses(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: int | str
) -> None:
    monkeypatch.setenv("TRAINING_PROCESSES", value)
    assert env_processes("TRAINING_PROCESSES") == parsed


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_training_processes_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRAINING_PROCESSES", value)
    with pytest.raises(ImproperlyConfigured, match=f"TRAINING_PROCESSES must be auto .*{value!r}"):
        env_processes("TRAINING_PROCESSES")
