"""Data-parallel training of the recommender through Spark's TorchDistributor.

`model_train` (one entry for the worker) trains in this process when `TRAINING_PROCESSES` is 1
and with `model_train_distributed` when it is more (`auto`: `training_processes` chooses). That
one runs the processes with the TorchDistributor of the warm Spark session: torchrun processes
on this machine under a local master, one per barrier Spark task on a cluster.
DistributedDataParallel averages the gradients (gloo on the CPU, nccl on GPUs); the math is that
of `recommender.ml.txt.model_train`: every process draws the same permutation each epoch, each
global batch of `batch_size` rows is split across the processes, and the loss is weighted so the
averaged gradient is the batch's mean gradient, so the same steps are taken with the same
effective batch (equal to one process up to floating-point rounding when dropout is 0). Process
0 scores the validation examples, decides the early stop and sends the decision to the others;
it returns the best epoch's weights and the epoch reports as plain CPU data.

Progress: `on_epoch` cannot cross processes, so it is always called here, in the caller's
thread. When the Spark master is local (the training processes share this machine) process 0
appends each epoch's report to a file that is read while training runs, so the callback hears
each epoch as it ends; on a cluster the reports are replayed when training returns.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy import sparse
from torch import nn

from deepflame_web.core.spark import spark_session
from recommender.ml.count_inputs import CountInputs
from recommender.ml.txt import (
    EpochReport,
    ExampleTensors,
    TrainResult,
    _batch_loss,
    _best_epoch,
    _EarlyStop,
    _optimizer,
    _step,
    _validate,
    count_width,
    example_tensors,
)
from recommender.ml.txt import model_train as model_train_here

if TYPE_CHECKING:
    from recommender.ml.training_data import Examples

# How often the caller looks for new epoch reports while training runs.
POLL_SECONDS = 0.25


@dataclass
class DistributedTrainResult(TrainResult):
    """A TrainResult with what each process did: rank, world_size, pid, device, rows (examples
    it trained on in the last epoch)."""

    world_size: int = 1
    processes: list[dict[str, Any]] = field(default_factory=list)


def model_train(
    model: nn.Module,
    *,
    train: Examples,
    validation: Examples,
    processes: int | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    **options: Any,
) -> TrainResult:
    """Train in this process or in `processes` (default: settings.TRAINING_PROCESSES) through
    TorchDistributor; `options` are model_train's (epochs, batch_size, learning_rate, ...)."""
    from django.conf import settings

    count = training_processes(
        settings.TRAINING_PROCESSES if processes is None else processes,
        examples=len(train),
        cores=_cores(),
        gpu=torch.cuda.is_available(),
        copied_bytes=array_bytes((train, validation)),
        free_bytes=_free_memory(),
    )
    if count <= 1:
        return model_train_here(
            model, train=train, validation=validation, on_epoch=on_epoch, **options
        )
    return model_train_distributed(
        model,
        train=train,
        validation=validation,
        processes=count,
        on_epoch=on_epoch,
        **options,
    )


AUTO_MIN_EXAMPLES = 100_000
"""Training examples from which `auto` trains in two processes: below it, their start (about
10 s) costs more than they save."""


def training_processes(
    setting: int | str,
    *,
    examples: int,
    cores: int,
    gpu: bool,
    copied_bytes: int = 0,
    free_bytes: int | None = None,
) -> int:
    """TRAINING_PROCESSES as a count for a run on `examples` training examples, on a machine
    of `cores` CPU cores (and a GPU or not). `auto`: two processes of one thread on a CPU
    machine of two or more cores, from AUTO_MIN_EXAMPLES examples, when the two copies of
    the examples (`copied_bytes` each: every process holds them all) take at most half of the
    `free_bytes` of memory; else one. On a GPU one (a number uses more GPUs). On 2 cores two
    processes ran 1.9x the samples/s of one process's two threads with the worker's
    OMP_WAIT_POLICY=PASSIVE, as fast as two spinning threads on an idle machine
    (docs/benchmarks.md, "Two training processes on 2 cores")."""
    if setting != "auto":
        return int(setting)
    fits = free_bytes is None or 2 * copied_bytes <= free_bytes // 2
    return 2 if not gpu and cores >= 2 and examples >= AUTO_MIN_EXAMPLES and fits else 1


def array_bytes(value: object) -> int:
    """The bytes of the numpy arrays and sparse matrices in `value` (through dataclasses,
    dicts, lists and tuples): about what a training process receives a copy of."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if sparse.issparse(value):
        return sum(
            int(getattr(value, part).nbytes)
            for part in ("data", "indices", "indptr", "row", "col")
            if hasattr(value, part)
        )
    if is_dataclass(value) and not isinstance(value, type):
        return sum(array_bytes(getattr(value, f.name)) for f in fields(value))
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(array_bytes(v) for v in value)
    return 0


def _cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _free_memory() -> int | None:
    """The memory the machine can still give (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def model_train_distributed(
    model: nn.Module,
    *,
    train: Examples,
    validation: Examples,
    processes: int,
    epochs: int = 20,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-2,
    patience: int = 3,
    seed: int = 0,
    on_epoch: Callable[[EpochReport], None] | None = None,
    local_mode: bool | None = None,
) -> DistributedTrainResult:
    """model_train's loop in `processes` data-parallel processes; the model is left on the CPU
    with the best epoch's weights. `local_mode` (default: whether the Spark master is local)
    chooses torchrun processes on the driver or one barrier Spark task per process."""
    from pyspark.ml.torch.distributor import TorchDistributor

    spark = spark_session()
    here = _is_local_master(spark.sparkContext.master)
    local = here if local_mode is None else local_mode
    distributor = TorchDistributor(
        num_processes=processes, local_mode=local, use_gpu=_spark_schedules_gpus(spark, local)
    )
    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "patience": patience,
        "seed": seed,
    }
    model.cpu()
    heard = 0
    with (
        tempfile.TemporaryDirectory(prefix="deepflame-train-") as folder,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        progress = str(Path(folder) / "epochs.jsonl") if here else None
        job = pool.submit(
            distributor.run,
            _train_process,
            model,
            _arrays(train, width=count_width(model)),
            _arrays(validation, width=count_width(model)),
            options,
            progress,
        )
        try:
            while not job.done():
                wait([job], timeout=POLL_SECONDS)
                heard = _hear(progress, heard, on_epoch)
        finally:
            wait([job])
        output = job.result()
    if not isinstance(output, bytes) or not output:
        raise RuntimeError(f"Distributed training returned no result ({type(output).__name__}).")
    outcome = torch.load(io.BytesIO(output), weights_only=True)
    reports = [EpochReport(**report) for report in outcome["epochs"]]
    if on_epoch is not None:
        for report in reports[heard:]:
            on_epoch(report)
    model.load_state_dict(outcome["state_dict"])
    return DistributedTrainResult(
        epochs=reports,
        best_epoch=outcome["best_epoch"],
        samples_per_second=outcome["samples_per_second"],
        world_size=outcome["world_size"],
        processes=outcome["processes"],
    )


def _is_local_master(master: str) -> bool:
    """Spark's own rule (Utils.isLocalMaster): the driver runs the tasks itself."""
    return master == "local" or master.startswith("local[")


def _spark_schedules_gpus(spark: Any, local: bool) -> bool:
    """TorchDistributor's use_gpu: only where Spark hands out GPUs (the driver's in local mode,
    the tasks' on a cluster); it refuses use_gpu otherwise. Processes still train on a GPU they
    can see when Spark does not schedule them (a local master on a GPU machine)."""
    key = "spark.driver.resource.gpu.amount" if local else "spark.task.resource.gpu.amount"
    gpus = float(spark.conf.get(key, "0") or 0) >= 1
    return gpus and (torch.cuda.is_available() if local else True)


def _arrays(examples: Examples, *, width: int) -> tuple[np.ndarray | CountInputs, ...]:
    """What training reads, as plain arrays and the count inputs' parts: the processes never
    import Django."""
    data = example_tensors(examples, width=width)
    return (*(part.numpy() for part in data[:-1]), data.affinity.held())


def _tensors(parts: tuple[np.ndarray | CountInputs, ...]) -> ExampleTensors:
    history, context, target, valid, counts = parts
    assert isinstance(counts, CountInputs)
    return ExampleTensors(
        torch.as_tensor(history),
        torch.as_tensor(context),
        torch.as_tensor(target),
        torch.as_tensor(valid),
        counts,
    )


def _hear(progress: str | None, heard: int, on_epoch: Callable[[EpochReport], None] | None) -> int:
    """Calls on_epoch for the reports written since `heard`; returns how many are heard."""
    if progress is None or on_epoch is None or not os.path.exists(progress):
        return heard
    with open(progress, encoding="utf-8") as lines:
        written = [line for line in lines.read().split("\n")[:-1] if line]
    for line in written[heard:]:
        on_epoch(EpochReport(**json.loads(line)))
    return max(heard, len(written))


def _process_device(local_rank: int, local_world: int) -> tuple[torch.device, str]:
    """(device, backend): a GPU per process where there are enough (nccl), else the CPU (gloo);
    processes sharing a GPU fall back to gloo, which nccl does not allow."""
    if not torch.cuda.is_available():
        return torch.device("cpu"), "gloo"
    count = torch.cuda.device_count()
    device = torch.device("cuda", local_rank % count)
    torch.cuda.set_device(device)
    return device, "nccl" if local_world <= count else "gloo"


def _train_process(
    model: nn.Module,
    train: tuple[np.ndarray | CountInputs, ...],
    validation: tuple[np.ndarray | CountInputs, ...],
    options: dict[str, Any],
    progress: str | None,
) -> bytes:
    """One training process (run by torchrun, which sets RANK, WORLD_SIZE, LOCAL_RANK and the
    rendezvous). Every process returns the same bytes, the output of process 0: TorchDistributor
    writes each process's return value to the same file."""
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device, backend = _process_device(
        int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    )
    dist.init_process_group(backend)
    try:
        output = _train_ranks(
            model,
            train=_tensors(train),
            validation=_tensors(validation),
            rank=rank,
            world=world,
            device=device,
            progress=progress,
            **options,
        )
        box = [output]
        dist.broadcast_object_list(box, src=0)
        dist.barrier()  # no process leaves while another still reads from it
    finally:
        dist.destroy_process_group()
    return box[0]


def _train_ranks(
    model: nn.Module,
    *,
    train: ExampleTensors,
    validation: ExampleTensors,
    rank: int,
    world: int,
    device: torch.device,
    progress: str | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    patience: int,
    seed: int,
) -> bytes:
    """model_train's loop on this process's share of every batch; the result (process 0's)
    as torch.save bytes of plain data, b"" on the other processes."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed + rank)  # dropout differs per process, as it does per row
    model.to(device)
    # The only buffer (the offers' frozen embeddings) never changes: no need to sync it.
    parallel = DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=False,
    )
    optimizer = _optimizer(model, learning_rate=learning_rate, weight_decay=weight_decay)
    data = train.to(device)
    early = _EarlyStop(model, patience=patience) if rank == 0 else None
    reports: list[EpochReport] = []
    samples, busy, mine = 0, 0.0, 0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        parallel.train()
        order = torch.randperm(data.rows, generator=generator).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        mine = 0
        for i in range(0, data.rows, batch_size):
            rows = order[i : i + batch_size]
            share = rows[rank::world]
            if len(share):
                loss_sum = _batch_loss(parallel, data, share, reduction="sum")
            else:  # a last batch smaller than the processes: this one adds nothing
                loss_sum = _batch_loss(parallel, data, rows[:1], reduction="sum") * 0.0
            # DDP averages over processes: scaled so the result is the batch's mean gradient.
            _step(model, optimizer, loss_sum * (world / len(rows)))
            total += loss_sum.detach()
            mine += len(share)
        dist.all_reduce(total)
        samples += data.rows
        busy += time.perf_counter() - started
        stop = torch.zeros(1, dtype=torch.int64, device=device)
        if early is not None:
            validation_loss, hr3 = _validate(model, validation)
            report = EpochReport(
                epoch,
                float(total) / max(data.rows, 1),
                validation_loss,
                hr3,
                time.perf_counter() - started,
            )
            reports.append(report)
            if progress is not None:
                with open(progress, "a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(report)) + "\n")
            stop[0] = early.stop(
                model, validation_loss=validation_loss, validated=validation.rows > 0
            )
        dist.broadcast(stop, src=0)
        if stop.item():
            break
    described: list[dict[str, Any] | None] = [None] * world
    me = {"rank": rank, "world_size": world, "pid": os.getpid(), "device": str(device)}
    dist.all_gather_object(described, {**me, "rows": mine})
    if early is None:
        return b""
    buffer = io.BytesIO()
    torch.save(
        {
            "state_dict": {name: value.cpu() for name, value in early.state.items()},
            "epochs": [asdict(report) for report in reports],
            "best_epoch": _best_epoch(reports),
            "samples_per_second": samples / busy if busy else 0.0,
            "world_size": world,
            "processes": described,
        },
        buffer,
    )
    return buffer.getvalue()
