from django.db import models


class Customer(models.Model):
    """A known customer. `attributes` holds the chain's extra columns: shown, never a feature."""

    customer_id = models.CharField(max_length=100, unique=True)
    joined_at = models.DateField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["customer_id"]

    def __str__(self) -> str:
        return self.customer_id
