"""Real-time receipts written behind the response through a real Redis stream and drainer:
an answered receipt is readable at once, a drain repeated after a crash writes nothing twice,
a drainer killed -9 mid-stream loses nothing, and without Redis the request writes it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.test import Client

from deepflame_web.core.api_tokens import api_token_issue
from recommender.assignment import receipt_queue, serving
from recommender.models import Assignment, CustomerState, Decision
from tests.worker import ROOT, free_port, redis_server_start, worker_database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the receipt queue needs PostgreSQL"
    ),
]
AT = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def queue(settings: Any) -> Iterator[str]:
    """A Redis of this test's own as the receipt queue."""
    port = free_port()
    server = redis_server_start(port)
    settings.RECEIPT_QUEUE_URL = f"redis://127.0.0.1:{port}/0"
    yield settings.RECEIPT_QUEUE_URL
    server.kill()
    server.wait()


@pytest.fixture
def client(served: None) -> Client:
    call_command("assign_offers", at=AT, seed=1, stdout=StringIO())
    serving.serving_reset()
    user = User.objects.create_user("pos-terminal")
    user.groups.add(Group.objects.get_or_create(name="Analyst")[0])
    _, key = api_token_issue(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _ask(client: Client, customer_id: str | None = None) -> dict[str, Any]:
    state = CustomerState.objects.order_by("customer_id").first()
    assert state is not None
    body = {
        "customer_id": customer_id or state.customer_id,
        "store_id": state.home_store,
        "at": "2025-03-21T08:15:00+00:00",
        "channel": state.channel,
    }
    response = client.post("/api/v1/recommendations/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


def _queued(url: str) -> int:
    return int(redis.Redis.from_url(url).xlen(receipt_queue.STREAM))


def _offers_written(decision_id: int) -> list[str]:
    rows = Assignment.objects.filter(decision_id=decision_id).order_by("slot", "id")
    return list(rows.values_list("offer_id", flat=True))


def test_an_answered_receipt_is_queued_readable_at_once_and_written_once(
    queue: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = _ask(client)

    assert not Decision.objects.filter(pk=answer["decision_id"]).exists()
    assert _queued(queue) == 1
    receipt = client.get(f"/api/v1/receipts/{answer['decision_id']}/")
    assert receipt.status_code == 200
    assert [c["offer_id"] for s in receipt.json()["slots"] for c in s["chosen"]] == [
        o["offer_id"] for o in answer["offers"]
    ]
    assert _offers_written(answer["decision_id"]) == [o["offer_id"] for o in answer["offers"]]
    assert _queued(queue) == 0

    connection.close()  # a new connection prepares the customer's statement again
    again = _ask(client)
    assert again["customer"]["known"] is True
    assert again["customer"]["segment_key"] == answer["customer"]["segment_key"]
    receipt_queue.receipts_flush()
    more = [_ask(client, customer_id=f"walk-in-{n}") for n in range(3)]
    real = redis.Redis.from_url(queue)

    def crash_before_delete(*_: Any) -> None:
        raise redis.ConnectionError("the drainer died after its commit")

    monkeypatch.setattr(redis.Redis, "xdel", crash_before_delete)
    with pytest.raises(redis.ConnectionError):
        receipt_queue.receipts_drain()
    monkeypatch.undo()
    assert real.xlen(receipt_queue.STREAM) == 3
    out = StringIO()
    call_command("drain_receipts", once=True, stdout=out)

    assert "3 queued receipts written" in out.getvalue()
    for decision in [answer, *more]:
        assert _offers_written(decision["decision_id"]) == [
            o["offer_id"] for o in decision["offers"]
        ]
    assert Decision.objects.filter(source="api").count() == 5
    assert real.xlen(receipt_queue.STREAM) == 0


def test_feedback_on_a_queued_decision_joins_its_assignment(queue: str, client: Client) -> None:
    answer = _ask(client)
    offer = answer["offers"][0]["offer_id"]
    marketer = User.objects.create_user("integration-test")
    marketer.groups.add(Group.objects.get_or_create(name="Marketer")[0])
    _, key = api_token_issue(user=marketer)
    event = {
        "event_id": "impression-of-a-queued-decision",
        "customer_id": answer["customer"]["customer_id"],
        "offer_id": offer,
        "decision_id": answer["decision_id"],
        "kind": "impression",
        "at": "2025-03-21T08:16:00+00:00",
    }
    assert _queued(queue) == 1

    response = Client(HTTP_AUTHORIZATION=f"Token {key}").post(
        "/api/v1/events/", event, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["assignment"]["decision_id"] == answer["decision_id"]
    assert _queued(queue) == 0


def test_without_redis_the_request_writes_its_receipt(settings: Any, client: Client) -> None:
    settings.RECEIPT_QUEUE_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens

    answer = _ask(client)

    assert _offers_written(answer["decision_id"]) == [o["offer_id"] for o in answer["offers"]]


def _drainer(log: Path, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deepflame_web.settings.test",
        "DATABASE_URL": worker_database_url(),
        "RECEIPT_QUEUE_URL": url,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "drain_receipts"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_drainer_killed_mid_stream_loses_no_receipt_and_writes_none_twice(
    queue: str, client: Client, tmp_path: Path
) -> None:
    answer = _ask(client)
    real = redis.Redis.from_url(queue)
    read: Any = real.xread({receipt_queue.STREAM: "0-0"})
    entry = json.loads(read[0][1][0][1][b"receipt"])
    ids = [answer["decision_id"]]
    for _ in range(3000):
        entry["id"] = receipt_queue.decision_id_reserve()
        ids.append(entry["id"])
        real.xadd(receipt_queue.STREAM, {"receipt": json.dumps(entry)})
    picks = len(answer["offers"])

    first = _drainer(tmp_path / "drainer.log", queue)
    deadline = time.monotonic() + 60
    while not Decision.objects.filter(pk__in=ids).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    left = real.xlen(receipt_queue.STREAM)
    assert 0 < left < len(ids), "the kill should land mid-stream"
    second = _drainer(tmp_path / "drainer.log", queue)
    deadline = time.monotonic() + 60
    while real.xlen(receipt_queue.STREAM) and time.monotonic() < deadline:
        time.sleep(0.1)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0, (tmp_path / "drainer.log").read_text()

    assert Decision.objects.filter(pk__in=ids).count() == len(ids)
    assert Assignment.objects.filter(decision_id__in=ids).count() == len(ids) * picks
    assert "Stopped:" in (tmp_path / "drainer.log").read_text()
