"""A run's parameters and result read as labelled fields, not as Python dicts."""

from typing import Any

import pytest
from django.test import Client

from deepflame_web.console.fields import run_fields
from deepflame_web.core.models import Run, RunKind, RunStatus
from deepflame_web.core.services import SCRATCH


def test_values_read_as_plain_text_and_scratch_paths_are_left_out() -> None:
    fields = run_fields(
        {
            "archive": "/srv/var/uploads/abc123/chain-2026-11.zip",
            SCRATCH: ["/srv/var/uploads/abc123"],
            "until": None,
            "refit": True,
            "k_values": [3, 4, 5],
            "holdout_share": 0.05,
            "customers": 1234567,
            "pipeline": {"step": 2, "runs": [7, 8, 9]},
        }
    )

    assert fields == [
        ("Archive", "chain-2026-11.zip"),
        ("Until", "—"),
        ("Refit", "yes"),
        ("K values", "3, 4, 5"),
        ("Holdout share", "0.05"),
        ("Customers", "1,234,567"),
        ("Pipeline", "Step: 2; Runs: 7, 8, 9"),
    ]


@pytest.mark.django_db
def test_the_run_page_shows_fields_not_dicts(admin_user: Any) -> None:
    run = Run.objects.create(
        kind=RunKind.SEGMENTATION,
        task_name="t",
        status=RunStatus.SUCCEEDED,
        parameters={"k": 4, "refit": False},
        result={"definition": 3, "customers": 2000},
    )
    client = Client()
    client.force_login(admin_user)

    html = client.get(f"/runs/{run.pk}/").content.decode()

    parameters = html.split('id="run-parameters"', 1)[1].split("</dl>", 1)[0]
    result = html.split('id="run-result"', 1)[1].split("</dl>", 1)[0]
    assert "<dt>K</dt><dd>4</dd><dt>Refit</dt><dd>no</dd>" in parameters
    assert "<dt>Customers</dt><dd>2,000</dd>" in result
    assert "{&#x27;" not in html and "{'" not in html
