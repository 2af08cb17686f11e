"""What both clients share: the constructor, configuration, credentials, the call context.

The clients themselves are thin I/O shells that drive the shared flows:
``ImageBuilderClient`` (``_client``) answers the flows' actions with
``httpx.Client`` and ``time.sleep``, ``AsyncImageBuilderClient``
(``_async_client``) with ``httpx.AsyncClient`` and ``asyncio.sleep``. Everything
else (validation, signing, retries, parsing, paging) lives once in the core.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from . import _options, _transport
from ._actions import Outcome, Send
from ._config import ClientConfig, resolve_config
from ._credentials import CredentialResolver, CredentialsArg, resolver_for
from ._errors import ImageBuilderError, ParamValidationError, TransportTimeoutError
from ._flow import CallContext
from ._options import DEFAULT_TIMEOUT, ClientOptions, TimeoutArg
from ._retries import RetryPolicy
from ._shared_files import SharedFiles, read_shared_files

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
        from ._engines import check_proxies, environment_proxies

        self._proxies = check_proxies(environment_proxies(environ))
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
