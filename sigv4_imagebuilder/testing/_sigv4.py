"""An independent SigV4 verifier, written from the AWS specification.

It shares no code with botocore or with this library's signer, so a server
that uses it catches a signer that is wrong in the same way on both sides.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote, unquote

import attrs

from .._credentials import Credentials
from ._loopback import ReceivedRequest

MAX_SKEW = datetime.timedelta(minutes=5)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;\-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@attrs.frozen
class SignatureProblem:
    """Why a request's signature was refused, in the service's terms."""

    code: str
    message: str


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: Mapping[str, Credentials],
    region: str | None,
    service: str,
    now: datetime.datetime,
) -> SignatureProblem | None:
    """Check a request's SigV4 signature. Return None if it holds, else the problem.

    Args:
        headers: the headers as received, in order, names in any case.
        credentials: access key id -> the credentials the server knows.
        region: the region the server answers for; None accepts any.
        now: the server's time, UTC.
    """
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    auth = (by_name.get("authorization") or [""])[0]
    match = _AUTH_RE.match(auth)
    if match is None:
        return SignatureProblem(
            "IncompleteSignatureException", "Authorization header is missing or malformed."
        )
    creds = credentials.get(match["key"])
    if creds is None:
        return SignatureProblem(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if creds.session_token is None and "x-amz-security-token" in by_name:
        # AWS refuses a token that long-term credentials cannot have.
        return SignatureProblem(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    signed = match["signed"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return SignatureProblem(
                "InvalidSignatureException", f"'{required}' must be a signed header."
            )
    amz_date = (by_name.get("x-amz-date") or [""])[0]
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return SignatureProblem(
            "IncompleteSignatureException", "X-Amz-Date is missing or malformed."
        )
    if abs(now - when) > MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
        return SignatureProblem(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {earliest} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)"
            if when < now
            else f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} + 5 min.)",
        )
    if match["date"] != amz_date[:8]:
        return SignatureProblem(
            "InvalidSignatureException", "Credential date does not match X-Amz-Date."
        )
    if match["service"] != service or (region is not None and match["region"] != region):
        return SignatureProblem(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region and service '{service}'.",
        )
    if creds.session_token is not None:
        if by_name.get("x-amz-security-token", [""])[0] != creds.session_token:
            return SignatureProblem(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if "x-amz-security-token" not in signed:
            return SignatureProblem(
                "InvalidSignatureException", "The security token must be signed."
            )
    canonical_headers = ""
    for name in signed:
        values = by_name.get(name)
        if values is None:
            return SignatureProblem(
                "InvalidSignatureException", f"Signed header {name!r} is missing."
            )
        canonical_headers += f"{name}:{','.join(' '.join(v.split()) for v in values)}\n"
    canonical_request = "\n".join(
        [
            method.upper(),
            quote(unquote(path) or "/", safe="/~"),
            _canonical_query(query),
            canonical_headers,
            match["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{creds.secret_access_key}".encode(), match["date"])
    for part in (match["region"], match["service"], "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return SignatureProblem(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return None


def verify_request(
    request: ReceivedRequest,
    *,
    credentials: Mapping[str, Credentials],
    region: str | None,
    now: datetime.datetime,
    service: str = "imagebuilder",
) -> SignatureProblem | None:
    """:func:`verify` for a request as :class:`LoopbackServer` received it."""
    return verify(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        credentials=credentials,
        region=region,
        service=service,
        now=now,
    )
