import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")

app = Celery("deepflame_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic schedule of the product lives here.
app.conf.beat_schedule = {
    "fail-stale-runs": {"task": "deepflame_web.core.tasks.fail_stale_runs", "schedule": 60.0},
    # Feedback from the API into the lake (for the next training), then offer performance.
    "feedback-to-lake": {"task": "recommender.tasks.feedback_to_lake", "schedule": 300.0},
    "refresh-performance": {
        "task": "recommender.tasks.heavy_refresh_performance",
        "schedule": 900.0,
    },
}


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The embedded broker is a folder tree; kombu expects it to exist."""
    if str(sender.conf.broker_url).startswith("filesystem://"):
        options = sender.conf.broker_transport_options or {}
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)
