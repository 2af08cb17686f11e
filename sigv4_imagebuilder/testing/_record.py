"""Record the Image Builder exchanges of clients used in a block, scrubbed, as fixtures.

Two ways in, both feeding one :class:`Recording`:

- a transport: ``httpx.Client(transport=recording.transport())`` (or
  ``recording.async_transport()``) passed to the client as ``http_client``. Nothing
  global changes, so it is safe with threads and with other recordings;
- for convenience (``patch_httpx=True``, the default), every ``httpx.Client`` and
  ``httpx.AsyncClient`` in the process while the block runs. The patch is shared
  by all open blocks and removed when the last one exits, in whatever order they
  exit.

Only requests SigV4-signed for ``imagebuilder`` are kept, whatever the operation:
credential look-ups (instance metadata, STS) made on the way are not.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, quote_plus

import attrs

from ._fixtures import Fixture, FixtureResponse

if TYPE_CHECKING:
    import httpx

#: Headers that never reach a recording.
SCRUBBED_HEADERS = frozenset({"authorization", "x-amz-security-token", "x-amz-date"})
#: Query parameters that never reach a recording (SigV4 query authentication).
SCRUBBED_QUERY = frozenset(
    {"x-amz-signature", "x-amz-security-token", "x-amz-credential", "x-amz-date"}
)
#: Headers that describe the bytes on the wire, not the (decoded) body a fixture stores.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_SIGNATURE_RE = re.compile(r"Signature=[0-9a-f]{64}")
# A signature as sent, to scrub wherever a server echoes it (bare, upper-cased).
_SENT_SIGNATURE_RE = re.compile(r"Signature=([0-9a-fA-F]{64})")
_SCOPE_RE = re.compile(r"Credential=[^/,]*/\d{8}/[^/,]+/(?P<service>[^/,]+)/aws4_request")
REDACTED = "<redacted>"
SERVICE = "imagebuilder"
# request.extensions key: the recordings that already hold this request, so a
# request seen by both a recording transport and the patch is kept once.
_SEEN = "sigv4_imagebuilder.recorded_by"


@attrs.frozen
class _Exchange:
    """One attempt, reduced to plain data at the moment it completed."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes


def _signed_for_service(request: httpx.Request) -> bool:
    match = _SCOPE_RE.search(request.headers.get("authorization", ""))
    return match is not None and match["service"] == SERVICE


def _request_body(request: httpx.Request) -> bytes:
    import httpx

    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed upload, already sent: nothing to keep
        return b""


def _decode(headers: httpx.Headers, raw: bytes) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """The headers and body to store for a reply received as ``raw`` wire bytes.

    The body is stored decoded, without the headers that described its wire
    form, so that replaying it gives what the live call gave. A body that does
    not decode as its headers claim is kept as received, headers and all, so
    that replaying it fails as the live call did.
    """
    import httpx

    try:
        content = httpx.Response(200, headers=headers, content=raw).read()
    except httpx.DecodingError:
        return tuple(headers.multi_items()), raw
    kept = tuple((k, v) for k, v in headers.multi_items() if k.lower() not in WIRE_HEADERS)
    return kept, content


@attrs.define
class Recording:
    """What a :func:`record` block captured, in call order (before scrubbing).

    Attributes:
        calls: invocation id -> the attempts of that call, as ``(request, response)``
            (``httpx.Request``, ``httpx.Response``).
        secrets: strings replaced by ``<redacted>`` when the fixtures are written.
    """

    calls: dict[str, list[tuple[Any, Any]]] = attrs.field(factory=dict)
    secrets: set[str] = attrs.field(factory=set, repr=False)
    _exchanges: dict[str, list[_Exchange]] = attrs.field(factory=dict, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def transport(self, inner: httpx.BaseTransport | None = None) -> httpx.BaseTransport:
        """An httpx transport that records what passes through ``inner``.

        Args:
            inner: the transport that really sends; a new ``httpx.HTTPTransport()``
                when None.

        Returns:
            A transport for ``httpx.Client(transport=...)``.

        Example:
            >>> import httpx
            >>> from sigv4_imagebuilder.testing import Recording
            >>> recording = Recording()
            >>> with httpx.Client(transport=recording.transport()) as client:
            ...     pass  # client.send(...) here is recorded in recording.calls
        """
        from ._transports import RecordingTransport

        return RecordingTransport(self._add, inner)

    def async_transport(
        self, inner: httpx.AsyncBaseTransport | None = None
    ) -> httpx.AsyncBaseTransport:
        """The async twin of :meth:`transport`, for ``httpx.AsyncClient(transport=...)``.

        Args:
            inner: the transport that really sends; a new ``httpx.AsyncHTTPTransport()``
                when None.

        Returns:
            A transport for ``httpx.AsyncClient(transport=...)``.
        """
        from ._transports import AsyncRecordingTransport

        return AsyncRecordingTransport(self._add, inner)

    def _add(self, request: httpx.Request, response: httpx.Response, raw: bytes | None) -> None:
        """Keep one attempt; ``raw`` is the wire body (None: only the decoded one is known)."""
        if not _signed_for_service(request):
            return
        seen = request.extensions.setdefault(_SEEN, set())
        if id(self) in seen:
            return
        seen.add(id(self))
        if raw is None:
            headers = tuple(
                (k, v) for k, v in response.headers.multi_items() if k.lower() not in WIRE_HEADERS
            )
            content = response.content
        else:
            headers, content = _decode(response.headers, raw)
        exchange = _Exchange(
            method=request.method,
            path=request.url.path,
            query=tuple(
                parse_qsl(request.url.query.decode("utf-8", "replace"), keep_blank_values=True)
            ),
            body=_request_body(request),
            status=response.status_code,
            headers=headers,
            content=content,
        )
        token = request.headers.get("x-amz-security-token")
        sent = _SENT_SIGNATURE_RE.findall(request.headers.get("authorization", ""))
        sent += [v for k, v in exchange.query if k.lower() == "x-amz-signature"]
        with self._lock:
            # Attempts of one call share amz-sdk-invocation-id; without one,
            # each request is a call of its own.
            key = request.headers.get("amz-sdk-invocation-id") or f"call-{len(self.calls)}"
            if token:
                self.secrets.add(token)
            self.secrets.update(v for v in sent if v)
            self.calls.setdefault(key, []).append((request, response))
            self._exchanges.setdefault(key, []).append(exchange)


class _Patch:
    """One shared patch of ``httpx.Client.send``/``httpx.AsyncClient.send``.

    Every open :func:`record` block (that asked for patching) is a subscriber.
    The patch is installed by the first and removed by the last, whatever the
    order the blocks exit in, from any thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[Recording] = []
        self._originals: tuple[Any, Any] | None = None
        self._installed: tuple[Any, Any] | None = None
        self._live: list[bool] = [False]

    def subscribe(self, recording: Recording) -> None:
        import httpx

        with self._lock:
            self._active.append(recording)
            if self._originals is None:
                self._install(httpx)

    def unsubscribe(self, recording: Recording) -> None:
        import httpx

        with self._lock:
            self._active = [r for r in self._active if r is not recording]
            if not self._active and self._originals is not None:
                self._uninstall(httpx)

    def _recordings(self) -> list[Recording]:
        with self._lock:
            return list(self._active)

    def _install(self, httpx: Any) -> None:
        original_send, original_asend = httpx.Client.send, httpx.AsyncClient.send
        # Each installation has its own switch: a wrapper left in place under
        # someone else's patch (see _uninstall) turns into a plain pass-through.
        live = self._live = [True]
        patch = self

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = original_send(client, request, **kwargs)
            if live[0]:
                response.read()
                for recording in patch._recordings():
                    recording._add(request, response, None)
            return response

        async def asend(
            client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
        ) -> httpx.Response:
            response = await original_asend(client, request, **kwargs)
            if live[0]:
                await response.aread()
                for recording in patch._recordings():
                    recording._add(request, response, None)
            return response

        httpx.Client.send = send
        httpx.AsyncClient.send = asend
        self._originals = (original_send, original_asend)
        self._installed = (send, asend)

    def _uninstall(self, httpx: Any) -> None:
        assert self._originals is not None and self._installed is not None
        self._live[0] = False
        # Put the originals back only where our wrapper is still on top; if
        # something patched over it since, removing ours would remove theirs.
        if httpx.Client.send is self._installed[0]:
            httpx.Client.send = self._originals[0]
        if httpx.AsyncClient.send is self._installed[1]:
            httpx.AsyncClient.send = self._originals[1]
        self._originals = self._installed = None


_PATCH = _Patch()


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            # As is, percent-encoded as a query string or a URL echo would
            # carry it, and JSON-escaped (a "\/" for each "/", "\uXXXX"s).
            forms.update(
                (
                    secret,
                    quote(secret, safe=""),
                    quote(secret),
                    quote_plus(secret),
                    json.dumps(secret)[1:-1],
                    json.dumps(secret)[1:-1].replace("/", "\\/"),
                )
            )
    if forms:
        # Case-insensitive: a server may echo a hex signature upper-cased, or
        # percent-escapes in the other case. Longest first, so no form is cut.
        pattern = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return _SIGNATURE_RE.sub("Signature=" + REDACTED, text)


def _scrub_json(value: Any, secrets: set[str]) -> Any:
    r"""Scrub every string of parsed JSON, keys included: escapes in the raw
    text (``\/``, ``\u0041``) hide a secret from the text scrub, and the
    fixture stores the parsed form."""
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if isinstance(value, dict):
        return {_scrub_text(k, secrets): _scrub_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v, secrets) for v in value]
    return value


def _scrub_body(raw: bytes, secrets: set[str]) -> tuple[str, Any]:
    """The body's scrubbed text, and its scrubbed JSON (``None`` if it is not JSON)."""
    text = _scrub_text(raw.decode("utf-8", "replace"), secrets)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return text, None
    return text, _scrub_json(parsed, secrets)


def _query_json(pairs: tuple[tuple[str, str], ...], secrets: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name.lower() in SCRUBBED_QUERY:
            continue
        value = _scrub_text(value, secrets)
        if name in out:  # a repeated parameter becomes a list, in order
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[name] = value
    return out


def _fixture(name: str, attempts: list[_Exchange], secrets: set[str]) -> Fixture:
    first = attempts[0]
    request: dict[str, Any] = {"method": first.method, "path": first.path}
    if first.query:
        request["query"] = _query_json(first.query, secrets)
    if first.body:
        text, parsed = _scrub_body(first.body, secrets)
        if parsed is None:
            request["body"] = text
        else:
            request["json"] = parsed
    responses = []
    for exchange in attempts:
        headers = {
            _scrub_text(name, secrets): _scrub_text(value, secrets)
            for name, value in exchange.headers
            if name.lower() not in SCRUBBED_HEADERS
        }
        text, parsed = _scrub_body(exchange.content, secrets)
        body = (text if parsed is None else json.dumps(parsed)).encode()
        responses.append(FixtureResponse(status=exchange.status, headers=headers, body=body))
    return Fixture(
        name=name,
        description=f"Recorded {first.method} {first.path}: "
        + ", ".join(str(r.status) for r in responses),
        request=request,
        responses=tuple(responses),
    )


@contextmanager
def record(
    path: str | os.PathLike[str],
    *,
    secrets: Iterable[str] = (),
    patch_httpx: bool = True,
) -> Iterator[Recording]:
    """Capture the Image Builder exchanges made inside the block; write fixtures.

    Any operation is recorded (its method, path, query and JSON body). A path
    ending in ``.json`` is one file: one call's fixture (its attempts become
    ``responses`` when there were retries), or, for several calls, all of them
    in order under ``"calls"``, which :func:`replay` plays in that order. Any
    other path is a directory with one ``NNN_STATUS.json`` per call.

    Before writing, the Authorization, X-Amz-Security-Token and X-Amz-Date
    headers are dropped, and every occurrence of the secret key or a session
    token (those in ``secrets``, in AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
    and any token seen on the wire) and any SigV4 signature (each signature
    sent, also where a server echoes it bare) is replaced: as is,
    percent-encoded, JSON-escaped, in any letter case, and in every string of
    a JSON body once parsed. A
    compressed reply is stored decoded, without its Content-Encoding,
    Content-Length and Transfer-Encoding headers, so it replays as it was read.

    Args:
        path: a ``.json`` file (every call in one file) or a directory.
        secrets: more strings to scrub.
        patch_httpx: also record every httpx client in the process while the
            block runs; False records only through :meth:`Recording.transport`
            and :meth:`Recording.async_transport`.

    Returns:
        A context manager yielding the :class:`Recording`.

    Example:
        >>> import httpx, sigv4_imagebuilder as sib, tempfile, pathlib
        >>> from sigv4_imagebuilder.testing import LocalImageBuilder, record, replay
        >>> arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo/1.0.0/1"
        >>> creds = sib.Credentials("AKIDLOCAL", "local-secret")
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "cancel.json"
        >>> with LocalImageBuilder(creds) as server, record(out, patch_httpx=False) as rec:
        ...     server.add_image(arn)
        ...     with httpx.Client(transport=rec.transport()) as http:
        ...         client = sib.ImageBuilderClient(
        ...             region="us-east-1", credentials=creds,
        ...             endpoint_url=server.endpoint_url, http_client=http)
        ...         live = client.cancel_image_creation(arn, client_token="t-1")
        >>> with replay(out), sib.ImageBuilderClient(region="us-east-1", credentials=creds) as c:
        ...     again = c.cancel_image_creation(arn, client_token="t-1")
        >>> again.request_id == live.request_id
        True
    """
    recording = Recording(secrets={s for s in secrets if s})
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            recording.secrets.add(os.environ[name])
    if patch_httpx:
        _PATCH.subscribe(recording)
    try:
        yield recording
    finally:
        if patch_httpx:
            _PATCH.unsubscribe(recording)
    write_recording(recording, Path(path))


def write_recording(recording: Recording, path: Path) -> list[Path]:
    """Write the scrubbed fixtures of ``recording`` to ``path``; return the files."""
    with recording._lock:
        calls = [list(attempts) for attempts in recording._exchanges.values()]
        secrets = set(recording.secrets)
    if not calls:
        return []
    if path.suffix == ".json":
        # A .json path is one file whatever the number of calls: one fixture,
        # or the whole sequence under "calls", which replay() plays in order.
        fixtures = [
            _fixture(f"{path.stem}[{i}]" if len(calls) > 1 else path.stem, attempts, secrets)
            for i, attempts in enumerate(calls, start=1)
        ]
        document = (
            fixtures[0].to_json()
            if len(fixtures) == 1
            else {
                "description": f"{len(fixtures)} calls, in the order they were made",
                "calls": [f.to_json() for f in fixtures],
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for index, attempts in enumerate(calls, start=1):
        name = f"{index:03d}_{attempts[-1].status}"
        target = path / f"{name}.json"
        fixture = _fixture(name, attempts, secrets)
        target.write_text(json.dumps(fixture.to_json(), indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written
