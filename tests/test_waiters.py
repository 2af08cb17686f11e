"""Waiters: one flow, driven by hand with a fake clock, then by both clients."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from conftest import ARN, NO_SLEEP, PLAIN_CREDS

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._actions import Flow, GetCredentials, Outcome, Send, Sleep
from sigv4_imagebuilder._flow import CallContext
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._waiters import (
    IMAGE_AVAILABLE,
    IMAGE_CANCELLED,
    MAX_DELAY,
    MAX_WAIT,
    ImageWaiter,
    wait_flow,
    waiter_delay,
)

URL = "https://imagebuilder.us-east-1.amazonaws.com/GetImage"


def image(status: str | None, reason: str | None = None) -> HttpResponse:
    state: dict[str, Any] = {} if status is None else {"status": status}
    if reason:
        state["reason"] = reason
    body = {"requestId": "r", "image": {"arn": ARN, "state": state}}
    return HttpResponse(status_code=200, headers={}, body=json.dumps(body).encode())


def error(status: int, code: str) -> HttpResponse:
    return HttpResponse(
        status_code=status, headers={"x-amzn-errortype": code}, body=b'{"message": "m"}'
    )


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Run:
    """Drives a waiter flow: answers Sends from a script, advances the fake clock on Sleep."""

    def __init__(
        self, replies: list[HttpResponse], *, random: float = 1.0, request_cost: float = 0.0
    ) -> None:
        self.clock = FakeMonotonic()
        self.ctx = CallContext(
            region="us-east-1",
            endpoint_url="https://imagebuilder.us-east-1.amazonaws.com",
            max_attempts=3,
            policy=sib.RetryPolicy(
                base_delay=0.0, throttling_base_delay=0.0, random=lambda: random
            ),
            monotonic=self.clock,
        )
        self.replies: Iterator[HttpResponse] = iter(replies)
        self.request_cost = request_cost
        self.sleeps: list[float] = []
        self.sent_at: list[float] = []
        self.actions: list[object] = []

    def __call__(self, flow: Flow[sib.GetImageResponse]) -> sib.GetImageResponse:
        value: object = None
        try:
            action = next(flow)
            while True:
                self.actions.append(action)
                if isinstance(action, GetCredentials):
                    value = PLAIN_CREDS
                elif isinstance(action, Send):
                    assert action.request.method == "GET"
                    self.sent_at.append(self.clock.now)
                    self.clock.now += self.request_cost
                    value = Outcome(response=next(self.replies))
                else:
                    assert isinstance(action, Sleep)
                    self.sleeps.append(action.seconds)
                    self.clock.now += action.seconds
                    value = None
                action = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def wait(
        self,
        waiter: ImageWaiter = IMAGE_CANCELLED,
        *,
        min_delay: object = 5,
        max_delay: object = 30,
        max_wait: object = 600,
        on_status: Any = None,
    ) -> sib.GetImageResponse:
        return self(
            wait_flow(
                self.ctx,
                waiter,
                ARN,
                min_delay=min_delay,
                max_delay=max_delay,
                max_wait=max_wait,
                on_status=on_status,
            )
        )


def test_success_after_a_status_change_reports_each_change_once() -> None:
    run = Run([image("BUILDING"), image("BUILDING"), image("BUILDING"), image("CANCELLED")])
    seen: list[str | None] = []
    resp = run.wait(on_status=lambda r: seen.append(r.image.state.status))
    assert resp.image is not None and resp.image.state == sib.ImageState(status="CANCELLED")
    assert seen == ["BUILDING", "CANCELLED"]
    # random() = 1: the top of each jitter range, 5 * 2**(n-1) capped at 30.
    assert run.sleeps == [5.0, 10.0, 20.0]


@pytest.mark.parametrize("status", sorted(IMAGE_CANCELLED.failure))
def test_a_state_a_cancel_cannot_reach_fails_the_wait(status: str) -> None:
    run = Run([image("BUILDING"), image(status, "The cancel lost the race")])
    with pytest.raises(sib.WaiterFailureError) as info:
        run.wait()
    err = info.value
    assert isinstance(err, sib.WaiterError) and isinstance(err, sib.ImageBuilderError)
    assert (err.status, err.reason, err.waiter_name) == (
        status,
        "The cancel lost the race",
        "ImageCancelled",
    )
    assert err.last_response is not None and err.last_response.image is not None
    assert (
        str(err)
        == f"Waiter ImageCancelled failed: the image is {status} (The cancel lost the race)"
    )


def test_image_available_mirrors_botocores_acceptors() -> None:
    assert IMAGE_AVAILABLE.success == {"AVAILABLE"}
    assert IMAGE_AVAILABLE.failure == {"FAILED", "CANCELLED"}
    # DELETED, DEPRECATED or no status at all match no acceptor: poll again.
    run = Run([image("DELETED"), image(None), image("DEPRECATED"), image("AVAILABLE")])
    assert run.wait(IMAGE_AVAILABLE).image.state.status == "AVAILABLE"  # type: ignore[union-attr]
    for status in ("FAILED", "CANCELLED"):
        with pytest.raises(sib.WaiterFailureError, match=f"image is {status}$"):
            Run([image(status)]).wait(IMAGE_AVAILABLE)


def test_timeout_never_sleeps_past_max_wait() -> None:
    run = Run([image("BUILDING")] * 20)
    with pytest.raises(sib.WaiterTimeoutError) as info:
        run.wait(min_delay=5, max_delay=30, max_wait=60)
    # 5, 10, 20; then 30 would leave less than min_delay: shortened to leave exactly 5.
    assert run.sleeps == [5.0, 10.0, 20.0, 20.0]
    assert [t - 100.0 for t in run.sent_at] == [0.0, 5.0, 15.0, 35.0, 55.0]
    err = info.value
    assert (err.waited, err.attempts, err.last_error) == (55.0, 5, None)
    assert err.last_response is not None
    assert "timed out after 55 s and 5 polls; last status: BUILDING" in str(err)


@pytest.mark.parametrize("cost", [0.0, 0.7, 3.0, 29.0])
@pytest.mark.parametrize("jitter", [0.0, 0.37, 0.999])
def test_with_slow_requests_the_last_poll_starts_by_max_wait(cost: float, jitter: float) -> None:
    run = Run([image("PENDING")] * 200, random=jitter, request_cost=cost)
    with pytest.raises(sib.WaiterTimeoutError) as info:
        run.wait(min_delay=2, max_delay=40, max_wait=300)
    assert all(t - 100.0 <= 300 for t in run.sent_at)
    assert all(s >= 0 for s in run.sleeps)
    assert info.value.waited <= 300 + cost


def test_throttled_polls_are_retried_and_do_not_end_the_wait() -> None:
    throttled = error(429, "CallRateLimitExceededException")
    run = Run(
        [
            throttled,
            image("BUILDING"),  # poll 1 succeeds on its retry
            throttled,
            error(503, "ServiceUnavailableException"),
            error(500, "ServiceException"),  # poll 2: retries exhausted
            image("CANCELLED"),  # poll 3
        ]
    )
    seen: list[object] = []
    resp = run.wait(on_status=seen.append)
    assert resp.image is not None and resp.image.state is not None
    assert resp.image.state.status == "CANCELLED"
    assert len(seen) == 2
    assert len(run.sent_at) == 6
    assert [s for s in run.sleeps if s] == [5.0, 10.0]  # retry sleeps are 0 under this policy


def test_polls_that_always_fail_time_out_with_the_last_error() -> None:
    run = Run([error(503, "ServiceUnavailableException")] * 100)
    with pytest.raises(sib.WaiterTimeoutError) as info:
        run.wait(min_delay=5, max_delay=5, max_wait=12)
    err = info.value
    assert err.last_response is None
    assert isinstance(err.last_error, sib.ServiceUnavailableException)
    assert "last status: unknown; last error: ServiceUnavailableException" in str(err)


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (error(403, "ForbiddenException"), sib.ForbiddenException),
        (error(400, "ClientException"), sib.ClientException),
        (error(400, "InvalidRequestException"), sib.InvalidRequestException),
        (HttpResponse(status_code=200, headers={}, body=b"[]"), sib.ResponseParseError),
    ],
)
def test_a_non_retryable_error_is_raised_as_itself(
    reply: HttpResponse, cls: type[sib.ImageBuilderError]
) -> None:
    run = Run([image("BUILDING"), reply])
    with pytest.raises(cls) as info:
        run.wait()
    if isinstance(info.value, sib.ServiceError):
        assert "when calling the GetImage operation" in str(info.value)
    assert len(run.sent_at) == 2


def test_an_exception_from_on_status_propagates() -> None:
    def boom(response: sib.GetImageResponse) -> None:
        raise RuntimeError("stop")

    run = Run([image("BUILDING")])
    with pytest.raises(RuntimeError, match="stop"):
        run.wait(on_status=boom)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"min_delay": 0}, "min_delay"),
        ({"min_delay": -1}, "min_delay"),
        ({"min_delay": True}, "min_delay"),
        ({"min_delay": "5"}, "min_delay"),
        ({"min_delay": math.nan}, "min_delay"),
        ({"max_delay": math.inf}, "max_delay"),
        ({"max_delay": 4}, "max_delay"),
        ({"max_wait": 0}, "max_wait"),
        ({"max_wait": None}, "max_wait"),
        ({"max_wait": -math.inf}, "max_wait"),
        ({"on_status": "print"}, "on_status"),
        # time.sleep cannot take 1e10 s: refused, not a raw OverflowError mid-wait.
        ({"min_delay": 1e10, "max_delay": 1e10, "max_wait": 1e12}, "min_delay"),
        ({"max_delay": MAX_DELAY * 2}, "max_delay"),
        ({"max_wait": MAX_WAIT + 1}, "max_wait"),
        ({"max_wait": 10**400}, "max_wait"),
    ],
)
def test_bad_arguments_fail_before_any_request(kwargs: dict[str, Any], param: str) -> None:
    run = Run([])
    with pytest.raises(sib.ParamValidationError) as info:
        run.wait(**kwargs)
    assert info.value.param == param
    assert run.sent_at == []


def test_a_bad_arn_fails_before_any_request() -> None:
    run = Run([])
    flow = wait_flow(
        run.ctx, IMAGE_CANCELLED, "arn:nope", min_delay=1, max_delay=1, max_wait=1, on_status=None
    )
    with pytest.raises(sib.ParamValidationError, match="image_build_version_arn"):
        next(flow)


@pytest.mark.parametrize(
    ("attempt", "random", "remaining", "expected"),
    [
        (1, 0.0, 1000, (5.0, False)),
        (1, 0.99, 1000, (5.0, False)),  # the first range is [5, 5]
        (2, 0.0, 1000, (5.0, False)),
        (2, 0.5, 1000, (7.5, False)),
        (3, 0.25, 1000, (8.75, False)),  # [5, 20]
        (4, 1.0, 1000, (30.0, False)),  # 40 capped at 30
        (60, 0.5, 1000, (17.5, False)),  # beyond the attempt ceiling: [5, 30], no overflow
        (10_000, 1.0, 1000, (30.0, False)),
        (4, 1.0, 35.0, (30.0, True)),  # 35 - 30 <= 5: the next poll is the last
        (4, 1.0, 36.0, (30.0, False)),
        (4, 1.0, 20.0, (15.0, True)),
        (1, 0.0, 3.0, (0.0, True)),  # less than min_delay left: poll at once, last time
    ],
)
def test_delay_schedule(
    attempt: int, random: float, remaining: float, expected: tuple[float, bool]
) -> None:
    got = waiter_delay(
        attempt, min_delay=5, max_delay=30, remaining=remaining, random=lambda: random
    )
    assert got == pytest.approx(expected)


def test_the_largest_accepted_values_wait_without_overflow() -> None:
    run = Run([image("BUILDING"), image("CANCELLED")], random=1.0)
    run.wait(min_delay=MAX_DELAY, max_delay=MAX_DELAY, max_wait=MAX_WAIT)
    assert run.sleeps == [MAX_DELAY]


@pytest.mark.parametrize("attempt", [1, 2, 1074, 1075, 1076, 2000, 10**6])
def test_a_tiny_min_delay_never_overflows_the_ceiling(attempt: int) -> None:
    # min_delay * 2 ** (n - 1) once overflowed after about 1,075 polls.
    delay, last = waiter_delay(
        attempt, min_delay=5e-324, max_delay=1e-3, remaining=60, random=lambda: 1.0
    )
    assert 0 <= delay <= 1e-3 and not last
    if attempt >= 1076:
        assert delay == 1e-3


def test_a_wait_with_a_subnormal_min_delay_polls_past_a_thousand_times() -> None:
    run = Run([image("BUILDING")] * 1200 + [image("CANCELLED")], random=1.0)
    result = run.wait(min_delay=5e-324, max_delay=1e-3, max_wait=60)
    assert result.image is not None and result.image.state is not None
    assert result.image.state.status == "CANCELLED"
    assert len(run.sent_at) == 1201 and max(run.sleeps) == 1e-3


def test_documented_defaults() -> None:
    assert (IMAGE_CANCELLED.min_delay, IMAGE_CANCELLED.max_delay, IMAGE_CANCELLED.max_wait) == (
        5.0,
        30.0,
        1800.0,
    )
    assert (IMAGE_AVAILABLE.min_delay, IMAGE_AVAILABLE.max_delay, IMAGE_AVAILABLE.max_wait) == (
        30.0,
        120.0,
        21600.0,
    )


def _json(status: str) -> httpx.Response:
    return httpx.Response(200, json={"image": {"arn": ARN, "state": {"status": status}}})


FAST = {"min_delay": 0.001, "max_delay": 0.002, "max_wait": 5}


def test_sync_client_waits_for_cancelled_and_available(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(URL).mock(
        side_effect=[_json("BUILDING"), _json("CANCELLED"), _json("TESTING"), _json("AVAILABLE")]
    )
    changes: list[str] = []
    with sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client:
        done = client.wait_until_image_cancelled(
            ARN, on_status=lambda r: changes.append(r.image.state.status), **FAST
        )
        ready = client.wait_until_image_available(ARN, **FAST)
    assert done.image.state.status == "CANCELLED"  # type: ignore[union-attr]
    assert ready.image.state.status == "AVAILABLE"  # type: ignore[union-attr]
    assert changes == ["BUILDING", "CANCELLED"]
    assert route.call_count == 4
    assert all(c.request.method == "GET" for c in route.calls)


def test_sync_client_failure_and_timeout(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(side_effect=[_json("FAILED")] + [_json("BUILDING")] * 50)
    with sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client:
        with pytest.raises(
            sib.WaiterFailureError, match="ImageAvailable failed: the image is FAILED"
        ):
            client.wait_until_image_available(ARN, **FAST)
        with pytest.raises(sib.WaiterTimeoutError) as info:
            client.wait_until_image_cancelled(ARN, min_delay=0.01, max_delay=0.01, max_wait=0.05)
    assert info.value.attempts >= 2 and info.value.waited <= 1.0
    assert info.value.last_response is not None
    text = str(info.value) + repr(info.value) + repr(info.value.last_response)
    assert PLAIN_CREDS.secret_access_key not in text and "Signature=" not in text


async def test_async_client_waits_and_reports_changes(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"x-amzn-ErrorType": "ServiceUnavailableException"}),
            _json("BUILDING"),
            _json("CANCELLED"),
            httpx.Response(403, headers={"x-amzn-ErrorType": "ForbiddenException"}),
        ]
    )
    changes: list[str] = []
    async with sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=PLAIN_CREDS, retry_policy=NO_SLEEP
    ) as client:
        resp = await client.wait_until_image_cancelled(
            ARN, on_status=lambda r: changes.append(r.image.state.status), **FAST
        )
        assert resp.image is not None and resp.metadata.retry_attempts == 0
        with pytest.raises(sib.ForbiddenException):
            await client.wait_until_image_available(ARN, **FAST)
        with pytest.raises(sib.ParamValidationError, match="max_delay"):
            await client.wait_until_image_available(ARN, min_delay=2, max_delay=1)
    assert changes == ["BUILDING", "CANCELLED"]


async def test_cancelling_the_async_wait_mid_sleep_leaves_the_client_usable(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.get(URL).mock(return_value=_json("BUILDING"))
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client:
        task = asyncio.create_task(client.wait_until_image_cancelled(ARN, min_delay=30))
        while not route.called:  # the loop keeps running while the waiter waits
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert route.call_count == 1
        resp = await client.get_image(ARN)
        assert resp.image is not None and route.call_count == 2


async def test_many_concurrent_waits_on_one_client_each_get_their_own_image(
    respx_mock: respx.MockRouter,
) -> None:
    arns = [ARN.replace("/3", f"/{n}") for n in range(1, 21)]
    polls: dict[str, int] = {}

    def service(request: httpx.Request) -> httpx.Response:
        arn = request.url.params["imageBuildVersionArn"]
        polls[arn] = polls.get(arn, 0) + 1
        if polls[arn] == 1 and arn.endswith("/7"):
            return httpx.Response(
                429, headers={"x-amzn-ErrorType": "CallRateLimitExceededException"}
            )
        status = "CANCELLED" if polls[arn] >= 3 else "BUILDING"
        return httpx.Response(200, json={"image": {"arn": arn, "state": {"status": status}}})

    respx_mock.get(URL).mock(side_effect=service)
    async with sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=PLAIN_CREDS, retry_policy=NO_SLEEP
    ) as client:
        results = await asyncio.gather(
            *(client.wait_until_image_cancelled(arn, **FAST) for arn in arns)
        )
    assert [r.image.arn for r in results] == arns  # type: ignore[union-attr]
    assert all(r.image.state.status == "CANCELLED" for r in results)  # type: ignore[union-attr]
    # The throttled first attempt was retried inside the first poll.
    assert polls[arns[6]] == 3 and polls[arns[0]] == 3


def test_with_less_than_min_delay_left_the_wait_ends_without_another_poll() -> None:
    run = Run([image("BUILDING")] * 5)
    with pytest.raises(sib.WaiterTimeoutError) as info:
        run.wait(min_delay=5, max_delay=5, max_wait=3)
    assert (info.value.attempts, info.value.waited, run.sleeps) == (1, 0.0, [])
    run = Run([image("BUILDING")] * 5, request_cost=8.0)  # a slow first poll eats the time
    with pytest.raises(sib.WaiterTimeoutError) as info:
        run.wait(min_delay=5, max_delay=30, max_wait=12)
    assert info.value.attempts == 1 and run.sleeps == []


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def _silent_client_kwargs(port: int) -> dict[str, Any]:
    # The default 60 s read timeout and 3 attempts: one poll could take 180 s.
    return {
        "region": "us-east-1",
        "endpoint_url": f"http://127.0.0.1:{port}",
        "credentials": sib.Credentials("AKID", "SECRETsilent"),
    }


def _check_silent_timeout(error: sib.WaiterTimeoutError, elapsed: float) -> None:
    assert elapsed < 15  # unbounded, it was 3 attempts x 60 s read timeout
    assert isinstance(error.last_error, sib.TransportTimeoutError)
    assert error.attempts == 1 and error.last_response is None
    assert "SECRETsilent" not in str(error) + repr(error)


def test_max_wait_bounds_a_sync_wait_on_an_endpoint_that_never_answers(
    silent_port: int,
) -> None:
    with sib.ImageBuilderClient(**_silent_client_kwargs(silent_port)) as client:
        started = time.monotonic()
        with pytest.raises(sib.WaiterTimeoutError) as info:
            client.wait_until_image_cancelled(ARN, min_delay=0.1, max_delay=0.1, max_wait=0.2)
        _check_silent_timeout(info.value, time.monotonic() - started)


async def test_max_wait_bounds_an_async_wait_on_an_endpoint_that_never_answers(
    silent_port: int,
) -> None:
    async with sib.AsyncImageBuilderClient(**_silent_client_kwargs(silent_port)) as client:
        started = time.monotonic()
        with pytest.raises(sib.WaiterTimeoutError) as info:
            await client.wait_until_image_available(ARN, min_delay=0.1, max_delay=0.1, max_wait=0.2)
        _check_silent_timeout(info.value, time.monotonic() - started)


def test_each_poll_gets_the_time_left_as_its_deadline() -> None:
    run = Run([image("BUILDING")] * 3, random=0.0, request_cost=4.0)
    with pytest.raises(sib.WaiterTimeoutError):
        run.wait(min_delay=5, max_delay=5, max_wait=20)
    deadlines = [a.deadline for a in run.actions if isinstance(a, Send)]
    # Polls at 0, 9 (after 4 s + 5 s) and 15 (the shortened last delay) of 20.
    assert deadlines == [pytest.approx(20.0), pytest.approx(11.0), pytest.approx(5.0)]


# --- max_wait bounds the wait for a max_concurrency slot too ---


def _slot_test_server(cancel_arrived: threading.Event) -> Any:
    from sigv4_imagebuilder.testing import Reply

    # The cancel holds the client's one slot for 2 s after it arrives; the polls answer at once.
    def answer(request: Any) -> Any:
        body = {"requestId": "r", "image": {"arn": ARN, "state": {"status": "BUILDING"}}}
        if request.method == "PUT":
            cancel_arrived.set()
            ok = {"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}
            return Reply(delay=2.0, body=json.dumps(ok).encode())
        return Reply(body=json.dumps(body).encode())

    return answer


def test_a_waiters_max_wait_bounds_its_wait_for_a_slot_sync() -> None:
    import concurrent.futures

    from sigv4_imagebuilder.testing import LoopbackServer

    cancel_arrived = threading.Event()
    with (
        LoopbackServer(_slot_test_server(cancel_arrived)) as server,
        sib.ImageBuilderClient(
            region="us-east-1",
            credentials=PLAIN_CREDS,
            endpoint_url=server.endpoint_url,
            max_concurrency=1,
            retry_policy=NO_SLEEP,
        ) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        slow = pool.submit(client.cancel_image_creation, ARN)
        assert cancel_arrived.wait(5)  # the cancel holds the slot
        start = time.monotonic()
        with pytest.raises(sib.WaiterTimeoutError) as info:
            client.wait_until_image_cancelled(ARN, min_delay=0.1, max_delay=0.1, max_wait=0.3)
        waited = time.monotonic() - start
        slow.result(10)
    assert waited < 1.5  # the slot frees only after 1.9 s more: a bound with room for a busy CI
    assert isinstance(info.value.last_error, sib.TransportTimeoutError)
    assert "max_concurrency" in str(info.value.last_error)


async def test_a_waiters_max_wait_bounds_its_wait_for_a_slot_async() -> None:
    from sigv4_imagebuilder.testing import LoopbackServer

    cancel_arrived = threading.Event()
    with LoopbackServer(_slot_test_server(cancel_arrived)) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=PLAIN_CREDS,
            endpoint_url=server.endpoint_url,
            max_concurrency=1,
            retry_policy=NO_SLEEP,
        ) as client:
            slow = asyncio.create_task(client.cancel_image_creation(ARN))
            for _ in range(1000):  # until the cancel holds the slot (at most 5 s)
                if cancel_arrived.is_set():
                    break
                await asyncio.sleep(0.005)
            assert cancel_arrived.is_set()
            start = time.monotonic()
            with pytest.raises(sib.WaiterTimeoutError) as info:
                await client.wait_until_image_cancelled(
                    ARN, min_delay=0.1, max_delay=0.1, max_wait=0.3
                )
            waited = time.monotonic() - start
            await slow
    assert waited < 1.5
    assert isinstance(info.value.last_error, sib.TransportTimeoutError)
