"""The call flow, written once and driven by both clients.

A flow is a generator that yields *actions* (send this request, sleep this
long, give me credentials) and receives their results, the way httpx's auth
flows are driven. The sync client answers with ``httpx.Client`` and
``time.sleep``, the async client with ``httpx.AsyncClient`` and
``asyncio.sleep``; retries, clock-skew correction and the retry budget live
here, once.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable, Generator
from typing import Any, TypeVar, Union

import attrs

from ._errors import ImageBuilderError, ResponseParseError, TransportError
from ._http import HttpRequest, HttpResponse
from ._models import CancelImageCreationResponse, Credentials
from ._protocol import (
    build_request,
    parse_error,
    parse_success,
    serialize_body,
    validate_params,
)
from ._retries import (
    RetryPolicy,
    RetryQuota,
    classify,
    is_clock_skew_error,
    server_time,
    skew_offset,
)
from ._signing import sign
from ._version import __version__

logger = logging.getLogger("sigv4_imagebuilder")

T = TypeVar("T")


@attrs.frozen
class Send:
    """Send ``request``; answer with an :class:`Outcome`.

    ``timeout`` (seconds, for every phase) overrides the client's; the
    credential sources use it to keep metadata look-ups short.
    """

    request: HttpRequest
    timeout: float | None = None


@attrs.frozen
class Sleep:
    """Wait ``seconds``; answer with ``None``."""

    seconds: float


@attrs.frozen
class GetCredentials:
    """Answer with the current :class:`Credentials` (refreshing them if due)."""


@attrs.frozen
class RunBlocking:
    """Call ``function()``; answer with its result, or throw its exception into
    the flow. The async driver runs it in a worker thread."""

    function: Callable[[], Any]


Action = Union[Send, Sleep, GetCredentials, RunBlocking]


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of one Send: a response read in full, or a transport error."""

    response: HttpResponse | None = None
    error: TransportError | None = None
    elapsed: float = 0.0


#: A flow yields actions, is sent their results and returns a T.
Flow = Generator[Action, Any, T]


class ClockSkew:
    """The offset between the service's clock and ours, shared by a client's calls."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta(0)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_token() -> str:
    return str(uuid.uuid4())


@attrs.define(kw_only=True)
class CallContext:
    """Everything a call needs that is fixed per client; shared by its calls.

    ``clock`` and ``new_token`` are the flow's only sources of time and
    randomness besides the policy's jitter, so tests can fix all three.
    """

    region: str
    endpoint_url: str
    max_attempts: int
    policy: RetryPolicy = attrs.field(factory=RetryPolicy)
    quota: RetryQuota = attrs.field(
        default=attrs.Factory(lambda self: RetryQuota(self.policy.budget), takes_self=True)
    )
    skew: ClockSkew = attrs.field(factory=ClockSkew)
    clock: Callable[[], datetime.datetime] = _utcnow
    new_token: Callable[[], str] = _new_token
    user_agent: str = f"sigv4-imagebuilder/{__version__}"

    def now(self) -> datetime.datetime:
        """Our clock, corrected by the skew the service reported."""
        return self.clock() + self.skew.offset


def cancel_image_creation_flow(
    ctx: CallContext, image_build_version_arn: object, client_token: object = None
) -> Flow[CancelImageCreationResponse]:
    """The whole call: validate, serialize, then sign-send-classify-decide-wait.

    Validation happens before the first action, so bad input sends nothing.
    Every attempt carries the same client token and a fresh signature.
    """
    if client_token is None:
        client_token = ctx.new_token()
    validate_params(image_build_version_arn, client_token)
    assert isinstance(image_build_version_arn, str) and isinstance(client_token, str)
    unsigned = build_request(
        ctx.endpoint_url, serialize_body(image_build_version_arn, client_token)
    )
    invocation_id = ctx.new_token()
    attempt = 0  # attempts counted against max_attempts
    sends = 0  # every request sent, including a clock-skew retry
    spent = 0  # retry tokens this call took from the budget
    skew_corrected = False
    while True:
        attempt += 1
        sends += 1
        retries = sends - 1
        credentials: Credentials = yield GetCredentials()
        signed = sign(unsigned, credentials, region=ctx.region, now=ctx.now())
        request = HttpRequest(
            method=signed.method,
            url=signed.url,
            headers=(
                *signed.headers,
                ("User-Agent", ctx.user_agent),
                ("amz-sdk-invocation-id", invocation_id),
                ("amz-sdk-request", f"attempt={sends}; max={ctx.max_attempts}"),
            ),
            body=signed.body,
        )
        outcome: Outcome = yield Send(request)
        response = outcome.response
        error: ImageBuilderError
        if response is not None:
            request_id = response.headers.get("x-amzn-requestid")
            logger.debug(
                "attempt %d/%d %s %s -> %d request_id=%s elapsed=%.3fs",
                sends, ctx.max_attempts, request.method, request.url,
                response.status_code, request_id, outcome.elapsed,
            )  # fmt: skip
            if 200 <= response.status_code < 300:
                try:
                    result = parse_success(response, retries)
                except ResponseParseError as exc:
                    exc.retry_attempts = retries
                    raise
                ctx.quota.release(spent)
                return result
            error = parse_error(response, retries)
            if not skew_corrected and is_clock_skew_error(error):
                offset = skew_offset(server_time(response.headers), ctx.clock())
                if offset is not None:
                    skew_corrected = True
                    ctx.skew.offset = offset
                    attempt -= 1  # outside max_attempts and the budget
                    logger.debug(
                        "retrying: clock skew (%s); correcting our clock by %.0fs",
                        error.code, ctx.skew.offset.total_seconds(),
                    )  # fmt: skip
                    continue
        else:
            assert outcome.error is not None
            error = outcome.error
            error.retry_attempts = retries
            logger.debug(
                "attempt %d/%d %s %s -> %s elapsed=%.3fs",
                sends, ctx.max_attempts, request.method, request.url,
                type(error).__name__, outcome.elapsed,
            )  # fmt: skip
        reason = classify(error)
        if reason is None:
            raise error
        if attempt >= ctx.max_attempts:
            logger.debug("not retrying %s: %d attempts made", reason, attempt)
            raise error
        cost = ctx.quota.acquire(reason)
        if not cost:
            logger.debug("not retrying %s: retry budget exhausted", reason)
            raise error
        spent += cost
        headers = response.headers if response is not None else {}
        delay = ctx.policy.delay(attempt, reason, headers)
        logger.debug("retrying: %s (%s); sleeping %.3fs", reason, _describe(error), delay)
        yield Sleep(delay)


def _describe(error: ImageBuilderError) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else type(error).__name__
