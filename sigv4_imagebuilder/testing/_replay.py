"""Replay recorded fixtures through respx, for both clients, any endpoint host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from ._fixtures import Fixture, FixtureResponse, load_fixtures


class ReplayMismatch(AssertionError):
    """The client sent something the fixture did not record, or more calls than recorded."""


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


def _check_request(fixture: Fixture, request: Any) -> None:
    expected_method = fixture.request.get("method", "PUT")
    expected_path = fixture.request.get("path", "/CancelImageCreation")
    if request.method != expected_method or request.url.path != expected_path:
        raise ReplayMismatch(
            f"{fixture.name}: expected {expected_method} {expected_path}, "
            f"got {request.method} {request.url.path}"
        )
    try:
        sent = json.loads(request.content)
    except ValueError as exc:
        raise ReplayMismatch(f"{fixture.name}: request body is not JSON") from exc
    expected = fixture.expected_body
    for key in ("imageBuildVersionArn", "clientToken"):
        if key in expected and sent.get(key) != expected[key]:
            raise ReplayMismatch(
                f"{fixture.name}: request {key} is {sent.get(key)!r}, fixture has {expected[key]!r}"
            )


@contextmanager
def replay(path: str | Path, *, assert_all_played: bool = True) -> Iterator[Replay]:
    """Answer CancelImageCreation requests from recorded fixtures (needs respx).

    Each call takes the next fixture (a directory plays its files in name
    order); each retry of that call (same ``amz-sdk-invocation-id``) takes the
    next of its ``responses``, and the last one again once they run out.
    The request's ARN must match the fixture, and so must its
    ``clientToken`` when the fixture records one. Works for both clients and
    any endpoint host.

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
    import respx

    state = Replay(load_fixtures(path))
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(path__regex=r".*").mock(side_effect=state._respond)
        yield state
    if assert_all_played and state.unplayed:
        raise ReplayMismatch(f"fixtures never played: {', '.join(state.unplayed)}")
