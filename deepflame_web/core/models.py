from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When


class RunKind(models.TextChoices):
    IMPORT = "import", "Import"
    SEGMENTATION = "segmentation", "Segmentation"
    TRAINING = "training", "Training"
    ASSIGNMENT = "assignment", "Assignment"
    PREVIEW = "preview", "Rule preview"
    SYSTEM_CHECK = "system_check", "System check"
    FEEDBACK_LANDING = "feedback_landing", "Feedback landing"


LAKE_WRITERS = (RunKind.IMPORT, RunKind.FEEDBACK_LANDING)
"""Kinds that append contract rows to the lake: one of them is active at a time, so none
decides which rows are new against a lake that another is changing."""


def run_kinds_excluding(kind: str) -> tuple[str, ...]:
    """The kinds of which no run may be active when a run of `kind` starts (its own too)."""
    return LAKE_WRITERS if kind in LAKE_WRITERS else (kind,)


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINAL_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(models.Model):
    """One long job (import, segmentation, training, assignment, preview) and its progress."""

    kind = models.CharField(max_length=32, choices=RunKind.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    stage = models.CharField(max_length=200, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    task_name = models.CharField(max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the run switched its active result: from then on it cannot be cancelled.",
    )
    worker = models.CharField(max_length=200, blank=True, default="")
    log_tail = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Case(
                    When(kind__in=LAKE_WRITERS, then=Value("lake_writer")),
                    default=F("kind"),
                    output_field=models.CharField(),
                ),
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_kind",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="run_progress_0_100"),
        ]
        indexes = [models.Index(fields=["kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_cancellable(self) -> bool:
        return self.is_active and self.committed_at is None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()


class LakeFile(models.Model):
    """The lake's manifest: a Parquet file is part of the lake only once its row commits.

    Files are written before the import's database transaction; readers list files from
    here, so a killed import leaves only invisible orphans (removed by the next import).
    """

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="lake_files")
    table = models.CharField(max_length=50)
    month = models.CharField(max_length=7)
    path = models.CharField(max_length=500, unique=True)
    rows = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "segments_lakefile"  # created by segments before the lake moved here
        ordering = ["table", "month", "path"]
        indexes = [models.Index(fields=["table", "month"], name="segments_la_table_180d40_idx")]

    def __str__(self) -> str:
        return self.path


class ApiToken(models.Model):
    """An API token for a machine client. Only its SHA-256 is kept, so a leaked database or
    admin page gives no usable token; `prefix` (the first characters) tells tokens apart."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=8)
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
