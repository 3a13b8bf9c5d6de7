"""The serving benchmark's load generator, run in its own process by serving_bench.py: raw
HTTP/1.1 over asyncio streams (no client library), a token in every request.

- warm: rounds of 100 requests on 4 connections at once (so every worker gets some while
  another is busy loading its engine) until the round p50 settles;
- open: a fixed rate (open loop): request i is sent at start + i / rate whatever the earlier
  ones are doing, for --seconds;
- closed: --concurrency connections, each sending its next request as soon as its previous
  response is read, for --seconds;
- mixed: the open loop at --rate beside a second open loop posting feedback (impressions,
  clicks, redemptions) at --feedback-rate from --feedback-inputs, for --seconds; the decision
  ids of the recommendations answered and the event ids of the feedback accepted are written
  out, so the caller can count them in the database.

A request's latency runs from opening its connection and sending to the last byte of the
response read. gunicorn's sync worker closes the connection after each response, so every
request opens its own (on loopback the kernel completes the handshake without the worker).
Writes a JSON summary to --out.

    python benchmarks/_http_load.py --port 8123 --inputs load.json --mode open --rate 100 \
        --seconds 60 --out open.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PATH = "/api/v1/recommendations/"
TIMEOUT_S = 10.0
WARM_TIMEOUT_S = 180.0
WARM_ROUND = 100
WARM_CONCURRENCY = 4
WARM_MIN_ROUNDS = 5
WARM_MAX_ROUNDS = 40
WARM_SETTLED = 0.10
"""The last three round p50s lie within this share of their mean."""
ERROR_SAMPLES = 5


@dataclass
class Results:
    ok_status: int = 200
    latencies_ms: list[float] = field(default_factory=list)
    """Successful requests only (status `ok_status`)."""
    bodies: list[bytes] | None = None
    """The successful responses' bodies, when kept (mixed mode)."""
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    first_sent: float = 0.0
    last_done: float = 0.0

    def add(
        self, sent: float, done: float, status: int | None, problem: str, body: str, answer: bytes
    ) -> None:
        self.first_sent = sent if not self.first_sent else min(self.first_sent, sent)
        self.last_done = max(self.last_done, done)
        if status == self.ok_status and not problem:
            self.latencies_ms.append((done - sent) * 1000)
            if self.bodies is not None:
                self.bodies.append(answer)
            return
        self.errors += 1
        key = str(status) if status is not None else problem.split(":")[0]
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append({"status": status, "problem": problem, "request": body})

    def summary(self, elapsed: float) -> dict[str, Any]:
        ms = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {
            "ok": len(self.latencies_ms),
            "errors": self.errors,
            "error_kinds": self.statuses,
            "error_samples": self.samples,
            "elapsed_s": elapsed,
            "rps": len(self.latencies_ms) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": float(np.percentile(ms, 50)),
            "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }


class Client:
    def __init__(self, *, port: int, token: str, posts: list[tuple[str, dict[str, Any]]]):
        """`posts`: (path, JSON body) of each request, sent in turn."""
        self.port = port
        self.bodies = [json.dumps(body) for _, body in posts]
        self.raw = [
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
                "Accept: application/json\r\nConnection: close\r\n"
                f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
            ).encode()
            for (path, _), body in zip(posts, self.bodies, strict=True)
        ]

    async def one(self, index: int, results: Results, timeout: float = TIMEOUT_S) -> None:
        at = index % len(self.raw)
        sent = time.perf_counter()
        status: int | None = None
        problem, body = "", b""
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(self.raw[at])
                await writer.drain()
                status, body = await _response(reader)
                done = time.perf_counter()
                if status != results.ok_status:
                    problem = body[:300].decode(errors="replace")
        except Exception as exc:  # any failure is an error of the run, counted and sampled
            done = time.perf_counter()
            problem = f"{type(exc).__name__}: {exc}"
        if writer is not None:
            # The server closes first (its FIN follows the body): read to the end, so the
            # TIME_WAIT stays on the server's side, not on this side's ephemeral ports.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await reader.read()
            writer.close()
        results.add(sent, done, status, problem, self.bodies[at], body)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    status = int(status_line.split()[1])
    length, chunked = None, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return status, await reader.readexactly(length)
    if not chunked:
        return status, await reader.read()
    body = b""
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def open_loop(
    client: Client, *, rate: float, seconds: float, offset: int, results: Results | None = None
) -> dict:
    results = results or Results()
    loop = asyncio.get_running_loop()
    count = round(rate * seconds)
    start = loop.time() + 0.05
    lags = []
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append((loop.time() - due) * 1000)
        tasks.append(asyncio.create_task(client.one(offset + i, results)))
    await asyncio.gather(*tasks)
    summary = results.summary(results.last_done - results.first_sent)
    summary["send_lag_p99_ms"] = float(np.percentile(lags, 99))
    summary["send_lag_max_ms"] = float(max(lags))
    summary["target_rps"] = rate
    return summary


async def closed_loop(
    client: Client,
    *,
    concurrency: int,
    seconds: float | None,
    offset: int,
    count: int | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[dict, Results]:
    results = Results()
    next_index = offset
    started = time.perf_counter()
    end = started + seconds if seconds is not None else float("inf")
    issued = 0

    async def connection() -> None:
        nonlocal next_index, issued
        while time.perf_counter() < end and (count is None or issued < count):
            index, next_index, issued = next_index, next_index + 1, issued + 1
            await client.one(index, results, timeout)

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    summary = results.summary(time.perf_counter() - started)
    summary["concurrency"] = concurrency
    return summary, results


async def warm(client: Client, offset: int) -> dict:
    """Rounds until the p50 settles; the first round holds each worker's engine load."""
    p50s: list[float] = []
    slow_first = 0
    errors = 0
    rounds = 0
    for rounds in range(1, WARM_MAX_ROUNDS + 1):
        summary, results = await closed_loop(
            client,
            concurrency=WARM_CONCURRENCY,
            seconds=None,
            offset=offset + rounds * WARM_ROUND,
            count=WARM_ROUND,
            timeout=WARM_TIMEOUT_S,
        )
        errors += results.errors
        if rounds == 1:
            slow_first = sum(ms > 1000 for ms in results.latencies_ms)
        p50s.append(summary["p50_ms"])
        last = p50s[-3:]
        mean = sum(last) / len(last)
        if rounds >= WARM_MIN_ROUNDS and all(abs(p - mean) <= WARM_SETTLED * mean for p in last):
            break
    return {
        "rounds": rounds,
        "requests": rounds * WARM_ROUND,
        "p50s_ms": p50s,
        "slow_first_requests": slow_first,
        "errors": errors,
    }


async def mixed(
    client: Client, feedback: Client, *, rate: float, feedback_rate: float, seconds: float
) -> dict:
    """Recommendations and feedback, each in its own open loop, at once (no feedback at a
    feedback rate of 0)."""
    answered = Results(bodies=[])
    accepted = Results(ok_status=201, bodies=[])
    loops = [open_loop(client, rate=rate, seconds=seconds, offset=0, results=answered)]
    if feedback_rate > 0:
        loops.append(
            open_loop(feedback, rate=feedback_rate, seconds=seconds, offset=0, results=accepted)
        )
    recommendations, *others = await asyncio.gather(*loops)
    posted = others[0] if others else None
    return {
        "recommendations": recommendations,
        "feedback": posted,
        "decision_ids": [json.loads(b)["decision_id"] for b in answered.bodies or []],
        "event_ids": [json.loads(b)["event_id"] for b in accepted.bodies or []],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--mode", choices=["warm", "open", "closed", "mixed"], required=True)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--feedback-inputs", type=Path)
    parser.add_argument("--feedback-rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--offset", type=int, default=0, help="first request of the mix")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    inputs = json.loads(args.inputs.read_text())
    posts = [(PATH, body) for body in inputs["requests"]]
    client = Client(port=args.port, token=inputs["token"], posts=posts)
    if args.mode == "mixed":
        feedback = json.loads(args.feedback_inputs.read_text())
        feedback_posts = [(post["path"], post["body"]) for post in feedback["requests"]]
        summary = asyncio.run(
            mixed(
                client,
                Client(port=args.port, token=feedback["token"], posts=feedback_posts),
                rate=args.rate,
                feedback_rate=args.feedback_rate,
                seconds=args.seconds,
            )
        )
    elif args.mode == "warm":
        summary = asyncio.run(warm(client, args.offset))
    elif args.mode == "open":
        summary = asyncio.run(
            open_loop(client, rate=args.rate, seconds=args.seconds, offset=args.offset)
        )
    else:
        summary, _ = asyncio.run(
            closed_loop(
                client, concurrency=args.concurrency, seconds=args.seconds, offset=args.offset
            )
        )
    args.out.write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
