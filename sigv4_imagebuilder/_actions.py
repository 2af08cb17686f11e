"""The actions a flow yields, and what it gets back: the currency between the
sans-I/O core and the drivers that perform I/O.

Like h11's events, these are plain data kept apart from the code that makes
(``_flow``, the credential sources) and answers (the two clients) them, so a
credential source can yield a Send without importing the call loop.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar, Union

import attrs

from ._errors import TransportError
from ._http import HttpRequest, HttpResponse

T = TypeVar("T")


@attrs.frozen
class Send:
    """Send ``request``; answer with an :class:`Outcome`.

    ``timeout`` (seconds, for every phase) overrides the client's; the
    credential sources use it to keep metadata look-ups short. ``deadline``
    (seconds) only tightens: the attempt ends within it whatever the client's
    timeouts, so a waiter's poll cannot outlast ``max_wait``.
    """

    request: HttpRequest
    timeout: float | None = None
    deadline: float | None = None


@attrs.frozen
class Sleep:
    """Wait ``seconds``; answer with ``None``."""

    seconds: float


@attrs.frozen
class GetCredentials:
    """Answer with the current :class:`Credentials` (refreshing them if due).

    The clients never see it: their call contexts fetch credentials with the
    resolver's own flow. A driver that holds credentials itself can answer it.
    """


@attrs.frozen
class AcquireLock:
    """Acquire the client's credentials lock; answer with the lock, or ``None``
    when ``blocking`` is false and another caller holds it.

    The flow releases it with the answer's synchronous ``release()``
    (``threading.Lock`` in the sync client, ``asyncio.Lock`` in the async one),
    so a flow closed while holding it still releases it.
    """

    blocking: bool


@attrs.frozen
class RunBlocking:
    """Call ``function()``; answer with its result, or throw its exception into
    the flow. The async driver runs it in a worker thread."""

    function: Callable[[], Any]


Action = Union[Send, Sleep, GetCredentials, RunBlocking, AcquireLock]


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of one Send: a response read in full, or a transport error."""

    response: HttpResponse | None = None
    error: TransportError | None = None
    elapsed: float = 0.0


#: A flow yields actions, is sent their results and returns a T.
Flow = Generator[Action, Any, T]
