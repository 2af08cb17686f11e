"""Source 2: web identity (EKS IRSA): a token file and a role, via STS
``AssumeRoleWithWebIdentity``."""

from __future__ import annotations

from collections.abc import Mapping

from .._actions import Flow
from ._common import Skip, read_token_file
from ._model import Credentials
from ._sts import sts_flow

DEFAULT_SESSION_NAME = "sigv4-imagebuilder-session"


def web_identity_flow(
    env: Mapping[str, str], profile: Mapping[str, str], region: str
) -> Flow[Credentials]:
    """AssumeRoleWithWebIdentity with the token file's contents (unsigned POST, XML reply).

    ``profile`` is the config-file profile in use; the environment wins over it.
    """
    token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or profile.get("web_identity_token_file")
    role_arn = env.get("AWS_ROLE_ARN") or profile.get("role_arn")
    if not token_file or not role_arn:
        raise Skip("web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set")
    session_name = (
        env.get("AWS_ROLE_SESSION_NAME") or profile.get("role_session_name") or DEFAULT_SESSION_NAME
    )
    setting = (
        "AWS_WEB_IDENTITY_TOKEN_FILE"
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        else "the profile's web_identity_token_file"
    )
    token = yield from read_token_file(token_file, "web identity: cannot read token file", setting)
    return (
        yield from sts_flow(
            env,
            region,
            {
                "Action": "AssumeRoleWithWebIdentity",
                "RoleArn": role_arn,
                "RoleSessionName": session_name,
                "WebIdentityToken": token,
            },
            where="web identity",
        )
    )
