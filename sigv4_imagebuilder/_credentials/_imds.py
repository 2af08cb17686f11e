"""Source 7: EC2 instance metadata (IMDSv2): a session token, the role, its credentials."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._actions import Flow, Outcome, Send
from .._errors import CredentialRetrievalError
from .._text import printable
from ._common import (
    Skip,
    checked_response,
    checked_url,
    credentials_from_json,
    get_request,
    read_json,
)
from ._model import Credentials, header_problem

IMDS_ENDPOINT = "http://169.254.169.254"
#: Seconds for each phase of each request: off EC2 nothing answers, so fail fast.
METADATA_TIMEOUT = 1.0
TOKEN_TTL_SECONDS = "21600"
#: IAM's rule for role names: 1 to 64 of letters, digits and ``+=,.@_-``.
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
#: The most characters of an error code kept in our error.
CODE_MAX = 100


def imds_flow(env: Mapping[str, str]) -> Flow[Credentials]:
    """IMDSv2: PUT a session token, GET the role name, GET the role's credentials.

    Skipped when ``AWS_EC2_METADATA_DISABLED=true`` or when nothing answers.
    """
    if (env.get("AWS_EC2_METADATA_DISABLED") or "").lower() == "true":
        raise Skip("instance metadata: AWS_EC2_METADATA_DISABLED=true")
    configured = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    if configured:
        checked_url(configured, "instance metadata: AWS_EC2_METADATA_SERVICE_ENDPOINT")
    base = (configured or IMDS_ENDPOINT).rstrip("/")
    where = f"instance metadata at {base}"
    outcome: Outcome = yield Send(
        get_request(
            base + "/latest/api/token",
            (("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS),),
            method="PUT",
        ),
        timeout=METADATA_TIMEOUT,
    )
    if outcome.error is not None:
        raise Skip(f"instance metadata: not reachable at {base} ({type(outcome.error).__name__})")
    token = checked_response(outcome, where).body.decode("utf-8", errors="replace").strip()
    if header_problem(token) is not None:
        raise CredentialRetrievalError(f"{where}: the session token is not a valid header value")
    auth = (("X-aws-ec2-metadata-token", token),)
    path = base + "/latest/meta-data/iam/security-credentials/"
    outcome = yield Send(get_request(path, auth), timeout=METADATA_TIMEOUT)
    response = checked_response(outcome, where)
    role = response.body.decode("utf-8", errors="replace").strip().splitlines()
    if not role or not role[0].strip():
        raise Skip("instance metadata: no IAM role is attached to this instance")
    name = role[0].strip()
    # The name goes into the next URL: a control character or a 3 MB name
    # would fail in httpx, a "?" or "/" would change what is asked for.
    if _ROLE_NAME.fullmatch(name) is None:
        raise CredentialRetrievalError(f"{where}: the role name is not a valid IAM role name")
    outcome = yield Send(get_request(path + name, auth), timeout=METADATA_TIMEOUT)
    data = read_json(checked_response(outcome, where), where)
    if isinstance(data, dict) and data.get("Code", "Success") != "Success":
        code = data.get("Code")
        # Only a string code is shown, bounded and printable: a hostile reply
        # may put anything there, the credentials themselves included.
        shown = printable(code, CODE_MAX) if isinstance(code, str) else "not a string"
        raise CredentialRetrievalError(f"{where}: the reply's Code is {shown!r}, not Success")
    return credentials_from_json(data, where)
