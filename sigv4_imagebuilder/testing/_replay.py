"""Replay recorded fixtures through respx, for both clients, any endpoint host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import attrs

from ._fixtures import Fixture, FixtureResponse, load_fixtures


class ReplayMismatch(AssertionError):
    """The client sent something the fixture did not record, or more calls than recorded.

    Its message names the fixture and each part of the request that differed.
    """


@attrs.define
class Replay:
    """What a :func:`replay` block saw.

    Attributes:
        fixtures: the fixtures being played, in order.
        calls: every ``(httpx.Request, httpx.Response)`` exchanged.
    """

    fixtures: list[Fixture]
    calls: list[tuple[Any, Any]] = attrs.field(factory=list)
    _next_fixture: int = attrs.field(default=0, repr=False)
    _current: tuple[str | None, Fixture, int] | None = attrs.field(default=None, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    @property
    def unplayed(self) -> list[str]:
        """Names of the fixtures that no call has reached yet."""
        return [f.name for f in self.fixtures[self._next_fixture :]]

    def _pick(self, request: Any) -> tuple[Fixture, FixtureResponse]:
        # Attempts of one call share amz-sdk-invocation-id: they walk one
        # fixture's responses; a new call takes the next fixture.
        invocation = request.headers.get("amz-sdk-invocation-id")
        with self._lock:
            current = self._current
            if current is not None and (invocation is None or current[0] == invocation):
                _, fixture, index = current
                if invocation is not None or index < len(fixture.responses):
                    # Retries past the recorded replies get the last one again,
                    # as a service that keeps failing would answer.
                    self._current = (invocation, fixture, index + 1)
                    return fixture, fixture.responses[min(index, len(fixture.responses) - 1)]
            if self._next_fixture >= len(self.fixtures):
                raise ReplayMismatch(
                    f"unexpected request {request.method} {request.url}: every recorded "
                    "fixture has been played"
                )
            fixture = self.fixtures[self._next_fixture]
            self._next_fixture += 1
            self._current = (invocation, fixture, 1)
            return fixture, fixture.responses[0]

    def _respond(self, request: Any) -> Any:
        import httpx

        fixture, reply = self._pick(request)
        _check_request(fixture, request)
        response = httpx.Response(
            reply.status, headers=list(reply.headers.items()), content=reply.body
        )
        self.calls.append((request, response))
        return response


def _show(values: list[str] | None) -> str:
    if values is None:
        return "absent"
    return repr(values[0]) if len(values) == 1 else repr(values)


def _check_request(fixture: Fixture, request: Any) -> None:
    """Raise ReplayMismatch naming every part of ``request`` the fixture does not match.

    What the fixture records is checked: method, path, query (when it records a
    path or a query, the query must be exactly the recorded one: an absent
    ``"query"`` means none), every member of its JSON body, or its raw body.
    """
    recorded = fixture.request
    method, path = request.method, request.url.path
    if ("method" in recorded and method != recorded["method"]) or (
        "path" in recorded and path != recorded["path"]
    ):
        raise ReplayMismatch(
            f"{fixture.name}: expected {recorded.get('method', method)} "
            f"{recorded.get('path', path)}, got {method} {path}"
        )
    problems = []
    if "path" in recorded or "query" in recorded:
        sent: dict[str, list[str]] = {}
        for name, value in parse_qsl(
            request.url.query.decode("utf-8", "replace"), keep_blank_values=True
        ):
            sent.setdefault(name, []).append(value)
        expected = fixture.expected_query
        for name in sorted(set(sent) | set(expected)):
            if sent.get(name) != expected.get(name):
                problems.append(
                    f"query {name} is {_show(sent.get(name))}, "
                    f"fixture has {_show(expected.get(name))}"
                )
    if "json" in recorded:
        try:
            body = json.loads(request.content)
        except ValueError as exc:
            raise ReplayMismatch(f"{fixture.name}: request body is not JSON") from exc
        members = recorded["json"]
        if isinstance(members, dict) and isinstance(body, dict):
            for key, value in members.items():
                if body.get(key) != value:
                    problems.append(f"{key} is {body.get(key)!r}, fixture has {value!r}")
        elif body != members:
            problems.append(f"body is {body!r}, fixture has {members!r}")
    elif "body" in recorded and request.content.decode("utf-8", "replace") != recorded["body"]:
        problems.append("body differs from the fixture's")
    if problems:
        raise ReplayMismatch(f"{fixture.name}: request " + "; ".join(problems))


@contextmanager
def replay(path: str | Path, *, assert_all_played: bool = True) -> Iterator[Replay]:
    """Answer requests from recorded fixtures, for any operation (needs respx).

    Each call takes the next fixture (a directory plays its files in name
    order); each retry of that call (same ``amz-sdk-invocation-id``) takes the
    next of its ``responses``, and the last one again once they run out.
    The request must match what the fixture records: method, path, query
    (so a GetImage for another ARN does not match) and each member of its
    JSON body (the ARN, and the ``clientToken`` when the fixture records
    one); a :class:`ReplayMismatch` names what differed. Works for both
    clients, any httpx client, and any endpoint host.

    Args:
        path: a fixture file or a directory of them.
        assert_all_played: fail at exit if a fixture was never reached.

    Example:
        >>> import sigv4_imagebuilder as sib
        >>> from sigv4_imagebuilder.testing import replay
        >>> with replay("fixtures/success.json") as r:
        ...     client = sib.ImageBuilderClient(
        ...         region="us-east-1", credentials=sib.Credentials("AKID", "secret"))
        ...     resp = client.cancel_image_creation(
        ...         "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/3",
        ...         client_token="7f0c1a52-3c5e-4a8e-9d6b-2f1e8c4d9a10")
        >>> resp.request_id, len(r.calls)
        ('5d8f3c1e-0a4b-4c7d-9e2f-1a2b3c4d5e6f', 1)
    """
    try:
        import respx
    except ModuleNotFoundError as exc:
        if exc.name != "respx":
            raise
        raise ImportError(
            'replay() needs respx: pip install "sigv4-imagebuilder[testing]"'
        ) from None

    state = Replay(load_fixtures(path))
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(path__regex=r".*").mock(side_effect=state._respond)
        yield state
    if assert_all_played and state.unplayed:
        raise ReplayMismatch(f"fixtures never played: {', '.join(state.unplayed)}")
