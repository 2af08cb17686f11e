"""A minimal STS query-protocol client: one POST, credentials read from the XML reply.

Used by the web-identity and assume-role sources. ``AssumeRoleWithWebIdentity``
is unsigned; ``AssumeRole`` is signed with the same SigV4 signer as the service
calls.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from urllib.parse import urlencode
from xml.etree import ElementTree

from .._actions import Flow, Outcome, Send
from .._endpoints import partition_for
from .._errors import CredentialRetrievalError
from .._http import HttpRequest, HttpResponse, host_header
from .._signing import sign
from .._text import printable
from ._common import checked_url, credentials_from_json
from ._model import Credentials

API_VERSION = "2011-06-15"
SIGNING_NAME = "sts"
_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
#: The most characters of an STS error's code and message kept in our error.
CODE_MAX = 100
MESSAGE_MAX = 500


def sts_endpoint(env: Mapping[str, str], region: str) -> str:
    """``AWS_ENDPOINT_URL_STS`` (checked), else the regional STS endpoint."""
    configured = env.get("AWS_ENDPOINT_URL_STS")
    if configured:
        return checked_url(configured, "AWS_ENDPOINT_URL_STS")
    return f"https://sts.{region}.{partition_for(region).dns_suffix}"


def sts_flow(
    env: Mapping[str, str],
    region: str,
    params: Mapping[str, str],
    *,
    where: str,
    signer: tuple[Credentials, datetime.datetime] | None = None,
) -> Flow[Credentials]:
    """POST an STS call and read the credentials from its XML reply.

    Args:
        env: the environment (for ``AWS_ENDPOINT_URL_STS``).
        region: the region of the STS endpoint and of the signature.
        params: the query parameters, ``Action`` included.
        where: the source, for error messages.
        signer: the credentials to sign with and the signing time; None for
            an unsigned call.

    Raises:
        CredentialRetrievalError: a transport error, an STS error or a reply
            without credentials.
    """
    url = sts_endpoint(env, region).rstrip("/") + "/"
    request = HttpRequest(
        method="POST",
        url=url,
        headers=(
            ("Host", host_header(url)),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ),
        body=urlencode({**params, "Version": API_VERSION}).encode(),
    )
    if signer is not None:
        request = sign(request, signer[0], region=region, now=signer[1], service=SIGNING_NAME)
    outcome: Outcome = yield Send(request)
    where = f"{where}: STS {params['Action']} at {url}"
    if outcome.error is not None:
        raise CredentialRetrievalError(f"{where}: {outcome.error}") from outcome.error
    assert outcome.response is not None
    return parse_sts_credentials(outcome.response, where)


def parse_sts_credentials(response: HttpResponse, where: str) -> Credentials:
    """Credentials from an STS AssumeRole* XML reply; an STS error raises."""
    try:
        root = ElementTree.fromstring(response.body)
    # LookupError: an XML declaration naming an unknown encoding ("bogus-enc");
    # ValueError and RecursionError: whatever else a hostile reply provokes.
    except (ElementTree.ParseError, LookupError, ValueError, RecursionError):
        raise CredentialRetrievalError(
            f"{where}: HTTP {response.status_code}, the reply is not XML"
        ) from None
    if not 200 <= response.status_code < 300:
        # Bounded and printable: the text goes into an exception a CLI prints.
        code = root.findtext(f".//{_NS}Code") or root.findtext(".//Code") or ""
        message = root.findtext(f".//{_NS}Message") or root.findtext(".//Message") or ""
        code, message = printable(code, CODE_MAX), printable(message, MESSAGE_MAX)
        raise CredentialRetrievalError(f"{where}: HTTP {response.status_code} {code}: {message}")
    node = root.find(f".//{_NS}Credentials")
    if node is None:
        node = root.find(".//Credentials")
    if node is None:
        raise CredentialRetrievalError(f"{where}: the reply has no Credentials")
    fields = {child.tag.replace(_NS, ""): child.text or "" for child in node}
    return credentials_from_json(fields, where, token_key="SessionToken")
