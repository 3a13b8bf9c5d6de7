"""The serving benchmark's floor: a WSGI application that reads each request's body and
answers 200 with a fixed JSON body the size of a real answer, without Django, the engine or
the database. serving_bench.py serves it with the same gunicorn settings and load as the
real endpoint, so the difference between the two is what the product's request costs, and
this one's figures are what HTTP over loopback, gunicorn and the load generator cost on the
machine by themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

ANSWER_BYTES = 2_400
"""About a real answer's size (three offers with their runners-up, segment and context)."""

_ANSWER = json.dumps({"decision_id": 0, "padding": "x" * (ANSWER_BYTES - 32)}).encode()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_ANSWER)))]
    )
    return [_ANSWER]
