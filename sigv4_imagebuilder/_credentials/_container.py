"""Source 6: container credentials (ECS, EKS Pod Identity)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from .._actions import Flow, Outcome, Send
from .._errors import CredentialRetrievalError
from ._common import (
    Skip,
    checked_response,
    checked_url,
    credentials_from_json,
    get_request,
    read_json,
    read_token_file,
)
from ._model import Credentials, header_problem

CONTAINER_HOST = "169.254.170.2"
#: Seconds for each phase of the one request; the endpoint is local.
CONTAINER_TIMEOUT = 2.0
_ALLOWED_HOSTS = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"}


def _relative_url(relative: str) -> str:
    # The path is appended to a fixed host: refuse anything that could change
    # the authority (http://169.254.170.2@evil.example/), as botocore does.
    url = f"http://{CONTAINER_HOST}{relative}"
    if (
        not relative.startswith("/")
        or relative.startswith("//")
        or "\\" in relative
        or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in relative)
        or urlsplit(url).hostname != CONTAINER_HOST
    ):
        raise CredentialRetrievalError(
            "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting "
            "with a single / (it is appended to http://169.254.170.2)"
        )
    return url


def container_url(env: Mapping[str, str]) -> str:
    """The credentials URL from ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` or ``..._FULL_URI``.

    Raises:
        CredentialRetrievalError: a relative URI that would change the host, an
            unusable full URI, or a plain-http host that is not allowed.
    """
    relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if relative:
        return _relative_url(relative)
    full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not full:
        raise Skip(
            "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
            "AWS_CONTAINER_CREDENTIALS_FULL_URI not set"
        )
    checked_url(full, "container: AWS_CONTAINER_CREDENTIALS_FULL_URI")
    parts = urlsplit(full)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return full
    allowed = host in _ALLOWED_HOSTS
    if not allowed:
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = False
    if not allowed:
        raise CredentialRetrievalError(
            f"container: AWS_CONTAINER_CREDENTIALS_FULL_URI host {host!r} is not allowed: "
            "use https, a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23"
        )
    return full


def container_flow(env: Mapping[str, str]) -> Flow[Credentials]:
    """GET the container credentials endpoint, with its authorization token if set."""
    url = container_url(env)
    headers: tuple[tuple[str, str], ...] = ()
    token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    token: str | None
    if token_file:
        token = yield from read_token_file(
            token_file, "container: cannot read", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
        )
    else:
        token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token:
        problem = header_problem(token)
        if problem is not None:
            raise CredentialRetrievalError(
                f"container: the authorization token is not a valid HTTP header value ({problem})"
            )
        headers = (("Authorization", token),)
    where = f"container credentials at {url}"
    outcome: Outcome = yield Send(get_request(url, headers), timeout=CONTAINER_TIMEOUT)
    return credentials_from_json(read_json(checked_response(outcome, where), where), where)
