"""The asyncio HTTP/1.1 transport: real sockets on 127.0.0.1 that behave, and that do not.

Servers run in the test's own event loop (``asyncio.start_server``) so each case can
script exactly when bytes go out and when the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import h11
import httpcore
import httpx
import pytest
import respx
from conftest import ARN, CREDS, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder import _transport, _wire
from sigv4_imagebuilder._actions import Send
from sigv4_imagebuilder._http import HttpRequest
from sigv4_imagebuilder._wire import (
    READ_HIGH_WATER,
    AsyncWireTransport,
    Exchange,
    IdleConnections,
    PooledConnection,
)
from sigv4_imagebuilder.testing import LoopbackServer, Reply

TLS_DIR = Path(__file__).parent / "tls"
CANCEL_BODY = json.dumps(
    {"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}
).encode()


def reply(body: bytes = b"hello", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One whole request (head and Content-Length body), or None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    try:
        return head + await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Server:
    """Counts connections; every one runs ``handler(reader, writer, index)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.requests: list[bytes] = []
        self.url = ""
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        self.open += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # torn down: end quietly (asyncio logs a handler task that ends cancelled)
        finally:
            self.open -= 1
            self._tasks.discard(task)
            writer.close()

    async def keep_alive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer every request on the connection with :func:`reply`."""
        while (request := await read_request(reader)) is not None:
            self.requests.append(request)
            writer.write(reply())


@contextlib.asynccontextmanager
async def serving(
    handler: Handler | None = None, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    state = Server(handler or (lambda r, w, i: state.keep_alive(r, w)))
    server = await asyncio.start_server(state._serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.close()
        for task in list(state._tasks):
            task.cancel()
        await asyncio.gather(*state._tasks, return_exceptions=True)
        await server.wait_closed()


async def until(condition: Callable[[], object], seconds: float = 5.0) -> None:
    """Let the loop run until ``condition()`` holds (the machine may be slow)."""
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


def wire_client(**limits: Any) -> tuple[httpx.AsyncClient, AsyncWireTransport]:
    transport = AsyncWireTransport(limits=httpx.Limits(**limits))
    return httpx.AsyncClient(transport=transport, timeout=5.0), transport


def assert_pool_healthy(transport: AsyncWireTransport) -> None:
    """Nothing busy, nothing broken kept, every place accounted for."""
    idle = [c for stack in transport._idle._stacks.values() for c in stack]
    assert transport.open_connections == transport.idle_connections == len(idle)
    assert len(transport._conns) == transport.open_connections
    assert all(c.usable() and not c.discarded for c in idle)


# --- keep-alive and the pool ---


async def test_a_kept_alive_connection_carries_the_next_request() -> None:
    client, transport = wire_client()
    async with serving() as server, client:
        for _ in range(3):
            response = await client.post(server.url + "/x", content=b"{}")
            assert response.status_code == 200 and response.content == b"hello"
            assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"
        assert server.connections == 1 and len(server.requests) == 3
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)


async def test_connection_close_from_the_server_is_honoured() -> None:
    async def close_after_one(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(reply(b"bye", b"Connection: close"))

    client, transport = wire_client()
    async with serving(close_after_one) as server, client:
        for _ in range(2):
            assert (await client.get(server.url)).content == b"bye"
        assert server.connections == 2
        assert transport.open_connections == transport.idle_connections == 0


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def one_then_close(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(reply())
        await writer.drain()
        # no Connection: close, the server just hangs up afterwards

    client, _ = wire_client()
    async with serving(one_then_close) as server, client:
        await client.get(server.url)
        await asyncio.sleep(0.1)  # the end of stream reaches the idle connection
        assert (await client.get(server.url)).content == b"hello"
        assert server.connections == 2


async def test_an_idle_connection_that_received_bytes_is_not_reused() -> None:
    async def chatty(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(reply() + b"HTTP/1.1 200 OK\r\n")  # a stray extra reply
        await reader.read()

    client, _ = wire_client()
    async with serving(chatty) as server, client:
        await client.get(server.url)
        await asyncio.sleep(0.1)
        assert (await client.get(server.url)).status_code == 200
        assert server.connections == 2


async def test_a_reused_connection_closed_under_the_request_is_an_error_not_a_resend() -> None:
    # The server reads the second request on a kept-alive connection and
    # hangs up without a byte: it may have acted on it, so the transport
    # must not send it again on its own (only the client's max_attempts may).
    async def drop_second(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(reply())
        await read_request(reader)  # then close without answering

    client, transport = wire_client()
    async with serving(drop_second) as server, client:
        await client.get(server.url)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.post(server.url, content=b"again")
        assert server.connections == 1
        assert_pool_healthy(transport)


async def test_a_fresh_connection_closed_without_a_reply_is_an_error() -> None:
    async def hang_up(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)

    client, transport = wire_client()
    async with serving(hang_up) as server, client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.get(server.url)
        assert server.connections == 1  # a new connection is never retried
        assert transport.open_connections == 0


async def test_idle_connections_expire() -> None:
    client, transport = wire_client(keepalive_expiry=0.1)
    async with serving() as server, client:
        await client.get(server.url)
        await asyncio.sleep(0.2)
        await client.get(server.url)
        assert server.connections == 2
        assert_pool_healthy(transport)


async def test_max_keepalive_and_max_connections() -> None:
    release = asyncio.Event()
    held = 0
    peak = 0

    async def hold(reader: Any, writer: Any, index: int) -> None:
        nonlocal held, peak
        while await read_request(reader) is not None:
            held += 1
            peak = max(peak, held)
            await release.wait()
            held -= 1
            writer.write(reply())

    client, transport = wire_client(max_connections=3, max_keepalive_connections=1)
    async with serving(hold) as server, client:
        calls = [asyncio.create_task(client.get(server.url)) for _ in range(8)]
        await until(lambda: peak == 3)
        await asyncio.sleep(0.05)  # no fourth connection comes
        assert peak == 3 and transport.open_connections == 3
        release.set()
        assert {r.status_code for r in await asyncio.gather(*calls)} == {200}
        assert server.connections == 3 and peak == 3
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)


async def test_a_full_pool_gives_way_to_another_origin() -> None:
    client, transport = wire_client(max_connections=1)
    async with serving() as first, serving() as second, client:
        await client.get(first.url)
        await client.get(second.url)  # the idle connection to `first` is closed for it
        assert transport.open_connections == 1
        await until(lambda: first.open == 0)
        assert second.open == 1


async def test_a_released_connection_goes_to_a_waiter_of_another_origin() -> None:
    release = asyncio.Event()

    async def slow(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        await release.wait()
        writer.write(reply())
        await reader.read()

    client, transport = wire_client(max_connections=1)
    async with serving(slow) as first, serving() as second, client:
        busy = asyncio.create_task(client.get(first.url))
        await until(lambda: transport.open_connections == 1)
        waiting = asyncio.create_task(client.get(second.url))
        await until(lambda: len(transport._waiters) == 1)
        release.set()
        assert (await busy).status_code == (await waiting).status_code == 200
        assert transport.open_connections == 1 and second.connections == 1


async def test_a_pool_wait_past_the_pool_timeout_is_a_pool_timeout() -> None:
    async def never(reader: Any, writer: Any, index: int) -> None:
        await reader.read()

    transport = AsyncWireTransport(limits=httpx.Limits(max_connections=1))
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=0.1))
    async with serving(never) as server, client:
        stuck = asyncio.create_task(client.get(server.url))
        await until(lambda: transport.open_connections == 1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.url)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        assert transport.open_connections == 0 and not any(
            not w.done() for _, w in transport._waiters
        )


async def test_a_waiter_cancelled_as_it_is_handed_a_connection_gives_it_back() -> None:
    client, transport = wire_client(max_connections=1)
    async with serving() as server, client:
        async with client.stream("GET", server.url) as first:
            waiting = asyncio.create_task(client.get(server.url))
            await until(lambda: len(transport._waiters) == 1)
            await first.aread()  # the connection is handed to the waiter...
            waiting.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert_pool_healthy(transport)
        assert transport.idle_connections == 1
        assert (await client.get(server.url)).status_code == 200


async def test_a_waiter_cancelled_as_it_is_handed_a_place_gives_it_back() -> None:
    client, transport = wire_client(max_connections=1)
    async with serving() as server, client:
        first = await client.send(client.build_request("GET", server.url), stream=True)
        waiting = asyncio.create_task(client.get(server.url))
        await until(lambda: len(transport._waiters) == 1)
        await first.aclose()  # unread: closed, its place handed to the waiter...
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert transport.open_connections == 0
        assert (await client.get(server.url)).status_code == 200


# --- timeouts and failures are httpx's exceptions ---


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client, transport = wire_client()
    async with client:
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(f"http://127.0.0.1:{port}/")
    assert isinstance(info.value.__cause__, OSError)
    assert transport.open_connections == 0


async def test_a_stalled_tls_handshake_is_a_connect_timeout() -> None:
    async def silent(reader: Any, writer: Any, index: int) -> None:
        await reader.read()

    transport = AsyncWireTransport(ssl_context=ssl.create_default_context())
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, connect=0.2))
    async with serving(silent) as server, client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(server.url.replace("http:", "https:"))
        assert transport.open_connections == 0


async def _silent(reader: Any, writer: Any, index: int) -> None:
    await reader.read()


async def _stalled_body(reader: Any, writer: Any, index: int) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    await reader.read()


@pytest.mark.parametrize("handler", [_silent, _stalled_body])
async def test_a_silent_server_or_a_stalled_body_is_a_read_timeout(handler: Handler) -> None:
    transport = AsyncWireTransport()
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, read=0.2))
    async with serving(handler) as server, client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)
        assert transport.open_connections == 0


async def test_a_server_that_never_reads_is_a_write_timeout() -> None:
    stop = asyncio.Event()

    async def deaf(reader: Any, writer: Any, index: int) -> None:
        await stop.wait()

    transport = AsyncWireTransport()
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, write=0.2))
    async with serving(deaf) as server, client:
        with pytest.raises(httpx.WriteTimeout):
            await client.post(server.url, content=b"x" * (32 * 1024 * 1024))
        stop.set()
        assert transport.open_connections == 0


async def test_a_large_body_to_a_slow_reader_and_from_a_slow_writer() -> None:
    size = 16 * 1024 * 1024

    async def slow(reader: Any, writer: Any, index: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.1)  # the client's writes back up meanwhile
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        writer.write(b"y" * size)
        await reader.read()

    client, transport = wire_client()
    async with serving(slow) as server, client:
        async with client.stream("POST", server.url, content=b"u" * size) as response:
            await asyncio.sleep(0.2)  # the reply backs up: reading pauses, then resumes
            total = 0
            async for chunk in response.aiter_raw():
                total += len(chunk)
            assert total == size
        assert transport.idle_connections == 1


async def test_a_streamed_request_body_is_sent_chunked() -> None:
    async def chunked(reader: Any, writer: Any, index: int) -> None:
        server.requests.append(await reader.readuntil(b"0\r\n\r\n"))
        writer.write(reply())
        await reader.read()

    async def upload() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"de"

    client, _ = wire_client()
    async with serving(chunked) as server, client:
        assert (await client.post(server.url, content=upload())).content == b"hello"
    (request,) = server.requests
    assert b"Transfer-Encoding: chunked\r\n" in request
    assert request.endswith(b"\r\n\r\n5\r\nabcde\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    ("wire", "error", "match"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
            httpx.RemoteProtocolError,
            "incomplete|complete message",
        ),
        (b"garbage, not HTTP\r\n\r\n", httpx.RemoteProtocolError, None),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 300_000, httpx.RemoteProtocolError, None),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
            httpx.RemoteProtocolError,
            None,
        ),
    ],
    ids=["cut-short", "malformed", "oversized-head", "chunked-cut-short"],
)
async def test_a_broken_reply_is_a_remote_protocol_error(
    wire: bytes, error: type[Exception], match: str | None
) -> None:
    async def broken(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(wire)
        await writer.drain()

    client, transport = wire_client()
    async with serving(broken) as server, client:
        with pytest.raises(error, match=match):
            await client.get(server.url)
        assert transport.open_connections == 0


async def test_a_reset_connection_is_a_read_error() -> None:
    async def reset(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    client, transport = wire_client()
    async with serving(reset) as server, client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get(server.url)
        assert transport.open_connections == 0


async def test_informational_replies_are_skipped() -> None:
    async def continue_first(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + reply())
        await reader.read()

    client, _ = wire_client()
    async with serving(continue_first) as server, client:
        assert (await client.get(server.url)).content == b"hello"


async def test_an_unsupported_scheme_and_a_bad_header_are_local_errors() -> None:
    transport = AsyncWireTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))
    async with serving() as server:
        request = httpx.Request("GET", server.url, headers={"X-Bad": "a\nb" + SECRET})
        with pytest.raises(httpx.LocalProtocolError) as info:
            await transport.handle_async_request(request)
        assert SECRET not in str(info.value) and info.value.__cause__ is None
        assert transport.open_connections == 0
    await transport.aclose()


# --- cancellation ---


async def test_a_thousand_cancellations_at_random_points_leave_a_healthy_pool() -> None:
    rng = random.Random(12)
    tasks: list[asyncio.Task[bytes]] = []
    body = b"x" * 2000

    async def cancelling(reader: Any, writer: Any, index: int) -> None:
        # The server cancels the client's task at chosen points of the exchange
        # (the request names its task), so every phase is hit whatever the load.
        while (request := await read_request(reader)) is not None:
            n = int(request.split(b"X-Task: ")[1].split(b"\r\n")[0])
            task = tasks[n] if n < len(tasks) else None
            choice = rng.random() if task is not None else 0.5
            if choice < 0.25 and task is not None:
                task.cancel()  # while it waits for the head
            await asyncio.sleep(rng.random() * 0.002)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + body[:700])
            if choice > 0.75 and task is not None:
                await asyncio.sleep(0.001)
                task.cancel()  # in the middle of the body
            await asyncio.sleep(rng.random() * 0.002)
            writer.write(body[700:])

    client, transport = wire_client(max_connections=20, max_keepalive_connections=20)

    async def call(n: int) -> bytes:
        headers = {"X-Task": str(n)}
        async with client.stream("POST", server.url, content=b"{}", headers=headers) as response:
            return await response.aread()

    async with serving(cancelling) as server, client:
        loop = asyncio.get_running_loop()
        for n in range(1000):
            tasks.append(asyncio.create_task(call(n)))
            if n % 4 == 0:  # and some anywhere: in the pool's queue, connecting...
                loop.call_later(rng.random() * 0.3, tasks[n].cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
        assert 400 < cancelled < 1000
        assert all(r == body for r in results if not isinstance(r, BaseException))
        assert_pool_healthy(transport)
        after = await asyncio.gather(*(call(10**6) for _ in range(50)))  # never cancelled
        assert after == [body] * 50
        assert_pool_healthy(transport)


async def test_the_library_deadline_cancels_an_exchange_and_closes_its_connection() -> None:
    async def dribble(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await asyncio.sleep(0.01)

    async with (
        serving(dribble) as server,
        sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=server.url,
            max_attempts=1,
            attempt_timeout=0.2,
        ) as client,
    ):
        with pytest.raises(sib.TransportTimeoutError):
            await client.cancel_image_creation(ARN)
        wire = client._http._transport
        assert isinstance(wire, AsyncWireTransport)
        assert wire.open_connections == 0


# --- response bodies ---


async def test_a_body_is_yielded_as_it_arrives_chunked_or_sized() -> None:
    more = asyncio.Event()
    heads = [
        (b"Transfer-Encoding: chunked", b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n"),
        (b"Content-Length: 5", b"abc", b"de"),
    ]

    async def in_two(reader: Any, writer: Any, index: int) -> None:
        for framing, first, rest in heads:
            if await read_request(reader) is None:
                return
            more.clear()
            writer.write(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n" + first)
            await more.wait()
            writer.write(rest)

    client, transport = wire_client()
    async with serving(in_two) as server, client:
        for _ in heads:
            async with client.stream("GET", server.url) as response:
                chunks = response.aiter_raw()
                assert await chunks.__anext__() == b"abc"  # before the rest was sent
                more.set()
                assert b"".join([c async for c in chunks]) == b"de"
        assert server.connections == 1
        assert_pool_healthy(transport)


async def test_an_unread_body_closes_its_connection_and_a_read_one_returns_it() -> None:
    client, transport = wire_client()
    async with serving() as server, client:
        async with client.stream("GET", server.url):
            pass
        assert transport.open_connections == 0
        async with client.stream("GET", server.url) as response:
            await response.aread()
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)


async def test_an_endless_body_is_read_under_flow_control() -> None:
    async def endless(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n"
        while True:
            writer.write(chunk)
            await writer.drain()

    client, transport = wire_client()
    async with serving(endless) as server, client:
        async with client.stream("GET", server.url) as response:
            seen = 0
            async for chunk in response.aiter_raw():
                seen += len(chunk)
                if seen > 8 * 1024 * 1024:
                    break
            await asyncio.sleep(0.3)  # not reading: the socket must stop being read
            (conn,) = transport._conns
            assert conn._size <= READ_HIGH_WATER + 256 * 1024
        assert transport.open_connections == 0


async def test_the_library_stops_an_endless_body_and_closes_the_connection() -> None:
    async def endless(reader: Any, writer: Any, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n"
        while True:
            writer.write(chunk)
            await writer.drain()

    async with (
        serving(endless) as server,
        sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.url, max_attempts=1
        ) as client,
    ):
        with pytest.raises(sib.ImageBuilderError, match="larger than"):
            await client.cancel_image_creation(ARN)
        assert client._http._transport.open_connections == 0  # type: ignore[attr-defined]


# --- the bytes on the wire ---


def _library_request(url: str, method: str = "POST", body: bytes = b'{"a": 1}') -> httpx.Request:
    send = Send(
        HttpRequest(
            method=method,
            url=url + "/path/to?q=1&r=%2F",
            headers=(("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "T")),
            body=body,
        )
    )
    return _transport.build_request(send, httpx.AsyncClient(), {"read": 5.0})


async def test_the_request_bytes_are_httpcores() -> None:
    async def record(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            writer.write(reply())

    async with serving(record) as server:
        stock = httpx.AsyncHTTPTransport()
        ours = AsyncWireTransport()
        requests = [
            lambda: _library_request(server.url),
            lambda: _library_request(server.url, "GET", b""),
            lambda: httpx.Request(
                "PUT", server.url + "/x", headers={"X-MiXed-Case": "v"}, content=b"body"
            ),
            lambda: httpx.Request("DELETE", server.url + "/caf%C3%A9?x=%20"),
        ]
        for make in requests:
            for transport in (stock, ours):
                response = await transport.handle_async_request(make())
                await response.aread()
                await response.aclose()
        await stock.aclose()
        await ours.aclose()
    pairs = list(zip(server.requests[::2], server.requests[1::2], strict=True))
    assert len(pairs) == 4
    for theirs, mine in pairs:
        assert theirs == mine
    assert pairs[0][0].startswith(b"POST /path/to?q=1&r=%2F HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_the_signature_verifying_stand_in_accepts_our_requests() -> None:
    from sigv4_imagebuilder.testing import LocalImageBuilder

    with LocalImageBuilder(credentials=CREDS, region="us-east-1") as local:
        local.add_image(ARN)
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=local.endpoint_url
        ) as client:
            assert isinstance(client._http._transport, AsyncWireTransport)
            result = await client.cancel_image_creation(ARN)
        assert result.image_build_version_arn == ARN
        assert local.image_status(ARN) == "CANCELLED"


# --- TLS ---


def _server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(TLS_DIR / "selfsigned.pem"), str(TLS_DIR / "selfsigned.key"))
    return context


async def test_tls_with_a_trusted_certificate_and_its_host_name() -> None:
    trusting = ssl.create_default_context(cafile=str(TLS_DIR / "selfsigned.pem"))
    transport = AsyncWireTransport(ssl_context=trusting)
    client = httpx.AsyncClient(transport=transport, timeout=5.0)
    async with serving(tls=_server_tls()) as server, client:
        for _ in range(2):
            assert (await client.get(server.url)).content == b"hello"
        assert server.connections == 1
        port = server.url.rsplit(":", 1)[1]
        if "127.0.0.1" not in {a[4][0] for a in socket.getaddrinfo("localhost", None)}:
            pytest.skip("localhost is not 127.0.0.1 here")
        # The certificate names 127.0.0.1 only: the same server as "localhost" is refused.
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(f"https://localhost:{port}/")
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


async def test_the_default_context_verifies_and_refuses_a_self_signed_certificate() -> None:
    transport = AsyncWireTransport()
    client = httpx.AsyncClient(transport=transport, timeout=5.0)
    async with serving(tls=_server_tls()) as server, client:
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(server.url)
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert transport.open_connections == 0


async def test_our_clients_refuse_a_self_signed_certificate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with (
        serving(tls=_server_tls()) as server,
        sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.url, max_attempts=1
        ) as client,
    ):
        with pytest.raises(sib.ConnectError) as info:
            await client.cancel_image_creation(ARN)
        assert isinstance(client._http._transport, AsyncWireTransport)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert isinstance(info.value.__cause__.__cause__, ssl.SSLCertVerificationError)


# --- who sends: our transport, httpx's proxies, or a mock ---


async def test_an_environment_proxy_still_carries_our_clients_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def proxy(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            writer.write(reply(CANCEL_BODY, b"Content-Type: application/json"))

    with socket.socket() as probe:  # where the endpoint would be: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serving(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=f"http://127.0.0.1:{port}",
            max_attempts=1,
        ) as client:
            assert isinstance(client._http._transport, AsyncWireTransport)
            result = await client.cancel_image_creation(ARN)
    assert result.image_build_version_arn == ARN
    (request,) = server.requests
    # the absolute form a proxy is sent: the proxy, not the endpoint, got it
    assert request.split(b" ")[1].startswith(f"http://127.0.0.1:{port}/".encode())


def _library_client(url: str) -> sib.AsyncImageBuilderClient:
    return sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=CREDS, endpoint_url=url, max_attempts=1
    )


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
async def test_respx_still_mocks_our_clients(using: str) -> None:
    async with serving() as server:
        with respx.mock(using=using) as mock:
            route = mock.put(server.url + "/CancelImageCreation").respond(
                200, content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"}
            )
            async with _library_client(server.url) as client:
                assert isinstance(client._http._transport, AsyncWireTransport)
                result = await client.cancel_image_creation(ARN)
        assert result.image_build_version_arn == ARN and route.call_count == 1
        assert server.connections == 0  # nothing reached the socket
        # and once the mock is gone, the real server answers through our transport
        async with _library_client(server.url) as client:
            with pytest.raises(sib.ImageBuilderError):  # "hello" is not a valid reply
                await client.cancel_image_creation(ARN)
        assert server.connections == 1


async def test_a_patched_httpx_transport_still_sees_our_clients_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    async def fake(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"})

    async with serving() as server:
        monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", fake)
        async with _library_client(server.url) as client:
            await client.cancel_image_creation(ARN)
        assert len(seen) == 1 and server.connections == 0


def test_pristine_sees_patches_even_if_imported_under_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _wire.pristine()
    original = httpcore.AsyncConnectionPool.handle_async_request

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await original(*args, **kwargs)  # pragma: no cover - never called

    monkeypatch.setattr(httpcore.AsyncConnectionPool, "handle_async_request", wrapper)
    assert not _wire.pristine()
    monkeypatch.undo()
    # As if this module had been imported while respx was active: names decide.
    monkeypatch.setattr(_wire, "_originals", {})
    assert _wire.pristine()


async def test_a_fallback_is_built_when_none_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_wire, "pristine", lambda: False)
    transport = AsyncWireTransport()
    async with serving() as server:
        response = await transport.handle_async_request(httpx.Request("GET", server.url))
        await response.aread()
        assert isinstance(transport._fallback, httpx.AsyncHTTPTransport)
        assert server.connections == 1
        await transport.aclose()


def test_install_leaves_a_custom_transport_alone() -> None:
    custom = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert _wire.install(custom, httpx.Limits()) is None
    proxied = httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(proxy=httpx.Proxy("http://127.0.0.1:9"))
    )
    assert _wire.install(proxied, httpx.Limits()) is None  # its pool is a proxy's


async def test_users_clients_keep_httpx_transport() -> None:
    http = httpx.AsyncClient()
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=CREDS, http_client=http):
        assert type(http._transport) is httpx.AsyncHTTPTransport
    await http.aclose()


# --- many calls, logs, closing ---


async def test_thousands_of_gathered_requests_complete() -> None:
    client, transport = wire_client(max_connections=10)
    async with serving() as server, client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.get(server.url) for _ in range(2000))), 60
        )
        assert {r.content for r in responses} == {b"hello"}
        assert server.connections == 10
        assert_pool_healthy(transport)


async def test_nothing_is_logged_and_no_secret_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving() as server, _library_client(server.url) as client:
        with pytest.raises(sib.ImageBuilderError):
            await client.cancel_image_creation(ARN)
    (request,) = server.requests
    signature = request.split(b"Signature=")[1].split(b"\r\n")[0].decode()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("sigv4", "h")))
    for secret in (SECRET, SESSION_TOKEN, signature):
        assert secret not in text


async def test_aclose_closes_idle_and_busy_connections_and_refuses_later_requests() -> None:
    release = asyncio.Event()

    async def hold_busy(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            if b" /busy " in request:
                await release.wait()
            writer.write(reply())

    transport = AsyncWireTransport()
    client = httpx.AsyncClient(transport=transport, timeout=5.0)
    async with serving(hold_busy) as server:
        await asyncio.gather(client.get(server.url), client.get(server.url))  # two idle
        busy = asyncio.create_task(client.get(server.url + "/busy"))
        await until(lambda: len(server.requests) == 3)
        assert server.open == 2 and transport.idle_connections == 1
        await client.aclose()
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await busy  # its connection closed, and no new one may be opened
        release.set()  # the held handler answers, then finds the connection closed
        await until(lambda: server.open == 0)
        assert transport.open_connections == 0
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await transport.handle_async_request(httpx.Request("GET", server.url))


async def test_aclose_wakes_the_requests_waiting_for_the_pool() -> None:
    async def never(reader: Any, writer: Any, index: int) -> None:
        server.requests.append(await read_request(reader) or b"")
        await reader.read()

    transport = AsyncWireTransport(limits=httpx.Limits(max_connections=1))
    client = httpx.AsyncClient(transport=transport, timeout=5.0)
    async with serving(never) as server:
        busy = asyncio.create_task(client.get(server.url))
        waiting = asyncio.create_task(client.get(server.url))
        await until(lambda: len(server.requests) == 1 and len(transport._waiters) == 1)
        await client.aclose()
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await busy  # its connection closed under it, and nothing sent again
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await waiting


async def test_aclose_while_connecting_leaves_no_connection_behind() -> None:
    transport = AsyncWireTransport()
    async with serving() as server:
        task = asyncio.create_task(transport.handle_async_request(httpx.Request("GET", server.url)))
        await asyncio.sleep(0)  # the request is now connecting
        (conn,) = transport._conns
        assert conn.transport is None
        await transport.aclose()
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await task
        assert conn.transport is not None and conn.transport.is_closing()


# --- the sans-I/O core ---


class _Idle(PooledConnection):
    def __init__(self, origin: tuple[str, str, int] = ("http", "h", 80)) -> None:
        super().__init__(origin)
        self.ok = True

    def usable(self) -> bool:
        return self.ok


def test_idle_connections_are_taken_newest_first_and_expire_from_the_oldest() -> None:
    idle: IdleConnections[_Idle] = IdleConnections(max_idle=3, expiry=10.0)
    dropped: list[_Idle] = []
    a, b, c, d = _Idle(), _Idle(), _Idle(), _Idle()
    assert idle.put(a, now=0.0) and idle.put(b, now=5.0) and idle.put(c, now=6.0)
    assert not idle.put(d, now=6.0)  # max_idle reached
    assert idle.take(("http", "h", 80), 7.0, dropped.append) is c
    b.ok = False
    # at 11.0 `a` has expired (the oldest, dropped first); `b` is unusable
    assert idle.take(("http", "h", 80), 11.0, dropped.append) is None
    assert dropped == [a, b] and idle.count == 0
    assert idle.take(("http", "other", 80), 0.0, dropped.append) is None


def test_idle_connections_evict_and_clear() -> None:
    idle: IdleConnections[_Idle] = IdleConnections(max_idle=None, expiry=None)
    first, second = _Idle(("http", "a", 80)), _Idle(("http", "b", 80))
    idle.put(first, 0.0)
    idle.put(second, 0.0)
    assert first.expires_at == float("inf")
    assert idle.evict() is first and idle.count == 1
    assert idle.clear() == [second] and idle.count == 0 and idle.evict() is None


def test_a_newest_connection_found_stale_is_dropped() -> None:
    idle: IdleConnections[_Idle] = IdleConnections(max_idle=None, expiry=1.0)
    old, new = _Idle(), _Idle()
    idle.put(old, 5.0)
    idle.put(new, 0.0)  # put last but expires first
    dropped: list[_Idle] = []
    assert idle.take(("http", "h", 80), 2.0, dropped.append) is old
    assert dropped == [new]


def test_the_exchange_core_maps_h11s_errors() -> None:
    exchange = Exchange()
    exchange.request_bytes(b"GET", b"/", [(b"Host", b"h")], b"")
    assert exchange.awaiting_response
    exchange.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert type(exchange.next_event()) is h11.Response and not exchange.awaiting_response
    assert not exchange.reusable()  # the body is unread
    assert type(exchange.next_event()) is h11.Data
    assert type(exchange.next_event()) is h11.EndOfMessage
    assert exchange.reusable()
    exchange.request_bytes(b"GET", b"/", [(b"Host", b"h")], b"")
    exchange.receive(b"nonsense\r\n\r\n")
    with pytest.raises(httpx.RemoteProtocolError):
        exchange.next_event()
    with pytest.raises(httpx.LocalProtocolError, match="refused"):
        Exchange().request_bytes(b"POST", b"/", [(b"Host", b"h"), (b"Content-Length", b"5")], b"1")


async def test_a_place_handed_over_just_before_aclose_is_not_used_after_it() -> None:
    # A waiter is handed a place (the busy request failed), then aclose()
    # runs before it resumes: it must not open a connection and send.
    async def first_hangs_up(reader: Any, writer: Any, index: int) -> None:
        while (request := await read_request(reader)) is not None:
            server.requests.append(request)
            if len(server.requests) == 1:
                await asyncio.sleep(0.1)
                return  # hang up without a reply
            writer.write(reply())

    transport = AsyncWireTransport(limits=httpx.Limits(max_connections=1))

    async def fail_then_close() -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await transport.handle_async_request(httpx.Request("GET", server.url + "/a"))
        await transport.aclose()  # at once, before the waiter below resumes

    async with serving(first_hangs_up) as server:
        first = asyncio.create_task(fail_then_close())
        await until(lambda: len(server.requests) == 1)
        waiting = asyncio.create_task(
            transport.handle_async_request(httpx.Request("GET", server.url + "/b"))
        )
        await first
        with pytest.raises(RuntimeError, match="transport has been closed"):
            await waiting
        await asyncio.sleep(0.05)
        assert len(server.requests) == 1
        assert transport.open_connections == 0


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_aclose_from_a_later_event_loop_ends_the_connections() -> None:
    # asyncio.run(call) then asyncio.run(client.aclose()): the connections
    # belong to a closed loop, where no callback can run any more.
    import gc

    ended = threading.Event()

    def one_then_wait_for_the_end(conn: socket.socket) -> None:
        conn.recv(65536)
        body = CANCEL_BODY
        conn.sendall(reply(body, b"Content-Type: application/json", b"x-amzn-RequestId: r"))
        conn.settimeout(5)
        if conn.recv(1) == b"":
            ended.set()

    listener = socket.create_server(("127.0.0.1", 0))
    serving_thread = threading.Thread(
        target=lambda: one_then_wait_for_the_end(listener.accept()[0]), daemon=True
    )
    serving_thread.start()
    client = sib.AsyncImageBuilderClient(
        region="us-east-1",
        credentials=sib.Credentials("AKIDWIRE", "wire-secret"),
        endpoint_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
    )
    result = asyncio.run(client.cancel_image_creation(ARN, client_token="t"))
    assert result.image_build_version_arn == ARN
    asyncio.run(client.aclose())  # no raw "Event loop is closed"
    assert ended.wait(5), "the server never saw the connection end"
    serving_thread.join(5)
    listener.close()
    del client
    gc.collect()  # the closed loop's transports warn here, not in a later test


def test_the_library_client_works_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main(url: str) -> str:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=sib.Credentials("AKIDWIRE", "wire-secret"),
            endpoint_url=url,
            max_attempts=1,
        ) as client:
            results = await asyncio.gather(
                *(client.cancel_image_creation(ARN, client_token="t") for _ in range(20))
            )
            return results[-1].image_build_version_arn

    with LoopbackServer(
        lambda request: Reply(
            headers=[("x-amzn-RequestId", "r"), ("Content-Type", "application/json")],
            body=CANCEL_BODY,
        )
    ) as server:
        loop = uvloop.new_event_loop()
        try:
            assert loop.run_until_complete(main(server.endpoint_url)) == ARN
        finally:
            loop.close()
