"""SigV4 signing with botocore's ``SigV4Auth``, with the clock passed in.

botocore is used for signing only. Its ``add_auth`` reads the wall clock
itself; we run the same steps with a timestamp the caller gives, so clock-skew
correction and tests need no patching of botocore globals. The signing key is
derived once per (secret, date, region, service) instead of on every request,
and cached under a SHA-256 digest of the secret, never the secret itself.

Only botocore's public API is used: ``SigV4Auth``'s ``canonical_request``,
``string_to_sign``, ``scope``, ``signed_headers`` and ``headers_to_sign`` (the
last and ``signature`` overridden), unchanged from botocore 1.31 on. The steps
``add_auth`` takes around them (the ``X-Amz-Date`` and session-token headers,
the ``Authorization`` header's layout) are SigV4's, written here; the tests
check every signature against ``SigV4Auth.add_auth``'s.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._http import HttpRequest

if TYPE_CHECKING:
    from botocore.auth import SigV4Auth

    from ._credentials import Credentials

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"

_signer: type[SigV4Auth] | None = None
_class_lock = threading.Lock()
_KEY_CACHE_SIZE = 32
#: (SHA-256 of the secret, date, region, service) -> signing key.
_key_cache: dict[tuple[bytes, str, str, str], bytes] = {}


class _BotocoreCredentials:
    """The credentials as botocore's signers read them.

    A plain slotted class: a ``typing.NamedTuple`` costs a cold start about a
    millisecond and a half to build.
    """

    __slots__ = ("access_key", "secret_key", "token")

    def __init__(self, access_key: str, secret_key: str, token: str | None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token

    def __repr__(self) -> str:
        return f"_BotocoreCredentials(access_key={self.access_key!r}, secret_key='***', token=...)"


class _HeaderMap(dict[str, list[str]]):
    """Lower-cased header name -> values, with the ``get_all`` SigV4Auth calls."""

    def get_all(self, name: str) -> list[str]:
        return self[name]


class _SigningRequest:
    """The few attributes of botocore's AWSRequest that SigV4Auth reads."""

    __slots__ = ("body", "context", "headers", "method", "params", "url")

    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.params: dict[str, str] = {}
        self.context: dict[str, Any] = {}


def _hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(
    secret: str,
    datestamp: str,
    region: str,
    service: str,
    hmac_sha256: Callable[[bytes, str], bytes] = _hmac_sha256,
) -> bytes:
    """Return the SigV4 signing key, derived once per (secret, date, region, service).

    The cache is keyed by a digest of the secret, so no plaintext secret
    outlives the credentials that carried it. ``hmac_sha256(key, msg)`` is
    the step the derivation chains (HMAC-SHA256, as SigV4 defines it).
    """
    cache_key = (hashlib.sha256(secret.encode()).digest(), datestamp, region, service)
    key = _key_cache.get(cache_key)
    if key is None:
        key = hmac_sha256(f"AWS4{secret}".encode(), datestamp)
        for part in (region, service, "aws4_request"):
            key = hmac_sha256(key, part)
        if len(_key_cache) >= _KEY_CACHE_SIZE:
            _key_cache.clear()
        _key_cache[cache_key] = key
    return key


def _signer_class() -> type[SigV4Auth]:
    # botocore.auth costs ~100 ms to import; pay it when the first request is
    # signed, not when sigv4_imagebuilder is imported.
    global _signer
    if _signer is None:
        with _class_lock:
            if _signer is None:
                from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth

                blacklist = frozenset(SIGNED_HEADERS_BLACKLIST)

                class CachedKeySigV4Auth(SigV4Auth):  # type: ignore[misc]
                    """botocore's SigV4Auth, reusing a cached signing key.

                    ``headers_to_sign`` keeps botocore's rules (lower-cased names,
                    the same exclusions) in a plain dict instead of an
                    ``email.message``-based HTTPHeaders, which cost a third of
                    the signing time. Every request we sign carries ``Host``.
                    """

                    # (date, signing key): one signer per credentials, one key a day.
                    # Names of our own, apart from botocore's attributes.
                    sib_day_key: tuple[str, bytes] = ("", b"")
                    sib_scope: tuple[str, str] = ("", "")

                    def headers_to_sign(self, request: Any) -> _HeaderMap:
                        # botocore asks three times per request (canonical headers,
                        # signed headers, the Authorization value), after the
                        # last header it signs was added: build the map once.
                        header_map: _HeaderMap | None = request.context.get("headers_to_sign")
                        if header_map is None:
                            header_map = _HeaderMap()
                            for name, value in request.headers.items():
                                lname = name.lower()
                                if lname not in blacklist:
                                    header_map.setdefault(lname, []).append(value)
                            request.context["headers_to_sign"] = header_map
                        return header_map

                    def signature(self, string_to_sign: str, request: Any) -> str:
                        datestamp = request.context["timestamp"][0:8]
                        day, key = self.sib_day_key
                        if day != datestamp:
                            region, service = self.sib_scope
                            key = signing_key(
                                self.credentials.secret_key, datestamp, region, service
                            )
                            self.sib_day_key = (datestamp, key)
                        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

                _signer = CachedKeySigV4Auth
    return _signer


#: Signers by the credentials they sign with, then (region, service). A
#: signer holds no per-request state, and a client's calls share one
#: credentials object until it is refreshed, so this saves building a signer
#: (and finding its key) per request. Weak keys: an entry, and the secret its
#: signer holds, goes with the credentials that carried it.
_signers: weakref.WeakKeyDictionary[Credentials, dict[tuple[str, str], SigV4Auth]] = (
    weakref.WeakKeyDictionary()
)


def _signer_for(credentials: Credentials, region: str, service: str) -> SigV4Auth:
    try:
        by_scope = _signers.get(credentials)
        if by_scope is None:
            by_scope = _signers.setdefault(credentials, {})
    except TypeError:  # not weak-referenceable or not hashable: sign without the cache
        by_scope = {}
    signer = by_scope.get((region, service))
    if signer is None:
        signer = _signer_class()(
            _BotocoreCredentials(
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
            ),
            service,
            region,
        )
        signer.sib_scope = (region, service)
        by_scope[(region, service)] = signer
    return signer


def _run_signer(signer: SigV4Auth, req: _SigningRequest, token: str | None) -> None:
    # SigV4Auth.add_auth's steps, minus its call to the wall clock (the
    # timestamp is already in req.context): the date and token headers are
    # signed, then the Authorization header carries the scope, the signed
    # headers' names and the signature.
    headers = req.headers
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        headers.pop(name, None)
    headers["X-Amz-Date"] = req.context["timestamp"]
    if token:
        headers["X-Amz-Security-Token"] = token
    canonical_request = signer.canonical_request(req)
    string_to_sign = signer.string_to_sign(req, canonical_request)
    signature = signer.signature(string_to_sign, req)
    signed = signer.signed_headers(signer.headers_to_sign(req))
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(req)}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def sign(
    request: HttpRequest,
    credentials: Credentials,
    *,
    region: str,
    now: datetime.datetime,
    service: str = "imagebuilder",
) -> HttpRequest:
    """Return ``request`` signed with SigV4 at time ``now``.

    Every header of ``request`` is signed (they are ``host`` and
    ``content-type``); ``X-Amz-Date`` is added and signed, and so is
    ``X-Amz-Security-Token`` when the credentials carry a session token.

    Args:
        request: the unsigned request; it must carry a ``Host`` header
            (``_protocol.serialize_request`` sets it), since that is what is sent.
        credentials: the credentials to sign with.
        region: the signing region.
        now: the signing time, UTC (naive values are taken as UTC).
        service: the signing name.
    """
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc)
    signer = _signer_for(credentials, region, service)
    req = _SigningRequest(request.method, request.url, dict(request.headers), request.body)
    # The SIGV4_TIMESTAMP format; an f-string is a tenth of strftime's cost.
    req.context["timestamp"] = (
        f"{now.year:04d}{now.month:02d}{now.day:02d}T{now.hour:02d}{now.minute:02d}{now.second:02d}Z"
    )
    _run_signer(signer, req, credentials.session_token)
    return HttpRequest(
        method=request.method,
        url=request.url,
        headers=tuple(req.headers.items()),
        body=request.body,
    )
