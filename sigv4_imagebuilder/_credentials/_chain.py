"""The default credential chain, used when no ``credentials=`` is given: only the order.

Sources, in order (as the AWS CLI v2), each in its own module:

1. environment (skipped when ``profile=`` is passed explicitly);
   then a profile with ``role_arn`` (``_assume_role``);
2. web identity (``_web_identity``);
3. the profile in the shared credentials file (``_shared_keys``);
4. ``credential_process`` in the config profile (``_process``);
5. access keys in the config profile (``_shared_keys``);
6. container credentials (``_container``);
7. EC2 instance metadata (``_imds``).

The first source that applies decides. A source that applies but fails raises
``CredentialRetrievalError`` (as the AWS CLI does) instead of falling through.
A source with no I/O returns credentials; the others are flows.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Union

from .._actions import Flow
from .._clock import utcnow
from .._errors import NoCredentialsError
from .._shared_files import SharedFiles, profile_keys
from ._assume_role import assume_role_flow
from ._common import Skip
from ._container import container_flow
from ._environment import environment_source
from ._imds import imds_flow
from ._model import Credentials
from ._process import process_source
from ._resolver import CredentialResolver
from ._shared_keys import shared_keys_source
from ._web_identity import web_identity_flow

Source = Callable[[], Union[Credentials, Flow[Credentials]]]


def chain_flow(
    env: Mapping[str, str],
    files: SharedFiles,
    *,
    profile_name: str,
    explicit_profile: bool,
    region: str,
    clock: Callable[[], datetime.datetime] = utcnow,
) -> Flow[Credentials]:
    """Try each source in order; the first that applies decides.

    Raises:
        NoCredentialsError: no source applies; the message lists why each was skipped.
        CredentialRetrievalError: a source applies but failed.
    """
    config, credentials = profile_keys(files, profile_name)
    in_credentials = f"shared credentials file {files.credentials_path} [{profile_name}]"
    in_config = f"{files.config_path} profile {profile_name}"
    tried: list[str] = []
    sources: list[Source] = [
        lambda: environment_source(env),
        lambda: assume_role_flow(env, files, profile_name, region, clock),
        lambda: web_identity_flow(env, config, region),
        lambda: shared_keys_source(credentials, in_credentials),
        lambda: process_source(
            config.get("credential_process"), f"credential_process in {in_config}: not set"
        ),
        lambda: shared_keys_source(config, f"access keys in {in_config}"),
        lambda: container_flow(env),
        lambda: imds_flow(env),
    ]
    if explicit_profile:
        tried.append("environment: skipped because profile= was given")
        del sources[0]
    for source in sources:
        try:
            found = source()
            return found if isinstance(found, Credentials) else (yield from found)
        except Skip as skip:  # each says "source: why it does not apply"
            tried.append(str(skip))
    raise NoCredentialsError("Unable to locate credentials. Tried: " + "; ".join(tried))


def default_resolver(
    env: Mapping[str, str],
    files: SharedFiles,
    *,
    profile_name: str,
    explicit_profile: bool,
    region: str,
    clock: Callable[[], datetime.datetime] = utcnow,
) -> CredentialResolver:
    """A resolver over the default chain, caching and refreshing what it returns."""
    return CredentialResolver(
        lambda: chain_flow(
            env,
            files,
            profile_name=profile_name,
            explicit_profile=explicit_profile,
            region=region,
            clock=clock,
        ),
        clock=clock,
    )
