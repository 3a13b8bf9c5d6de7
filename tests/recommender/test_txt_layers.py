"""TxT's own transformer layers and dropout: the outputs of torch's encoder from the same
weights (so models saved before them load and score the same), and dropout that drops what
it says, reproducibly under a torch seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from recommender.ml.txt import Dropout, Encoder, TxTConfig

CONFIG = TxTConfig(items=5, offer_dim=8, d_model=16, heads=4, layers=2, dropout=0.3)


def torch_encoder(config: TxTConfig) -> nn.TransformerEncoder:
    """The encoder TxT was built from before its own layers (models saved then hold its
    parameters)."""
    layer = nn.TransformerEncoderLayer(
        d_model=config.d_model,
        nhead=config.heads,
        dim_feedforward=config.d_model * 2,
        dropout=config.dropout,
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)


@pytest.mark.parametrize("training", [False, True])
def test_the_encoder_computes_as_torchs_from_the_same_saved_weights(training: bool) -> None:
    """Scoring (eval) and training (with dropout 0, so that both sides compute the same
    thing) alike."""
    config = dataclasses.replace(CONFIG, dropout=0.0 if training else 0.3)
    torch.manual_seed(0)
    saved = torch_encoder(config)
    for parameter in saved.parameters():  # torch's layers start as copies of one another
        nn.init.normal_(parameter, std=0.3)
    ours = Encoder(config)
    ours.load_state_dict(saved.state_dict(), strict=True)
    tokens = torch.randn(6, 9, config.d_model)
    padding = torch.zeros(6, 9, dtype=torch.bool)
    padding[1, :4] = True  # padded histories are right-aligned
    padding[2, :8] = True
    saved.train(training), ours.train(training)

    with torch.no_grad():
        expected = saved(tokens, src_key_padding_mask=padding)
        got = ours(tokens, padding)
        unpadded = ours(tokens)

    kept = ~padding
    torch.testing.assert_close(got[kept], expected[kept], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(unpadded[0], got[0])  # row 0 has no padding
    assert not torch.allclose(unpadded[2, 8], got[2, 8])  # padding changes what is read


def test_a_seed_starts_the_encoder_from_the_weights_torchs_started_from() -> None:
    torch.manual_seed(5)
    saved = torch_encoder(CONFIG)
    torch.manual_seed(5)
    ours = Encoder(CONFIG)

    expected = saved.state_dict()
    for name, value in ours.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)


def test_dropout_drops_p_of_the_values_keeps_the_mean_and_follows_the_torch_seed() -> None:
    dropout = Dropout(0.3)
    values = torch.ones(400, 2500)

    def masked(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        fresh = Dropout(0.3).train()
        return fresh(values)

    out = dropout.train()(values)
    dropped = float((out == 0).float().mean())
    assert abs(dropped - 0.3) < 0.003  # 1M draws: the standard error is 0.0005
    np.testing.assert_allclose(float(out.mean()), 1.0, atol=0.005)
    np.testing.assert_allclose(torch.unique(out).numpy(), [0.0, 1.0 / 0.7], rtol=1e-6)
    assert torch.equal(masked(7), masked(7))
    assert not torch.equal(masked(7), masked(8))
    assert dropout.eval()(values) is values


def test_dropout_passes_gradients_through_the_kept_values_only() -> None:
    torch.manual_seed(0)
    values = torch.randn(50, 40, requires_grad=True)
    out = Dropout(0.5).train()(values)
    out.sum().backward()
    assert values.grad is not None
    kept = out != 0
    torch.testing.assert_close(values.grad[kept], torch.full_like(values.grad[kept], 2.0))
    assert torch.count_nonzero(values.grad[~kept]) == 0
