"""The offer autoencoder: text and image features joined and compressed into one embedding.

Trained on the catalog (tens to thousands of offers) in seconds. Its encoder is frozen with
the embedding space, so an offer added later gets its embedding from the same encoder,
without retraining anything downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

HIDDEN = 256
EPOCHS = 400
LEARNING_RATE = 3e-3
SEED = 7


class OfferAutoencoder(nn.Module):
    center: torch.Tensor
    scale: torch.Tensor

    def __init__(self, text_dim: int, image_dim: int, embedding_dim: int):
        super().__init__()
        inputs = text_dim + image_dim
        self.text_dim, self.image_dim = text_dim, image_dim
        self.encoder = nn.Sequential(
            nn.Linear(inputs, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, embedding_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(embedding_dim, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, inputs)
        )
        # Standardization of the joined input, fitted on the catalog and frozen with it.
        self.register_buffer("center", torch.zeros(inputs))
        self.register_buffer("scale", torch.ones(inputs))

    def forward(self, joined: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder((joined - self.center) / self.scale)
        return code, self.decoder(code)


@dataclass(frozen=True)
class Trained:
    model: OfferAutoencoder
    first_loss: float
    final_loss: float


def joined_features(text: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Text and image features side by side; each block has unit norm, so neither the
    1280-d image nor the 384-d text dominates by size alone."""
    return np.concatenate([text, image], axis=1).astype(np.float32)


def autoencoder_train(
    text: np.ndarray, image: np.ndarray, *, embedding_dim: int, epochs: int = EPOCHS
) -> Trained:
    """Fit on the whole catalog (full batch): reconstruction error of the standardized input."""
    torch.manual_seed(SEED)
    joined = torch.from_numpy(joined_features(text, image))
    model = OfferAutoencoder(text.shape[1], image.shape[1], embedding_dim)
    model.center.copy_(joined.mean(dim=0))
    if len(joined) > 1:
        model.scale.copy_(joined.std(dim=0).clamp(min=1e-3))
    target = (joined - model.center) / model.scale
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        _, reconstruction = model(joined)
        loss = nn.functional.mse_loss(reconstruction, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return Trained(model, losses[0], losses[-1])


@torch.no_grad()
def offer_embeddings(model: OfferAutoencoder, text: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Unit-length offer embeddings from the frozen encoder."""
    code, _ = model(torch.from_numpy(joined_features(text, image)))
    return nn.functional.normalize(code, dim=1).numpy().astype(np.float32)


def autoencoder_save(model: OfferAutoencoder, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dims = {"text_dim": model.text_dim, "image_dim": model.image_dim}
    embedding_dim = model.encoder[-1].out_features
    torch.save({"state": model.state_dict(), **dims, "embedding_dim": embedding_dim}, path)


def autoencoder_load(path: Path) -> OfferAutoencoder:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = OfferAutoencoder(saved["text_dim"], saved["image_dim"], saved["embedding_dim"])
    model.load_state_dict(saved["state"])
    return model.eval()
