"""The engines under attack: cancellation, closing mid-call, threads, stale connections, proxies.

From a red-team pass over the urllib3 and aiohttp engines; each test asserts what
the library promises, on both clients where both apply. Five were defects when
found (aclose() mid-body, NO_PROXY host:port, an empty http_proxy, and the CA
bundle for an https:// proxy on either engine); they are fixed and named below.
Loopback only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import random
import socket
import ssl
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import urllib3
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN
from hostile import PASSWORD
from test_engine_aiohttp import (
    CANCEL_REPLY,
    assert_typed,
    chain,
    library_client,
    read_request,
    serving,
)
from test_engine_aiohttp import until as auntil
from test_engine_urllib3 import (
    CA,
    NO_ENV,
    Peer,
    Proxy,
    Server,
    _server_tls,
    cancel_reply,
    free_port,
    library,
    reply,
    until,
)
from urllib3.exceptions import ClosedPoolError

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._engines import EngineSettings
from sigv4_imagebuilder._engines._aiohttp import AiohttpTransport
from sigv4_imagebuilder._engines._urllib3 import Urllib3Transport, _close

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def leaks_on_310(test: Any) -> Any:
    """Python 3.10 leaves two things of a failed proxied exchange to the garbage collector:
    http.client the socket of a refused CONNECT (urllib3 #3374), asyncio the TLS transport
    it started inside a tunnel that the endpoint then closed (3.11's new sslproto closes
    both). Their ResourceWarning is ignored there, and conftest collects them before the
    test ends, so the warning cannot land in a later test."""
    if sys.version_info >= (3, 11):
        return test
    test = pytest.mark.filterwarnings("ignore::ResourceWarning")(test)
    return pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")(test)


def body_for(token: str) -> bytes:
    return json.dumps(
        {"requestId": token, "clientToken": token, "imageBuildVersionArn": ARN}
    ).encode()


def token_of(request: bytes) -> str:
    return str(json.loads(request.split(b"\r\n\r\n", 1)[1])["clientToken"])


def call(mode: str, url: str, *, token: str | None = None, **options: Any) -> Any:
    """One cancel on a fresh client of ``mode``: the result or the exception (any type)."""
    opts: dict[str, Any] = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": url,
        "retry_policy": NO_SLEEP,
        "max_attempts": 1,
        "env": NO_ENV,
        **options,
    }
    try:
        if mode == "sync":
            with sib.ImageBuilderClient(**opts) as client:
                return client.cancel_image_creation(ARN, client_token=token)

        async def go() -> Any:
            async with sib.AsyncImageBuilderClient(**opts) as client:
                return await client.cancel_image_creation(ARN, client_token=token)

        return asyncio.run(go())
    except Exception as exc:  # the probes look at whatever came out
        return exc


def assert_lib_error(exc: object, kind: type = sib.ImageBuilderError) -> None:
    assert isinstance(exc, kind), repr(exc)
    assert isinstance(exc, BaseException)
    for link in chain(exc):
        assert isinstance(link, BaseException)
        mod = type(link).__module__
        assert mod.startswith(("sigv4_imagebuilder", "httpx")), repr(link)


# ============================================================ 1. async cancellation


async def test_async_cancelled_tasks_leave_the_library_client_clean_and_uncrossed() -> None:
    """Many gathered library calls, cancelled before the head, mid-body, or anywhere;
    later calls each get their own reply (no stale bytes), nothing leaks."""
    rng = random.Random(7)
    tasks: dict[str, asyncio.Task[Any]] = {}

    async def echo(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            token = token_of(request)
            task = tasks.get(token)
            choice = rng.random()
            body = body_for(token) + b" " * 3000
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
            if task is not None and choice < 0.3:
                task.cancel()  # before the head
            await asyncio.sleep(rng.random() * 0.002)
            writer.write(head + body[:40])
            if task is not None and choice > 0.7:
                await asyncio.sleep(0.001)
                task.cancel()  # mid-body
            await asyncio.sleep(rng.random() * 0.002)
            writer.write(body[40:])

    async with serving(echo) as server:
        client = library_client(server.url, max_concurrency=4)
        loop = asyncio.get_running_loop()
        for n in range(300):
            token = f"c{n}"
            tasks[token] = asyncio.create_task(
                client.cancel_image_creation(ARN, client_token=token)
            )
            if n % 5 == 0:
                loop.call_later(rng.random() * 0.2, tasks[token].cancel)
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
        for token, result in zip(tasks, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                continue
            assert not isinstance(result, BaseException), repr(result)
            assert result.client_token == token
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) > 50
        after = await asyncio.wait_for(
            asyncio.gather(
                *(client.cancel_image_creation(ARN, client_token=f"a{i}") for i in range(40))
            ),
            10,
        )
        assert [r.client_token for r in after] == [f"a{i}" for i in range(40)]
        assert server.open <= 4
        await client.aclose()
        await client.aclose()  # twice is fine
        await auntil(lambda: server.open == 0)


# ============================================================ 2. close while callers are mid-call


async def test_async_aclose_while_many_tasks_wait_for_a_head_gives_library_errors() -> None:
    release = asyncio.Event()

    async def hold(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            await release.wait()
            writer.write(CANCEL_REPLY)

    async with serving(hold) as server:
        client = library_client(server.url, max_concurrency=4, max_attempts=3)
        tasks = [asyncio.create_task(client.cancel_image_creation(ARN)) for _ in range(20)]
        await auntil(lambda: len(server.requests) == 4)
        await client.aclose()
        done, pending = await asyncio.wait(tasks, timeout=1.5)
        release.set()
        for task in pending:
            task.cancel()
        assert not pending
        for task in done:
            assert_typed(task.exception())  # type: ignore[arg-type]
        await client.aclose()
        await auntil(lambda: server.open == 0)
        assert len(server.requests) == 4  # nothing sent after aclose()


# Was a defect: aiohttp drops a connection's reader when its session closes it, so
# these tasks waited for ever (past the read timeout).
@pytest.mark.parametrize("length", [500, 200_000], ids=["read-at-once", "streamed"])
async def test_async_aclose_while_tasks_are_mid_body_ends_them_with_a_library_error(
    length: int,
) -> None:
    release = asyncio.Event()

    async def hold(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{" % length)
            await release.wait()

    async with serving(hold) as server:
        client = library_client(server.url, max_concurrency=4, timeout=0.5)
        tasks = [asyncio.create_task(client.cancel_image_creation(ARN)) for _ in range(4)]
        await auntil(lambda: len(server.requests) == 4)
        await asyncio.sleep(0.05)
        await client.aclose()
        done, pending = await asyncio.wait(tasks, timeout=1.5)  # 3x the read timeout
        release.set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        assert not pending
        for task in done:
            assert_typed(task.exception())  # type: ignore[arg-type]


def test_sync_close_while_32_threads_hammer_leaks_nothing() -> None:
    """Threads looping on calls while another closes the client: every caller gets a result
    or the library's error, and no connection stays open afterwards (no pool recreated
    behind the closed client)."""
    outcomes: list[object] = []
    lock = threading.Lock()

    def worker(client: sib.ImageBuilderClient) -> None:
        while True:
            try:
                client.cancel_image_creation(ARN)
            except sib.ImageBuilderError as exc:
                with lock:
                    outcomes.append(exc)
                if "closed" in str(exc):
                    return
            except BaseException as exc:  # pragma: no cover - the failure tested for
                with lock:
                    outcomes.append(exc)
                return

    for _round in range(3):
        with Server() as server:
            client = library(server.url, max_concurrency=8)
            threads = [threading.Thread(target=worker, args=(client,)) for _ in range(32)]
            for t in threads:
                t.start()
            until(lambda: len(server.requests) > 100)
            client.close()
            for t in threads:
                t.join(5)
            assert not any(t.is_alive() for t in threads)
            until(lambda: server.open == 0)
        client.close()
    assert all(isinstance(o, sib.ImageBuilderError) for o in outcomes), outcomes[:3]


@pytest.mark.parametrize("route", ["direct, pool in use", "direct, first request", "proxied"])
def test_a_request_reaching_the_closed_sync_transport_sends_nothing(route: str) -> None:
    """A call that passed httpx's is-closed check as close() ran reaches the transport after
    it closed (the race in the hammer test above, made deterministic): it is a ConnectError
    that says so, and no connection is opened for it, to the endpoint or to a proxy. It once
    went out over a pool made anew behind the closed client, and that connection stayed open."""
    with Server() as server, Proxy() as proxy:
        proxies = {"http": proxy.url} if route == "proxied" else {}
        transport = Urllib3Transport(EngineSettings(proxies=proxies))
        with httpx.Client(transport=transport, timeout=5.0, trust_env=False) as http:
            if route != "direct, first request":
                assert http.get(server.url).status_code == 200
            before = (server.connections, proxy.connections)
            transport.close()
            with pytest.raises(httpx.ConnectError, match="closed; nothing was sent"):
                http.get(server.url)
            transport.close()  # twice is harmless
            assert (server.connections, proxy.connections) == before
            until(lambda: server.open == 0 and proxy.open == 0)


def test_a_proxied_request_sent_as_the_sync_transport_closes_leaves_no_connection_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3's ProxyManager makes its pools itself, so close() cannot refuse a proxied
    request already past the transport's check: that one is answered, and the pool it made
    behind the closed client is closed with it."""
    with Server() as server, Proxy() as proxy:
        transport = Urllib3Transport(EngineSettings(proxies={"http": proxy.url}))
        with httpx.Client(transport=transport, timeout=5.0, trust_env=False) as http:
            assert http.get(server.url).status_code == 200
            found = transport._for

            def closing_first(name: str | None) -> Any:
                manager = found(name)
                transport.close()  # close() lands after the check, before urlopen
                return manager

            monkeypatch.setattr(transport, "_for", closing_first)
            assert http.get(server.url).status_code == 200
            assert proxy.connections == 2
            until(lambda: proxy.open == 0)


def test_closing_a_pool_manager_closes_a_pool_made_while_it_sweeps() -> None:
    """A proxied request makes its pool inside urllib3's ProxyManager, so one can appear
    while close() sweeps the manager: it is closed too, not forgotten with its connection."""
    manager = urllib3.PoolManager()
    first = manager.connection_from_host("127.0.0.1", free_port(), "http")
    made: list[Any] = []
    shipped = first.close

    def close_as_another_request_makes_a_pool() -> None:
        shipped()
        made.append(manager.connection_from_host("127.0.0.1", free_port(), "http"))

    first.close = close_as_another_request_makes_a_pool  # type: ignore[method-assign]
    _close(manager)
    assert len(made) == 1
    for pool in (first, made[0]):
        with pytest.raises(ClosedPoolError):
            pool.urlopen("GET", "/")
    assert not manager.pools.keys()


@pytest.fixture
def instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's transports patched with a pass-through, as OpenTelemetry's instrumentor or
    respx's pass-through do, so the engines hand requests to httpx's own transport."""
    shipped, ashipped = (
        httpx.HTTPTransport.handle_request,
        httpx.AsyncHTTPTransport.handle_async_request,
    )

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        return shipped(self, request)

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        return await ashipped(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)


@pytest.mark.usefixtures("instrumented")
def test_an_instrumented_request_reaching_the_closed_sync_transport_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under an instrumentation the request goes through httpx's own transport: one that
    passed the closed check as close() ran is refused there too, and no fallback is made
    behind the closed transport (one was, and its connection stayed open)."""
    with Server() as server:
        transport = Urllib3Transport(EngineSettings())
        with httpx.Client(transport=transport, timeout=5.0, trust_env=False) as http:
            check = transport._refuse_if_closed

            def check_then_close() -> None:
                check()
                transport.close()  # another thread's close() lands after the check

            monkeypatch.setattr(transport, "_refuse_if_closed", check_then_close)
            with pytest.raises(httpx.ConnectError, match="closed; nothing was sent"):
                http.get(server.url)
            assert server.connections == 0


#: The instrumented path's requests, each held by the server until released: "/a" then
#: loses its connection without a reply, "/b" is answered.
PATHS = (b"/a", b"/b")


@pytest.mark.usefixtures("instrumented")
def test_instrumented_sync_calls_in_flight_at_close_end_and_leave_nothing_open() -> None:
    """close() lands while two requests wait inside httpx's own transport for their replies.
    The answered one gets its reply (closing httpx's pool under it broke it with a ReadError),
    the lost one a typed error, and httpx's transport is closed when the last is out, lost
    or not: the answered one's idle connection is closed then. A request after close() is
    refused before httpx's transport."""
    arrived = {path: threading.Event() for path in PATHS}
    release = {path: threading.Event() for path in PATHS}

    def held(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            path = request.split(b" ")[1]
            arrived[path].set()
            release[path].wait(5)
            if path == b"/a":
                return  # the connection closes with no reply
            peer.send(cancel_reply())

    with Server(held) as server:
        transport = Urllib3Transport(EngineSettings())
        with (
            httpx.Client(transport=transport, timeout=5.0, trust_env=False) as http,
            concurrent.futures.ThreadPoolExecutor(2) as pool,
        ):
            lost, answered = (pool.submit(http.get, server.url + path.decode()) for path in PATHS)
            assert all(event.wait(5) for event in arrived.values())
            transport.close()
            release[b"/b"].set()
            assert answered.result(10).status_code == 200
            assert server.open == 2  # kept while a request is still inside
            release[b"/a"].set()
            with pytest.raises(httpx.RemoteProtocolError):
                lost.result(10)
            until(lambda: server.open == 0)
            with pytest.raises(httpx.ConnectError, match="closed; nothing was sent"):
                http.get(server.url)
            assert server.connections == 2


@pytest.mark.usefixtures("instrumented")
async def test_instrumented_async_calls_in_flight_at_aclose_end_and_leave_nothing_open() -> None:
    """The async twin: aclose() lands while two requests wait inside httpx's own transport."""
    arrived = {path: asyncio.Event() for path in PATHS}
    release = {path: asyncio.Event() for path in PATHS}

    async def held(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            path = request.split(b" ")[1]
            arrived[path].set()
            await release[path].wait()
            if path == b"/a":
                return  # the connection closes with no reply
            writer.write(CANCEL_REPLY)
            await writer.drain()

    async with serving(held) as server:
        transport = AiohttpTransport(EngineSettings())
        async with httpx.AsyncClient(transport=transport, timeout=5.0, trust_env=False) as http:
            lost, answered = (
                asyncio.create_task(http.get(server.url + path.decode())) for path in PATHS
            )
            for event in arrived.values():
                await asyncio.wait_for(event.wait(), 5)
            await transport.aclose()
            release[b"/b"].set()
            assert (await answered).status_code == 200
            assert server.open == 2  # kept while a request is still inside
            release[b"/a"].set()
            with pytest.raises(httpx.RemoteProtocolError):
                await lost
            await auntil(lambda: server.open == 0)
            with pytest.raises(httpx.ConnectError, match="closed; nothing was sent"):
                await http.get(server.url)
            assert server.connections == 2


# ============================================================ 3. threads, echoed ids


def test_sync_32_threads_with_max_concurrency_5_no_crosstalk() -> None:
    failures: list[str] = []

    def echo(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            token = token_of(request)
            time.sleep(random.random() * 0.002)
            # some replies larger than the eager-read threshold, some chunked
            if index % 3 == 0:
                body = body_for(token) + b" " * 70000
                peer.send(reply(body, b"Content-Type: application/json"))
            elif index % 3 == 1:
                body = body_for(token)
                peer.send(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n" % len(body)
                    + body
                    + b"\r\n0\r\n\r\n"
                )
            else:
                peer.send(cancel_reply(body_for(token)))

    def worker(n: int) -> None:
        for i in range(8):
            token = f"t-{n}-{i}"
            try:
                result = client.cancel_image_creation(ARN, client_token=token)
            except BaseException as exc:  # pragma: no cover
                failures.append(repr(exc))
                continue
            if result.client_token != token:  # pragma: no cover
                failures.append(f"{token} got {result.client_token}")

    with Server(echo) as server, library(server.url, max_concurrency=5) as client:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failures == []
        assert server.connections <= 5 + 2  # a few replaced, never one per thread
    until(lambda: server.open == 0)


# ============================================================ 4. keep-alive after unread body


def _first_unread_then_echo(first: bytes) -> Any:
    """Connection 0's first request gets ``first`` (a reply whose body the client
    should not read through); every later request an echoed cancel reply."""

    def handler(peer: Peer, index: int) -> None:
        n = 0
        while (request := peer.request()) is not None:
            if index == 0 and n == 0:
                with contextlib.suppress(OSError):
                    peer.send(first)
            else:
                peer.send(cancel_reply(body_for(token_of(request))))
            n += 1

    return handler


BIG = 5 * 1024 * 1024
UNREAD_FIRSTS = {
    "over-cap-sized": reply(b"x" * BIG, b"Content-Type: application/json"),
    "redirect-with-big-body": reply(b"R" * 100_000, b"Location: /x", status=b"302 Found"),
    "redirect-with-small-body": reply(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", b"Location: /x", status=b"302 Found"
    ),
    "error-500-big": reply(
        b"E" * 100_000, b"Content-Type: application/json", status=b"500 Internal Server Error"
    ),
    "bad-gzip": reply(b"\x1f\x8bnotgzip" + b"z" * 100_000, b"Content-Encoding: gzip"),
    "unsupported-encoding": reply(b"B" * 1000, b"Content-Encoding: br"),
}


@MODES
@pytest.mark.parametrize("first", list(UNREAD_FIRSTS), ids=list(UNREAD_FIRSTS))
def test_the_next_call_never_reads_a_previous_unread_body(mode: str, first: str) -> None:
    with Server(_first_unread_then_echo(UNREAD_FIRSTS[first])) as server:
        if mode == "sync":
            with library(server.url) as client:
                with contextlib.suppress(sib.ImageBuilderError):
                    client.cancel_image_creation(ARN, client_token="one")
                got = [
                    client.cancel_image_creation(ARN, client_token=f"n{i}").client_token
                    for i in range(3)
                ]
        else:

            async def go() -> list[str]:
                async with library_client(server.url, env=NO_ENV) as client:
                    with contextlib.suppress(sib.ImageBuilderError):
                        await client.cancel_image_creation(ARN, client_token="one")
                    return [
                        (await client.cancel_image_creation(ARN, client_token=f"n{i}")).client_token
                        for i in range(3)
                    ]

            got = asyncio.run(go())
    assert got == ["n0", "n1", "n2"]


# ============================================================ 5. stale pooled connection


@MODES
def test_an_idle_connection_closed_by_the_server_costs_no_error_and_one_request(mode: str) -> None:
    """The server hangs up an idle kept-alive connection between calls: the next call
    goes out once, on a new connection, and succeeds (no error, no engine resend)."""

    def one_then_close(peer: Peer, index: int) -> None:
        request = peer.request()
        if request is not None:
            server.record(request)
            peer.send(cancel_reply())

    with Server(one_then_close) as server:
        if mode == "sync":
            with library(server.url, max_attempts=3) as client:
                client.cancel_image_creation(ARN)
                until(lambda: server.open == 0)
                time.sleep(0.05)
                client.cancel_image_creation(ARN)
        else:

            async def go() -> None:
                async with library_client(server.url, env=NO_ENV, max_attempts=3) as client:
                    await client.cancel_image_creation(ARN)
                    await auntil(lambda: server.open == 0)
                    await asyncio.sleep(0.05)
                    await client.cancel_image_creation(ARN)

            asyncio.run(go())
        assert len(server.requests) == 2 and server.connections == 2


@MODES
def test_a_reply_then_close_under_the_next_request_is_retried_by_the_client_only(mode: str) -> None:
    """Connection 0 answers once, reads the second request, then closes without a reply:
    max_attempts=3 -> ConnectionClosedError on attempt 1, retried (counted), success."""

    def drop_second(peer: Peer, index: int) -> None:
        n = 0
        while (request := peer.request()) is not None:
            server.record(request)
            n += 1
            if index == 0 and n == 2:
                return
            peer.send(cancel_reply())

    with Server(drop_second) as server:
        if mode == "sync":
            with library(server.url, max_attempts=3) as client:
                client.cancel_image_creation(ARN)
                result = client.cancel_image_creation(ARN)
        else:

            async def go() -> Any:
                async with library_client(server.url, env=NO_ENV, max_attempts=3) as client:
                    await client.cancel_image_creation(ARN)
                    return await client.cancel_image_creation(ARN)

            result = asyncio.run(go())
    assert result.image_build_version_arn == ARN
    assert len(server.requests) == 3
    attempts = [
        line.split(b":", 1)[1].strip()
        for r in server.requests[1:]
        for line in r.split(b"\r\n")
        if line.lower().startswith(b"amz-sdk-request:")
    ]
    assert attempts[0].startswith(b"attempt=1") and attempts[1].startswith(b"attempt=2")


# ============================================================ 6. endpoints: IPv6, userinfo, ports


class Server6(Server):
    def __init__(self, handler: Any = None) -> None:
        super().__init__(handler)
        self._listener.close()
        self._listener = socket.create_server(("::1", 0), family=socket.AF_INET6, backlog=128)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://[::1]:{self.port}"


@MODES
def test_ipv6_loopback_endpoint_works(mode: str) -> None:
    with Server6() as server:
        result = call(mode, server.url)
    assert not isinstance(result, BaseException), repr(result)
    assert result.image_build_version_arn == ARN
    host = [line for line in server.requests[0].split(b"\r\n") if line.lower().startswith(b"host:")]
    assert host == [f"Host: [::1]:{server.port}".encode()] or host == [
        f"host: [::1]:{server.port}".encode()
    ]


@MODES
@pytest.mark.parametrize(
    "url",
    [
        f"http://me:{PASSWORD}@127.0.0.1:1",
        f"http://{PASSWORD}@127.0.0.1:1",
        "http://127.0.0.1:0",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:99999999999999999999",
        "http://127.0.0.1:-1",
        "http://127.0.0.1:",
        "http://[::1]",
        "http://[::1]:0",
        "http://[::1%25lo]:1",
        "http://[fe80::1%25lo]:1",
        "http://127.0.0.1:1:2",
        "http://[::1]]:1",
    ],
)
def test_odd_endpoint_urls_are_typed_and_hide_userinfo(mode: str, url: str) -> None:
    result = call(mode, url, attempt_timeout=1)
    assert_lib_error(result)
    text = repr(result) + str(result)
    assert PASSWORD not in text


def test_a_leading_zero_port_is_refused_locally_and_typed() -> None:
    # Recorded behaviour: refused before sending (a ConfigurationError), in both clients.
    with Server() as server:
        url = f"http://127.0.0.1:0{server.port}"
        results = [call(mode, url) for mode in ("sync", "async")]
    for result in results:
        assert isinstance(result, sib.ConfigurationError), repr(result)
    assert server.requests == []


# ============================================================ 7. proxies


#: (the environment, given the proxy's URL and the endpoint's port; whether the request goes
#: through the proxy). NO_PROXY as urllib (so botocore) reads it, and the variables' cases.
ROUTES = {
    "no-proxy-star": (lambda proxy, port: {"HTTP_PROXY": proxy, "no_proxy": "*"}, False),
    "no-proxy-ip": (lambda proxy, port: {"HTTP_PROXY": proxy, "no_proxy": "127.0.0.1"}, False),
    "no-proxy-suffix": (lambda proxy, port: {"HTTP_PROXY": proxy, "no_proxy": ".0.0.1"}, False),
    "no-proxy-list": (
        lambda proxy, port: {"HTTP_PROXY": proxy, "no_proxy": "example.invalid, 127.0.0.1 "},
        False,
    ),
    # Was a defect: only the bare host was asked, so a "host:port" entry never matched
    # (botocore asks with the netloc; requests matches both too).
    "no-proxy-host-port": (
        lambda proxy, port: {"HTTP_PROXY": proxy, "NO_PROXY": f"127.0.0.1:{port}"},
        False,
    ),
    # urllib (so botocore) has no CIDR matching on Linux; requests would bypass.
    "no-proxy-cidr": (lambda proxy, port: {"HTTP_PROXY": proxy, "NO_PROXY": "127.0.0.0/8"}, True),
    "lower-case-wins": (
        lambda proxy, port: {"http_proxy": proxy, "HTTP_PROXY": f"http://127.0.0.1:{free_port()}"},
        True,
    ),
    # Was a defect: empty values were skipped, not popped.
    "empty-lower-case-cancels": (
        lambda proxy, port: {"http_proxy": "", "HTTP_PROXY": proxy},
        False,
    ),
}


@MODES
@pytest.mark.parametrize("route", list(ROUTES))
def test_the_proxy_settings_route_each_request_as_botocore_would(mode: str, route: str) -> None:
    environment, proxied = ROUTES[route]
    with Server() as server, Proxy() as proxy:
        env = {**NO_ENV, **environment(proxy.url, server.port)}
        result = call(mode, server.url, env=env)
    assert not isinstance(result, BaseException), repr(result)
    assert (len(proxy.requests), len(server.requests)) == ((1, 0) if proxied else (0, 1))


@MODES
def test_ipv6_loopback_endpoint_with_no_proxy_bypasses_the_proxy(mode: str) -> None:
    with Server6() as server, Proxy() as proxy:
        env = {**NO_ENV, "HTTP_PROXY": proxy.url, "NO_PROXY": "::1"}
        result = call(mode, server.url, env=env)
    assert not isinstance(result, BaseException), repr(result)
    assert proxy.requests == [] and len(server.requests) == 1


class TlsProxy(Proxy):
    """The same proxy behind TLS (self-signed, the suite's test CA)."""

    def __init__(self) -> None:
        super().__init__()
        self.tls = _server_tls()
        self.url = f"https://127.0.0.1:{self.port}"


@MODES
def test_an_https_proxy_with_an_untrusted_certificate_is_a_typed_error(
    mode: str, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    with TlsProxy() as proxy:
        host, port = "127.0.0.1", proxy.port
        env = {**NO_ENV, "HTTP_PROXY": f"https://me:{PASSWORD}@{host}:{port}"}
        result = call(mode, f"http://127.0.0.1:{free_port()}", env=env)
    assert_lib_error(result, sib.ConnectError)  # nothing reached the endpoint
    assert PASSWORD not in repr(result) + str(result)
    assert PASSWORD not in "\n".join(r.getMessage() for r in caplog.records)


@leaks_on_310
@MODES
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 3\r\n\r\nno!",
        b"SSH-2.0-OpenSSH_9.0\r\n",
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",  # CONNECT answered with a body
        b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/\r\n\r\n",
    ],
    ids=["407", "ssh", "close", "200-with-body", "301"],
)
def test_a_proxy_refusing_connect_is_a_typed_transport_error(
    mode: str, answer: bytes, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)

    def serve(peer: Peer, index: int) -> None:
        request = peer.request()
        if request is not None:
            with contextlib.suppress(OSError):
                peer.send(answer + SESSION_TOKEN.encode())

    with Server(serve) as proxy:
        env = {
            **NO_ENV,
            "HTTPS_PROXY": f"http://me:{PASSWORD}@127.0.0.1:{proxy.port}",
            "AWS_CA_BUNDLE": CA,
        }
        result = call(mode, "https://127.0.0.1:1", env=env, attempt_timeout=1.5)
    assert_lib_error(result, sib.TransportError)
    assert not isinstance(result, sib.TransportTimeoutError), repr(result)
    assert f"via the proxy http://127.0.0.1:{proxy.port}" in str(result)
    if answer.startswith(b"HTTP/1.1 407"):
        assert isinstance(result, sib.ConnectError), repr(result)  # nothing reached the endpoint
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, SESSION_TOKEN):
        assert secret not in repr(result) + str(result) + logs


@leaks_on_310
@MODES
def test_a_proxy_answering_connect_with_407_is_a_connect_error_naming_the_status(
    mode: str,
) -> None:
    def serve(peer: Peer, index: int) -> None:
        if peer.request() is not None:
            peer.send(
                b"HTTP/1.1 407 Proxy Authentication Required " + SESSION_TOKEN.encode() + b"\r\n"
                b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"
            )

    with Server(serve) as proxy:
        env = {**NO_ENV, "HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}", "AWS_CA_BUNDLE": CA}
        result = call(mode, "https://127.0.0.1:1", env=env)
    assert_lib_error(result, sib.ConnectError)
    text = str(result)
    assert "the proxy answered 407" in text, text
    assert f"via the proxy http://127.0.0.1:{proxy.port}" in text
    assert SESSION_TOKEN not in text  # the reason phrase is the proxy's: not shown


# ============================================================ 8. wire shapes

LIMIT = 64 * 1024


def _json_of_size(size: int, token: str = "t") -> bytes:
    body = body_for(token)
    assert size >= len(body)
    return body + b" " * (size - len(body))


def _raw_answer(wire: bytes, close: bool = True) -> Any:
    def serve(peer: Peer, index: int) -> None:
        if peer.request() is not None:
            with contextlib.suppress(OSError):
                peer.send(wire)
            if not close:
                peer.drain()

    return serve


@MODES
@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT, LIMIT + 1, 3 * LIMIT + 7])
def test_bodies_at_the_eager_read_threshold(mode: str, size: int) -> None:
    wire = reply(_json_of_size(size), b"Content-Type: application/json")
    with Server(_raw_answer(wire, close=False)) as server:
        result = call(mode, server.url)
    assert not isinstance(result, BaseException), repr(result)


@MODES
@pytest.mark.parametrize("size", [300, LIMIT - 10, LIMIT, LIMIT + 1, 4 * LIMIT])
def test_content_length_larger_than_the_body_then_close_is_connection_closed(
    mode: str, size: int
) -> None:
    body = _json_of_size(size)
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (size + 10) + body
    with Server(_raw_answer(wire)) as server:
        result = call(mode, server.url)
    assert_lib_error(result, sib.ConnectionClosedError)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
WIRES = {
    "bad-chunk-size": CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n",
    "negative-chunk": CHUNKED + b"-5\r\nabc\r\n0\r\n\r\n",
    "huge-chunk-size": CHUNKED + b"ffffffffffffffffffffff\r\nabc\r\n",
    "chunk-short-then-close": CHUNKED + b"100\r\nabc",
    "chunk-no-terminator": CHUNKED + b"3\r\nabc\r\n",
    "chunk-ext-token": CHUNKED + b"3;" + SESSION_TOKEN.encode() + b"\r\nabc\r\n0\r\n\r\n",
    "cl-two-values": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
    "cl-token": b"HTTP/1.1 200 OK\r\nContent-Length: " + SESSION_TOKEN.encode() + b"\r\n\r\nhello",
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
    "cl-twice-differ": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    "te-unknown": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
    + SESSION_TOKEN.encode()
    + b"\r\n\r\nhello",
    "status-999": b"HTTP/1.1 999 " + SESSION_TOKEN.encode() + b"\r\nContent-Length: 0\r\n\r\n",
    "status-token": b"HTTP/1.1 " + SESSION_TOKEN.encode() + b"\r\n\r\n",
    "http-2-preface": b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
    "header-no-colon": b"HTTP/1.1 200 OK\r\n"
    + SESSION_TOKEN.encode()
    + b"\r\nContent-Length: 0\r\n\r\n",
    "header-flood": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-%d: %s\r\n" % (i, SESSION_TOKEN.encode()) for i in range(300))
    + b"Content-Length: 0\r\n\r\n",
    "header-huge-line": b"HTTP/1.1 200 OK\r\nX-Big: "
    + SESSION_TOKEN.encode() * 20000
    + b"\r\nContent-Length: 0\r\n\r\n",
    "101-switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
    + SESSION_TOKEN.encode()
    + b"\r\nConnection: Upgrade\r\n\r\n",
    "103-then-close": b"HTTP/1.1 103 Early Hints\r\nLink: " + SESSION_TOKEN.encode() + b"\r\n\r\n",
    "endless-1xx": b"HTTP/1.1 100 Continue\r\n\r\n" * 2000,
    "lf-only": b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
    "nul-in-header": b"HTTP/1.1 200 OK\r\nX-A: a\x00"
    + SESSION_TOKEN.encode()
    + b"\r\nContent-Length: 0\r\n\r\n",
    "latin1-header": b"HTTP/1.1 200 OK\r\nX-A: \xff\xfe"
    + SESSION_TOKEN.encode()
    + b"\r\nContent-Length: 2\r\n\r\n{}",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: a\r\n "
    + SESSION_TOKEN.encode()
    + b"\r\nContent-Length: 2\r\n\r\n{}",
}


@MODES
@pytest.mark.parametrize("name", list(WIRES), ids=list(WIRES))
def test_hostile_wire_shapes_stay_typed_and_quiet(mode: str, name: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    for logger in ("urllib3", "aiohttp", "httpx", "httpcore", "asyncio", "sigv4_imagebuilder"):
        caplog.set_level(logging.DEBUG, logger=logger)
    with Server(_raw_answer(WIRES[name])) as server:
        result = call(mode, server.url, attempt_timeout=1.5)
    if not isinstance(result, sib.ImageBuilderError):
        assert not isinstance(result, BaseException), repr(result)
    else:
        assert_lib_error(result)
        assert not isinstance(result, sib.TransportTimeoutError), repr(result)
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    texts = repr(result) + str(result) + logs
    assert SESSION_TOKEN not in texts


@MODES
def test_te_and_cl_both_present_reads_chunked(mode: str) -> None:
    body = body_for("x")
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        + b"%x\r\n" % len(body)
        + body
        + b"\r\n0\r\n\r\n"
    )
    with Server(_raw_answer(wire)) as server:
        result = call(mode, server.url)
    # Either read as chunked (the RFC's rule) or refused as a protocol error; never
    # truncated to 3 bytes and mis-parsed.
    if isinstance(result, BaseException):
        assert_lib_error(result, sib.ConnectionClosedError)
    else:
        assert result.client_token == "x"


# ============================================================ secrets reachable from the chain


def _every_linked(exc: BaseException) -> list[BaseException]:
    """Everything reachable through __cause__ and __context__, suppressed or not."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                todo.append(nxt)
    return seen


@MODES
def test_no_secret_reachable_in_the_exception_graph_when_a_server_echoes(mode: str) -> None:
    """A hostile server echoes the request in its status line: the raw engine exception
    (kept as the hidden __context__ of the httpx one) must not hold the token either."""

    def echo(peer: Peer, index: int) -> None:
        request = peer.request()
        if request is not None:
            peer.send(b"HTTP/1.1 " + request.replace(b"\r\n", b" ")[:3000] + b"\r\n\r\n")

    with Server(echo) as server:
        result = call(mode, server.url)
    assert isinstance(result, sib.ImageBuilderError), repr(result)
    texts = []
    for link in _every_linked(result):
        texts += [repr(link), str(link)]
        info = getattr(link, "request_info", None)
        if info is not None:
            texts.append(repr(info))
    joined = "\n".join(texts)
    assert SESSION_TOKEN not in joined


# ============================================================ attempt_timeout


async def test_async_attempt_timeout_bounds_a_slot_wait_plus_exchange_in_total() -> None:
    """attempt_timeout bounds connect + send + head + body as one total (async)."""

    async def slow(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        await asyncio.sleep(0.25)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # 5 s of body, unless the client hangs up
            await asyncio.sleep(0.05)
            if writer.is_closing():
                return
            writer.write(b" ")

    async with serving(slow) as server, library_client(server.url, attempt_timeout=0.5) as client:
        start = time.monotonic()
        with pytest.raises(sib.TransportTimeoutError):
            await client.cancel_image_creation(ARN)
        # Room for a loaded CI leg; the reply alone would take over 5 s.
        assert time.monotonic() - start < 3.0


def test_sync_attempt_timeout_bounds_head_wait_plus_body() -> None:
    def slow(peer: Peer, index: int) -> None:
        peer.request()
        time.sleep(0.3)
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        with contextlib.suppress(OSError):
            for _ in range(100):  # 5 s of body, unless the client hangs up
                time.sleep(0.05)
                peer.send(b" " * 10)

    with Server(slow) as server:
        start = time.monotonic()
        result = call("sync", server.url, attempt_timeout=0.5)
        assert isinstance(result, sib.TransportTimeoutError), repr(result)
        # Room for a loaded CI leg; the reply alone would take over 5 s.
        assert time.monotonic() - start < 3.0


@MODES
def test_reset_after_head_is_connection_closed_not_timeout(mode: str) -> None:
    def reset(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc")
        time.sleep(0.05)
        peer.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        peer.sock.close()

    with Server(reset) as server:
        result = call(mode, server.url, attempt_timeout=1.5)
    assert_lib_error(result, sib.ConnectionClosedError)


@MODES
def test_tls_server_that_resets_during_handshake_is_a_connect_error_not_timeout(mode: str) -> None:
    def reset(peer: Peer, index: int) -> None:
        peer.sock.recv(10)
        peer.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        peer.sock.close()

    with Server(reset) as server:
        url = server.url.replace("http://", "https://")
        result = call(mode, url, env={**NO_ENV, "AWS_CA_BUNDLE": CA}, attempt_timeout=1.5)
    assert isinstance(result, sib.TransportError) and not isinstance(
        result, sib.TransportTimeoutError
    ), repr(result)
    assert_lib_error(result)


_ = (SECRET, ssl)


# ============================================================ more: localhost, https proxy, cancel + deadline


@MODES
def test_localhost_endpoint_reaches_an_ipv4_only_server(mode: str) -> None:
    with Server() as server:
        result = call(mode, f"http://localhost:{server.port}")
    assert not isinstance(result, BaseException), repr(result)


# Was a defect on the async engine: the bundle went only to https:// endpoints.
@MODES
def test_an_https_proxy_trusted_by_the_ca_bundle_carries_a_plain_http_request(mode: str) -> None:
    """HTTP_PROXY=https://... with AWS_CA_BUNDLE naming the proxy's CA: both engines
    should behave the same (either both use the bundle for the proxy or both refuse)."""
    with TlsProxy() as proxy:
        env = {**NO_ENV, "HTTP_PROXY": proxy.url, "AWS_CA_BUNDLE": CA}
        result = call(mode, f"http://127.0.0.1:{free_port()}", env=env)
    assert not isinstance(result, BaseException), repr(result)
    assert len(proxy.requests) == 1


# Was a defect on the sync engine: the ProxyManager had no proxy_ssl_context.
@pytest.mark.parametrize(
    "mode",
    [
        "sync",
        pytest.param(
            "async",
            marks=pytest.mark.skipif(
                sys.version_info < (3, 11),
                reason="asyncio before Python 3.11 cannot run TLS inside TLS (aiohttp warns and "
                "fails): an https:// endpoint through an https:// proxy needs 3.11 on the async client",
            ),
        ),
    ],
)
def test_an_https_endpoint_through_an_https_proxy(mode: str) -> None:
    with Server(tls=_server_tls()) as server, TlsProxy() as proxy:
        env = {**NO_ENV, "HTTPS_PROXY": proxy.url, "AWS_CA_BUNDLE": CA}
        result = call(mode, server.url, env=env)
    assert not isinstance(result, BaseException), repr(result)
    assert len(server.requests) == 1


async def test_async_cancelled_tasks_with_attempt_timeout_leave_the_client_clean() -> None:
    rng = random.Random(3)
    tasks: dict[str, asyncio.Task[Any]] = {}

    async def echo(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            token = token_of(request)
            body = body_for(token) + b" " * 100_000  # streamed path
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:50])
            task = tasks.get(token)
            if task is not None and rng.random() < 0.5:
                await asyncio.sleep(0.001)
                task.cancel()
            await asyncio.sleep(rng.random() * 0.003)
            writer.write(body[50:])
            await writer.drain()

    async with serving(echo) as server:
        async with library_client(server.url, max_concurrency=3, attempt_timeout=5) as client:
            for n in range(120):
                tasks[f"c{n}"] = asyncio.create_task(
                    client.cancel_image_creation(ARN, client_token=f"c{n}")
                )
            results = await asyncio.gather(*tasks.values(), return_exceptions=True)
            for token, result in zip(tasks, results, strict=True):
                if not isinstance(result, asyncio.CancelledError):
                    assert not isinstance(result, BaseException), repr(result)
                    assert result.client_token == token
            after = await asyncio.wait_for(
                asyncio.gather(
                    *(client.cancel_image_creation(ARN, client_token=f"a{i}") for i in range(10))
                ),
                10,
            )
            assert [r.client_token for r in after] == [f"a{i}" for i in range(10)]
            assert server.open <= 3
        await auntil(lambda: server.open == 0)


# ============================================================ second review: proxies


def _only_ours_and_httpx(exc: BaseException) -> None:
    """Nothing of an engine's is reachable from the library's error, hidden context
    included: aiohttp's request_info holds the Proxy-Authorization header, urllib3's
    errors their pool (with its proxy headers), and both may quote a server's bytes."""
    for link in _every_linked(exc):
        assert isinstance(link, (sib.ImageBuilderError, httpx.HTTPError)), repr(link)
        assert PASSWORD not in repr(link) + str(link)


@leaks_on_310
@MODES
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.0\r\n",
        b"HTTP/1.1 400 ",  # then the request echoed back: the proxy's garbage
    ],
    ids=["407", "ssh", "echo"],
)
def test_nothing_of_the_engines_is_reachable_from_a_proxy_failure(mode: str, answer: bytes) -> None:
    def serve(peer: Peer, index: int) -> None:
        request = peer.request()
        if request is not None:
            with contextlib.suppress(OSError):
                peer.send(answer + (request if answer.endswith(b" ") else b""))

    with Server(serve) as proxy:
        env = {
            **NO_ENV,
            "HTTPS_PROXY": f"http://me:{PASSWORD}@127.0.0.1:{proxy.port}",
            "AWS_CA_BUNDLE": CA,
        }
        result = call(mode, "https://127.0.0.1:1", env=env)
    assert isinstance(result, sib.TransportError), repr(result)
    _only_ours_and_httpx(result)


def _read_the_request_then_close(peer: Peer, index: int) -> None:
    peer.request()  # the whole signed request arrived
    peer.sock.close()


# urllib3 calls a failure a ProxyError once http.client has closed the connection,
# even when the request had reached the endpoint: that is not "could not connect".
@leaks_on_310
@MODES
def test_a_reply_lost_after_the_tunnel_is_up_is_not_a_connect_error(mode: str) -> None:
    with Proxy() as proxy, Server(_read_the_request_then_close, _server_tls()) as endpoint:
        env = {**NO_ENV, "HTTPS_PROXY": proxy.url, "AWS_CA_BUNDLE": CA}
        result = call(mode, endpoint.url, env=env, timeout=2.0)
    assert len(endpoint.requests) == 0 and endpoint.connections == 1
    assert isinstance(result, sib.ConnectionClosedError), repr(result)
    assert f"via the proxy {proxy.url}" in str(result)


@MODES
def test_a_forwarding_proxy_that_drops_the_reply_is_not_a_connect_error(mode: str) -> None:
    with Server(_read_the_request_then_close) as proxy:
        result = call(mode, "http://127.0.0.1:1", env={**NO_ENV, "HTTP_PROXY": proxy.url})
    assert isinstance(result, sib.ConnectionClosedError), repr(result)


@leaks_on_310
@MODES
def test_a_proxy_that_never_answers_connect_is_bounded_by_the_timeouts(mode: str) -> None:
    # The tunnel's CONNECT is read and never answered: no read timeout covered it on the
    # async client, which waited for as long as the proxy kept the connection open.
    release = threading.Event()

    def stall(peer: Peer, index: int) -> None:
        if peer.request() is not None:
            release.wait(10)

    with Server(stall) as proxy:
        env = {**NO_ENV, "HTTPS_PROXY": proxy.url, "AWS_CA_BUNDLE": CA}
        start = time.monotonic()
        result = call(mode, "https://127.0.0.1:1", env=env, timeout=0.3)
        took = time.monotonic() - start
        release.set()
    assert isinstance(result, sib.TransportTimeoutError), repr(result)
    assert took < 5  # connect + read is 0.6 s; the proxy would have held it 10 s


@MODES
def test_proxy_variables_nothing_uses_do_not_stop_the_client(mode: str) -> None:
    # Common on desktops; botocore ignores them, and so does the library (and its checks).
    env = {
        **NO_ENV,
        "ALL_PROXY": "socks5h://127.0.0.1:1080",
        "all_proxy": "socks://127.0.0.1:1080/",
        "SOCKS_PROXY": "socks5://127.0.0.1:1080",
        "FTP_PROXY": "ftp://127.0.0.1:21",
    }
    with Server() as server:
        result = call(mode, server.url, env=env)
    assert isinstance(result, sib.CancelImageCreationResponse), repr(result)
    assert len(server.requests) == 1


@MODES
@pytest.mark.parametrize(
    "proxy",
    [
        f"http://me:12/{PASSWORD}@127.0.0.1:3128",  # an unquoted "/" in the password
        f"http://me:{PASSWORD}@127.0.0.1:3128/path",
        "http://127.0.0.1:3128/?q=1",
    ],
    ids=["slash-in-password", "path", "query"],
)
def test_a_proxy_url_with_more_than_a_host_is_refused_before_sending(mode: str, proxy: str) -> None:
    with Server() as server:
        result = call(mode, server.url, env={**NO_ENV, "HTTP_PROXY": proxy})
    assert isinstance(result, sib.ConfigurationError), repr(result)
    assert (
        "HTTP_PROXY" in str(result) and PASSWORD not in str(result) and "me:12" not in str(result)
    )
    assert server.requests == []


async def test_aclose_between_the_reply_head_and_its_body_ends_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # aclose() lands after aiohttp parsed the head, before the transport saw the reply:
    # widened here by two yields after ClientResponse.start.
    import aiohttp

    parsed = asyncio.Event()
    original = aiohttp.ClientResponse.start

    async def start(self: Any, connection: Any) -> Any:
        response = await original(self, connection)
        parsed.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return response

    async def hold(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{")
            await asyncio.sleep(10)

    monkeypatch.setattr(aiohttp.ClientResponse, "start", start)
    async with serving(hold) as server:
        client = library_client(server.url, timeout=5)
        task = asyncio.create_task(client.cancel_image_creation(ARN))
        await parsed.wait()
        await client.aclose()
        _, pending = await asyncio.wait([task], timeout=2)
        for left in pending:
            left.cancel()
        assert not pending
        error = task.exception()
        assert isinstance(error, sib.ImageBuilderError), repr(error)
        assert_typed(error)
