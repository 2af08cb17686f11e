"""The flow actions the credential sources yield, imported in this one place.

Sources are flows: HTTP goes through the client's driver (``Send``), files and
``credential_process`` through ``RunBlocking`` (a worker thread in async code),
and the resolver takes the client's lock with ``AcquireLock``.
"""

from __future__ import annotations

from .._actions import AcquireLock, Flow, Outcome, RunBlocking, Send

__all__ = ["AcquireLock", "Flow", "Outcome", "RunBlocking", "Send"]
