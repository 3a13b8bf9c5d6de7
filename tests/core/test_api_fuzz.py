"""Property-based fuzzing of the whole API against its own OpenAPI schema (issue 15).

Schemathesis generates requests for every operation in `/api/v1/schema/` and sends them to
Django's WSGI application in this process, once as an Admin (with a token) and once
anonymously. Whatever it sends, the API must never answer with a server error (a 503 that
an operation documents, "nothing can be served yet", aside), what it answers to a valid
request must match the schema, and an anonymous caller gets nothing but the public
operations. Generation is derandomized, so the same cases run on every machine.
"""

import datetime as dt
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import got_request_exception
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deepflame_web.core.api_tokens import api_token_issue
from deepflame_web.core.authentication import token_cache_clear
from deepflame_web.core.models import Run, RunKind, RunStatus
from tests.recommender.assignment_data import decision_create, world_create

pytestmark = pytest.mark.django_db(transaction=True)

# Per operation and generation mode; 31 operations, so the Admin run alone sends over 1,000.
ADMIN_EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
ANONYMOUS_EXAMPLES = 6
# Anyone may call these without signing in; they get more cases in the anonymous run.
PUBLIC_OPERATIONS = {"POST /api/v1/auth/token/"}
PUBLIC_EXAMPLES = 60
# What a valid request's answer is checked for, besides not being a server error.
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def not_a_server_error(operation: Any, response: Any) -> str | None:
    """A 5xx, unless the operation documents it (503 while nothing can be served yet)."""
    code = response.status_code
    if code >= 500 and str(code) not in operation.definition.raw.get("responses", {}):
        return f"server error {code}"
    return None


@pytest.fixture
def world(transactional_db: None) -> dict[str, list[Any]]:
    """Something behind the ids the fuzzer tries: offers, a segmentation, rules with a
    published version, a model, a receipt and a failed run; the path values that find them
    (four in five valid cases use one)."""
    world = world_create()
    decision = decision_create(
        world, "C1", ["O1", "O2"], at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    )
    run = Run.objects.create(
        kind=RunKind.TRAINING,
        status=RunStatus.FAILED,
        task_name="t",
        error='Traceback (most recent call last):\n  File "/srv/var/uploads/x.csv"',
    )
    return {
        "id": [world.rule_version.rule_set_id, decision.pk, run.pk],
        "offer_id": ["O1", "O2"],
        "number": [world.rule_version.number],
        "customer_id": ["C1"],
    }


# `no_enqueue` in both tests: a preview the fuzzer starts is a run row, never a message left
# on the broker for a later test's worker.


@pytest.fixture
def app() -> Any:
    return get_wsgi_application()


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """The traceback of every exception a view let through, as Django reports it."""
    caught: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        caught.append(f"{request.method} {request.path}\n{traceback.format_exc()}")

    got_request_exception.connect(record)
    yield caught
    got_request_exception.disconnect(record)


@pytest.fixture
def fresh_caches() -> None:
    cache.clear()
    token_cache_clear()


def _log(label: str, mode: GenerationMode, response: Any, case: Any) -> None:
    """One line per case to the file in FUZZ_LOG, to see what the fuzzer reached."""
    if path := os.environ.get("FUZZ_LOG"):
        with open(path, "a") as log:
            log.write(f"{label} {mode.value} {response.status_code} {case.as_curl_command()}\n")


def _schema(app: Any, headers: dict[str, str]) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app, headers=headers)


@dataclass
class Fuzzing:
    """One run over the schema: who calls, the path values that find real rows, and what it
    sent and found."""

    headers: dict[str, str]
    known: dict[str, list[Any]]
    # When set, the only operations that may answer below 400 (an anonymous caller).
    only: set[str] | None = None
    sent: int = 0
    problems: dict[str, str] = field(default_factory=dict)

    def operation(self, operation: Any, mode: GenerationMode, count: int) -> None:
        """Send `count` generated cases of one operation."""

        @hypothesis.settings(
            max_examples=count,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def send(case: Any, data: Any) -> None:
            if mode is GenerationMode.POSITIVE:
                for name in case.path_parameters or {}:
                    if name in self.known and data.draw(st.integers(0, 4)) > 0:
                        case.path_parameters[name] = data.draw(st.sampled_from(self.known[name]))
            self.case(operation, mode, case)

        try:
            send()
        except hypothesis.errors.Unsatisfiable:
            # An operation without parameters or body has nothing to make invalid.
            if mode is not GenerationMode.NEGATIVE:
                raise

    def case(self, operation: Any, mode: GenerationMode, case: Any) -> None:
        self.sent += 1
        label = f"{operation.method.upper()} {operation.path}"
        response = case.call(headers=self.headers)
        _log(label, mode, response, case)
        error = not_a_server_error(operation, response)
        if self.only is not None and label not in self.only and response.status_code < 400:
            error = f"answered {response.status_code} to an anonymous caller"
        if error is None and mode is GenerationMode.POSITIVE and response.status_code < 300:
            try:
                case.validate_response(response, checks=SCHEMA_CHECKS, headers=self.headers)
            except schemathesis.errors.FailureGroup as group:
                error = "; ".join(f"{f.title}: {f.message}" for f in group.exceptions)
            except AssertionError as exc:
                error = str(exc).splitlines()[0]
        if error is not None:
            self.problems.setdefault(f"{label} [{mode.value}]: {error}", case.as_curl_command())


def _fuzz(
    schema: Any,
    *,
    headers: dict[str, str],
    known: dict[str, list[Any]],
    examples: Callable[[str, GenerationMode], int],
    modes: list[GenerationMode],
    only: set[str] | None = None,
) -> tuple[int, dict[str, str]]:
    """Send every operation's generated cases; how many were sent, and what went wrong."""
    fuzzing = Fuzzing(headers=headers, known=known, only=only)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            count = examples(f"{operation.method.upper()} {operation.path}", mode)
            if count:
                fuzzing.operation(operation, mode, count)
    return fuzzing.sent, fuzzing.problems


def _report(problems: dict[str, str]) -> str:
    return "\n".join(f"{problem}\n    {curl}" for problem, curl in problems.items())


def _assert_none(server_errors: list[str], problems: dict[str, str]) -> None:
    """Every server error's traceback and every problem at once, in full."""
    if server_errors or problems:
        pytest.fail("\n".join([*dict.fromkeys(server_errors), _report(problems)]), pytrace=False)


def test_admin_requests_never_fail_on_the_server(
    app: Any,
    admin_user: Any,
    world: dict[str, list[Any]],
    server_errors: list[str],
    fresh_caches: None,
    no_enqueue: list[int],
) -> None:
    _, key = api_token_issue(user=admin_user)
    headers = {"Authorization": f"Token {key}"}
    schema = _schema(app, headers)

    sent, problems = _fuzz(
        schema,
        headers=headers,
        known=world,
        examples=lambda label, mode: ADMIN_EXAMPLES[mode],
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    )

    assert sent >= 1_000
    _assert_none(server_errors, problems)


def test_anonymous_requests_never_fail_on_the_server(
    app: Any,
    admin_user: Any,
    world: dict[str, list[Any]],
    server_errors: list[str],
    fresh_caches: None,
    no_enqueue: list[int],
) -> None:
    _, key = api_token_issue(user=admin_user)
    schema = _schema(app, {"Authorization": f"Token {key}"})

    sent, problems = _fuzz(
        schema,
        headers={},
        known={},
        examples=lambda label, mode: (
            PUBLIC_EXAMPLES if label in PUBLIC_OPERATIONS else ANONYMOUS_EXAMPLES
        ),
        modes=[GenerationMode.POSITIVE],
        only=PUBLIC_OPERATIONS,
    )

    assert sent >= 200
    _assert_none(server_errors, problems)
