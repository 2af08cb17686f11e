"""Retries: which failures are retried, how long to wait, the retry budget,
and one call's retry bookkeeping.

Nothing here sleeps or reads a clock on its own: the policy computes delays,
the retry state decides, and only the I/O drivers sleep.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._errors import (
    ImageBuilderError,
    ServiceError,
    TransportError,
    TransportTimeoutError,
)

THROTTLING_CODES = frozenset(
    {
        "CallRateLimitExceededException",
        "ServiceUnavailableException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
TRANSIENT_STATUS_CODES = frozenset({500, 502, 503, 504})

# Clock skew: a 403 with one of these codes and one of these phrases, or one
# of the unambiguous skew codes.
_SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})
_SKEW_PHRASES = ("Signature expired", "not yet current")
_SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"})

#: The largest clock correction a skew error may make. A clock set in the wrong
#: time zone is off by whole hours (up to 14); a ``Date`` a day or more away
#: (``2100``, ``9999``) is a broken or hostile server, and obeying it would sign
#: every later request of the client at that time.
MAX_CLOCK_SKEW = datetime.timedelta(hours=24)

RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

logger = logging.getLogger("sigv4_imagebuilder")


def classify(error: ImageBuilderError) -> str | None:
    """Say why ``error`` may be retried: ``"throttling"``, ``"timeout"``,
    ``"transient"``; or ``None`` when it must not be retried.
    """
    if isinstance(error, TransportTimeoutError):
        return "timeout"
    if isinstance(error, TransportError):
        return "transient"
    if isinstance(error, ServiceError):
        if error.status_code == 429 or error.code in THROTTLING_CODES:
            return "throttling"
        if error.status_code in TRANSIENT_STATUS_CODES:
            return "transient"
    return None


def is_clock_skew_error(error: ImageBuilderError) -> bool:
    """True when the service rejected the request because our clock is off."""
    if not isinstance(error, ServiceError):
        return False
    if error.code in _SKEW_CODES:
        return True
    return (
        error.status_code == 403
        and error.code in _SIGNATURE_CODES
        and any(phrase in error.message for phrase in _SKEW_PHRASES)
    )


def server_time(headers: Mapping[str, str]) -> datetime.datetime | None:
    """Return the time in a reply's ``Date`` header (UTC), or None if absent or unreadable."""
    value = headers.get("date")
    if not value:
        return None
    import email.utils  # only a clock-skew error needs it; it pulls in socket

    # OverflowError: a year-9999 date with a negative offset lies past datetime.max in UTC.
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    try:
        return parsed.astimezone(datetime.timezone.utc)
    except OverflowError:
        return None


def skew_offset(
    server_now: datetime.datetime | None, local_now: datetime.datetime
) -> datetime.timedelta | None:
    """The correction to add to our clock, or None when there is none to trust.

    None when the server gave no readable time, or when it is more than
    ``MAX_CLOCK_SKEW`` away from ours.

    Example:
        >>> import datetime as dt
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        >>> skew_offset(now + dt.timedelta(minutes=20), now)
        datetime.timedelta(seconds=1200)
        >>> skew_offset(dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc), now) is None
        True
    """
    if server_now is None:
        return None
    offset = server_now - local_now
    if abs(offset) > MAX_CLOCK_SKEW:
        return None
    return offset


#: The most digits an ``x-amz-retry-after`` value may have (milliseconds; 10
#: digits is over 100 days). Longer values are treated as absent, as botocore
#: does with unreadable ones: a 400-digit integer would overflow the division.
MAX_RETRY_AFTER_DIGITS = 10

#: The exponent of the backoff term stops growing here: ``2 ** 64`` times any
#: sane base is far past ``max_backoff``, and a float ``base * 2 ** 1100``
#: would overflow.
_MAX_BACKOFF_EXPONENT = 64


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-amz-retry-after")
    if value is None:
        return None
    text = value.strip()
    # isdecimal() with isascii(): int() also reads "+5", "1_000" and non-ASCII digits.
    if not (text.isascii() and text.isdecimal()) or len(text) > MAX_RETRY_AFTER_DIGITS:
        return None
    return int(text) / 1000.0


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How retries wait. Full-jitter exponential backoff, as the AWS SDKs' standard mode.

    The delay before retry ``n`` (1-based) is
    ``random() * min(max_backoff, base * 2 ** (n - 1))`` with ``base`` being
    ``throttling_base_delay`` for throttling errors and ``base_delay`` otherwise.
    An ``x-amz-retry-after`` header (milliseconds) is honoured, capped at the
    computed delay plus ``max_retry_after_extra``.

    Args:
        base_delay: base for transient errors, seconds.
        throttling_base_delay: base for throttling errors, seconds.
        max_backoff: cap of the exponential term, seconds.
        max_retry_after_extra: how far ``x-amz-retry-after`` may exceed the computed delay.
        budget: capacity of the client's retry token bucket.
        random: the jitter source, returning floats in [0, 1); inject it for exact tests.

    Example:
        >>> RetryPolicy(random=lambda: 0.5).delay(1, "throttling", {})
        0.5
    """

    base_delay: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    throttling_base_delay: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    max_backoff: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))
    max_retry_after_extra: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    budget: int = attrs.field(default=500, validator=attrs.validators.ge(0))
    # eq=False: two policies that differ only in their jitter source are alike.
    random: Callable[[], float] = attrs.field(default=random.random, repr=False, eq=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # The default jitter source is the module's random.random: pickled as
        # is, it would carry a copy of this process's generator state, and
        # every worker of a process pool would draw the same "random" delays.
        state = attrs.asdict(self, recurse=False)
        if state["random"] == random.random:
            del state["random"]
        return (_load_policy, (state,))

    def delay(self, retry_number: int, reason: str, headers: Mapping[str, str]) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        base = self.throttling_base_delay if reason == "throttling" else self.base_delay
        exponent = min(max(retry_number - 1, 0), _MAX_BACKOFF_EXPONENT)
        computed = self.random() * min(self.max_backoff, base * 2**exponent)
        retry_after = _retry_after_seconds(headers)
        if retry_after is not None:
            return float(min(retry_after, computed + self.max_retry_after_extra))
        return float(computed)


def _load_policy(state: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(**state)


class RetryQuota:
    """A client's retry budget: a token bucket shared by all its calls, thread-safe.

    A retry costs ``RETRY_COST`` (``TIMEOUT_RETRY_COST`` after a timeout); a
    success returns what its retries cost, or adds 1 if it needed none. With
    the bucket empty, errors are raised without retrying, so a fleet of
    clients does not hammer a service that is down.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._available = capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        """Tokens left in the bucket."""
        return self._available

    def acquire(self, reason: str) -> int:
        """Take the cost of one retry; return it, or 0 if the bucket cannot pay."""
        cost = TIMEOUT_RETRY_COST if reason == "timeout" else RETRY_COST
        with self._lock:
            if cost > self._available:
                return 0
            self._available -= cost
            return cost

    def release(self, spent: int) -> None:
        """Credit a successful call: refund ``spent``, or add 1 when it was 0."""
        with self._lock:
            self._available = min(self.capacity, self._available + (spent or NO_RETRY_INCREMENT))


class ClockSkew:
    """The offset between the service's clock and ours, shared by a client's calls."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta(0)


class RetryState:
    """One call's retry bookkeeping, in the spirit of smithy-python's retry strategy.

    The call loop sends, then asks :meth:`decide` what to do about a failure
    and sleeps as told; this object counts attempts, corrects clock skew once
    (outside ``max_attempts`` and the budget), takes budget tokens for retries
    and refunds them on :meth:`succeeded`. It stamps ``retry_attempts`` on
    every error it gives up on, so all errors get their count the same way.

    Args:
        max_attempts: attempts per call, the first included.
        policy: how long to wait before each retry.
        quota: the client's retry budget.
        skew: the client's clock offset, corrected here.
        clock: our uncorrected clock (UTC).
    """

    def __init__(
        self,
        *,
        max_attempts: int,
        policy: RetryPolicy,
        quota: RetryQuota,
        skew: ClockSkew,
        clock: Callable[[], datetime.datetime],
    ) -> None:
        self.max_attempts = max_attempts
        self._policy = policy
        self._quota = quota
        self._skew = skew
        self._clock = clock
        self._attempt = 0  # counted against max_attempts
        self.sends = 0  # every request sent, a clock-skew retry included
        self._spent = 0  # tokens this call took from the budget
        self._skew_corrected = False

    @property
    def retries(self) -> int:
        """Retries made so far (the requests sent after the first)."""
        return max(self.sends - 1, 0)

    def start_attempt(self) -> int:
        """Count a request about to be sent; return its 1-based number."""
        self._attempt += 1
        self.sends += 1
        return self.sends

    def succeeded(self) -> None:
        """Credit the budget for a call that succeeded."""
        self._quota.release(self._spent)

    def decide(self, error: ImageBuilderError, headers: Mapping[str, str]) -> float | None:
        """Say what to do after ``error``: seconds to wait before retrying, or
        ``None`` to raise it (with ``retry_attempts`` set, and
        ``max_attempts_reached`` or ``retry_quota_reached`` saying why it gave up).

        Args:
            error: the failure of the last attempt.
            headers: the reply's headers (``{}`` when there was no reply).
        """
        error.retry_attempts = self.retries
        if not self._skew_corrected and is_clock_skew_error(error):
            offset = skew_offset(server_time(headers), self._clock())
            if offset is not None:
                self._skew_corrected = True
                self._skew.offset = offset
                self._attempt -= 1  # outside max_attempts and the budget
                logger.debug(
                    "retrying: clock skew (%s); correcting our clock by %.0fs",
                    _describe(error), self._skew.offset.total_seconds(),
                )  # fmt: skip
                return 0.0
        # As botocore's standard mode: the last allowed attempt is flagged
        # whatever its error, retryable or not.
        error.max_attempts_reached = self._attempt >= self.max_attempts
        reason = classify(error)
        if reason is None:
            return None
        if error.max_attempts_reached:
            logger.debug("not retrying %s: %d attempts made", reason, self._attempt)
            return None
        cost = self._quota.acquire(reason)
        if not cost:
            error.retry_quota_reached = True
            logger.debug("not retrying %s: retry budget exhausted", reason)
            return None
        self._spent += cost
        delay = self._policy.delay(self._attempt, reason, headers)
        logger.debug("retrying: %s (%s); sleeping %.3fs", reason, _describe(error), delay)
        return delay


def _describe(error: ImageBuilderError) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else type(error).__name__
