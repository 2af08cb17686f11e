"""The caching resolver: when to use cached credentials, when to refresh.

The decisions (fresh, refresh, fall back) are written once as a flow; the only
thing that differs per client is the lock, which the flow asks the driver for
with ``AcquireLock``. Refresh follows botocore:

* more than 15 minutes before expiry the cached credentials are used;
* from 15 minutes (advisory window), one caller refreshes and everyone else
  keeps using the still-valid cached credentials without waiting; a failed
  refresh keeps them;
* from 10 minutes (mandatory window), or with nothing cached, callers wait for
  the one refresh in flight and share its outcome, success or failure, instead
  of each running the chain again.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from types import TracebackType

from .._actions import AcquireLock, Flow
from .._clock import utcnow
from ._model import Credentials

logger = logging.getLogger("sigv4_imagebuilder")

#: Refresh this long before expiry if we can (failures are tolerated)...
ADVISORY_REFRESH = datetime.timedelta(minutes=15)
#: ...and this long before expiry we must (failures are raised).
MANDATORY_REFRESH = datetime.timedelta(minutes=10)


def time_left(credentials: Credentials, now: datetime.datetime) -> datetime.timedelta | None:
    """How long ``credentials`` stay valid after ``now`` (None: they do not expire).

    A difference of two aware datetimes cannot overflow, unlike
    ``expiration - margin`` for an expiration in year 1.
    """
    if credentials.expiration is None:
        return None
    return credentials.expiration - now


class CredentialResolver:
    """Caches what a credential flow fetched and refreshes it before it expires.

    Args:
        fetch: makes the flow that fetches new credentials.
        clock: the current time, aware UTC.
        cache_unexpiring: keep credentials without an expiration for the
            client's life (the chain, as botocore); when false (a user's
            provider), such credentials are fetched anew on every call.
        initial: credentials to start with (fixed ones given by the user).
    """

    def __init__(
        self,
        fetch: Callable[[], Flow[Credentials]],
        *,
        clock: Callable[[], datetime.datetime] = utcnow,
        cache_unexpiring: bool = True,
        initial: Credentials | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cache_unexpiring = cache_unexpiring
        self._cached = initial
        # The outcome of the last refresh round, shared with the callers that
        # waited for it: a round number, and the credentials or the failure.
        self._round = 0
        self._result: Credentials | None = None
        self._failure: tuple[BaseException, TracebackType | None] | None = None

    def _usable(self, credentials: Credentials | None, margin: datetime.timedelta) -> bool:
        # Usable: held, and either not expiring or more than `margin` from expiry.
        if credentials is None:
            return False
        left = time_left(credentials, self._clock())
        return left is None or left > margin

    def flow(self) -> Flow[Credentials]:
        """The current credentials, refreshing them first if they are due."""
        cached = self._cached
        if self._usable(cached, ADVISORY_REFRESH):
            assert cached is not None
            return cached
        if self._usable(cached, MANDATORY_REFRESH):
            assert cached is not None
            # Advisory window: whoever gets the lock refreshes; the others
            # keep the still-valid credentials and do not wait.
            lock = yield AcquireLock(blocking=False)
            if lock is None:
                return cached
            try:
                if self._cached is not cached and self._cached is not None:
                    return self._cached  # refreshed between our look and the lock
                return (yield from self._refresh())
            finally:
                lock.release()
        seen = self._round
        lock = yield AcquireLock(blocking=True)
        try:
            if self._round != seen:
                # A refresh finished while we waited: its outcome is ours.
                if self._failure is not None:
                    error, traceback = self._failure
                    raise error.with_traceback(traceback)
                assert self._result is not None
                return self._result
            if self._usable(self._cached, MANDATORY_REFRESH):
                assert self._cached is not None
                return self._cached
            return (yield from self._refresh())
        finally:
            lock.release()

    def _refresh(self) -> Flow[Credentials]:
        # Called with the lock held.
        previous = self._cached
        try:
            fetched = yield from self._fetch()
        except Exception as exc:
            self._round += 1
            self._result, self._failure = None, (exc, exc.__traceback__)
            if self._usable(previous, MANDATORY_REFRESH):
                assert previous is not None
                logger.debug("credential refresh failed, keeping current credentials: %s", exc)
                return previous
            raise
        self._round += 1
        self._result, self._failure = fetched, None
        if fetched.expiration is not None or self._cache_unexpiring:
            self._cached = fetched
        return fetched
