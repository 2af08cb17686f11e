"""Source 1: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``."""

from __future__ import annotations

from collections.abc import Mapping

from ._common import Skip, new_credentials
from ._model import Credentials

_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def environment_credentials(env: Mapping[str, str]) -> Credentials | None:
    """Credentials from the environment; None when the key id or the secret is unset or empty.

    Raises:
        CredentialRetrievalError: a value that cannot be sent (a carriage return
            from a CRLF env file, a non-ASCII character); the variable is named,
            its value is not.
    """
    key = env.get("AWS_ACCESS_KEY_ID")
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    token = env.get("AWS_SESSION_TOKEN") or None
    return new_credentials("environment", _NAMES, key, secret, token)


def environment_source(env: Mapping[str, str]) -> Credentials:
    """The chain's first source: no I/O, so it returns credentials directly."""
    found = environment_credentials(env)
    if found is None:
        raise Skip("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not both set")
    return found
