"""httpx transports that hand each completed exchange to a recorder.

Kept apart from ``_record`` so that importing the testing kit does not import
httpx; these are loaded when a recording transport is first asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

#: Receives the request, the response handed to the client, and the raw wire body.
Recorder = Callable[[httpx.Request, httpx.Response, bytes], None]


def _replayable(response: httpx.Response, raw: bytes) -> httpx.Response:
    # The client gets the same raw bytes, and decodes them as it would have
    # off the wire (gzip and all).
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
    )


class RecordingTransport(httpx.BaseTransport):
    """Send through ``inner`` (a new ``httpx.HTTPTransport`` by default); record each exchange."""

    def __init__(self, recorder: Recorder, inner: httpx.BaseTransport | None = None) -> None:
        self._recorder = recorder
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole reply, record it, and hand the client a copy."""
        request.read()
        response = self._inner.handle_request(request)
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        replayed = _replayable(response, raw)
        self._recorder(request, replayed, raw)
        return replayed

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`RecordingTransport`."""

    def __init__(self, recorder: Recorder, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._recorder = recorder
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole reply, record it, and hand the client a copy."""
        await request.aread()
        response = await self._inner.handle_async_request(request)
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        replayed = _replayable(response, raw)
        self._recorder(request, replayed, raw)
        return replayed

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
