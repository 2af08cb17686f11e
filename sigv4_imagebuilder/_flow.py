"""The call loop, written once for every operation and driven by both clients.

A flow is a generator that yields actions (``_actions``: send this request,
sleep this long, give me credentials) and receives their results, the way
httpx's auth flows are driven. :func:`call_flow` reads: validate and
serialize once, then sign, send, parse, ask the retry state, sleep.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._actions import Flow, GetCredentials, Outcome, Send, Sleep
from ._clock import utcnow
from ._errors import ImageBuilderError, ResponseParseError
from ._http import HttpRequest, scrub_echoes
from ._protocol import parse_error, parse_success, serialize_request, validate_input
from ._retries import ClockSkew, RetryPolicy, RetryQuota, RetryState
from ._shapes import Operation
from ._signing import sign
from ._version import __version__

if TYPE_CHECKING:
    from ._credentials import Credentials

logger = logging.getLogger("sigv4_imagebuilder")

OutputT = TypeVar("OutputT")

#: The least time an attempt gets when a deadline is all but spent.
_MIN_ATTEMPT = 0.001


def _ask_driver() -> Flow[Credentials]:
    credentials: Credentials = yield GetCredentials()
    return credentials


def _new_token() -> str:
    """A random (version 4) UUID in its usual text form, as ``str(uuid.uuid4())``.

    Formatted here rather than through ``uuid.UUID``: half the cost, and
    ``uuid`` stays unimported.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@attrs.define(kw_only=True)
class CallContext:
    """Everything a call needs that is fixed per client; shared by its calls.

    ``clock`` (wall time, for signing), ``monotonic`` (elapsed time, for
    waiters) and ``new_token`` are the flows' only sources of time and
    randomness besides the policy's jitter, so tests can fix them all.
    """

    region: str
    endpoint_url: str
    max_attempts: int
    policy: RetryPolicy = attrs.field(factory=RetryPolicy)
    quota: RetryQuota = attrs.field(
        default=attrs.Factory(lambda self: RetryQuota(self.policy.budget), takes_self=True)
    )
    skew: ClockSkew = attrs.field(factory=ClockSkew)
    #: The flow that yields current credentials: the client's resolver (which
    #: may refresh them); by default, ask the driver with GetCredentials.
    credentials: Callable[[], Flow[Credentials]] = _ask_driver
    clock: Callable[[], datetime.datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    new_token: Callable[[], str] = _new_token
    user_agent: str = f"sigv4-imagebuilder/{__version__}"

    def now(self) -> datetime.datetime:
        """Our clock, corrected by the skew the service reported."""
        return self.clock() + self.skew.offset


def call_flow(
    ctx: CallContext,
    operation: Operation[OutputT],
    params: Mapping[str, object],
    *,
    deadline: float | None = None,
) -> Flow[OutputT]:
    """One call of ``operation``: validate, serialize, then sign, send, parse,
    ask the retry state, sleep.

    Validation happens before the first action, so bad input sends nothing.
    Every attempt carries the same body (and idempotency token) and a fresh
    signature.

    Args:
        ctx: the client's call context.
        operation: the operation's spec.
        params: the call's parameters by snake_case name; an idempotency
            token left out (or ``None``) is generated once per call.
        deadline: a ``ctx.monotonic()`` instant the call must end by (a
            waiter's ``max_wait``): each attempt gets the time left as its
            total deadline, and a retry whose sleep would reach it is not made.

    Raises:
        ParamValidationError: before anything is sent.
        ServiceError, TransportError, ResponseParseError: the last attempt's
            error once the retry state gives up.
    """
    values = validate_input(operation, params, ctx.new_token)
    unsigned = serialize_request(operation, ctx.endpoint_url, values)
    invocation_id = ctx.new_token()
    state = RetryState(
        max_attempts=ctx.max_attempts,
        policy=ctx.policy,
        quota=ctx.quota,
        skew=ctx.skew,
        clock=ctx.clock,
    )
    while True:
        number = state.start_attempt()
        credentials = yield from ctx.credentials()
        signed = sign(unsigned, credentials, region=ctx.region, now=ctx.now())
        request = _with_sdk_headers(ctx, signed, invocation_id, number)
        left = None if deadline is None else max(deadline - ctx.monotonic(), _MIN_ATTEMPT)
        outcome: Outcome = yield Send(request, deadline=left)
        response = outcome.response
        if response is not None:
            response = scrub_echoes(response, (credentials.session_token, _signature(request)))
        error: ImageBuilderError
        if response is None:
            assert outcome.error is not None
            error = outcome.error
            _log(ctx, number, request, type(error).__name__, None, outcome.elapsed)
        else:
            _log(ctx, number, request, response.status_code,
                 response.headers.get("x-amzn-requestid"), outcome.elapsed)  # fmt: skip
            if 200 <= response.status_code < 300:
                try:
                    result = parse_success(operation, response, state.retries)
                except ResponseParseError as exc:
                    error = exc
                else:
                    state.succeeded()
                    return result
            else:
                error = parse_error(operation, response)
        delay = state.decide(error, {} if response is None else response.headers)
        if delay is None or (deadline is not None and ctx.monotonic() + delay >= deadline):
            raise error
        if delay > 0:
            yield Sleep(delay)


def _signature(request: HttpRequest) -> str | None:
    # The hex after "Signature=" in the Authorization header we sent.
    authorization = request.header("Authorization") or ""
    _, found, signature = authorization.rpartition("Signature=")
    return signature if found else None


def _with_sdk_headers(
    ctx: CallContext, signed: HttpRequest, invocation_id: str, number: int
) -> HttpRequest:
    # Unsigned headers, as the AWS SDKs send them.
    return HttpRequest(
        method=signed.method,
        url=signed.url,
        headers=(
            *signed.headers,
            ("User-Agent", ctx.user_agent),
            ("amz-sdk-invocation-id", invocation_id),
            ("amz-sdk-request", f"attempt={number}; max={ctx.max_attempts}"),
        ),
        body=signed.body,
    )


def _log(
    ctx: CallContext,
    number: int,
    request: HttpRequest,
    result: Any,
    request_id: str | None,
    elapsed: float,
) -> None:
    logger.debug(
        "attempt %d/%d %s %s -> %s request_id=%s elapsed=%.3fs",
        number, ctx.max_attempts, request.method, request.url, result, request_id, elapsed,
    )  # fmt: skip
