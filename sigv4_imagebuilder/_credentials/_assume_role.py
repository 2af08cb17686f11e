"""Source 1b: a profile with ``role_arn`` and ``source_profile`` or ``credential_source``.

STS ``AssumeRole``, signed with the source's credentials. Role chains follow
``source_profile`` from profile to profile.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping

from .._actions import Flow, RunBlocking
from .._errors import CredentialRetrievalError
from .._shared_files import SharedFiles, profile_keys
from ._common import Skip
from ._container import container_flow
from ._environment import environment_credentials
from ._imds import imds_flow
from ._model import Credentials
from ._process import run_credential_process
from ._shared_keys import section_keys
from ._sts import sts_flow

#: The most profiles a role chain (role_arn + source_profile, hop by hop) may
#: have. botocore has no bound; real chains are two or three hops.
MAX_ROLE_CHAIN = 50


def assume_role_flow(
    env: Mapping[str, str],
    files: SharedFiles,
    profile_name: str,
    region: str,
    clock: Callable[[], datetime.datetime],
) -> Flow[Credentials]:
    """AssumeRole for profile ``profile_name``, or skip if it is not a role profile."""
    profile, _ = profile_keys(files, profile_name)
    if not profile.get("role_arn") or not (
        profile.get("source_profile") or profile.get("credential_source")
    ):
        raise Skip(
            f"assume role: profile {profile_name} has no role_arn with "
            "source_profile or credential_source"
        )
    return (yield from _assume_role(env, files, profile_name, region, clock, set()))


def _assume_role(
    env: Mapping[str, str],
    files: SharedFiles,
    name: str,
    region: str,
    clock: Callable[[], datetime.datetime],
    visited: set[str],
) -> Flow[Credentials]:
    where = f"assume role (profile {name})"
    if name in visited:
        raise CredentialRetrievalError(f"{where}: source_profile chain loops back to {name}")
    # Each hop is an AssumeRole call and two nested generators: a chain of
    # 2,000 profiles would overflow the stack (RecursionError) long before.
    if len(visited) >= MAX_ROLE_CHAIN:
        raise CredentialRetrievalError(
            f"{where}: the source_profile chain is longer than {MAX_ROLE_CHAIN} profiles"
        )
    visited.add(name)
    profile, _ = profile_keys(files, name)
    source_profile = profile.get("source_profile")
    credential_source = profile.get("credential_source")
    if source_profile and credential_source:
        raise CredentialRetrievalError(
            f"{where}: set source_profile or credential_source, not both"
        )
    if profile.get("mfa_serial"):
        raise CredentialRetrievalError(
            f"{where}: mfa_serial needs an MFA code typed at a prompt, which this library "
            "does not do; pass credentials= from a provider of your own"
        )
    source: Credentials
    if source_profile:
        source = yield from _source_profile(
            env, files, name, source_profile, region, clock, visited
        )
    else:
        source = yield from _credential_source(env, credential_source or "", where)
    params = {
        "Action": "AssumeRole",
        "RoleArn": profile["role_arn"],
        "RoleSessionName": profile.get("role_session_name")
        or f"sigv4-imagebuilder-{int(clock().timestamp())}",
    }
    if profile.get("external_id"):
        params["ExternalId"] = profile["external_id"]
    if profile.get("duration_seconds"):
        params["DurationSeconds"] = profile["duration_seconds"]
    return (yield from sts_flow(env, region, params, where=where, signer=(source, clock())))


def _source_profile(
    env: Mapping[str, str],
    files: SharedFiles,
    name: str,
    source_profile: str,
    region: str,
    clock: Callable[[], datetime.datetime],
    visited: set[str],
) -> Flow[Credentials]:
    where = f"assume role (profile {name})"
    source_config, source_creds = profile_keys(files, source_profile)
    keys_where = f"{where}: source profile {source_profile}"
    static = section_keys(source_creds, keys_where) or section_keys(source_config, keys_where)
    if source_profile == name or (static and not source_config.get("role_arn")):
        if static is None:
            raise CredentialRetrievalError(
                f"{where}: source profile {source_profile} has no access keys"
            )
        return static
    if source_config.get("role_arn"):
        return (yield from _assume_role(env, files, source_profile, region, clock, visited))
    command = source_config.get("credential_process")
    if command:
        found = yield RunBlocking(lambda: run_credential_process(command))
        assert isinstance(found, Credentials)
        return found
    raise CredentialRetrievalError(f"{where}: source profile {source_profile} has no credentials")


def _credential_source(env: Mapping[str, str], name: str, where: str) -> Flow[Credentials]:
    if name == "Environment":
        found = environment_credentials(env)
        if found is None:
            raise CredentialRetrievalError(
                f"{where}: credential_source Environment, but AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY are not both set"
            )
        return found
    flows: dict[str, Callable[[], Flow[Credentials]]] = {
        "EcsContainer": lambda: container_flow(env),
        "Ec2InstanceMetadata": lambda: imds_flow(env),
    }
    if name not in flows:
        raise CredentialRetrievalError(
            f"{where}: credential_source {name!r} is not Environment, Ec2InstanceMetadata "
            "or EcsContainer"
        )
    try:
        return (yield from flows[name]())
    except Skip as skip:
        raise CredentialRetrievalError(f"{where}: credential_source {name}: {skip}") from None
