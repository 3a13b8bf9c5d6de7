from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


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
    pricing_tiers = models.JSONField(default=list, blank=True)
    dayparts = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    item_ids = models.JSONField(default=list, blank=True)
    discount_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

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
