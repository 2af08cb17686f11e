"""Credentials: the provider protocol, the caching resolver, and the sources.

A source is a flow (see ``_flow``) so the same code fetches credentials from
both clients: HTTP goes through the client's driver, file reads and
``credential_process`` through ``RunBlocking``, which the async driver runs in
a worker thread.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, Union, runtime_checkable

from ._actions import Flow, RunBlocking
from ._errors import NoCredentialsError, ParamValidationError
from ._models import Credentials

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

#: Refresh this long before expiry if we can (failures are tolerated)...
ADVISORY_REFRESH = datetime.timedelta(minutes=15)
#: ...and this long before expiry we must (failures are raised).
MANDATORY_REFRESH = datetime.timedelta(minutes=10)


@runtime_checkable
class CredentialProvider(Protocol):
    """Anything that can hand out current credentials.

    Pass one as ``credentials=`` to plug in credentials from elsewhere (an SSO
    session of your own, a vault). Return credentials with ``expiration`` set
    and the client caches them until 15 minutes before they expire; without
    it, the provider is asked on every call.

    Example:
        >>> class FromVault:
        ...     def get_credentials(self) -> Credentials:
        ...         return Credentials("AKIDEXAMPLE", "secret")
        >>> isinstance(FromVault(), CredentialProvider)
        True
    """

    def get_credentials(self) -> Credentials:
        """Return the credentials to sign the next request with."""
        ...


CredentialsArg = Union[Credentials, CredentialProvider, Callable[[], Credentials], None]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _checked(value: object, where: str) -> Credentials:
    if not isinstance(value, Credentials):
        raise NoCredentialsError(
            f"{where} returned {type(value).__name__}, expected sigv4_imagebuilder.Credentials"
        )
    return value


class CredentialResolver:
    """Caches what a credential flow fetched and refreshes it before it expires.

    Refresh follows botocore: from 15 minutes before expiry a refresh is
    attempted and a failure keeps the cached credentials; from 10 minutes
    before expiry a refresh must succeed. One refresh runs at a time, however
    many threads or tasks ask at once.
    """

    def __init__(
        self,
        fetch: Callable[[], Flow[Credentials]],
        *,
        clock: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cached: Credentials | None = None
        self._thread_lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    def _fresh(self, *, mandatory_only: bool = False) -> Credentials | None:
        cached = self._cached
        if cached is None:
            return None
        if cached.expiration is None:
            return cached
        margin = MANDATORY_REFRESH if mandatory_only else ADVISORY_REFRESH
        if self._clock() < cached.expiration - margin:
            return cached
        return None

    def _store(self, fetched: Credentials) -> Credentials:
        # Credentials without an expiration are kept for the client's life, as
        # botocore keeps them; expiring ones until their refresh window.
        self._cached = fetched
        return fetched

    def get(self, run: Callable[[Flow[Credentials]], Credentials]) -> Credentials:
        """Return current credentials, running the fetch flow with ``run`` if due."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._thread_lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            try:
                return self._store(run(self._fetch()))
            except Exception:
                fallback = self._fresh(mandatory_only=True)
                if fallback is None:
                    raise
                return fallback

    async def aget(self, run: Callable[[Flow[Credentials]], Awaitable[Credentials]]) -> Credentials:
        """The async twin of :meth:`get`; never blocks the event loop."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        if self._async_lock is None:
            import asyncio  # only async code pays for importing asyncio

            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            try:
                return self._store(await run(self._fetch()))
            except Exception:
                fallback = self._fresh(mandatory_only=True)
                if fallback is None:
                    raise
                return fallback


class StaticResolver(CredentialResolver):
    """Fixed credentials: no I/O, no lock."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def get(self, run: Callable[[Flow[Credentials]], Credentials]) -> Credentials:
        return self._credentials

    async def aget(self, run: Callable[[Flow[Credentials]], Awaitable[Credentials]]) -> Credentials:
        return self._credentials


def _provider_flow(call: Callable[[], Credentials], where: str) -> Flow[Credentials]:
    value = yield RunBlocking(call)
    return _checked(value, where)


class ProviderResolver(CredentialResolver):
    """A user's provider or callable, cached only while its credentials say so."""

    def __init__(self, call: Callable[[], Credentials], where: str, **kwargs: Any) -> None:
        super().__init__(lambda: _provider_flow(call, where), **kwargs)

    def _store(self, fetched: Credentials) -> Credentials:
        self._cached = fetched if fetched.expiration is not None else None
        return fetched


def environment_credentials(env: Mapping[str, str]) -> Credentials | None:
    """Credentials from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``.

    Returns None when the key id or the secret is missing or empty.
    """
    key = env.get("AWS_ACCESS_KEY_ID")
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(key, secret, session_token=env.get("AWS_SESSION_TOKEN") or None)


def resolver_for(
    credentials: CredentialsArg, default: Callable[[], CredentialResolver]
) -> CredentialResolver:
    """Turn the ``credentials=`` argument into a resolver."""
    if credentials is None:
        return default()
    if isinstance(credentials, Credentials):
        return StaticResolver(credentials)
    if isinstance(credentials, CredentialProvider):
        return ProviderResolver(credentials.get_credentials, type(credentials).__name__)
    if callable(credentials):
        return ProviderResolver(credentials, getattr(credentials, "__name__", "credentials"))
    raise ParamValidationError(
        "credentials",
        "must be Credentials, an object with get_credentials(), or a zero-argument callable",
        type(credentials).__name__,
    )
