"""Test tools for code that uses sigv4_imagebuilder: no AWS account needed.

- :class:`LoopbackServer`, :class:`Reply`, :class:`ReceivedRequest`: a tiny
  scriptable HTTP server on 127.0.0.1.
- :func:`verify_signature`: an independent SigV4 check.
- :func:`replay`: answer calls from recorded ``fixtures/`` files (needs respx).
"""

from __future__ import annotations

from ._fixtures import Fixture, FixtureError, FixtureResponse, load_fixture, load_fixtures
from ._loopback import LoopbackServer, ReceivedRequest, Reply
from ._replay import Replay, ReplayMismatch, replay
from ._sigv4 import SignatureProblem
from ._sigv4 import verify as verify_signature

__all__ = [
    "Fixture",
    "FixtureError",
    "FixtureResponse",
    "LoopbackServer",
    "ReceivedRequest",
    "Replay",
    "ReplayMismatch",
    "Reply",
    "SignatureProblem",
    "load_fixture",
    "load_fixtures",
    "replay",
    "verify_signature",
]
