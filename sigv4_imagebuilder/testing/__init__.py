"""Test tools for code that uses sigv4_imagebuilder: no AWS account needed.

- :class:`LocalImageBuilder`: a SigV4-checking stand-in for the service on 127.0.0.1
  (CancelImageCreation, GetImage, ListImagePipelineImages and ListImageBuildVersions,
  usable from any SDK; pipelines, paging tokens and filters as the service has them).
- :func:`record`: capture real exchanges of any operation as scrubbed fixture
  files, through :meth:`Recording.transport` or a patch of httpx.
- pytest fixtures ``local_imagebuilder``, ``local_imagebuilder_client`` and
  ``imagebuilder_replay`` (registered automatically).

- :class:`LoopbackServer`, :class:`Reply`, :class:`ReceivedRequest`: a tiny
  scriptable HTTP server on 127.0.0.1.
- :func:`verify_signature`, :func:`verify_request_signature`: an independent SigV4 check.
- :func:`replay`: answer calls from recorded ``fixtures/`` files, matched on
  method, path, query and body (needs respx).
"""

from __future__ import annotations

from ._fixtures import Fixture, FixtureError, FixtureResponse, load_fixture, load_fixtures
from ._images import NON_TERMINAL, TERMINAL
from ._local import DEFAULT_CREDENTIALS, LocalImageBuilder
from ._loopback import LoopbackServer, ReceivedRequest, Reply
from ._record import Recording, record
from ._replay import Replay, ReplayMismatch, replay
from ._sigv4 import SignatureProblem
from ._sigv4 import verify as verify_signature
from ._sigv4 import verify_request as verify_request_signature

__all__ = [
    "DEFAULT_CREDENTIALS",
    "Fixture",
    "FixtureError",
    "FixtureResponse",
    "LocalImageBuilder",
    "LoopbackServer",
    "NON_TERMINAL",
    "ReceivedRequest",
    "Recording",
    "Replay",
    "ReplayMismatch",
    "Reply",
    "SignatureProblem",
    "TERMINAL",
    "load_fixture",
    "load_fixtures",
    "record",
    "replay",
    "verify_request_signature",
    "verify_signature",
]
