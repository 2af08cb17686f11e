"""Waiters: poll GetImage until an image reaches a state, as one flow.

A waiter is data (which statuses end the wait, and how); :func:`wait_flow`
is the loop, written once and driven by both clients. Each poll is a whole
``call_flow`` (``yield from``), so throttling and transient errors get the
client's normal retries first. Time comes from the context's ``monotonic``
and jitter from its retry policy's ``random``, so tests need no real sleeping.

Delays follow the Smithy waiter specification ("Waiter retries"): the delay
before retry ``n`` is a random value between ``min_delay`` and
``min(max_delay, min_delay * 2 ** (n - 1))``; when the time left after a
delay would be ``min_delay`` or less, the delay is shortened to leave exactly
``min_delay`` and the poll after it is the last, so no sleep runs past
``max_wait``. With less than ``min_delay`` left after a poll, the wait ends
there (as the AWS SDK for Go's waiters do).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import attrs

from ._actions import Flow, Sleep
from ._errors import (
    ImageBuilderError,
    ParamValidationError,
    WaiterFailureError,
    WaiterTimeoutError,
)
from ._flow import CallContext, call_flow
from ._models import GetImageResponse
from ._operations import GET_IMAGE
from ._protocol import validate_input
from ._retries import classify

logger = logging.getLogger("sigv4_imagebuilder")

#: Called with each GetImage answer whose status differs from the previous one.
OnStatus = Callable[[GetImageResponse], object]


@attrs.frozen(kw_only=True)
class ImageWaiter:
    """Which image statuses end a wait, and the wait's default timing.

    Any status in neither set (or no status at all) means: poll again.
    """

    name: str
    success: frozenset[str]
    failure: frozenset[str]
    min_delay: float
    max_delay: float
    max_wait: float


#: Cancelling a build takes seconds to a few minutes (the build instance is
#: stopped and cleaned up). Poll after 5 s, back off to at most 30 s, and give
#: up after 30 minutes. Any state a cancel cannot lead to ends the wait.
IMAGE_CANCELLED = ImageWaiter(
    name="ImageCancelled",
    success=frozenset({"CANCELLED"}),
    failure=frozenset({"AVAILABLE", "FAILED", "DEPRECATED", "DELETED", "DISABLED"}),
    min_delay=5.0,
    max_delay=30.0,
    max_wait=1800.0,
)

#: botocore's ImageAvailable acceptors exactly: success on AVAILABLE, failure
#: on FAILED or CANCELLED, anything else polls again. A build takes tens of
#: minutes to hours: poll after 30 s, back off to 2 minutes, and give up after
#: botocore's total (60 s x 360 attempts = 6 hours).
IMAGE_AVAILABLE = ImageWaiter(
    name="ImageAvailable",
    success=frozenset({"AVAILABLE"}),
    failure=frozenset({"FAILED", "CANCELLED"}),
    min_delay=30.0,
    max_delay=120.0,
    max_wait=21600.0,
)


#: The longest delay between two polls (one day): ``time.sleep`` cannot take
#: 1e10 s, and no image state is worth polling less often.
MAX_DELAY = 86_400.0

#: The longest wait (30 days); Image Builder builds time out long before.
MAX_WAIT = 30 * 86_400.0


def _seconds(name: str, value: object, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamValidationError(name, f"must be a number, not {type(value).__name__}", value)
    # ``value > limit`` first: math.isfinite(10 ** 400) raises OverflowError.
    if value > limit:
        raise ParamValidationError(name, f"must be at most {limit:g} seconds", value)
    if not math.isfinite(value) or value <= 0:
        raise ParamValidationError(name, "must be a finite number greater than 0", value)
    return float(value)


def check_wait_args(
    min_delay: object, max_delay: object, max_wait: object, on_status: object
) -> tuple[float, float, float]:
    """Validate a waiter's timing arguments and callback.

    Returns:
        ``(min_delay, max_delay, max_wait)`` as floats.

    Raises:
        ParamValidationError: a non-number, a bool, NaN, infinity, a value
            not above 0, a delay above :data:`MAX_DELAY` (one day), a
            ``max_wait`` above :data:`MAX_WAIT` (30 days),
            ``max_delay < min_delay``, or a non-callable ``on_status``.
    """
    low = _seconds("min_delay", min_delay, MAX_DELAY)
    high = _seconds("max_delay", max_delay, MAX_DELAY)
    total = _seconds("max_wait", max_wait, MAX_WAIT)
    if high < low:
        raise ParamValidationError("max_delay", f"must be at least min_delay ({low})", max_delay)
    if on_status is not None and not callable(on_status):
        raise ParamValidationError("on_status", "must be callable or None", on_status)
    return low, high, total


def waiter_delay(
    attempt: int,
    *,
    min_delay: float,
    max_delay: float,
    remaining: float,
    random: Callable[[], float],
) -> tuple[float, bool]:
    """Seconds to wait before poll ``attempt + 1``, and whether that poll is the last.

    Args:
        attempt: polls made so far (1 after the first).
        min_delay: the smallest delay.
        max_delay: the largest delay.
        remaining: seconds left until ``max_wait``.
        random: jitter source, floats in [0, 1).

    Example:
        >>> waiter_delay(1, min_delay=5, max_delay=30, remaining=100, random=lambda: 0.5)
        (5.0, False)
        >>> waiter_delay(3, min_delay=5, max_delay=30, remaining=100, random=lambda: 0.5)
        (12.5, False)
        >>> waiter_delay(9, min_delay=5, max_delay=30, remaining=20, random=lambda: 0.5)
        (15.0, True)
    """
    # Compared in log space: with min_delay = 5e-324, max_delay / min_delay is
    # infinite and min_delay * 2 ** 1075 overflows a float.
    exponent = attempt - 1
    if exponent >= math.log2(max_delay) - math.log2(min_delay):
        top = max_delay
    else:
        top = min(max_delay, math.ldexp(min_delay, exponent))
    delay = min_delay + random() * (top - min_delay)
    if remaining - delay <= min_delay:
        return max(float(remaining - min_delay), 0.0), True
    return float(delay), False


def _status(response: GetImageResponse) -> str | None:
    image = response.image
    if image is None or image.state is None:
        return None
    return image.state.status


def wait_flow(
    ctx: CallContext,
    waiter: ImageWaiter,
    image_build_version_arn: object,
    *,
    min_delay: object,
    max_delay: object,
    max_wait: object,
    on_status: OnStatus | None,
) -> Flow[GetImageResponse]:
    """Poll GetImage until ``waiter`` says the wait is over.

    Everything is validated before the first poll. A poll whose retryable
    error (throttling, 5xx, transport) outlives the client's retries does not
    end the wait: the next poll follows the usual delay, until ``max_wait``.

    Returns:
        The GetImage answer whose status is in ``waiter.success``.

    Raises:
        ParamValidationError: a bad argument; nothing was sent.
        WaiterFailureError: the status reached one of ``waiter.failure``.
        WaiterTimeoutError: ``max_wait`` passed first.
        ImageBuilderError: a poll failed with an error that is not retryable
            (such as ``ForbiddenException`` or ``ClientException``), raised as is.
        Exception: whatever ``on_status`` raises, as is.
    """
    low, high, total = check_wait_args(min_delay, max_delay, max_wait, on_status)
    params = {"image_build_version_arn": image_build_version_arn}
    validate_input(GET_IMAGE, params)
    start = ctx.monotonic()
    attempts = 0
    last_response: GetImageResponse | None = None
    last_error: ImageBuilderError | None = None
    seen: list[str | None] = []  # the last status seen, once there is one
    last = False
    while True:
        attempts += 1
        try:
            # The poll, its retries and their sleeps all end by max_wait.
            response = yield from call_flow(ctx, GET_IMAGE, params, deadline=start + total)
        except ImageBuilderError as exc:
            if classify(exc) is None:
                raise
            last_error = exc
            logger.debug("%s: poll %d failed (%s); waiting on", waiter.name, attempts, exc)
        else:
            last_response, last_error = response, None
            status = _status(response)
            if seen != [status]:
                seen = [status]
                logger.debug("%s: status %s after %d polls", waiter.name, status, attempts)
                if on_status is not None:
                    on_status(response)
            if status in waiter.success:
                return response
            if status in waiter.failure:
                assert status is not None and response.image is not None
                assert response.image.state is not None
                raise WaiterFailureError(
                    waiter_name=waiter.name,
                    status=status,
                    reason=response.image.state.reason,
                    last_response=response,
                )
        remaining = total - (ctx.monotonic() - start)
        if last or remaining < low:
            raise WaiterTimeoutError(
                waiter_name=waiter.name,
                waited=ctx.monotonic() - start,
                attempts=attempts,
                last_response=last_response,
                last_error=last_error,
            )
        delay, last = waiter_delay(
            attempts, min_delay=low, max_delay=high, remaining=remaining, random=ctx.policy.random
        )
        yield Sleep(delay)
