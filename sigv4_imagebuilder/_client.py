"""The two clients: thin I/O shells that drive the shared call flow.

``ImageBuilderClient`` answers the flow's actions with ``httpx.Client`` and
``time.sleep``; ``AsyncImageBuilderClient`` with ``httpx.AsyncClient`` and
``asyncio.sleep``. Everything else (validation, signing, retries, parsing)
lives once in the core.
"""

from __future__ import annotations

import collections
import functools
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from . import _options, _transport
from ._actions import AcquireLock, Flow, Outcome, RunBlocking, Send, Sleep
from ._config import ClientConfig, resolve_config
from ._credentials import CredentialResolver, CredentialsArg, resolver_for
from ._errors import ImageBuilderError, ParamValidationError, TransportTimeoutError
from ._flow import CallContext, call_flow
from ._models import CancelImageCreationResponse, GetImageResponse
from ._operations import CANCEL_IMAGE_CREATION, GET_IMAGE
from ._options import DEFAULT_TIMEOUT, ClientOptions, TimeoutArg
from ._retries import RetryPolicy
from ._shared_files import SharedFiles, read_shared_files
from ._waiters import IMAGE_AVAILABLE, IMAGE_CANCELLED, OnStatus, wait_flow

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


def _asyncio() -> Any:
    # Importing asyncio costs tens of milliseconds; sync users never pay it.
    import asyncio

    return asyncio


def _default_resolver(
    config: ClientConfig, env: Mapping[str, str], files: SharedFiles
) -> CredentialResolver:
    # The chain's sources pull in subprocess, xml and ipaddress: load them only
    # for clients that rely on the chain.
    from ._credentials._chain import default_resolver

    return default_resolver(
        env,
        files,
        profile_name=config.profile_name,
        explicit_profile=config.explicit_profile,
        region=config.region,
    )


def _closed() -> ImageBuilderError:
    # The root class, not httpx's RuntimeError: every failure of a call is an
    # ImageBuilderError, including calling a client after close().
    return ImageBuilderError("this client is closed")


def _no_slot(seconds: float) -> Outcome:
    # Every place was taken for as long as the call could wait (a waiter's max_wait).
    error = TransportTimeoutError(
        f"timed out: no free place among the client's max_concurrency within {seconds:g} s"
    )
    return Outcome(error=error, elapsed=seconds)


#: Runs an iterator to its end inside one C call (no bytecode between its steps).
_consume: Callable[[Iterable[object]], None] = collections.deque[object](maxlen=0).extend
_NEVER = object()


class _BaseClient(Generic[HttpT]):
    """What both clients share: the constructor, configuration, credentials, the call context.

    The constructor is written here once; each client names its httpx class
    and sets up its own locks in :meth:`_start`.
    """

    _HTTP_CLASS: ClassVar[type[httpx.Client] | type[httpx.AsyncClient]]

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: CredentialsArg = None,
        endpoint_url: str | None = None,
        use_fips_endpoint: bool | None = None,
        use_dualstack_endpoint: bool | None = None,
        max_attempts: int | None = None,
        timeout: TimeoutArg = None,
        attempt_timeout: float | None = None,
        max_concurrency: int | None = None,
        http_client: HttpT | None = None,
        retry_policy: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
        profile: str | None = None,
    ) -> None:
        http_class = self._HTTP_CLASS
        if http_client is not None and not isinstance(http_client, http_class):
            raise ParamValidationError(
                "http_client",
                f"must be an httpx.{http_class.__name__}",
                type(http_client).__name__,
            )
        self._configure(
            ClientOptions(
                region=region,
                credentials=credentials,
                endpoint_url=endpoint_url,
                use_fips_endpoint=use_fips_endpoint,
                use_dualstack_endpoint=use_dualstack_endpoint,
                max_attempts=max_attempts,
                timeout=timeout,
                attempt_timeout=attempt_timeout,
                max_concurrency=max_concurrency,
                retry_policy=retry_policy,
                env=env,
                profile=profile,
            )
        )
        self._owns_http = http_client is None
        self._limit = self._max_concurrency or _options.DEFAULT_MAX_CONCURRENCY
        self._http: HttpT = http_client or self._new_http(http_class)  # type: ignore[arg-type]
        self._start()

    def _start(self) -> None:
        """Set up what the client's I/O needs besides the httpx client (locks, slots)."""
        raise NotImplementedError

    def _configure(self, options: ClientOptions) -> None:
        environ = os.environ if options.env is None else options.env
        retry_policy = options.retry_policy
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ParamValidationError("retry_policy", "must be a RetryPolicy", retry_policy)
        self._timeout = _options.check_timeout(options.timeout)
        self._attempt_timeout = _options.check_attempt_timeout(options.attempt_timeout)
        self._max_concurrency = _options.check_max_concurrency(options.max_concurrency)
        files = read_shared_files(environ)  # the only file reads, once
        config = resolve_config(
            env=environ,
            files=files,
            region=options.region,
            profile=options.profile,
            endpoint_url=options.endpoint_url,
            use_fips_endpoint=options.use_fips_endpoint,
            use_dualstack_endpoint=options.use_dualstack_endpoint,
            max_attempts=options.max_attempts,
        )
        # Read here, with the shared files; the engines get them (_new_http).
        self._ca_bundle = config.ca_bundle
        from ._engines import environment_proxies

        self._proxies = environment_proxies(environ)
        self._credentials: CredentialResolver = resolver_for(
            options.credentials,
            lambda: _default_resolver(config, environ, files),
        )
        self._ctx = CallContext(
            region=config.region,
            endpoint_url=config.endpoint_url,
            max_attempts=config.max_attempts,
            policy=retry_policy or RetryPolicy(),
            credentials=self._credentials.flow,
        )

    def _new_http(self, http_class: type[HttpT]) -> HttpT:
        """The client the library makes: httpx's, sending through urllib3 or aiohttp."""
        from ._engines import EngineSettings, OwnAsyncClient, OwnClient, check_ca_bundle

        settings = EngineSettings(
            ca_bundle=check_ca_bundle(self._ca_bundle),
            max_connections=self._limit,
            proxies=self._proxies,
        )
        engine: Any
        if http_class is httpx.Client:
            from ._engines._urllib3 import Urllib3Transport

            engine = Urllib3Transport(settings)
        else:
            from ._engines import LazyAiohttpTransport

            engine = LazyAiohttpTransport(settings)
        own_class = OwnClient if http_class is httpx.Client else OwnAsyncClient
        own = own_class(transport=engine, timeout=self._timeout or DEFAULT_TIMEOUT)
        # What boto3 sends, no more: "Accept: */*" and "Connection: keep-alive" (HTTP/1.1's
        # default) are httpx's, and each header costs every call.
        del own.headers["Accept"], own.headers["Connection"]
        return own  # type: ignore[return-value]

    @property
    def region(self) -> str:
        """The region requests are signed for."""
        return self._ctx.region

    @property
    def endpoint_url(self) -> str:
        """The endpoint requests are sent to."""
        return self._ctx.endpoint_url

    @property
    def max_attempts(self) -> int:
        """Total attempts per call, the first included."""
        return self._ctx.max_attempts

    @property
    def max_concurrency(self) -> int:
        """The most requests this client has on the wire at once."""
        return self._limit

    _limit: int

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region={self.region!r}, "
            f"endpoint_url={self.endpoint_url!r}, max_attempts={self.max_attempts})"
        )

    _owns_http: bool
    _own_timeouts: dict[str, float | None] | None = None

    def _build(self, action: Send, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        if action.timeout is None and self._owns_http:
            # Our own client's timeouts never change: work them out once.
            timeouts = self._own_timeouts
            if timeouts is None:
                timeouts = _transport.phase_timeouts(
                    action, http, self._timeout, self._attempt_timeout
                )
                self._own_timeouts = timeouts
        else:
            timeouts = _transport.phase_timeouts(action, http, self._timeout, self._attempt_timeout)
        return _transport.build_request(action, http, timeouts)


class ImageBuilderClient(_BaseClient[httpx.Client]):
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


class AsyncImageBuilderClient(_BaseClient[httpx.AsyncClient]):
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
