"""Sources 3 and 5: access keys in the shared credentials file and the config file.

The files were read when the client was built: these sources do no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._common import Skip, new_credentials
from ._model import Credentials

_NAMES = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def section_keys(section: Mapping[str, str], where: str) -> Credentials | None:
    """The keys in a profile section; None when the key id or the secret is missing.

    Raises:
        CredentialRetrievalError: a value that cannot be sent; the key is named,
            its value is not.
    """
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        return None
    token = section.get("aws_session_token") or None
    return new_credentials(where, _NAMES, key, secret, token)


def shared_keys_source(section: Mapping[str, str], where: str) -> Credentials:
    """The keys in ``section`` (``where`` names file and profile), else skip."""
    found = section_keys(section, where)
    if found is None:
        raise Skip(f"{where}: no access keys")
    return found
