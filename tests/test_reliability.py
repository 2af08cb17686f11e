"""Both clients against real servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN, utcnow

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    LoopbackServer,
    ReceivedRequest,
    Reply,
    verify_request_signature,
)


def ok(request: ReceivedRequest, request_id: str = "ok-id") -> Reply:
    token = json.loads(request.body)["clientToken"]
    return Reply(
        headers=[("x-amzn-RequestId", request_id), ("Content-Type", "application/json")],
        body=json.dumps(
            {"requestId": request_id, "clientToken": token, "imageBuildVersionArn": ARN}
        ).encode(),
    )


def error(status: int, code: str, message: str = "m", request_id: str = "err-id") -> Reply:
    return Reply(
        status=status,
        headers=[
            ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/"),
            ("x-amzn-RequestId", request_id),
        ],
        body=json.dumps({"message": message}).encode(),
    )


class Script:
    """Plays one reply factory per request, then repeats the last; records requests."""

    def __init__(self, *steps: Callable[[ReceivedRequest], Reply]) -> None:
        self.steps = list(steps)
        self.received: list[ReceivedRequest] = []
        self._lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            index = min(len(self.received), len(self.steps) - 1)
            self.received.append(request)
        return self.steps[index](request)

    @property
    def tokens(self) -> set[str]:
        return {json.loads(r.body)["clientToken"] for r in self.received}


def call(mode: str, server: LoopbackServer, **kwargs: Any) -> sib.CancelImageCreationResponse:
    """Make one cancel with the sync or the async client; both get the same arguments."""
    kwargs = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": server.endpoint_url,
        "retry_policy": NO_SLEEP,
        **kwargs,
    }
    if mode == "sync":
        with sib.ImageBuilderClient(**kwargs) as client:
            return client.cancel_image_creation(ARN)

    async def go() -> sib.CancelImageCreationResponse:
        async with sib.AsyncImageBuilderClient(**kwargs) as client:
            return await client.cancel_image_creation(ARN)

    return asyncio.run(go())


modes = pytest.mark.parametrize("mode", ["sync", "async"])


@modes
def test_lost_reply_then_success_with_one_token(mode: str) -> None:
    script = Script(lambda r: Reply(drop=True), ok)
    with LoopbackServer(script) as server:
        resp = call(mode, server)
    assert resp.metadata.retry_attempts == 1
    assert len(script.received) == 2 and len(script.tokens) == 1
    assert resp.client_token in script.tokens
    assert [r.header("amz-sdk-request") for r in script.received] == [
        "attempt=1; max=3",
        "attempt=2; max=3",
    ]
    assert len({r.header("amz-sdk-invocation-id") for r in script.received}) == 1


@modes
def test_503_then_429_then_200(mode: str) -> None:
    script = Script(
        lambda r: error(503, "ServiceUnavailableException"),
        lambda r: error(429, "CallRateLimitExceededException"),
        ok,
    )
    with LoopbackServer(script) as server:
        resp = call(mode, server)
    assert resp.request_id == "ok-id" and resp.metadata.retry_attempts == 2
    assert len(script.tokens) == 1


@modes
def test_persistent_500_until_max_attempts(mode: str) -> None:
    script = Script(lambda r: error(500, "ServiceException", "internal", request_id="req-500"))
    with LoopbackServer(script) as server, pytest.raises(sib.ServiceException) as info:
        call(mode, server, max_attempts=4)
    assert len(script.received) == 4
    assert info.value.retry_attempts == 3
    assert info.value.request_id == "req-500"  # kept on 5xx, unlike botocore
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 3


@modes
def test_max_attempts_one_means_no_retry(mode: str) -> None:
    script = Script(lambda r: error(503, "ServiceUnavailableException"))
    with LoopbackServer(script) as server, pytest.raises(sib.ServiceUnavailableException):
        call(mode, server, max_attempts=1)
    assert len(script.received) == 1


@modes
def test_resource_in_use_is_not_retried(mode: str) -> None:
    script = Script(lambda r: error(400, "ResourceInUseException"))
    with LoopbackServer(script) as server, pytest.raises(sib.ResourceInUseException):
        call(mode, server)
    assert len(script.received) == 1


@modes
def test_reply_slower_than_the_read_timeout(mode: str) -> None:
    script = Script(lambda r: Reply(delay=2.0, body=b"{}"))
    with LoopbackServer(script) as server, pytest.raises(sib.TransportTimeoutError) as info:
        call(mode, server, timeout=httpx.Timeout(5.0, read=0.2), max_attempts=2)
    assert len(script.received) == 2
    assert info.value.retry_attempts == 1
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert "timed out" in str(info.value)


@modes
def test_truncated_body_is_retried(mode: str) -> None:
    script = Script(
        lambda r: Reply(body=b'{"requestId": "truncated-but-long-enough"}', truncate_to=10), ok
    )
    with LoopbackServer(script) as server:
        resp = call(mode, server)
    assert resp.request_id == "ok-id" and resp.metadata.retry_attempts == 1


@modes
def test_truncated_body_every_time_is_a_connection_closed_error(mode: str) -> None:
    script = Script(lambda r: Reply(body=b'{"requestId": "x"}' * 4, truncate_to=5))
    with LoopbackServer(script) as server, pytest.raises(sib.ConnectionClosedError) as info:
        call(mode, server, max_attempts=2)
    assert isinstance(info.value.__cause__, httpx.HTTPError)


@modes
def test_connection_refused_is_a_connect_error(mode: str) -> None:
    with LoopbackServer(lambda r: Reply()) as server:
        pass  # stopped: the port is closed now
    with pytest.raises(sib.ConnectError) as info:
        call(mode, server, max_attempts=2)
    assert info.value.retry_attempts == 1


class SkewedServer:
    """A server whose clock is 47 minutes ahead; it verifies signatures against it."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta(minutes=47)
        self.received: list[ReceivedRequest] = []
        self.refused = 0

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        now = utcnow() + self.offset
        date = [("Date", email.utils.format_datetime(now, usegmt=True))]
        problem = verify_request_signature(
            request, credentials={CREDS.access_key_id: CREDS}, region="us-east-1", now=now
        )
        if problem is not None:
            self.refused += 1
            reply = error(403, problem.code, problem.message)
            return Reply(status=reply.status, headers=[*reply.headers, *date], body=reply.body)
        reply = ok(request)
        return Reply(status=200, headers=[*reply.headers, *date], body=reply.body)


def test_clock_skew_is_corrected_once_and_remembered_sync() -> None:
    server_state = SkewedServer()
    with (
        LoopbackServer(server_state) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url, max_attempts=1
        ) as client,
    ):
        first = client.cancel_image_creation(ARN)
        second = client.cancel_image_creation(ARN)
    assert server_state.refused == 1
    assert first.metadata.retry_attempts == 1
    assert second.metadata.retry_attempts == 0  # later calls sign with the corrected clock
    assert len(server_state.received) == 3


async def test_clock_skew_is_corrected_once_and_remembered_async() -> None:
    server_state = SkewedServer()
    with LoopbackServer(server_state) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client:
            first = await client.cancel_image_creation(ARN)
            second = await client.cancel_image_creation(ARN)
    assert (
        server_state.refused,
        first.metadata.retry_attempts,
        second.metadata.retry_attempts,
    ) == (1, 1, 0)


async def test_cancelling_a_task_leaks_nothing_and_leaves_the_client_usable() -> None:
    release = threading.Event()

    def handler(request: ReceivedRequest) -> Reply:
        if json.loads(request.body)["clientToken"] == "slow":
            release.wait(5)
        return ok(request)

    with LoopbackServer(handler) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client:
            task = asyncio.create_task(client.cancel_image_creation(ARN, client_token="slow"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()
            resp = await client.cancel_image_creation(ARN, client_token="fast")
            assert resp.client_token == "fast"


def test_debug_log_and_errors_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signatures: list[str] = []
    texts: list[str] = []

    def remember(request: ReceivedRequest) -> None:
        auth = request.header("authorization") or ""
        signatures.append(auth.rsplit("Signature=", 1)[-1])

    scripts = {
        "success": Script(ok),
        "retry": Script(
            lambda r: Reply(drop=True), lambda r: error(503, "ServiceUnavailableException"), ok
        ),
        "error": Script(lambda r: error(400, "InvalidRequestException", "terminal")),
        "exhausted": Script(lambda r: error(500, "ServiceException")),
        "transport": Script(lambda r: Reply(drop=True)),
    }
    for script in scripts.values():

        def recording(request: ReceivedRequest, script: Script = script) -> Reply:
            remember(request)
            return script(request)

        with LoopbackServer(recording) as server:
            try:
                resp = call("sync", server)
                texts += [repr(resp), str(resp)]
            except sib.ImageBuilderError as exc:
                texts += [
                    repr(exc),
                    str(exc),
                    json.dumps(getattr(exc, "response", {})),
                    repr(exc.__cause__),
                    str(exc.__cause__),
                ]
                import traceback

                texts.append("".join(traceback.format_exception(exc)))
    texts += [
        repr(CREDS),
        str(CREDS),
        repr(sib.ImageBuilderClient(region="us-east-1", credentials=CREDS)),
    ]
    texts += [record.getMessage() for record in caplog.records]
    everything = "\n".join(texts)
    assert any("attempt 1/3 PUT" in r.getMessage() for r in caplog.records)
    assert any("retrying: transient" in r.getMessage() for r in caplog.records)
    assert len(signatures) >= 9
    for secret in (SECRET, SESSION_TOKEN, *signatures):
        assert secret not in everything
    assert "Authorization" not in everything and "X-Amz-Security-Token" not in everything
