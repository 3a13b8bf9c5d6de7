from django.db import models

from deepflame_web.core.constraints import one_active


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
        constraints = [one_active("one_active_embedding_space")]

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
    scorer = models.CharField(
        max_length=60,
        default="TxT",
        help_text="the method of this training that serves: its champion (TxT, or a "
        "baseline when no neural model beat it on the holdout) or the one an Admin chose",
    )
    champion = models.CharField(
        max_length=60,
        blank=True,
        help_text="the method the champion rule chose to serve; the scorer differs when an "
        "Admin chose another method of the training (blank: recorded before this field)",
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [one_active("one_active_recommender")]

    def __str__(self) -> str:
        return f"{self.scorer} v{self.version}"

    @property
    def hr3(self) -> float | None:
        value = self.metrics.get("TxT", {}).get("HR@3")
        return float(value) if value is not None else None


class CatalogSnapshot(models.Model):
    """The offer catalog as the engine saw it (eligibility, value, tags, model vectors).

    Content-addressed: a decision points at the snapshot it was made with, so replaying it
    needs nothing that may have been edited since."""

    sha256 = models.CharField(max_length=64, unique=True)
    offers = models.JSONField(help_text="one object per offer, in offer id order")
    dayparts = models.JSONField(help_text="daypart name -> [start, end] minutes")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Catalog {self.sha256[:12]} ({len(self.offers)} offers)"


class ExclusionSheet(models.Model):
    """Offers that could not be given in one situation, each with the constraint that
    excluded it. Shared by every decision made in the same situation (content-addressed)."""

    sha256 = models.CharField(max_length=64, unique=True)
    excluded = models.JSONField(help_text="offer id -> reason")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Exclusions {self.sha256[:12]} ({len(self.excluded)} offers)"


class AssignmentBatch(models.Model):
    """Offers assigned to every customer by one run; one batch is active at a time. Each
    customer is decided for their usual daypart on `valid_from` (see assignment.batch)."""

    run = models.OneToOneField(
        "core.Run", on_delete=models.PROTECT, related_name="assignment_batch"
    )
    is_active = models.BooleanField(default=False)
    at = models.DateTimeField()
    holdout_share = models.FloatField()
    seed = models.PositiveIntegerField()
    valid_from = models.DateField(
        null=True, blank=True, help_text="the first day the offers are for"
    )
    valid_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="days the offers are valid; empty: until the next batch"
    )
    definition = models.ForeignKey(
        "segments.SegmentDefinition", on_delete=models.PROTECT, related_name="+"
    )
    rule_version = models.ForeignKey(
        "offers.RuleVersion", on_delete=models.PROTECT, related_name="+"
    )
    model = models.ForeignKey(RecommenderModel, on_delete=models.PROTECT, related_name="+")
    scorer = models.CharField(
        max_length=60, blank=True, help_text="the method of the model that scored (blank: older)"
    )
    catalog = models.ForeignKey(CatalogSnapshot, on_delete=models.PROTECT, related_name="+")
    customers = models.PositiveIntegerField(default=0)
    holdout_customers = models.PositiveIntegerField(default=0)
    assignments = models.PositiveIntegerField(default=0)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [one_active("one_active_assignment_batch")]

    def __str__(self) -> str:
        return f"Assignment batch #{self.pk} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def scored_by(self) -> str:
        return self.scorer or self.model.scorer


class DecisionSource(models.TextChoices):
    BATCH = "batch", "Batch"
    API = "api", "Real time"


class Decision(models.Model):
    """The receipt of one decision: everything that went in and what came out.

    Immutable: saving an existing receipt raises. `decision_replay` recomputes the outcome
    from the receipt's own inputs."""

    # Loose foreign keys (db_constraint=False) here, on Assignment and on CustomerState: the
    # ORM still applies each on_delete (PROTECT refuses, CASCADE deletes), but PostgreSQL no
    # longer checks every inserted row against each referenced table, one trigger per row and
    # key (eight per customer of a batch: 2.0 of the 4.3 s that PostgreSQL took to ingest
    # 50,000 customers' rows, docs/benchmarks.md). Only the batch writer and the real-time
    # receipt insert these rows, with ids they have just read or written; the tests of
    # tests/recommender/test_assignment_runs.py check that every key of their rows resolves.
    batch = models.ForeignKey(
        AssignmentBatch,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="decisions",
        db_constraint=False,
    )
    source = models.CharField(max_length=10, choices=DecisionSource.choices)
    customer_id = models.CharField(max_length=100, blank=True, default="")
    known_customer = models.BooleanField()
    at = models.DateTimeField()
    context = models.JSONField(help_text="store, tier, time zone, local time, daypart, ...")
    segment_key = models.PositiveIntegerField(null=True, blank=True)
    trajectory = models.JSONField(default=list, help_text="[[period, segment key], ...]")
    # No index on these: nothing looks decisions up by them, and each index costs every
    # real-time receipt and every batch row (a PROTECT check on a rare delete scans instead).
    rule_version = models.ForeignKey(
        "offers.RuleVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    model = models.ForeignKey(
        RecommenderModel,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    scorer = models.CharField(
        max_length=60,
        blank=True,
        help_text="the method of the model that scored (blank: recorded before this field, "
        "when a version's scorer could not change: the model's)",
    )
    catalog = models.ForeignKey(
        CatalogSnapshot,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    exclusions = models.ForeignKey(
        ExclusionSheet,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    history = models.JSONField(default=list, help_text="recent events, oldest first")
    purchases = models.JSONField(
        default=dict, help_text="item -> long-horizon purchases at the decision (PURCHASE_MEASURES)"
    )
    slots = models.JSONField(help_text="per slot: chosen, runners-up, fallback")
    holdout = models.BooleanField(default=False)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer_id", "at"])]

    def __str__(self) -> str:
        return f"Receipt #{self.pk} for {self.customer_id or 'a new customer'}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("A decision receipt is immutable once written.")
        super().save(*args, **kwargs)

    @property
    def scored_by(self) -> str:
        return self.scorer or self.model.scorer


class Assignment(models.Model):
    """One offer of one decision (what offer performance counts)."""

    decision = models.ForeignKey(  # loose: see Decision.batch
        Decision, on_delete=models.CASCADE, related_name="assignments", db_constraint=False
    )
    batch = models.ForeignKey(  # indexed first in (batch, segment_key, slot)
        AssignmentBatch,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    customer_id = models.CharField(max_length=100)
    offer_id = models.CharField(max_length=100)
    segment_key = models.PositiveIntegerField(null=True, blank=True)
    slot = models.PositiveSmallIntegerField()
    slot_label = models.CharField(max_length=100)
    score = models.FloatField()
    goal_value = models.FloatField()
    fallback = models.BooleanField(default=False)
    holdout = models.BooleanField(default=False)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["customer_id", "offer_id", "at"]),
            models.Index(fields=["batch", "segment_key", "slot"]),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} to {self.customer_id} (slot {self.slot})"


class CustomerState(models.Model):
    """What real-time serving knows of a customer, as of a batch: recent events (oldest
    first), where they usually order, their segment trajectory and long-horizon purchases."""

    batch = models.ForeignKey(  # indexed first in the unique (batch, customer_id); loose
        AssignmentBatch,
        on_delete=models.CASCADE,
        related_name="states",
        db_index=False,
        db_constraint=False,
    )
    customer_id = models.CharField(max_length=100)
    home_store = models.CharField(max_length=100, blank=True, default="")
    channel = models.CharField(max_length=50, blank=True, default="")
    history = models.JSONField(default=list)
    trajectory = models.JSONField(default=list)
    purchases = models.JSONField(
        default=dict, help_text="item -> long-horizon purchases as of the batch's instant"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "customer_id"], name="customer_state_once")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} as of batch {self.batch_id}"


class FeedbackKind(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    CLICK = "click", "Click"
    REDEMPTION = "redemption", "Redemption"


class FeedbackEvent(models.Model):
    """An impression, click or redemption, joined to the assignment it answers (if any).

    Idempotent by `event_id`: the same event sent twice is stored once."""

    event_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=FeedbackKind.choices)
    customer_id = models.CharField(max_length=100)
    offer_id = models.CharField(max_length=100)
    at = models.DateTimeField()
    order_id = models.CharField(max_length=100, blank=True, default="")
    store_id = models.CharField(max_length=100, blank=True, default="")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    in_lake = models.BooleanField(default=False, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}: {self.offer_id} by {self.customer_id}"


class OfferPerformance(models.Model):
    """How the assignments of one batch were answered, per segment, slot, offer, holdout,
    daypart and tier: what the performance dashboard reads, recomputed whole per batch.

    Counts are of assignments: `redemptions` is how many of them the customer redeemed in
    the batch's window (so redemptions / assignments is a rate), likewise clicks and
    impressions."""

    batch = models.ForeignKey(AssignmentBatch, on_delete=models.CASCADE, related_name="performance")
    segment_key = models.PositiveIntegerField(null=True, blank=True)
    slot = models.PositiveSmallIntegerField()
    slot_label = models.CharField(max_length=100)
    offer_id = models.CharField(max_length=100)
    holdout = models.BooleanField()
    daypart = models.CharField(max_length=100, blank=True, default="")
    tier = models.CharField(max_length=100, blank=True, default="")
    assignments = models.PositiveIntegerField()
    redemptions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    impressions = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["batch", "segment_key", "slot"])]

    def __str__(self) -> str:
        group = "holdout" if self.holdout else "treated"
        return f"batch {self.batch_id} slot {self.slot} {self.offer_id} ({group})"
