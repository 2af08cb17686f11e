"""The default credential chain, used when no ``credentials=`` is given."""

from __future__ import annotations

from collections.abc import Mapping

from ._credentials import CredentialResolver, environment_credentials
from ._errors import NoCredentialsError
from ._flow import Flow
from ._models import Credentials


def _environment_flow(env: Mapping[str, str]) -> Flow[Credentials]:
    credentials = environment_credentials(env)
    if credentials is None:
        raise NoCredentialsError(
            "Unable to locate credentials. Tried: environment "
            "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not both set)"
        )
    return credentials
    yield  # a flow that needs no I/O


def default_resolver(env: Mapping[str, str]) -> CredentialResolver:
    """Return a resolver that reads credentials from the environment."""
    return CredentialResolver(lambda: _environment_flow(env))
