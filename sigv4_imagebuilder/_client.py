"""The synchronous client: answers the shared flows' actions with ``httpx.Client`` and threads."""

from __future__ import annotations

import functools
import queue
import threading
import time
from itertools import islice
from types import TracebackType
from typing import Any

import httpx

from . import _transport
from ._actions import AcquireLock, Flow, Outcome, RunBlocking, Send, Sleep
from ._client_base import _NEVER, T, _BaseClient, _closed, _consume, _no_slot
from ._client_lists import SyncLists
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


class ImageBuilderClient(SyncLists, _BaseClient[httpx.Client]):
    """A synchronous EC2 Image Builder client: CancelImageCreation, GetImage and waiters.

    Safe to share across threads. Use it as a context manager, or call
    :meth:`close`, to release the connections it opened.

    Args:
        region: the AWS region; default from ``AWS_REGION``, ``AWS_DEFAULT_REGION``
            or the profile.
        credentials: ``Credentials``, a provider with ``get_credentials()``, a
            zero-argument callable returning ``Credentials``, or ``None`` for
            the default chain (environment, profile, container, instance metadata...).
        endpoint_url: a custom endpoint, used as given.
        use_fips_endpoint: use the FIPS endpoint.
        use_dualstack_endpoint: use the dual-stack (IPv6) endpoint.
        max_attempts: total attempts per call, default 3; 1 means no retries.
        timeout: seconds for each phase (connect, write, each read), or an
            ``httpx.Timeout``; default 10 s connect, 60 s read. Finite and positive.
        attempt_timeout: seconds one attempt may take in total, from connect to
            the last byte of the reply; ``None`` (the default) for no total bound.
            A server sending one byte at a time cannot stretch an attempt past it.
        max_concurrency: the most requests this client has on the wire at once;
            further calls wait their turn. Default: the connection pool's size
            (100 for the client's own pool; ``http_client``'s own limit when given).
        http_client: an ``httpx.Client`` to send with, used as given and never
            closed. Whatever its settings, redirects are not followed and
            replies are read uncompressed and bounded.
        retry_policy: backoff and retry-budget settings.
        env: the environment to read settings from; default ``os.environ``.
        profile: the shared-config profile; default ``AWS_PROFILE`` or ``default``.

    Raises:
        ConfigurationError: no usable region, a bad endpoint or setting.
        ParamValidationError: an argument of the wrong type or value.

    Example:
        >>> import sigv4_imagebuilder as sib
        >>> with sib.ImageBuilderClient(region="eu-west-1",
        ...                             credentials=sib.Credentials("AKID", "secret")) as client:
        ...     client.endpoint_url
        'https://imagebuilder.eu-west-1.amazonaws.com'
    """

    _HTTP_CLASS = httpx.Client

    def _start(self) -> None:
        # Threads past the limit wait here rather than in the pool, where
        # they would fail with PoolTimeout after the pool timeout. Tokens in a
        # queue, not a threading.Semaphore, whose Python code a signal's
        # exception (Ctrl-C, an alarm) can interrupt half-way and lose a slot
        # for good; see _send. (Our own client's transport is set up in
        # _new_http.)
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(self._limit):
            self._slots.put(None)
        self._credentials_lock = threading.Lock()

    def cancel_image_creation(
        self, image_build_version_arn: str, *, client_token: str | None = None
    ) -> CancelImageCreationResponse:
        """Cancel the creation of an image that is not yet in a terminal state.

        Args:
            image_build_version_arn: the ARN of the image build version.
            client_token: idempotency token, 1 to 64 characters; one uuid4 is
                generated per call when omitted, and every retry reuses it.

        Returns:
            The service's answer and the exchange's metadata.

        Raises:
            ParamValidationError: bad parameters; nothing was sent.
            ServiceError: the service said no (a subclass for modeled codes).
            TransportError: the request could not be completed on the wire.
            ResponseParseError: a 2xx reply that could not be read.
            NoCredentialsError: no credentials were found.

        Example:
            >>> client.cancel_image_creation(  # doctest: +SKIP
            ...     "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1")
        """
        return self._run(
            call_flow(
                self._ctx,
                CANCEL_IMAGE_CREATION,
                {"image_build_version_arn": image_build_version_arn, "client_token": client_token},
            )
        )

    def get_image(self, image_build_version_arn: str) -> GetImageResponse:
        """Describe an image build version, its state included.

        A read: safe to retry, and retried like any call.

        Args:
            image_build_version_arn: the image build version's ARN
                (``.../image/name/1.0.0/3``), or a version ARN that may use
                ``x`` wildcards (``.../image/name/1.x.x``).

        Returns:
            The image (typed fields and ``raw``), its latest version
            references, and the exchange's metadata.

        Raises:
            ParamValidationError: a bad ARN; nothing was sent.
            ServiceError: the service said no (``ClientException`` for an
                unknown image, ``ForbiddenException``...).
            TransportError: the request could not be completed on the wire.
            ResponseParseError: a 2xx reply that could not be read, or a
                typed field of the wrong JSON type (the message names it).
            NoCredentialsError: no credentials were found.

        Example:
            >>> client.get_image(ARN).image.state.status  # doctest: +SKIP
            'BUILDING'
        """
        return self._run(
            call_flow(self._ctx, GET_IMAGE, {"image_build_version_arn": image_build_version_arn})
        )

    def wait_until_image_cancelled(
        self,
        image_build_version_arn: str,
        *,
        min_delay: float = IMAGE_CANCELLED.min_delay,
        max_delay: float = IMAGE_CANCELLED.max_delay,
        max_wait: float = IMAGE_CANCELLED.max_wait,
        on_status: OnStatus | None = None,
    ) -> GetImageResponse:
        """Poll GetImage until the image is ``CANCELLED``; return that answer.

        A cancel only starts the cancellation; this waits for it to finish.
        The defaults suit how long a cancel takes (seconds to a few minutes):
        the first poll is immediate, the next after 5 s, then exponentially
        longer with jitter up to 30 s apart, for at most 30 minutes.

        Args:
            image_build_version_arn: the image build version's ARN.
            min_delay: the shortest delay between polls, seconds (> 0).
            max_delay: the longest delay between polls, seconds (>= min_delay).
            max_wait: give up after this many seconds (> 0); no sleep runs past it.
            on_status: called with the GetImage answer on every status change,
                the first poll included. It runs in the caller's thread (on the
                event loop for the async client), so keep it short; an
                exception it raises ends the wait and propagates as is.

        Returns:
            The GetImage answer that showed ``CANCELLED``.

        Raises:
            ParamValidationError: a bad argument; nothing was sent.
            WaiterFailureError: the image became ``AVAILABLE``, ``FAILED``,
                ``DEPRECATED``, ``DELETED`` or ``DISABLED`` (the cancel lost the
                race, or the image is gone); ``.status``, ``.reason``, ``.last_response``.
            WaiterTimeoutError: ``max_wait`` passed first. Throttling and
                transient errors are retried, and a poll that still fails does
                not end the wait; only ``max_wait`` does.
            ServiceError: a poll failed with a non-retryable error (such as
                ``ForbiddenException`` or ``ClientException``), raised as is.

        Example:
            >>> client.cancel_image_creation(ARN)  # doctest: +SKIP
            >>> client.wait_until_image_cancelled(ARN, on_status=print)  # doctest: +SKIP
        """
        return self._run(
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

    def wait_until_image_available(
        self,
        image_build_version_arn: str,
        *,
        min_delay: float = IMAGE_AVAILABLE.min_delay,
        max_delay: float = IMAGE_AVAILABLE.max_delay,
        max_wait: float = IMAGE_AVAILABLE.max_wait,
        on_status: OnStatus | None = None,
    ) -> GetImageResponse:
        """Poll GetImage until the image is ``AVAILABLE``; return that answer.

        Mirrors botocore's ``ImageAvailable`` waiter: ``FAILED`` or
        ``CANCELLED`` fail the wait, any other status polls again. Delays
        follow the Smithy waiter rules instead of botocore's fixed 60 s:
        from 30 s, backing off with jitter to 2 minutes, for at most 6 hours
        (botocore's 60 s x 360 attempts).

        Args:
            image_build_version_arn: the image build version's ARN.
            min_delay: the shortest delay between polls, seconds (> 0).
            max_delay: the longest delay between polls, seconds (>= min_delay).
            max_wait: give up after this many seconds (> 0).
            on_status: as for :meth:`wait_until_image_cancelled`.

        Returns:
            The GetImage answer that showed ``AVAILABLE``.

        Raises:
            ParamValidationError: a bad argument; nothing was sent.
            WaiterFailureError: the image became ``FAILED`` or ``CANCELLED``.
            WaiterTimeoutError: ``max_wait`` passed first.
            ServiceError: a poll failed with a non-retryable error, raised as is.
        """
        return self._run(
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

    def _run(self, flow: Flow[T]) -> T:
        if self._http.is_closed:
            flow.close()
            raise _closed()
        try:
            action = next(flow)
            while True:
                result: Any
                if isinstance(action, Send):
                    result = self._send(action)
                elif isinstance(action, AcquireLock):
                    lock = self._credentials_lock
                    result = lock if lock.acquire(blocking=action.blocking) else None
                elif isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    result = None
                else:
                    assert isinstance(action, RunBlocking)
                    try:
                        result = action.function()
                    except Exception as exc:  # the flow decides what a failure means
                        action = flow.throw(exc)
                        continue
                action = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    def _send(self, action: Send) -> Outcome:
        request = self._build(action, self._http)
        held: list[None] = []
        try:
            # Take a slot and note it in one C call, and give it back in one:
            # a signal's exception (Ctrl-C, an alarm) runs between bytecodes,
            # so it can never fall between taking a slot and noting it.
            take = self._slots.get
            wait = action.deadline
            if wait is not None:  # a waiter's max_wait bounds the wait for a slot
                take = functools.partial(take, True, wait)
            try:
                held.extend(islice(iter(take, _NEVER), 1))
            except queue.Empty:
                return _no_slot(wait or 0.0)
            return _transport.send(
                self._http,
                request,
                _transport.deadline_of(action, self._attempt_timeout),
            )
        except RuntimeError:
            if self._http.is_closed:  # closed by another thread mid-call
                raise _closed() from None
            raise
        finally:
            _consume(map(self._slots.put, held))

    def close(self) -> None:
        """Close the connections this client opened (not those of a client passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ImageBuilderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
