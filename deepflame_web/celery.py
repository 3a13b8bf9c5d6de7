import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings")

app = Celery("deepflame_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic schedule of the product lives here.
app.conf.beat_schedule = {
    "fail-stale-runs": {"task": "deepflame_web.core.tasks.fail_stale_runs", "schedule": 60.0},
}
