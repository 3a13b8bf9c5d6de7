from django.db import models

from deepflame_web.core.constraints import one_active


class Customer(models.Model):
    """A known customer. `attributes` holds the chain's extra columns: shown, never a feature."""

    customer_id = models.CharField(max_length=100, unique=True)
    joined_at = models.DateField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["customer_id"]

    def __str__(self) -> str:
        return self.customer_id


class CustomerTotal(models.Model):
    """How many customers the chain has: one row, raised in the import transaction that adds
    them, so pages never count a million rows."""

    customers = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.customers} customers"


class SegmentDefinition(models.Model):
    """A frozen feature transform plus K-Means centroids: how customers are put in segments.

    Every segmentation run makes one; a run without refit copies the active definition's
    transform and centroids, so every period is assigned by the same frozen rule. Exactly one
    definition is active; the switch happens in the transaction that writes its results.
    """

    run = models.OneToOneField(
        "core.Run", on_delete=models.PROTECT, related_name="segment_definition"
    )
    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors"
    )
    refit = models.BooleanField(default=True, help_text="fitted anew, not copied")
    k = models.PositiveSmallIntegerField()
    lookback_months = models.PositiveSmallIntegerField(default=1)
    periods = models.JSONField(default=list)
    transform = models.JSONField(default=dict)
    centroids = models.JSONField(default=list, help_text="scaled space, one row per position")
    k_curve = models.JSONField(default=list, blank=True)
    fit_rows = models.PositiveIntegerField(default=0)
    refit_changed = models.PositiveIntegerField(
        null=True, blank=True, help_text="customer-periods moved by the refit alone"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [one_active("one_active_segment_definition")]

    def __str__(self) -> str:
        return f"Segmentation v{self.version}: {self.k} segments, {len(self.periods)} periods"


class Segment(models.Model):
    """One segment of a definition; `key` is its identity, carried across refits."""

    definition = models.ForeignKey(
        SegmentDefinition, on_delete=models.CASCADE, related_name="segments"
    )
    key = models.PositiveIntegerField(help_text="stable id across definitions")
    position = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="centroid row; empty for a vanished segment"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    is_new = models.BooleanField(default=False)
    is_vanished = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0, help_text="customer-periods")
    current_customers = models.PositiveIntegerField(
        default=0, help_text="customers whose latest period placed them here"
    )
    profile = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["definition", "key"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "key"], name="segment_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.key})"


class CustomerSegment(models.Model):
    """A customer's latest segment under one definition: the period they were last active in.

    Every customer-period's membership (with the features that placed it) is in the lake
    table `segment_memberships`; this is the one row per customer that pages and the
    assignment engine join on, written by COPY.
    """

    definition = models.ForeignKey(
        SegmentDefinition, on_delete=models.CASCADE, related_name="current", db_index=False
    )
    customer_id = models.CharField(max_length=100)
    period = models.CharField(max_length=7)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="current")
    distance = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "customer_id"], name="current_segment_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: segment {self.segment_id} ({self.period})"


class SegmentSize(models.Model):
    definition = models.ForeignKey(
        SegmentDefinition, on_delete=models.CASCADE, related_name="sizes"
    )
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    period = models.CharField(max_length=7)
    customers = models.PositiveIntegerField()
    means = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["period", "segment__key"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "period"], name="segment_size_once")
        ]

    def __str__(self) -> str:
        return f"segment {self.segment_id} in {self.period}: {self.customers}"


class SegmentFlow(models.Model):
    """Customers by segment in one period and in a later one, for every pair of periods.

    Written with the definition, so the movements page reads a few hundred rows instead of
    joining two months of memberships per request; an empty side means not active then.
    """

    definition = models.ForeignKey(
        SegmentDefinition, on_delete=models.CASCADE, related_name="flows"
    )
    period_from = models.CharField(max_length=7)
    period_to = models.CharField(max_length=7)
    from_segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customers = models.PositiveIntegerField()

    class Meta:
        ordering = ["period_from", "period_to", "from_segment__key", "to_segment__key"]
        indexes = [models.Index(fields=["definition", "period_from", "period_to"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_from__lt=models.F("period_to")),
                name="segment_flow_forward",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period_from} -> {self.period_to}: {self.customers}"
