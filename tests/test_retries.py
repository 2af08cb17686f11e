"""The retry policy and the flow's decisions, with no I/O and no sleeping."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest
from conftest import ARN, PLAIN_CREDS

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._actions import GetCredentials, Outcome, Send, Sleep
from sigv4_imagebuilder._flow import CallContext, call_flow
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._operations import CANCEL_IMAGE_CREATION
from sigv4_imagebuilder._retries import (
    MAX_CLOCK_SKEW,
    RetryQuota,
    classify,
    is_clock_skew_error,
    server_time,
    skew_offset,
)


def _err(status: int, code: str, message: str = "") -> sib.ServiceError:
    return sib.ServiceError(code=code, message=message, status_code=status)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (sib.TransportTimeoutError("t"), "timeout"),
        (sib.ConnectError("c"), "transient"),
        (sib.ConnectionClosedError("c"), "transient"),
        (_err(500, "ServiceException"), "transient"),
        (_err(502, "502"), "transient"),
        (_err(503, "ServiceUnavailableException"), "throttling"),
        (_err(504, "504"), "transient"),
        (_err(429, "CallRateLimitExceededException"), "throttling"),
        (_err(429, "Whatever"), "throttling"),
        (_err(400, "ThrottlingException"), "throttling"),
        (_err(400, "RequestLimitExceeded"), "throttling"),
        (_err(400, "PriorRequestNotComplete"), "throttling"),
        (_err(400, "ResourceInUseException"), None),
        (_err(400, "InvalidRequestException"), None),
        (_err(403, "ForbiddenException"), None),
        (_err(501, "501"), None),
        (sib.ResponseParseError("x", status_code=200, body=b""), None),
    ],
)
def test_classify(error: sib.ImageBuilderError, reason: str | None) -> None:
    assert classify(error) == reason


@pytest.mark.parametrize(
    ("error", "skew"),
    [
        (
            _err(
                403,
                "InvalidSignatureException",
                "Signature expired: 20260101T000000Z is now earlier than ...",
            ),
            True,
        ),
        (_err(403, "SignatureDoesNotMatch", "Signature not yet current: ..."), True),
        (
            _err(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match",
            ),
            False,
        ),
        (_err(400, "InvalidSignatureException", "Signature expired"), False),
        (_err(403, "RequestTimeTooSkewed"), True),
        (_err(400, "RequestExpired"), True),
        (_err(403, "RequestInTheFuture"), True),
        (sib.ConnectError("x"), False),
    ],
)
def test_is_clock_skew_error(error: sib.ImageBuilderError, skew: bool) -> None:
    assert is_clock_skew_error(error) is skew


def test_server_time_formats() -> None:
    utc = datetime.timezone.utc
    assert server_time({"date": "Fri, 27 Nov 2026 10:33:00 GMT"}) == datetime.datetime(
        2026, 11, 27, 10, 33, tzinfo=utc
    )
    assert server_time({"date": "2026-11-27T10:33:00Z"}) == datetime.datetime(
        2026, 11, 27, 10, 33, tzinfo=utc
    )
    assert server_time({"date": "2026-11-27T10:33:00"}) == datetime.datetime(
        2026, 11, 27, 10, 33, tzinfo=utc
    )
    assert server_time({"date": "garbage"}) is None
    assert server_time({}) is None


def test_full_jitter_backoff_and_retry_after() -> None:
    policy = sib.RetryPolicy(random=lambda: 0.5)
    assert policy.delay(1, "transient", {}) == pytest.approx(0.025)
    assert policy.delay(3, "transient", {}) == pytest.approx(0.1)
    assert policy.delay(1, "throttling", {}) == pytest.approx(0.5)
    assert policy.delay(4, "throttling", {}) == pytest.approx(4.0)
    assert policy.delay(10, "throttling", {}) == pytest.approx(10.0)  # 0.5 * cap 20
    assert policy.delay(1, "throttling", {"x-amz-retry-after": "1500"}) == pytest.approx(1.5)
    # Capped at computed (0.5) + 5 s.
    assert policy.delay(1, "throttling", {"x-amz-retry-after": "60000"}) == pytest.approx(5.5)
    assert policy.delay(1, "throttling", {"x-amz-retry-after": "soon"}) == pytest.approx(0.5)
    # A negative value is unreadable, as botocore has it: treated as absent.
    assert policy.delay(1, "throttling", {"x-amz-retry-after": "-5"}) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        sib.RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    "value",
    ["1" + "0" * 400, "9" * 11, "+1500", "1_500", "\u0661\u0665\u0660\u0660", "1e3", ""],
)
def test_hostile_retry_after_is_treated_as_absent(value: str) -> None:
    # A 400-digit integer once made ``int / 1000`` raise OverflowError out of a call.
    policy = sib.RetryPolicy(random=lambda: 0.5)
    assert policy.delay(1, "throttling", {"x-amz-retry-after": value}) == pytest.approx(0.5)


def test_retry_after_at_the_digit_limit_is_honoured_up_to_the_cap() -> None:
    policy = sib.RetryPolicy(random=lambda: 0.5, max_retry_after_extra=1e9)
    assert policy.delay(1, "throttling", {"x-amz-retry-after": "9" * 10}) == pytest.approx(
        9_999_999.999
    )


def test_backoff_exponent_is_capped_for_huge_retry_numbers() -> None:
    # base * 2 ** 1100 would overflow a float; the delay stays at the cap.
    policy = sib.RetryPolicy(random=lambda: 0.5, max_backoff=20.0)
    assert policy.delay(5000, "transient", {}) == pytest.approx(10.0)
    assert policy.delay(10**30, "throttling", {}) == pytest.approx(10.0)


def test_flow_with_a_huge_retry_after_retries_with_the_computed_delay() -> None:
    clock = FakeClock()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=3,
        policy=sib.RetryPolicy(random=lambda: 0.5),
        clock=clock,
    )
    huge = {"x-amz-retry-after": "1" + "0" * 400}
    error, actions = _drive(
        ctx,
        [
            _status(503, "ServiceUnavailableException", **huge),
            _status(429, "Throttled", **huge),
            _status(503, "ServiceUnavailableException", **huge),
        ],
        clock,
    )
    assert isinstance(error, sib.ServiceError) and error.max_attempts_reached
    assert [a.seconds for a in actions if isinstance(a, Sleep)] == [
        pytest.approx(0.5),
        pytest.approx(1.0),
    ]


def test_quota_costs_refunds_and_exhaustion() -> None:
    quota = RetryQuota(12)
    assert quota.acquire("transient") == 5
    assert quota.acquire("timeout") == 0  # 7 left, a timeout retry costs 10
    assert quota.acquire("throttling") == 5
    assert quota.available == 2
    quota.release(10)
    assert quota.available == 12
    quota.release(0)
    assert quota.available == 12  # capped at capacity
    quota = RetryQuota(500)
    quota.acquire("transient")
    quota.release(0)
    assert quota.available == 496


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now


def _drive(
    ctx: CallContext, replies: list[HttpResponse | sib.TransportError], clock: FakeClock
) -> tuple[object, list[object]]:
    """Drive the flow by hand; return (result or exception, actions seen)."""
    flow = call_flow(ctx, CANCEL_IMAGE_CREATION, {"image_build_version_arn": ARN})
    actions: list[object] = []
    pending: Iterator[HttpResponse | sib.TransportError] = iter(replies)
    value: object = None
    try:
        action = next(flow)
        while True:
            actions.append(action)
            if isinstance(action, GetCredentials):
                value = PLAIN_CREDS
            elif isinstance(action, Send):
                reply = next(pending)
                value = (
                    Outcome(response=reply)
                    if isinstance(reply, HttpResponse)
                    else Outcome(error=reply)
                )
                clock.now += datetime.timedelta(seconds=2)
            else:
                assert isinstance(action, Sleep)
                value = None
            action = flow.send(value)
    except StopIteration as stop:
        return stop.value, actions
    except sib.ImageBuilderError as exc:
        return exc, actions


def _ok() -> HttpResponse:
    return HttpResponse(status_code=200, headers={"x-amzn-requestid": "ok"}, body=b"{}")


def _status(status: int, code: str = "", **extra: str) -> HttpResponse:
    headers = {"x-amzn-errortype": code} if code else {}
    return HttpResponse(status_code=status, headers={**headers, **extra}, body=b'{"message": "m"}')


def test_flow_same_token_fresh_signature_and_attempt_headers() -> None:
    clock = FakeClock()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=3,
        policy=sib.RetryPolicy(random=lambda: 0.5),
        clock=clock,
    )
    result, actions = _drive(
        ctx,
        [sib.ConnectionClosedError("lost"), _status(503, "ServiceUnavailableException"), _ok()],
        clock,
    )
    assert isinstance(result, sib.CancelImageCreationResponse)
    assert result.metadata.retry_attempts == 2
    sends = [a.request for a in actions if isinstance(a, Send)]
    sleeps = [a.seconds for a in actions if isinstance(a, Sleep)]
    assert sleeps == [
        pytest.approx(0.025),
        pytest.approx(1.0),
    ]  # transient base 50 ms, then throttling base 1 s
    assert len({json.loads(r.body)["clientToken"] for r in sends}) == 1
    assert len({r.header("X-Amz-Date") for r in sends}) == 3
    assert len({r.header("Authorization") for r in sends}) == 3
    assert [r.header("amz-sdk-request") for r in sends] == [
        "attempt=1; max=3",
        "attempt=2; max=3",
        "attempt=3; max=3",
    ]
    assert len({r.header("amz-sdk-invocation-id") for r in sends}) == 1
    assert ctx.quota.available == 500  # refunded


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_flow_with_a_deadline_bounds_attempts_and_makes_no_retry_past_it() -> None:
    ticks = FakeMonotonic()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=5,
        policy=sib.RetryPolicy(random=lambda: 0.5),  # throttling: sleeps 0.5, 1, 2...
        monotonic=ticks,
    )
    flow = call_flow(
        ctx, CANCEL_IMAGE_CREATION, {"image_build_version_arn": ARN}, deadline=ticks.now + 3.0
    )
    deadlines: list[float | None] = []
    sleeps: list[float] = []
    action = next(flow)
    with pytest.raises(sib.ServiceError) as info:
        while True:
            if isinstance(action, GetCredentials):
                value: object = PLAIN_CREDS
            elif isinstance(action, Send):
                deadlines.append(action.deadline)
                ticks.now += 0.5  # each attempt takes 0.5 s
                value = Outcome(response=_status(429, "ThrottlingException"))
            else:
                assert isinstance(action, Sleep)
                sleeps.append(action.seconds)
                ticks.now += action.seconds
                value = None
            action = flow.send(value)
    # 0.5 s attempt, 0.5 s sleep, 0.5 s attempt, 1 s sleep, 0.5 s attempt: 3 s used;
    # the next sleep (2 s) would pass the deadline, so the error is raised.
    assert deadlines == [pytest.approx(3.0), pytest.approx(2.0), pytest.approx(0.5)]
    assert sleeps == [pytest.approx(0.5), pytest.approx(1.0)]
    assert info.value.retry_attempts == 2 and not info.value.max_attempts_reached


def test_flow_without_a_deadline_sends_without_one() -> None:
    clock = FakeClock()
    ctx = CallContext(region="us-east-1", endpoint_url="https://x", max_attempts=1, clock=clock)
    _, actions = _drive(ctx, [_ok()], clock)
    assert [a.deadline for a in actions if isinstance(a, Send)] == [None]


def test_flow_gives_up_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=2,
        clock=clock,
        policy=sib.RetryPolicy(random=lambda: 0.0),
    )
    error, actions = _drive(ctx, [_status(500, "ServiceException"), _status(502)], clock)
    assert isinstance(error, sib.ServiceError) and error.code == "502"
    assert error.retry_attempts == 1
    assert sum(isinstance(a, Send) for a in actions) == 2
    assert error.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert error.max_attempts_reached and not error.retry_quota_reached
    assert error.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    assert ctx.quota.available == 495


def test_flow_never_retries_other_client_errors() -> None:
    clock = FakeClock()
    ctx = CallContext(region="us-east-1", endpoint_url="https://x", max_attempts=5, clock=clock)
    error, actions = _drive(ctx, [_status(400, "ResourceInUseException")], clock)
    assert isinstance(error, sib.ResourceInUseException) and error.retry_attempts == 0
    assert sum(isinstance(a, Send) for a in actions) == 1
    # Attempts were left: neither flag, and no such keys in e.response.
    assert not error.max_attempts_reached and not error.retry_quota_reached
    assert set(error.response["ResponseMetadata"]) == {
        "RequestId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"
    }  # fmt: skip


def test_flow_flags_the_last_attempt_whatever_its_error() -> None:
    # botocore's standard mode sets MaxAttemptsReached on the last allowed
    # attempt even when its error is not retryable (max_attempts=1 included).
    clock = FakeClock()
    ctx = CallContext(region="us-east-1", endpoint_url="https://x", max_attempts=1, clock=clock)
    error, _ = _drive(ctx, [_status(400, "ResourceInUseException")], clock)
    assert isinstance(error, sib.ResourceInUseException)
    assert error.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=2,
        clock=clock,
        policy=sib.RetryPolicy(random=lambda: 0.0),
    )
    error, _ = _drive(ctx, [_status(503), _status(400, "InvalidRequestException")], clock)
    assert isinstance(error, sib.InvalidRequestException) and error.retry_attempts == 1
    assert error.max_attempts_reached
    error, _ = _drive(ctx, [sib.ConnectError("refused"), sib.ConnectError("refused")], clock)
    assert isinstance(error, sib.ConnectError) and error.max_attempts_reached


def test_flow_with_an_empty_budget_raises_without_waiting() -> None:
    clock = FakeClock()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=5,
        clock=clock,
        policy=sib.RetryPolicy(budget=5),
    )
    error, actions = _drive(ctx, [_status(500), _status(500)], clock)
    assert isinstance(error, sib.ServiceError) and error.retry_attempts == 1
    assert sum(isinstance(a, Sleep) for a in actions) == 1
    # botocore says RetryQuotaReached here, not MaxAttemptsReached.
    assert error.retry_quota_reached and not error.max_attempts_reached
    metadata = error.response["ResponseMetadata"]
    assert metadata["RetryQuotaReached"] is True and "MaxAttemptsReached" not in metadata
    error, actions = _drive(ctx, [sib.TransportTimeoutError("slow")], clock)
    assert isinstance(error, sib.TransportTimeoutError)
    assert not any(isinstance(a, Sleep) for a in actions)


def test_flow_corrects_clock_skew_once_outside_the_budget() -> None:
    clock = FakeClock()
    ctx = CallContext(region="us-east-1", endpoint_url="https://x", max_attempts=1, clock=clock)
    ahead = clock.now + datetime.timedelta(minutes=47)
    expired = HttpResponse(
        status_code=403,
        headers={
            "x-amzn-errortype": "InvalidSignatureException",
            "date": ahead.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        },
        body=b'{"message": "Signature expired: 20261127T120000Z is now earlier than 20261127T124200Z"}',
    )
    result, actions = _drive(ctx, [expired, _ok()], clock)
    assert isinstance(result, sib.CancelImageCreationResponse)
    assert result.metadata.retry_attempts == 1
    sends = [a.request for a in actions if isinstance(a, Send)]
    assert sends[1].header("X-Amz-Date") == "20261127T124700Z"
    assert ctx.quota.available == 500
    # A second skew error in the same call is not corrected again.
    error, _ = _drive(ctx, [expired, expired], clock)
    assert isinstance(error, sib.ServiceError) and error.code == "InvalidSignatureException"
    # Without a Date header there is nothing to correct by.
    no_date = HttpResponse(
        status_code=403, headers={"x-amzn-errortype": "RequestExpired"}, body=b"{}"
    )
    error, actions = _drive(ctx, [no_date], clock)
    assert isinstance(error, sib.ServiceError) and sum(isinstance(a, Send) for a in actions) == 1


def test_flow_parse_error_carries_retry_attempts() -> None:
    clock = FakeClock()
    ctx = CallContext(
        region="us-east-1",
        endpoint_url="https://x",
        max_attempts=3,
        clock=clock,
        policy=sib.RetryPolicy(random=lambda: 0.0),
    )
    bad = HttpResponse(status_code=200, headers={}, body=b"[]")
    error, _ = _drive(ctx, [_status(503), bad], clock)
    assert isinstance(error, sib.ResponseParseError) and error.retry_attempts == 1


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Fri, 31 Dec 9999 23:59:59 -0100",  # past datetime.max once in UTC
        "9999-12-31T23:59:59-01:00",
        "Mon, 01 Jan 0001 00:00:00 +0100",  # before datetime.min once in UTC
    ],
)
def test_server_time_out_of_range_is_none_or_not_trusted(date: str) -> None:
    now = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
    assert skew_offset(server_time({"date": date}), now) is None


def test_skew_offset_accepts_only_a_bounded_correction() -> None:
    now = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
    assert skew_offset(None, now) is None
    assert skew_offset(now + MAX_CLOCK_SKEW, now) == MAX_CLOCK_SKEW
    assert skew_offset(now - MAX_CLOCK_SKEW, now) == -MAX_CLOCK_SKEW
    assert skew_offset(now + MAX_CLOCK_SKEW + datetime.timedelta(seconds=1), now) is None
    assert skew_offset(now - datetime.timedelta(days=2), now) is None
    year_2100 = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
    assert skew_offset(year_2100, now) is None


@pytest.mark.parametrize(
    "date", ["Fri, 31 Dec 9999 23:59:59 GMT", "Fri, 01 Jan 2100 00:00:00 GMT", "garbage"]
)
def test_hostile_date_on_a_skew_error_does_not_move_our_clock(date: str) -> None:
    """A skew error dated far away is raised as is; later calls sign with our own clock."""
    from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply

    received: list[ReceivedRequest] = []

    def handler(request: ReceivedRequest) -> Reply:
        received.append(request)
        if len(received) == 1:
            return Reply(
                status=403,
                headers=[("x-amzn-ErrorType", "RequestTimeTooSkewed"), ("Date", date)],
                body=b'{"message": "skewed"}',
            )
        token = json.loads(request.body)["clientToken"]
        return Reply(body=json.dumps({"requestId": "r", "clientToken": token}).encode())

    with (
        LoopbackServer(handler) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=PLAIN_CREDS, endpoint_url=server.endpoint_url
        ) as client,
    ):
        with pytest.raises(sib.ServiceError) as info:
            client.cancel_image_creation(ARN)
        assert info.value.code == "RequestTimeTooSkewed" and len(received) == 1
        assert client.cancel_image_creation(ARN).request_id == "r"
    signed_at = datetime.datetime.strptime(
        received[1].header("x-amz-date") or "", "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs(signed_at - now) < datetime.timedelta(minutes=5)


def test_retry_state_owns_the_bookkeeping() -> None:
    from sigv4_imagebuilder._retries import ClockSkew, RetryState

    clock = FakeClock()
    quota = RetryQuota(10)
    skew = ClockSkew()
    state = RetryState(
        max_attempts=2,
        policy=sib.RetryPolicy(random=lambda: 1.0),
        quota=quota,
        skew=skew,
        clock=clock,
    )
    assert (state.start_attempt(), state.retries) == (1, 0)
    expired = _err(403, "RequestTimeTooSkewed")
    ahead = {"date": "Fri, 27 Nov 2026 12:05:00 GMT"}
    assert state.decide(expired, ahead) == 0.0  # corrected, outside the budget and the count
    assert skew.offset == datetime.timedelta(minutes=5) and quota.available == 10
    assert (state.start_attempt(), state.retries) == (2, 1)
    throttled = _err(429, "CallRateLimitExceededException")
    assert state.decide(throttled, {}) == pytest.approx(1.0)
    assert throttled.retry_attempts == 1 and quota.available == 5
    assert state.start_attempt() == 3
    final = _err(503, "ServiceUnavailableException")
    assert state.decide(final, {}) is None  # two attempts counted: give up
    assert final.retry_attempts == 2 and final.max_attempts_reached
    assert not throttled.max_attempts_reached  # it was retried
    assert state.decide(expired, ahead) is None  # skew is corrected once per call
    state.succeeded()
    assert quota.available == 10


def test_a_retry_policy_round_trips_through_pickle_with_a_fresh_jitter_source() -> None:
    import pickle
    import random

    policy = sib.RetryPolicy(base_delay=0.2, max_backoff=3.0, budget=7)
    back = pickle.loads(pickle.dumps(policy))
    assert back == policy and repr(back) == repr(policy)
    # The module's generator itself, not a copy of its state: pool workers
    # would otherwise all draw the same delays.
    assert back.random == random.random
    seeded = sib.RetryPolicy(random=random.Random(5).random)
    assert pickle.loads(pickle.dumps(seeded)).random() == random.Random(5).random()
