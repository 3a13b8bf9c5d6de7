from django.db import models


class OfferEncoding(models.Model):
    """What the text and image encoders make of one version of an offer's content.

    Keyed by a hash of the content and the encoders, so an unchanged offer is never encoded
    twice and an edited one is encoded again.
    """

    offer = models.ForeignKey("offers.Offer", on_delete=models.CASCADE, related_name="encodings")
    content_sha256 = models.CharField(max_length=64)
    text = models.JSONField(default=list)
    image = models.JSONField(default=list, help_text="empty when the offer has no image")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offer", "content_sha256"], name="encoding_once")
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.content_sha256[:12]}"


class EmbeddingSpace(models.Model):
    """A frozen offer autoencoder and the encoders it was trained on; one is active."""

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    artifact = models.CharField(max_length=300, help_text="path under MODEL_DIR")
    text_encoder = models.JSONField(default=dict)
    image_encoder = models.JSONField(default=dict)
    dimensions = models.PositiveSmallIntegerField()
    offers = models.PositiveIntegerField(help_text="offers it was trained on")
    first_loss = models.FloatField()
    final_loss = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_embedding_space",
            )
        ]

    def __str__(self) -> str:
        return f"Offer embeddings v{self.version} ({self.dimensions}-d, {self.offers} offers)"


class OfferEmbedding(models.Model):
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="embeddings")
    offer = models.ForeignKey("offers.Offer", on_delete=models.CASCADE, related_name="embeddings")
    vector = models.JSONField()
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "offer"], name="offer_embedding_once")
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} in v{self.space_id}"


class RecommenderModel(models.Model):
    """One trained TxT with what it was trained on and how it scored; one is active (serves).

    A model is registered only after its files are complete, so a failed or killed training
    leaves nothing here and the active model keeps serving."""

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    artifact = models.CharField(max_length=300, help_text="folder under MODEL_DIR")
    run = models.ForeignKey(
        "core.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hyperparameters = models.JSONField(default=dict)
    data_window = models.JSONField(
        default=dict, help_text="first example, validation start, cutoff and end of holdout"
    )
    embedding_space = models.ForeignKey(
        EmbeddingSpace, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    encoders = models.JSONField(default=dict, help_text="text and image encoder of the space")
    metrics = models.JSONField(default=dict, help_text="method -> metrics on the holdout")
    examples = models.JSONField(default=dict, help_text="training, validation, holdout counts")
    cold_start = models.JSONField(default=dict)
    curves = models.JSONField(default=dict, help_text="method -> per-epoch losses")
    decision = models.TextField(blank=True, help_text="why it was or was not made active")
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_recommender",
            )
        ]

    def __str__(self) -> str:
        return f"TxT v{self.version}"

    @property
    def hr3(self) -> float | None:
        value = self.metrics.get("TxT", {}).get("HR@3")
        return float(value) if value is not None else None
