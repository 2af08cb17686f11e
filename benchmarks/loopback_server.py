"""A small, fast keep-alive HTTP/1.1 server on 127.0.0.1 for the benchmark.

It answers every request with the same canned CancelImageCreation 200 reply (JSON body,
correct Content-Length, keep-alive), so the clients measured against it pay for a real socket
and a real HTTP parser while the server costs as little as possible. It runs in its own
process: the benchmark measures the CPU of the client process only.

    python benchmarks/loopback_server.py [--max-seconds N]

It prints ``READY <port>`` on stdout and serves until stdin is closed (its parent exited or
closed the pipe), or ``--max-seconds`` passed, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/bench/1.0.0/1"
BODY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}).encode()
REPLY = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"x-amzn-RequestId: r\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)
# A request head larger than this is not one of ours: drop the connection.
MAX_HEAD = 64 * 1024


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class _Protocol(asyncio.Protocol):
    """Parse request heads and bodies from a byte stream; answer each with ``REPLY``."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        buffer = self._buffer + data
        replies = 0
        # Pipelined or split requests: answer every complete one in the buffer.
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self._transport.close()
                    return
                break
            try:
                length = _content_length(buffer[:end])
            except ValueError:
                self._transport.close()
                return
            total = end + 4 + length
            if len(buffer) < total:
                break
            buffer = buffer[total:]
            replies += 1
        self._buffer = buffer
        if replies:
            self._transport.write(REPLY * replies)


async def _serve(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    # Stop when the parent closes our stdin (or dies), or after max_seconds.
    stdin_closed = loop.create_future()

    def wait_for_eof() -> None:
        # A daemon thread, not the loop's executor: asyncio.run would wait for it at exit.
        while sys.stdin.buffer.read1(4096):
            pass
        loop.call_soon_threadsafe(lambda: stdin_closed.done() or stdin_closed.set_result(None))

    threading.Thread(target=wait_for_eof, daemon=True).start()
    try:
        await asyncio.wait_for(stdin_closed, timeout=max_seconds)
    except asyncio.TimeoutError:
        pass
    finally:
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
