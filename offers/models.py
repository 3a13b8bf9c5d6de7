from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from offers.validators import validate_daypart_entries, validate_text_list


class Store(models.Model):
    store_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    pricing_tier = models.CharField(max_length=50, db_index=True)
    region = models.CharField(max_length=100, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["store_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.store_id})"


class Item(models.Model):
    item_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True, default="", db_index=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    unit_cost = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["item_id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="item_price_not_negative"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="item_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.item_id})"


class Daypart(models.Model):
    """A named window of the day in store local time; `end` before `start` wraps midnight."""

    name = models.SlugField(max_length=50, unique=True)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}-{self.end:%H:%M}"


class Offer(models.Model):
    offer_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField()
    image = models.CharField(max_length=300, blank=True, default="")
    image_sha256 = models.CharField(max_length=64, blank=True, default="")
    category = models.CharField(max_length=100, blank=True, default="", db_index=True)
    pricing_tiers = models.JSONField(default=list, blank=True, validators=[validate_text_list])
    dayparts = models.JSONField(default=list, blank=True, validators=[validate_daypart_entries])
    channels = models.JSONField(default=list, blank=True, validators=[validate_text_list])
    item_ids = models.JSONField(default=list, blank=True, validators=[validate_text_list])
    tags = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_text_list],
        help_text="marketer tags such as high_margin or win_back",
    )
    discount_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    revision = models.PositiveIntegerField(
        default=1,
        help_text="goes up by one on every change: a save naming an older one is refused",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    embedding_queued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when a re-embedding was queued that no worker has started yet",
    )

    class Meta:
        ordering = ["offer_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="offer_valid_to_after_from",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.offer_id})"


class OfferTag(models.TextChoices):
    """Tags a rule slot can filter on; `cross_category` is relative to the customer's segment."""

    HIGH_MARGIN = "high_margin", "High margin"
    CROSS_CATEGORY = "cross_category", "Cross-category"
    WIN_BACK = "win_back", "Win-back"


# The tags a marketer sets; cross-category is worked out per customer, never set by hand.
MARKETER_TAGS = (OfferTag.HIGH_MARGIN, OfferTag.WIN_BACK)


class RuleSet(models.Model):
    """The editable draft of the offer rules for one segment definition.

    The draft is one JSON document (validated by `offers.rules.document`), which keeps saves,
    versions and diffs plain. `revision` goes up by one on every save: a save that names an
    older revision is refused, so two marketers never overwrite each other silently.
    """

    definition = models.OneToOneField(
        "segments.SegmentDefinition", on_delete=models.CASCADE, related_name="rule_set"
    )
    document = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-definition__version"]

    def __str__(self) -> str:
        return f"Rules for segmentation #{self.definition_id} (revision {self.revision})"


class RuleVersion(models.Model):
    """An immutable published version; the highest number of a rule set is the one in force."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    note = models.TextField(blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restored_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft_revision = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule_set", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "number"], name="rule_version_number_once")
        ]

    def __str__(self) -> str:
        return f"Rules v{self.number}"


class AuditEntry(models.Model):
    """Who changed what and when, with the object before and after (JSON, None when absent)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=100)
    object_repr = models.CharField(max_length=300, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.action} {self.object_type} {self.object_id}"
