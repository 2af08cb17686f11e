"""The default credential chain, used when no ``credentials=`` is given.

Sources, in order (as the AWS CLI v2):

1. environment (skipped when ``profile=`` is passed explicitly);
   then a profile with ``role_arn`` and ``source_profile`` or
   ``credential_source``: STS ``AssumeRole``, signed with the source's credentials;
2. web identity: a token file and a role ARN (EKS IRSA), via STS
   ``AssumeRoleWithWebIdentity``;
3. the profile in the shared credentials file;
4. ``credential_process`` in the config profile;
5. access keys in the config profile;
6. container credentials (ECS, EKS Pod Identity);
7. EC2 instance metadata (IMDSv2).

Each source is a flow: HTTP goes through the client's driver (``Send``),
files and subprocesses through ``RunBlocking`` (a worker thread in async code).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

from ._actions import Flow, Outcome, RunBlocking, Send
from ._config import ClientConfig, profile_keys
from ._credentials import CredentialResolver, environment_credentials
from ._endpoints import partition_for
from ._errors import CredentialRetrievalError, NoCredentialsError
from ._http import HttpRequest, HttpResponse, host_header
from ._models import Credentials
from ._signing import sign

CONTAINER_HOST = "http://169.254.170.2"
IMDS_ENDPOINT = "http://169.254.169.254"
METADATA_TIMEOUT = 1.0
_ALLOWED_CONTAINER_HOSTS = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"}
_STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


class _Skip(Exception):
    """A source that does not apply here; the reason goes into NoCredentialsError."""


def _parse_time(value: object, where: str) -> datetime.datetime:
    if not isinstance(value, str):
        raise CredentialRetrievalError(f"{where}: Expiration is missing or not a string")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialRetrievalError(f"{where}: Expiration {value!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def credentials_from_json(data: object, where: str, *, token_key: str = "Token") -> Credentials:
    """Credentials from the JSON shape of the container, IMDS and process sources."""
    if not isinstance(data, dict):
        raise CredentialRetrievalError(f"{where}: expected a JSON object")
    key, secret = data.get("AccessKeyId"), data.get("SecretAccessKey")
    if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
        raise CredentialRetrievalError(f"{where}: AccessKeyId or SecretAccessKey is missing")
    token = data.get(token_key)
    expiration = data.get("Expiration")
    return Credentials(
        key,
        secret,
        session_token=token if isinstance(token, str) and token else None,
        expiration=_parse_time(expiration, where) if expiration is not None else None,
    )


def _get(url: str, headers: tuple[tuple[str, str], ...] = (), method: str = "GET") -> HttpRequest:
    return HttpRequest(
        method=method, url=url, headers=(("Host", host_header(url)), *headers), body=b""
    )


def _checked_response(outcome: Outcome, where: str) -> HttpResponse:
    if outcome.error is not None:
        raise CredentialRetrievalError(f"{where}: {outcome.error}") from outcome.error
    assert outcome.response is not None
    if not 200 <= outcome.response.status_code < 300:
        raise CredentialRetrievalError(f"{where}: HTTP {outcome.response.status_code}")
    return outcome.response


def _json(response: HttpResponse, where: str) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        raise CredentialRetrievalError(f"{where}: the reply is not JSON") from None


def _read_file(path: str) -> str:
    return Path(path).expanduser().read_text(encoding="utf-8").strip()


def _read_token_file(path: str, where: str) -> Flow[str]:
    """Read a token file in a worker thread (async); a failure names the file only."""
    try:
        token = yield RunBlocking(lambda: _read_file(path))
    except OSError as exc:
        raise CredentialRetrievalError(f"{where} {path}: {exc.strerror}") from None
    assert isinstance(token, str)
    return token


# 2. Web identity -------------------------------------------------------------


def web_identity_flow(env: Mapping[str, str], config: ClientConfig) -> Flow[Credentials]:
    """AssumeRoleWithWebIdentity with a token file (unsigned POST, XML reply)."""
    profile = config.profile
    token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or profile.get("web_identity_token_file")
    role_arn = env.get("AWS_ROLE_ARN") or profile.get("role_arn")
    if not token_file or not role_arn:
        raise _Skip("web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set")
    session_name = (
        env.get("AWS_ROLE_SESSION_NAME")
        or profile.get("role_session_name")
        or "sigv4-imagebuilder-session"
    )
    token = yield from _read_token_file(token_file, "web identity: cannot read token file")
    return (
        yield from sts_flow(
            env,
            config.region,
            {
                "Action": "AssumeRoleWithWebIdentity",
                "RoleArn": role_arn,
                "RoleSessionName": session_name,
                "WebIdentityToken": token,
            },
            where="web identity",
        )
    )


def sts_flow(
    env: Mapping[str, str],
    region: str,
    params: Mapping[str, str],
    *,
    where: str,
    signer: tuple[Credentials, datetime.datetime] | None = None,
) -> Flow[Credentials]:
    """POST an STS query-protocol call and read the credentials from its XML reply.

    ``AssumeRoleWithWebIdentity`` is unsigned; ``AssumeRole`` passes
    ``signer`` (the source credentials and the signing time) and is signed
    with the same SigV4 signer as the service calls.
    """
    endpoint = env.get("AWS_ENDPOINT_URL_STS") or (
        f"https://sts.{region}.{partition_for(region).dns_suffix}"
    )
    url = endpoint.rstrip("/") + "/"
    request = HttpRequest(
        method="POST",
        url=url,
        headers=(
            ("Host", host_header(url)),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ),
        body=urlencode({**params, "Version": "2011-06-15"}).encode(),
    )
    if signer is not None:
        request = sign(request, signer[0], region=region, now=signer[1], service="sts")
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
    except ElementTree.ParseError:
        raise CredentialRetrievalError(
            f"{where}: HTTP {response.status_code}, the reply is not XML"
        ) from None
    if not 200 <= response.status_code < 300:
        code = root.findtext(f".//{_STS_NS}Code") or root.findtext(".//Code") or ""
        message = root.findtext(f".//{_STS_NS}Message") or root.findtext(".//Message") or ""
        raise CredentialRetrievalError(f"{where}: HTTP {response.status_code} {code}: {message}")
    node = root.find(f".//{_STS_NS}Credentials")
    if node is None:
        node = root.find(".//Credentials")
    if node is None:
        raise CredentialRetrievalError(f"{where}: the reply has no Credentials")
    fields = {child.tag.replace(_STS_NS, ""): child.text or "" for child in node}
    return credentials_from_json(fields, where, token_key="SessionToken")


# 1b. Assume-role profiles ----------------------------------------------------


def _profile_keys(config: ClientConfig, name: str) -> tuple[dict[str, str], dict[str, str]]:
    return profile_keys(config.files, name) if config.files is not None else ({}, {})


def assume_role_flow(
    env: Mapping[str, str],
    config: ClientConfig,
    clock: Callable[[], datetime.datetime],
) -> Flow[Credentials]:
    """A profile with ``role_arn`` and ``source_profile`` or ``credential_source``:
    STS ``AssumeRole``, signed with the source's credentials. Role chains follow
    ``source_profile`` from profile to profile."""
    profile = config.profile
    if not profile.get("role_arn") or not (
        profile.get("source_profile") or profile.get("credential_source")
    ):
        raise _Skip(
            f"assume role: profile {config.profile_name} has no role_arn with "
            "source_profile or credential_source"
        )
    return (yield from _assume_role(env, config, config.profile_name, clock, set()))


def _assume_role(
    env: Mapping[str, str],
    config: ClientConfig,
    name: str,
    clock: Callable[[], datetime.datetime],
    visited: set[str],
) -> Flow[Credentials]:
    where = f"assume role (profile {name})"
    if name in visited:
        raise CredentialRetrievalError(f"{where}: source_profile chain loops back to {name}")
    visited.add(name)
    profile, _ = _profile_keys(config, name)
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
        source_config, source_creds = _profile_keys(config, source_profile)
        static = _keys(source_creds) or _keys(source_config)
        if source_profile == name or (static and not source_config.get("role_arn")):
            if static is None:
                raise CredentialRetrievalError(
                    f"{where}: source profile {source_profile} has no access keys"
                )
            source = static
        elif source_config.get("role_arn"):
            source = yield from _assume_role(env, config, source_profile, clock, visited)
        elif source_config.get("credential_process"):
            command = source_config["credential_process"]
            found = yield RunBlocking(lambda: run_credential_process(command))
            source = found
        else:
            raise CredentialRetrievalError(
                f"{where}: source profile {source_profile} has no credentials"
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
    return (yield from sts_flow(env, config.region, params, where=where, signer=(source, clock())))


def _credential_source(env: Mapping[str, str], name: str, where: str) -> Flow[Credentials]:
    flows: dict[str, Callable[[], Flow[Credentials]]] = {
        "EcsContainer": lambda: container_flow(env),
        "Ec2InstanceMetadata": lambda: imds_flow(env),
    }
    if name == "Environment":
        found = environment_credentials(env)
        if found is None:
            raise CredentialRetrievalError(
                f"{where}: credential_source Environment, but AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY are not both set"
            )
        return found
    if name not in flows:
        raise CredentialRetrievalError(
            f"{where}: credential_source {name!r} is not Environment, Ec2InstanceMetadata "
            "or EcsContainer"
        )
    try:
        return (yield from flows[name]())
    except _Skip as skip:
        raise CredentialRetrievalError(f"{where}: credential_source {name}: {skip}") from None


# 3-5. Shared files and credential_process ------------------------------------


def _keys(section: Mapping[str, str]) -> Credentials | None:
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        return None
    return Credentials(key, secret, session_token=section.get("aws_session_token") or None)


def run_credential_process(command: str) -> Credentials:
    """Run ``credential_process`` and read its documented JSON (``Version: 1``)."""
    where = "credential_process"
    try:
        completed = subprocess.run(  # the user's own configured command
            shlex.split(command), capture_output=True, timeout=60, check=False
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise CredentialRetrievalError(f"{where}: could not run {command!r}: {exc}") from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        raise CredentialRetrievalError(
            f"{where}: {command!r} exited with status {completed.returncode}: {stderr}"
        )
    try:
        data = json.loads(completed.stdout)
    except ValueError:
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        raise CredentialRetrievalError(
            f"{where}: {command!r} did not print JSON; stderr: {stderr}"
        ) from None
    if not isinstance(data, dict) or data.get("Version") != 1:
        raise CredentialRetrievalError(f'{where}: the JSON must have "Version": 1')
    return credentials_from_json(data, where, token_key="SessionToken")


# 6. Container ----------------------------------------------------------------


def _container_url(env: Mapping[str, str]) -> str:
    relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if relative:
        return CONTAINER_HOST + relative
    full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not full:
        raise _Skip(
            "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
            "AWS_CONTAINER_CREDENTIALS_FULL_URI not set"
        )
    parts = urlsplit(full)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return full
    allowed = host in _ALLOWED_CONTAINER_HOSTS
    if not allowed:
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = False
    if parts.scheme != "http" or not allowed:
        raise CredentialRetrievalError(
            f"container: AWS_CONTAINER_CREDENTIALS_FULL_URI host {host!r} is not allowed: "
            "use https, a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23"
        )
    return full


def container_flow(env: Mapping[str, str]) -> Flow[Credentials]:
    """GET the container credentials endpoint (ECS, EKS Pod Identity)."""
    url = _container_url(env)
    headers: tuple[tuple[str, str], ...] = ()
    token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    token: str | None
    if token_file:
        token = yield from _read_token_file(token_file, "container: cannot read")
    else:
        token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token:
        if "\r" in token or "\n" in token:
            raise CredentialRetrievalError("container: the authorization token has a line break")
        headers = (("Authorization", token),)
    where = f"container credentials at {url}"
    outcome: Outcome = yield Send(_get(url, headers), timeout=2.0)
    return credentials_from_json(_json(_checked_response(outcome, where), where), where)


# 7. EC2 instance metadata (IMDSv2) -------------------------------------------


def imds_flow(env: Mapping[str, str]) -> Flow[Credentials]:
    """IMDSv2: a session token, the role name, then the role's credentials."""
    if (env.get("AWS_EC2_METADATA_DISABLED") or "").lower() == "true":
        raise _Skip("instance metadata: AWS_EC2_METADATA_DISABLED=true")
    base = (env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_ENDPOINT).rstrip("/")
    where = f"instance metadata at {base}"
    outcome: Outcome = yield Send(
        _get(
            base + "/latest/api/token",
            (("X-aws-ec2-metadata-token-ttl-seconds", "21600"),),
            method="PUT",
        ),
        timeout=METADATA_TIMEOUT,
    )
    if outcome.error is not None:
        raise _Skip(f"instance metadata: not reachable at {base} ({type(outcome.error).__name__})")
    token = _checked_response(outcome, where).body.decode("utf-8", errors="replace").strip()
    auth = (("X-aws-ec2-metadata-token", token),)
    path = base + "/latest/meta-data/iam/security-credentials/"
    outcome = yield Send(_get(path, auth), timeout=METADATA_TIMEOUT)
    response = _checked_response(outcome, where)
    role = response.body.decode("utf-8", errors="replace").strip().splitlines()
    if not role or not role[0].strip():
        raise _Skip("instance metadata: no IAM role is attached to this instance")
    outcome = yield Send(_get(path + role[0].strip(), auth), timeout=METADATA_TIMEOUT)
    data = _json(_checked_response(outcome, where), where)
    if isinstance(data, dict) and data.get("Code", "Success") != "Success":
        raise CredentialRetrievalError(f"{where}: {data.get('Code')}")
    return credentials_from_json(data, where)


# The chain --------------------------------------------------------------------


def chain_flow(
    config: ClientConfig,
    env: Mapping[str, str],
    clock: Callable[[], datetime.datetime] | None = None,
) -> Flow[Credentials]:
    """Try each source in order; the first that applies decides.

    A source that applies but fails raises CredentialRetrievalError (as the AWS
    CLI does) instead of silently falling through to the next one.
    """
    now = clock or _utcnow
    tried: list[str] = []
    if config.explicit_profile:
        tried.append("environment: skipped because profile= was given")
    else:
        found = environment_credentials(env)
        if found is not None:
            return found
        tried.append("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not both set")

    files = config.files
    credentials_path = files.credentials_path if files else "credentials file"
    config_path = files.config_path if files else "config file"
    name = config.profile_name

    def process() -> Credentials | None:
        command = config.profile.get("credential_process")
        return run_credential_process(command) if command else None

    sources: list[Callable[[], Flow[Credentials]]] = [
        lambda: assume_role_flow(env, config, now),
        lambda: web_identity_flow(env, config),
        # The shared files were read when the client was built: no I/O here.
        lambda: _found(
            _keys(config.profile_credentials),
            f"shared credentials file {credentials_path} [{name}]: no access keys",
        ),
        lambda: _process_flow(
            process, f"credential_process in {config_path} profile {name}: not set"
        ),
        lambda: _found(
            _keys(config.profile), f"access keys in {config_path} profile {name}: not set"
        ),
        lambda: container_flow(env),
        lambda: imds_flow(env),
    ]
    for make in sources:
        try:
            return (yield from make())
        except _Skip as skip:  # each says "source: why it does not apply"
            tried.append(str(skip))
    raise NoCredentialsError("Unable to locate credentials. Tried: " + "; ".join(tried))


def _found(credentials: Credentials | None, skipped: str) -> Flow[Credentials]:
    if credentials is None:
        raise _Skip(skipped)
    return credentials
    yield  # a flow that needs no I/O


def _process_flow(run: Callable[[], Credentials | None], skipped: str) -> Flow[Credentials]:
    found = yield RunBlocking(run)  # a subprocess: a worker thread in async code
    if found is None:
        raise _Skip(skipped)
    assert isinstance(found, Credentials)
    return found


def default_resolver(
    config: ClientConfig,
    env: Mapping[str, str],
    clock: Callable[[], datetime.datetime] | None = None,
) -> CredentialResolver:
    """A resolver over the default chain, caching and refreshing what it returns."""
    now = clock or _utcnow
    return CredentialResolver(lambda: chain_flow(config, env, now), clock=now)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
