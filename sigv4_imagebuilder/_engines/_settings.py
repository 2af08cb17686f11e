"""What an engine is configured with: the CA bundle, the proxies, the pool size."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs
import httpx

from .._errors import ConfigurationError
from .._http import DEFAULT_PORTS

#: ``request.extensions`` key: the ``time.monotonic()`` instant an attempt must
#: end by. The sync engine gives connect and read what is left of it.
DEADLINE_EXTENSION = "sigv4_imagebuilder.deadline"


#: Bodies up to this many bytes, declared by Content-Length and not compressed,
#: are read by the engine in one go; larger ones are streamed within the caller's bound.
READ_AT_ONCE = 64 * 1024


def reads_at_once(length: int | None, content_encoding: str | None) -> bool:
    """Whether a reply's body is small and plain enough to read at once (every Image
    Builder reply is): a declared length within :data:`READ_AT_ONCE`, no encoding."""
    return length is not None and length <= READ_AT_ONCE and not content_encoding


class EngineProtocolError(httpx.RemoteProtocolError):
    """A reply that broke off or is not HTTP/1.1, in the adapter's own words.

    Its text quotes nothing a server sent, so it is shown whole; httpcore's and
    h11's own texts are cut to their first clause (see ``_transport``).
    """


@attrs.frozen(kw_only=True)
class EngineSettings:
    """An engine's settings, read once when a client is made.

    Attributes:
        ca_bundle: the CA certificates to verify servers with (``AWS_CA_BUNDLE``,
            the profile's ``ca_bundle``, ``REQUESTS_CA_BUNDLE``), or None for the
            engine's default. Verification is never turned off.
        max_connections: connections kept per host, and at most in flight.
        proxies: urllib's ``getproxies()`` of the environment (``HTTP_PROXY``,
            ``HTTPS_PROXY``, ``NO_PROXY`` ...), as botocore reads them.
    """

    ca_bundle: str | None = None
    max_connections: int = 100
    proxies: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    def context(self) -> Any:
        """The bundle as an ``ssl.SSLContext`` (loaded at the first TLS request), or None."""
        return None if self.ca_bundle is None else verifying_context(self.ca_bundle)


def check_ca_bundle(path: str | None) -> str | None:
    """``path`` if it names a readable file, else a ``ConfigurationError`` naming it.

    Checked when the client is made, so a missing or unreadable bundle fails before
    anything is sent. Its certificates are read at the first TLS request
    (:func:`verifying_context`): a client that only speaks plain http (the
    stand-in) never pays for them.
    """
    if path is None:
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"The CA bundle {path!r} cannot be used: {why}") from None
    return path


@functools.lru_cache(maxsize=8)
def verifying_context(path: str) -> Any:
    """An ``ssl.SSLContext`` that verifies with the bundle at ``path`` alone.

    Loaded once per bundle, at the first TLS request, before anything is sent:
    a bundle with no certificate that can be read (empty, garbled) is a
    ``ConfigurationError`` naming the file, never a retried TLS failure. As in
    botocore, the bundle replaces the default certificates.
    """
    import ssl

    try:
        return ssl.create_default_context(cafile=path)
    except OSError as exc:  # ssl.SSLError is an OSError too
        if isinstance(exc, ssl.SSLError):
            why = "it holds no certificate that can be read"
        else:
            why = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"The CA bundle {path!r} cannot be used: {why}") from None


def check_proxies(proxies: Mapping[str, str]) -> Mapping[str, str]:
    """``proxies`` if the ones used (``http``, ``https``) are usable proxy URLs, else a
    ``ConfigurationError``.

    The others (``SOCKS_PROXY``, ``FTP_PROXY``, ``ALL_PROXY``...) are never used, as
    in botocore, so they are not checked. The error names the variable
    (``HTTPS_PROXY``), never its value, which may hold a password.
    """
    for scheme in USED_PROXIES:
        proxy = proxies.get(scheme)
        if proxy is None:
            continue
        url = proxy if "://" in proxy else f"http://{proxy}"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            port, parts = -1, urlsplit("")
        user = unquote(parts.username or "")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or port in (0, -1)
            or ":" in user  # Basic auth could not tell the user from the password
            # "me:12/ss@proxy:3128": an unquoted "/" in the password ends the host
            # early, and the rest would be taken for a path.
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(
                f"The {scheme.upper()}_PROXY setting is not a usable proxy URL: it needs "
                "http:// or https://, a host, and a port from 1 to 65535 (value not shown)"
            )
    return proxies


#: The proxy settings a request can use: the ones for its scheme, as botocore reads them.
USED_PROXIES = ("http", "https")


def proxy_for(scheme: str, host: str, port: int | None, proxies: Mapping[str, str]) -> str | None:
    """The proxy URL for a request to ``host:port`` over ``scheme``, or None for a direct one.

    ``NO_PROXY`` is honoured as urllib (and so botocore) reads it: an entry may name
    the host, a domain it ends in, or the host with its port.

    Example:
        >>> proxies = {"https": "http://p:3128", "no": "example.com,api.example:8443"}
        >>> proxy_for("https", "example.com", None, proxies)
        >>> proxy_for("https", "api.example", 8443, proxies)
        >>> proxy_for("https", "api.example", 9443, proxies)
        'http://p:3128'
    """
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    import urllib.request  # http.client, email...: only once a proxy is set

    # In every CPython 3, though typeshed does not list it. botocore asks with the
    # URL's netloc, so "host:port" entries match; the bare host is asked too, as an
    # IPv6 literal's netloc has brackets that a NO_PROXY entry does not.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    netloc = f"[{host}]" if ":" in host else host
    # httpx drops a URL's default port; "host:443" still names https://host.
    port = port or DEFAULT_PORTS.get(scheme)
    if bypass(host, proxies) or (port is not None and bypass(f"{netloc}:{port}", proxies)):
        return None
    # "proxy:3128" with no scheme is an http proxy, as urllib3 and requests read it.
    return proxy if "://" in proxy else f"http://{proxy}"


def basic_auth(user: str, password: str) -> str:
    """A ``Proxy-Authorization`` value, encoded as urllib3 and aiohttp encode it.

    Example:
        >>> basic_auth("me", "p@ss")
        'Basic bWU6cEBzcw=='
    """
    import base64

    pair = f"{user}:{password}"
    try:
        raw = pair.encode("latin-1")
    except UnicodeEncodeError:
        raw = pair.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def split_proxy_auth(proxy: str) -> tuple[str, tuple[str, str] | None]:
    """The proxy URL without its user and password, and those (unquoted), if any.

    Example:
        >>> split_proxy_auth("http://me:p%40ss@proxy:3128")
        ('http://proxy:3128', ('me', 'p@ss'))
    """
    parts = urlsplit(proxy)
    if parts.username is None:
        return proxy, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def name_the_proxy(error: Exception, proxy: str | None) -> Exception:
    """``error`` (an httpx exception) with the proxy named in its text, if one was used.

    Only the proxy's scheme, host and port: never its user, password or path.

    Example:
        >>> name_the_proxy(ValueError("timed out"), "http://me:pw@proxy:3128/x")
        ValueError('timed out (via the proxy http://proxy:3128)')
        >>> name_the_proxy(ValueError("refused"), "http://[::1]")
        ValueError('refused (via the proxy http://[::1])')
    """
    if proxy is None:
        return error
    parts = urlsplit(proxy)
    where = parts.hostname or "?"
    if ":" in where:
        where = f"[{where}]"
    if parts.port is not None:
        where = f"{where}:{parts.port}"
    return type(error)(f"{error} (via the proxy {parts.scheme}://{where})")


def environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """The proxies ``env`` names, read as urllib's ``getproxies_environment()`` reads them.

    From the client's own environment mapping (``env=``), not only ``os.environ``.
    A variable whose name ends in lower-case ``_proxy`` wins over its upper-case
    twin, and when set but empty it cancels that twin.

    Example:
        >>> environment_proxies({"HTTPS_PROXY": "http://p:3128", "no_proxy": "localhost"})
        {'https': 'http://p:3128', 'no': 'localhost'}
        >>> environment_proxies({"HTTP_PROXY": "http://p:3128", "http_proxy": ""})
        {}
    """
    found: dict[str, str] = {}
    for name, value in env.items():
        if value and name.lower().endswith("_proxy"):
            found[name[:-6].lower()] = value
    if "REQUEST_METHOD" in env:
        found.pop("http", None)  # CGI: HTTP_PROXY may be a request header (httpoxy)
    for name, value in env.items():
        if name.endswith("_proxy"):
            if value:
                found[name[:-6].lower()] = value
            else:
                found.pop(name[:-6].lower(), None)
    return found
