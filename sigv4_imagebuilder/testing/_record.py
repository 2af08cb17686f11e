"""Record the exchanges of clients used in a block, scrubbed, as fixture files."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from ._fixtures import Fixture, FixtureResponse

#: Headers that never reach a recording.
SCRUBBED_HEADERS = frozenset({"authorization", "x-amz-security-token", "x-amz-date"})
_SIGNATURE_RE = re.compile(r"Signature=[0-9a-f]{64}")
REDACTED = "<redacted>"


@attrs.define
class Recording:
    """What a :func:`record` block captured, in call order (before scrubbing)."""

    calls: dict[str, list[tuple[Any, Any]]] = attrs.field(factory=dict)
    secrets: set[str] = attrs.field(factory=set, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def _add(self, request: Any, response: Any) -> None:
        if not request.url.path.endswith("/CancelImageCreation"):
            return
        key = request.headers.get("amz-sdk-invocation-id") or f"call-{len(self.calls)}"
        token = request.headers.get("x-amz-security-token")
        with self._lock:
            if token:
                self.secrets.add(token)
            self.calls.setdefault(key, []).append((request, response))


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SIGNATURE_RE.sub("Signature=" + REDACTED, text)


def _fixture(name: str, attempts: list[tuple[Any, Any]], secrets: set[str]) -> Fixture:
    request = attempts[0][0]
    try:
        sent = json.loads(_scrub_text(request.content.decode("utf-8", "replace"), secrets))
    except ValueError:
        sent = {}
    responses = []
    for _, response in attempts:
        headers = {
            name: _scrub_text(value, secrets)
            for name, value in response.headers.items()
            if name.lower() not in SCRUBBED_HEADERS
        }
        body = _scrub_text(response.content.decode("utf-8", "replace"), secrets).encode()
        responses.append(FixtureResponse(status=response.status_code, headers=headers, body=body))
    return Fixture(
        name=name,
        description=f"Recorded {request.method} {request.url.path}: "
        + ", ".join(str(r.status) for r in responses),
        request={"method": request.method, "path": request.url.path, "json": sent},
        responses=tuple(responses),
    )


@contextmanager
def record(path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> Iterator[Recording]:
    """Capture CancelImageCreation exchanges made inside the block; write fixtures.

    With one call and a path ending in ``.json``, that one file is written
    (its attempts become ``responses`` when there were retries); otherwise
    ``path`` is a directory with one ``NNN_STATUS.json`` per call.

    Before writing, the Authorization, X-Amz-Security-Token and X-Amz-Date
    headers are dropped, and every occurrence of the secret key or a session
    token (those in ``secrets``, in AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
    and any token seen on the wire) and any SigV4 signature is replaced.

    Example:
        >>> import sigv4_imagebuilder as sib, tempfile, pathlib
        >>> from sigv4_imagebuilder.testing import LocalImageBuilder, record, replay
        >>> arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo/1.0.0/1"
        >>> creds = sib.Credentials("AKIDLOCAL", "local-secret")
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "cancel.json"
        >>> with LocalImageBuilder(creds) as server, record(out, secrets=["local-secret"]):
        ...     server.add_image(arn)
        ...     client = sib.ImageBuilderClient(region="us-east-1", credentials=creds,
        ...                                     endpoint_url=server.endpoint_url)
        ...     live = client.cancel_image_creation(arn, client_token="t-1")
        >>> with replay(out):
        ...     again = client.cancel_image_creation(arn, client_token="t-1")
        >>> client.close()
        >>> again.request_id == live.request_id
        True
    """
    import httpx

    recording = Recording(secrets={s for s in secrets if s})
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            recording.secrets.add(os.environ[name])
    original_send = httpx.Client.send
    original_asend = httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = original_send(self, request, **kwargs)
        response.read()
        recording._add(request, response)
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await original_asend(self, request, **kwargs)
        await response.aread()
        recording._add(request, response)
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
    try:
        yield recording
    finally:
        httpx.Client.send = original_send  # type: ignore[method-assign]
        httpx.AsyncClient.send = original_asend  # type: ignore[method-assign]
    write_recording(recording, Path(path))


def write_recording(recording: Recording, path: Path) -> list[Path]:
    """Write the scrubbed fixtures of ``recording`` to ``path``; return the files."""
    calls = list(recording.calls.values())
    if not calls:
        return []
    if len(calls) == 1 and path.suffix == ".json":
        fixture = _fixture(path.stem, calls[0], recording.secrets)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fixture.to_json(), indent=2) + "\n", encoding="utf-8")
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for index, attempts in enumerate(calls, start=1):
        name = f"{index:03d}_{attempts[-1][1].status_code}"
        target = path / f"{name}.json"
        fixture = _fixture(name, attempts, recording.secrets)
        target.write_text(json.dumps(fixture.to_json(), indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written
