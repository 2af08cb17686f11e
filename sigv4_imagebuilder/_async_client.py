"""The asyncio client: answers the shared flows' actions with ``httpx.AsyncClient`` and tasks."""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any

import httpx

from . import _transport
from ._actions import AcquireLock, Flow, Outcome, RunBlocking, Send, Sleep
from ._async_client_lists import AsyncLists
from ._client_base import T, _asyncio, _BaseClient, _closed, _no_slot
from ._errors import ImageBuilderError
from ._flow import call_flow
from ._models import (
    CancelImageCreationResponse,
    GetImageResponse,
)
from ._operations import (
    CANCEL_IMAGE_CREATION,
    GET_IMAGE,
)
from ._waiters import IMAGE_AVAILABLE, IMAGE_CANCELLED, OnStatus, wait_flow


class AsyncImageBuilderClient(AsyncLists, _BaseClient[httpx.AsyncClient]):
    """The asyncio twin of :class:`ImageBuilderClient`: same arguments, same methods.

    Safe to share across tasks of one event loop. Cancelling a task that
    awaits a call leaves the client usable and leaks no connection. Close it
    with ``await client.aclose()`` or ``async with``.

    Example:
        >>> import asyncio, sigv4_imagebuilder as sib
        >>> async def main():
        ...     async with sib.AsyncImageBuilderClient(
        ...             region="us-east-1", credentials=sib.Credentials("AKID", "s")) as c:
        ...         return c.endpoint_url
        >>> asyncio.run(main())
        'https://imagebuilder.us-east-1.amazonaws.com'
    """

    _HTTP_CLASS = httpx.AsyncClient

    def _start(self) -> None:
        # Calls past the in-flight limit wait here, not in the engine's pool
        # (far more waiters than connections collapse httpcore's, encode/httpx#3215).
        self._slots = _asyncio().Semaphore(self._limit)
        self._loop: weakref.ref[Any] | None = None
        self._credentials_lock = _asyncio().Lock()

    async def cancel_image_creation(
        self, image_build_version_arn: str, *, client_token: str | None = None
    ) -> CancelImageCreationResponse:
        """Cancel the creation of an image; see :meth:`ImageBuilderClient.cancel_image_creation`."""
        return await self._run(
            call_flow(
                self._ctx,
                CANCEL_IMAGE_CREATION,
                {"image_build_version_arn": image_build_version_arn, "client_token": client_token},
            )
        )

    async def get_image(self, image_build_version_arn: str) -> GetImageResponse:
        """Describe an image build version; see :meth:`ImageBuilderClient.get_image`."""
        return await self._run(
            call_flow(self._ctx, GET_IMAGE, {"image_build_version_arn": image_build_version_arn})
        )

    async def wait_until_image_cancelled(
        self,
        image_build_version_arn: str,
        *,
        min_delay: float = IMAGE_CANCELLED.min_delay,
        max_delay: float = IMAGE_CANCELLED.max_delay,
        max_wait: float = IMAGE_CANCELLED.max_wait,
        on_status: OnStatus | None = None,
    ) -> GetImageResponse:
        """Wait for ``CANCELLED``; see :meth:`ImageBuilderClient.wait_until_image_cancelled`.

        The sleeps between polls are ``asyncio.sleep``: the loop is never
        blocked, and cancelling the task stops the wait at once and leaves the
        client usable.
        """
        return await self._run(
            wait_flow(
                self._ctx,
                IMAGE_CANCELLED,
                image_build_version_arn,
                min_delay=min_delay,
                max_delay=max_delay,
                max_wait=max_wait,
                on_status=on_status,
            )
        )

    async def wait_until_image_available(
        self,
        image_build_version_arn: str,
        *,
        min_delay: float = IMAGE_AVAILABLE.min_delay,
        max_delay: float = IMAGE_AVAILABLE.max_delay,
        max_wait: float = IMAGE_AVAILABLE.max_wait,
        on_status: OnStatus | None = None,
    ) -> GetImageResponse:
        """Wait for ``AVAILABLE``; see :meth:`ImageBuilderClient.wait_until_image_available`."""
        return await self._run(
            wait_flow(
                self._ctx,
                IMAGE_AVAILABLE,
                image_build_version_arn,
                min_delay=min_delay,
                max_delay=max_delay,
                max_wait=max_wait,
                on_status=on_status,
            )
        )

    async def _run(self, flow: Flow[T]) -> T:
        if self._http.is_closed:
            flow.close()
            raise _closed()
        try:
            self._check_loop()
        except ImageBuilderError:
            flow.close()
            raise
        try:
            action = next(flow)
            while True:
                result: Any
                if isinstance(action, Send):
                    result = await self._send(action)
                elif isinstance(action, AcquireLock):
                    alock = self._credentials_lock
                    if action.blocking or not alock.locked():
                        await alock.acquire()
                        result = alock
                    else:
                        result = None
                elif isinstance(action, Sleep):
                    await _asyncio().sleep(action.seconds)
                    result = None
                else:
                    assert isinstance(action, RunBlocking)
                    try:
                        result = await _asyncio().to_thread(action.function)
                    except Exception as exc:  # the flow decides what a failure means
                        action = flow.throw(exc)
                        continue
                action = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    async def _send(self, action: Send) -> Outcome:
        request = self._build(action, self._http)
        slots = self._slots
        if action.deadline is None:
            await slots.acquire()
        else:  # a waiter's max_wait bounds the wait for a slot
            try:
                await _asyncio().wait_for(slots.acquire(), action.deadline)
            except _asyncio().TimeoutError:
                return _no_slot(action.deadline)
        try:
            return await _transport.asend(
                self._http,
                request,
                _transport.deadline_of(action, self._attempt_timeout),
            )
        except RuntimeError:
            if self._http.is_closed:  # closed by another task mid-call
                raise _closed() from None
            raise
        finally:
            slots.release()

    def _check_loop(self) -> None:
        loop = _asyncio().get_running_loop()
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise ImageBuilderError(
                "this AsyncImageBuilderClient was first used in another event loop; its "
                "connections belong to that loop. Create one client per event loop "
                "(per asyncio.run)."
            )

    async def aclose(self) -> None:
        """Close the connections this client opened (not those of a client passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncImageBuilderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
