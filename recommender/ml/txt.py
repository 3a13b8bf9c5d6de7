"""TxT (Transformer Cross Transformer): the offer recommender, and its training loop.

A transformer over the customer's recent history and one over the context at the moment,
each mean-max pooled and projected, are joined by an element-wise product (the latent cross);
an MLP turns that into a query scored against every offer's frozen content embedding. Offers
are never a learned table, so an offer added after training is scored from its embedding, and
customers are never a table either: a customer is their history and context.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple, cast

import numpy as np
import torch
from torch import nn

from recommender.ml.affinity import LIFECYCLE_FEATURES
from recommender.ml.count_inputs import CountInputs, candidate_moments
from recommender.ml.evaluation import hit_rate

if TYPE_CHECKING:
    # Only a type here: this module stays importable without Django, so the processes that
    # torchrun starts for distributed training can unpickle a model (recommender.ml.distributed).
    from recommender.ml.training_data import Examples


@dataclass
class TxTConfig:
    items: int
    offer_dim: int
    context_sizes: list[int] = field(default_factory=list)
    history_length: int = 20
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    dropout: float = 0.1
    use_context: bool = True
    # The offer vectors end with one column per item the offer applies to (offer_features).
    item_match: bool = True
    # Count inputs per offer: purchase affinities and popularities (recommender.ml.affinity,
    # COUNT_FEATURES); 0: none.
    affinity_features: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _masked_mean_max(states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """[batch, 2d]: mean and max over the kept positions (at least one is kept per row)."""
    weights = keep.unsqueeze(-1).to(states.dtype)
    mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    top = states.masked_fill(~keep.unsqueeze(-1), -1e9).max(1).values
    return torch.cat([mean, top], dim=-1)


class Dropout(nn.Module):
    """nn.Dropout with its mask drawn by numpy on the CPU: torch's CPU Bernoulli sampling took
    a third of a training step (docs/benchmarks.md, "Training"). The same regularizer: each
    value kept with probability 1 - p (to 1/65,536) and scaled by 1 / (1 - p). The generator
    is seeded from torch's on the first training step, so torch.manual_seed still makes a run
    reproducible. Off a CPU, torch's own dropout."""

    LEVELS = 1 << 16

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.keep_below = round((1.0 - p) * self.LEVELS)
        self.draw: np.random.Generator | None = None

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return values
        if values.device.type != "cpu":
            return nn.functional.dropout(values, self.p, training=True)
        if self.draw is None:
            self.draw = np.random.default_rng(int(torch.randint(1 << 62, ()).item()))
        bits = np.frombuffer(self.draw.bytes(2 * values.numel()), np.uint16)
        keep = torch.from_numpy(bits.reshape(values.shape) < self.keep_below)
        # One float mask, scaled once: multiplying by the boolean and then the scale made
        # autograd convert the boolean and multiply twice each way (the same numbers).
        scaled = torch.empty(values.shape, dtype=values.dtype).copy_(keep)
        return values * scaled.mul_(1.0 / (1.0 - self.p))


class SelfAttention(nn.Module):
    """Multi-head self-attention on batch-first inputs, with nn.MultiheadAttention's
    parameters (names and shapes, so saved models load) and without its layout copies."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        """x [batch, length, d]; padding [batch, length], True where a position is ignored."""
        batch, length, d = x.shape
        width = d // self.heads
        qkv = nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias)
        # unbind, not a permute of all three: its backward stacks the gradients in qkv's own
        # layout instead of copying them back from a permuted one.
        q, k, v = (
            t.transpose(1, 2) for t in qkv.view(batch, length, 3, self.heads, width).unbind(2)
        )
        # Not torch's fused scaled_dot_product_attention: its CPU kernel's sums depend on the
        # batch, so a customer's scores would change with who else is decided in the same
        # batch, and it was no faster for one request.
        scores = (q * (1.0 / math.sqrt(width))) @ k.transpose(-2, -1)
        if padding is not None:
            scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
        attended = self.dropout(torch.softmax(scores, dim=-1)) @ v
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, d))


class EncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer as TxT configures it (pre-norm, ReLU, feed-forward 2 x d,
    batch first): the same parameters and outputs (a test compares them), without
    nn.MultiheadAttention's layout copies; with Dropout, training runs 1.5-1.6x faster on a
    2-core CPU (docs/benchmarks.md)."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.self_attn = SelfAttention(d_model, heads, dropout)
        self.linear1 = nn.Linear(d_model, 2 * d_model)
        self.linear2 = nn.Linear(2 * d_model, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        x = x + self.dropout1(self.self_attn(self.norm1(x), padding))
        hidden = self.dropout(torch.relu(self.linear1(self.norm2(x))))
        return x + self.dropout2(self.linear2(hidden))


class Encoder(nn.Module):
    def __init__(self, config: TxTConfig):
        super().__init__()
        # As nn.TransformerEncoder does, the layers start as copies of one layer: with the
        # same seed a model starts from the weights it started from with torch's encoder.
        layer = EncoderLayer(config.d_model, config.heads, config.dropout)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(config.layers))

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, padding)
        return x


class OfferTower(nn.Module):
    """Offer content embeddings projected into the model's space, plus a bias from content
    (how appealing offers like this one are), so a new offer needs nothing learned per offer."""

    def __init__(self, config: TxTConfig):
        super().__init__()
        self.project = nn.Sequential(
            nn.Linear(config.offer_dim, config.d_model),
            nn.GELU(),
            nn.Linear(config.d_model, config.d_model),
        )
        self.bias = nn.Linear(config.offer_dim, 1)

    def forward(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.project(vectors), self.bias(vectors).squeeze(-1)


class HistoryTokens(nn.Module):
    """History token ids to vectors: items from a learned table, offers from their frozen
    content embedding through a projection (token 0 is padding)."""

    def __init__(self, config: TxTConfig):
        super().__init__()
        self.offset = config.items + 1
        self.items = nn.Embedding(config.items + 1, config.d_model, padding_idx=0)
        self.offers = nn.Linear(config.offer_dim, config.d_model)

    def forward(self, history: torch.Tensor, offer_vectors: torch.Tensor) -> torch.Tensor:
        is_offer = history >= self.offset
        item_ids = torch.where(is_offer, torch.zeros_like(history), history)
        offer_ids = torch.where(is_offer, history - self.offset, torch.zeros_like(history))
        offers = self.offers(offer_vectors)[offer_ids]
        return torch.where(is_offer.unsqueeze(-1), offers, self.items(item_ids))


class AffinityHead(nn.Module):
    """The count inputs' part of an offer's score: a linear term and a small MLP over the
    features that any customer shares (more bought, more likely), plus weights per feature
    that the query sets, so the sequence and the context decide how much the long horizon counts (a
    customer whose recent orders broke with their habits leans on it less)."""

    def __init__(self, config: TxTConfig):
        super().__init__()
        width = config.affinity_features
        self.linear = nn.Linear(width, 1)
        self.shared = nn.Sequential(nn.Linear(width, 32), nn.GELU(), nn.Linear(32, 1))
        self.gate = nn.Linear(config.d_model, width)
        for layer in (self.linear, self.gate):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, affinity: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """[batch, offers] from affinity [batch, offers, features] and query [batch, d]."""
        shared = (self.linear(affinity) + self.shared(affinity)).squeeze(-1)
        return shared + (affinity * self.gate(query).unsqueeze(1)).sum(-1)


class TxT(nn.Module):
    def __init__(self, config: TxTConfig, offer_vectors: np.ndarray):
        super().__init__()
        self.config = config
        d = config.d_model
        self.register_buffer("offer_vectors", torch.as_tensor(offer_vectors, dtype=torch.float32))
        self.tokens = HistoryTokens(config)
        self.position = nn.Embedding(config.history_length + 1, d)
        self.start = nn.Parameter(torch.randn(d) * 0.02)
        self.history_encoder = Encoder(config)
        self.history_out = nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, d))
        if config.use_context:
            self.context_values = nn.ModuleList(nn.Embedding(n, d) for n in config.context_sizes)
            self.context_field = nn.Embedding(len(config.context_sizes), d)
            self.context_encoder = Encoder(config)
            self.context_out = nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, d))
        self.head = nn.Sequential(
            nn.Linear(d, 2 * d), nn.GELU(), Dropout(config.dropout), nn.Linear(2 * d, d)
        )
        self.offer_tower = OfferTower(config)
        if config.item_match:
            if config.offer_dim < config.items:
                raise ValueError("item_match needs one offer vector column per item")
            self.item_match_weight = nn.Parameter(torch.tensor(0.5))
        if config.affinity_features:
            self.affinity = AffinityHead(config)

    def encode(self, history: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """[batch, d]: the query vector of each example."""
        vectors = self.offer_vectors
        batch = history.shape[0]
        tokens = self.tokens(history, vectors)
        tokens = torch.cat([self.start.expand(batch, 1, -1), tokens], dim=1)
        tokens = tokens + self.position.weight.unsqueeze(0)
        keep = torch.cat([torch.ones_like(history[:, :1], dtype=torch.bool), history > 0], dim=1)
        states = self.history_encoder(tokens, ~keep)
        query = self.history_out(_masked_mean_max(states, keep))
        if self.config.use_context:
            fields = torch.stack(
                [table(context[:, i]) for i, table in enumerate(self.context_values)], dim=1
            )
            fields = fields + self.context_field.weight.unsqueeze(0)
            states = self.context_encoder(fields)
            all_kept = torch.ones(fields.shape[:2], dtype=torch.bool, device=fields.device)
            # The latent cross: the context scales each history feature around 1.
            query = query * (1.0 + self.context_out(_masked_mean_max(states, all_kept)))
        return self.head(query)

    def forward(
        self,
        history: torch.Tensor,
        context: torch.Tensor,
        offer_vectors: torch.Tensor | None = None,
        affinity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[batch, offers] logits; `offer_vectors` scores another catalog (new offers), and
        `affinity` [batch, offers, features] is the customer's long-horizon purchases against
        those offers (required when the model was built to read them)."""
        vectors = cast(torch.Tensor, self.offer_vectors if offer_vectors is None else offer_vectors)
        query = self.encode(history, context)
        offers, bias = self.offer_tower(vectors)
        logits = query @ offers.T / math.sqrt(self.config.d_model) + bias
        if self.config.item_match:
            logits = logits + self.item_match_weight * self.item_match(history, vectors)
        if self.config.affinity_features:
            if affinity is None:
                raise ValueError("this model reads the long-horizon purchases: pass affinity")
            # Wider inputs (an ensemble's, the offers' lifecycle after the counts) are not its.
            width = self.config.affinity_features
            logits = logits + self.affinity(affinity[..., :width], query)
        return logits

    def item_match(self, history: torch.Tensor, offer_vectors: torch.Tensor) -> torch.Tensor:
        """[batch, offers]: log(1 + how often the customer ordered items the offer applies
        to), a cross of history and offer that a dot product of pooled vectors blurs."""
        items = self.config.items
        dtype = offer_vectors.dtype
        ordered = torch.zeros(history.shape[0], items + 1, device=history.device, dtype=dtype)
        is_item = (history > 0) & (history <= items)
        ordered.scatter_add_(1, torch.where(is_item, history, 0), is_item.to(dtype))
        return torch.log1p(ordered[:, 1:] @ offer_vectors[:, -items:].T)


class CountRanker(nn.Module):
    """An offer's score from its count inputs alone: the customer's purchase affinities, the
    offer's popularities and its lifecycle (recommender.ml.affinity: LIFECYCLE_FEATURES),
    standardized on the training candidates, through a small MLP shared by every offer. Reads
    no sequence, context or content; a new offer scores from its items and dates."""

    HIDDEN = 32
    center: torch.Tensor
    scale: torch.Tensor

    def __init__(self, config: TxTConfig):
        super().__init__()
        self.config = config
        width = config.affinity_features
        self.register_buffer("center", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.mlp = nn.Sequential(
            nn.Linear(width, self.HIDDEN), nn.ReLU(), nn.Linear(self.HIDDEN, 1)
        )

    def standardize_on(self, examples: Examples) -> None:
        """Center and scale each input on the candidate cells of the training examples."""
        if not examples.valid.any():
            return
        center, spread = candidate_moments(
            examples.count_inputs(self.config.affinity_features), examples.valid
        )
        self.center.copy_(torch.as_tensor(center, dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(spread + 1e-6, dtype=torch.float32))

    def forward(
        self,
        history: torch.Tensor,
        context: torch.Tensor,
        offer_vectors: torch.Tensor | None = None,
        affinity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[batch, offers] logits from affinity [batch, offers, features]."""
        if affinity is None:
            raise ValueError("the count ranker reads the count inputs: pass affinity")
        return self.mlp((affinity - self.center) / self.scale).squeeze(-1)


def ranker_config(config: TxTConfig) -> TxTConfig:
    """The count ranker's config beside a TxT built with `config`: its counts, then the
    offers' lifecycle."""
    return replace(config, affinity_features=config.affinity_features + LIFECYCLE_FEATURES)


class TxTEnsemble(nn.Module):
    """TxT and a CountRanker trained apart, each offer scored by the mean of their
    log-probabilities over the offers scored (a geometric mean of the two models' beliefs,
    which the engine renormalizes over each context's candidates). Two models that read the
    customer differently err differently: on the real grocery history the mean ranked the
    redeemed coupon in the top 3 more often than either alone (docs/quality.md). `config` is
    the ranker's (TxT's count inputs, then the lifecycle); TxT reads the first columns."""

    def __init__(self, config: TxTConfig, offer_vectors: np.ndarray):
        super().__init__()
        self.config = config
        txt_width = config.affinity_features - LIFECYCLE_FEATURES
        self.txt = TxT(replace(config, affinity_features=txt_width), offer_vectors)
        self.ranker = CountRanker(config)

    @classmethod
    def of(cls, txt: TxT, ranker: CountRanker) -> TxTEnsemble:
        ensemble = cls(ranker.config, cast(torch.Tensor, txt.offer_vectors).numpy())
        ensemble.txt.load_state_dict(txt.state_dict())
        ensemble.ranker.load_state_dict(ranker.state_dict())
        return ensemble.eval()

    def forward(
        self,
        history: torch.Tensor,
        context: torch.Tensor,
        offer_vectors: torch.Tensor | None = None,
        affinity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        both = torch.log_softmax(
            self.txt(history, context, offer_vectors, affinity), dim=-1
        ) + torch.log_softmax(self.ranker(history, context, offer_vectors, affinity), dim=-1)
        return both / 2


class GRURecommender(nn.Module):
    """The sequence baseline: a GRU over the same history tokens, no context, scored against
    the same offer tower."""

    def __init__(self, config: TxTConfig, offer_vectors: np.ndarray):
        super().__init__()
        self.config = config
        d = config.d_model
        self.register_buffer("offer_vectors", torch.as_tensor(offer_vectors, dtype=torch.float32))
        self.tokens = HistoryTokens(config)
        self.start = nn.Parameter(torch.randn(d) * 0.02)
        self.gru = nn.GRU(d, d, batch_first=True)
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.offer_tower = OfferTower(config)

    def forward(
        self,
        history: torch.Tensor,
        context: torch.Tensor,
        offer_vectors: torch.Tensor | None = None,
        affinity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[batch, offers] logits from the sequence alone (`affinity` is not read)."""
        batch = history.shape[0]
        tokens = self.tokens(history, self.offer_vectors)
        tokens = torch.cat([self.start.expand(batch, 1, -1), tokens], dim=1)
        # Right-aligned histories: padding comes first, so the last state has read every event.
        tokens = tokens * torch.cat(
            [torch.ones_like(history[:, :1]), (history > 0).long()], dim=1
        ).unsqueeze(-1)
        _, last = self.gru(tokens)
        offers, bias = self.offer_tower(
            self.offer_vectors if offer_vectors is None else offer_vectors
        )
        return self.head(last[-1]) @ offers.T / math.sqrt(self.config.d_model) + bias


@dataclass
class EpochReport:
    epoch: int
    loss: float
    validation_loss: float
    validation_hr3: float
    seconds: float


@dataclass
class TrainResult:
    epochs: list[EpochReport]
    best_epoch: int
    samples_per_second: float


class ExampleTensors(NamedTuple):
    """The arrays training reads from Examples, as tensors (also built from plain arrays in a
    training process, which never sees Examples)."""

    history: torch.Tensor
    context: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor
    affinity: CountInputs
    """[example, offer, features]: the count inputs the model reads (purchase affinities,
    popularities, then the offers' lifecycle), a batch of rows built when indexed."""

    @property
    def rows(self) -> int:
        return int(self.target.shape[0])

    def to(self, device: torch.device) -> ExampleTensors:
        return ExampleTensors(
            self.history.to(device),
            self.context.to(device),
            self.target.to(device),
            self.valid.to(device),
            self.affinity.to(device),
        )


def count_width(model: nn.Module) -> int:
    """How many count inputs `model` reads (0: none)."""
    return int(getattr(getattr(model, "config", None), "affinity_features", 0))


def example_tensors(examples: Examples, *, width: int) -> ExampleTensors:
    """What a model reading `width` count inputs trains on and scores."""
    return ExampleTensors(
        torch.as_tensor(examples.history),
        torch.as_tensor(examples.context),
        torch.as_tensor(examples.target),
        torch.as_tensor(examples.valid),
        examples.count_inputs(width),
    )


def _held(data: ExampleTensors) -> ExampleTensors:
    """`data` with its count inputs built once, when they fit (read every epoch)."""
    return data._replace(affinity=data.affinity.held())


def training_device(device: str | torch.device | None = None) -> torch.device:
    """CPU by default, the GPU when there is one (`device` overrides)."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def _masked_scores(
    model: nn.Module,
    data: ExampleTensors,
    *,
    batch_size: int,
    offer_vectors: torch.Tensor | None = None,
) -> torch.Tensor:
    """[example, offer] logits on the CPU, computed where the model is, invalid offers -inf;
    `offer_vectors` scores another catalog than the model's own."""
    model.eval()
    device = next(model.parameters()).device
    vectors = offer_vectors.to(device) if offer_vectors is not None else None
    parts = [
        model(
            data.history[i : i + batch_size].to(device),
            data.context[i : i + batch_size].to(device),
            vectors,
            data.affinity[i : i + batch_size].to(device),
        ).cpu()
        for i in range(0, data.rows, batch_size)
    ]
    logits = torch.cat(parts) if parts else torch.zeros((0, data.valid.shape[1]))
    return logits.masked_fill(~data.valid.cpu(), -torch.inf)


def model_scores(
    model: nn.Module,
    examples: Examples,
    *,
    batch_size: int = 2048,
    offer_vectors: np.ndarray | None = None,
) -> np.ndarray:
    """[example, offer] logits, offers that are not candidates at -inf; `offer_vectors`
    (one row per column of `examples.valid`) scores another catalog than the model's own."""
    vectors = None if offer_vectors is None else torch.as_tensor(offer_vectors, dtype=torch.float32)
    data = example_tensors(examples, width=count_width(model))
    return _masked_scores(model, data, batch_size=batch_size, offer_vectors=vectors).numpy()


def _log_loss(scores: np.ndarray, target: np.ndarray) -> float:
    logits = torch.as_tensor(scores).clamp(min=-1e9)
    return float(nn.functional.cross_entropy(logits, torch.as_tensor(target)))


def _validate(model: nn.Module, validation: ExampleTensors) -> tuple[float, float]:
    """(validation loss, HR@3); the loss is 0 without validation examples."""

    scores = _masked_scores(model, validation, batch_size=2048).numpy()
    target = validation.target.cpu().numpy()
    hr3 = hit_rate(scores, target, k=3)
    return (_log_loss(scores, target) if validation.rows else 0.0), hr3


def _optimizer(model: nn.Module, *, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)


def _batch_loss(
    model: nn.Module, data: ExampleTensors, rows: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    """Softmax cross-entropy over the offers that exist at each example's date."""
    logits = model(
        data.history[rows], data.context[rows], affinity=data.affinity[rows]
    ).masked_fill(~data.valid[rows], -1e9)
    return nn.functional.cross_entropy(logits, data.target[rows], reduction=reduction)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


class _EarlyStop:
    """Keeps the best epoch's weights (by validation loss; every epoch is the best without
    validation examples) and says when `patience` epochs in a row did not improve."""

    def __init__(self, model: nn.Module, *, patience: int):
        self.best = np.inf
        self.state = copy.deepcopy(model.state_dict())
        self.waited = 0
        self.patience = patience

    def stop(self, model: nn.Module, *, validation_loss: float, validated: bool) -> bool:
        if validation_loss < self.best or not validated:
            self.best, self.state, self.waited = (
                validation_loss,
                copy.deepcopy(model.state_dict()),
                0,
            )
            return False
        self.waited += 1
        return self.waited >= self.patience


def _best_epoch(reports: list[EpochReport]) -> int:
    return min(reports, key=lambda r: (r.validation_loss, r.epoch)).epoch


def model_train(
    model: nn.Module,
    *,
    train: Examples,
    validation: Examples,
    epochs: int = 20,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-2,
    patience: int = 3,
    seed: int = 0,
    on_epoch: Callable[[EpochReport], None] | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Softmax cross-entropy over the offers that exist at each example's date, AdamW, early
    stop on the validation loss (steadier than HR@3 on a few hundred examples); the model is
    left on the CPU with its best epoch's weights. Trains on the GPU when there is one."""
    where = training_device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(where)
    optimizer = _optimizer(model, learning_rate=learning_rate, weight_decay=weight_decay)
    data = _held(example_tensors(train, width=count_width(model))).to(where)
    held_out = _held(example_tensors(validation, width=count_width(model)))
    reports: list[EpochReport] = []
    early, samples, busy = _EarlyStop(model, patience=patience), 0, 0.0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=generator).to(where)
        total = 0.0
        for i in range(0, len(train), batch_size):
            rows = order[i : i + batch_size]
            loss = _batch_loss(model, data, rows)
            _step(model, optimizer, loss)
            total += loss.item() * len(rows)
        samples += len(train)
        busy += time.perf_counter() - started
        validation_loss, hr3 = _validate(model, held_out)
        report = EpochReport(
            epoch, total / max(len(train), 1), validation_loss, hr3, time.perf_counter() - started
        )
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if early.stop(model, validation_loss=validation_loss, validated=bool(len(validation))):
            break
    model.load_state_dict(early.state)
    model.cpu()
    return TrainResult(reports, _best_epoch(reports), samples / busy if busy else 0.0)
