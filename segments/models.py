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


class LakeFile(models.Model):
    """The lake's manifest: a Parquet file is part of the lake only once its row commits.

    Files are written before the import's database transaction; readers list files from
    here, so a killed import leaves only invisible orphans (removed by the next import).
    """

    run = models.ForeignKey("core.Run", on_delete=models.PROTECT, related_name="lake_files")
    table = models.CharField(max_length=50)
    month = models.CharField(max_length=7)
    path = models.CharField(max_length=500, unique=True)
    rows = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["table", "month", "path"]
        indexes = [models.Index(fields=["table", "month"])]

    def __str__(self) -> str:
        return self.path
