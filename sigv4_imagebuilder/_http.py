"""Plain-data HTTP request and response, the currency of the sans-I/O core."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

#: Request headers whose values are secret or replayable; reprs show "***".
SENSITIVE_HEADERS = frozenset({"authorization", "x-amz-security-token"})

#: The port a URL of each scheme means when it names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


def redacted(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``headers`` with the values of SENSITIVE_HEADERS replaced by ``***``."""
    return tuple((k, "***" if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers)


@attrs.frozen(kw_only=True, repr=False)
class HttpRequest:
    """An HTTP request as the core builds it; the I/O shells send it as is.

    ``headers`` is an ordered tuple of ``(name, value)`` pairs so that what is
    signed and what is sent are the same bytes in the same order.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (any case), or ``None``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def __repr__(self) -> str:
        return (
            f"HttpRequest(method={self.method!r}, url={self.url!r}, "
            f"headers={redacted(self.headers)!r}, body={self.body!r})"
        )


@attrs.frozen(kw_only=True)
class HttpResponse:
    """An HTTP response read in full. Header names are lower case.

    ``body_problem`` says why the body was not kept (larger than the read
    bound, an encoding we do not decode); ``body`` is then empty.
    """

    status_code: int
    headers: Mapping[str, str] = attrs.field(hash=False)
    body: bytes = b""
    body_problem: str | None = None


def scrub_echoes(response: HttpResponse, sent: tuple[str | None, ...]) -> HttpResponse:
    """``response`` with every copy of a secret we sent it replaced by ``***``.

    A hostile endpoint can echo the session token or the signature into an
    error code, a message or a request id, which end up in exception texts,
    reprs and logs. Cheap when nothing matches (the usual case): a substring
    test per secret over the body and the header values.

    Example:
        >>> reply = HttpResponse(status_code=400, headers={"x-echo": "tok"}, body=b'"tok"')
        >>> scrub_echoes(reply, ("tok", None)).body
        b'"***"'
    """
    secrets = [s for s in sent if s]
    found = [
        s
        for s in secrets
        if s.encode() in response.body
        or any(s in value or s in name for name, value in response.headers.items())
    ]
    if not found:
        return response
    body = response.body
    headers = dict(response.headers)
    for secret in found:
        body = body.replace(secret.encode(), b"***")
        headers = {k.replace(secret, "***"): v.replace(secret, "***") for k, v in headers.items()}
    return attrs.evolve(response, body=body, headers=headers)


def host_header(url: str) -> str:
    """Return the ``Host`` value for ``url``: lower-case host, port only if not default.

    Example:
        >>> host_header("http://[::1]:9000/x"), host_header("https://Example.COM:443/")
        ('[::1]:9000', 'example.com')
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host
