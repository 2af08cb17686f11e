"""Assume-role profiles: STS AssumeRole on loopback, checked for its SigV4 signature."""

from __future__ import annotations

import asyncio
import datetime
import sys
import urllib.parse
from pathlib import Path

import pytest
from credentials_support import (
    LATER,
    UTC,
    aresolve,
    env_for,
    resolve,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._assume_role import MAX_ROLE_CHAIN
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply


class AssumeRoleSts:
    """STS on loopback that checks each AssumeRole's SigV4 signature (service sts)
    against the keys it knows and hands out a new key pair per call."""

    def __init__(self, known: list[sib.Credentials]) -> None:
        self.known = {c.access_key_id: c for c in known}
        self.received: list[dict[str, list[str]]] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        from sigv4_imagebuilder.testing import verify_request_signature

        problem = verify_request_signature(
            request,
            credentials=self.known,
            region="us-east-1",
            now=datetime.datetime.now(UTC),
            service="sts",
        )
        if problem is not None:
            return Reply(
                status=403,
                body=(
                    f"<ErrorResponse><Error><Code>{problem.code}</Code>"
                    f"<Message>{problem.message}</Message></Error></ErrorResponse>"
                ).encode(),
            )
        form = urllib.parse.parse_qs(request.body.decode())
        self.received.append(form)
        n = len(self.received)
        issued = sib.Credentials(
            f"ASIAROLE{n}", f"role-secret-{n}", session_token=f"role-token-{n}"
        )
        self.known[issued.access_key_id] = issued
        return Reply(
            body=(
                '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
                f"<Credentials><AccessKeyId>{issued.access_key_id}</AccessKeyId>"
                f"<SecretAccessKey>{issued.secret_access_key}</SecretAccessKey>"
                f"<SessionToken>{issued.session_token}</SessionToken><Expiration>{LATER}</Expiration>"
                "</Credentials></AssumeRoleResult></AssumeRoleResponse>"
            ).encode()
        )


ROLE_CONFIG = """
[profile base]
region = us-east-1

[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = base
external_id = ext-1
role_session_name = my-session
duration_seconds = 900

[profile chained]
role_arn = arn:aws:iam::123456789012:role/deploy
source_profile = admin

[profile self]
role_arn = arn:aws:iam::123456789012:role/self
source_profile = self

[profile fromenv]
role_arn = arn:aws:iam::123456789012:role/env
credential_source = Environment

[profile loop1]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = loop2

[profile loop2]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = loop1

[profile mfa]
role_arn = arn:aws:iam::123456789012:role/mfa
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/me

[profile both]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = base
credential_source = Environment

[profile weird]
role_arn = arn:aws:iam::123456789012:role/x
credential_source = Mainframe
"""

ROLE_CREDENTIALS = """
[base]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret

[self]
aws_access_key_id = AKIDSELF
aws_secret_access_key = self-secret
"""

BASE = sib.Credentials("AKIDBASE", "base-secret")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_assume_role_with_source_profile_is_signed_by_the_source(tmp_path: Path, mode: str) -> None:
    sts = AssumeRoleSts([BASE])
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        got = (
            resolve(env, profile="admin")
            if mode == "sync"
            else asyncio.run(aresolve(env, profile="admin"))
        )
    assert (got.access_key_id, got.session_token) == ("ASIAROLE1", "role-token-1")
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    assert sts.received == [
        {
            "Action": ["AssumeRole"],
            "Version": ["2011-06-15"],
            "RoleArn": ["arn:aws:iam::123456789012:role/admin"],
            "RoleSessionName": ["my-session"],
            "ExternalId": ["ext-1"],
            "DurationSeconds": ["900"],
        }
    ]


def test_role_chain_and_self_reference_and_credential_source(tmp_path: Path) -> None:
    sts = AssumeRoleSts(
        [BASE, sib.Credentials("AKIDSELF", "self-secret"), sib.Credentials("AKIDENV", "env-secret")]
    )
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        # deploy's AssumeRole is signed with admin's temporary keys, which STS only knows once issued.
        assert resolve(env, profile="chained").access_key_id == "ASIAROLE2"
        assert [f["RoleArn"][0] for f in sts.received] == [
            "arn:aws:iam::123456789012:role/admin",
            "arn:aws:iam::123456789012:role/deploy",
        ]
        assert resolve(env, profile="self").access_key_id == "ASIAROLE3"
        with_env = {**env, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
        assert resolve(with_env, profile="fromenv").access_key_id == "ASIAROLE4"
        # Without profile=, the environment's own keys come first, as in the AWS CLI.
        assert resolve({**with_env, "AWS_PROFILE": "fromenv"}).access_key_id == "AKIDENV"


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("loop1", "loops back"),
        ("mfa", "mfa_serial needs an MFA code"),
        ("both", "not both"),
        ("weird", "'Mainframe' is not Environment"),
        ("fromenv", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"),
    ],
)
def test_assume_role_misconfigurations(tmp_path: Path, profile: str, message: str) -> None:
    env = env_for(
        tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"
    )
    with pytest.raises(sib.CredentialRetrievalError, match=message):
        resolve(env, profile=profile)


def _chain(length: int) -> str:
    config = "[default]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = p0\n"
    for i in range(length):
        config += (
            f"[profile p{i}]\nrole_arn = arn:aws:iam::123456789012:role/r{i}\n"
            f"source_profile = p{i + 1}\n"
        )
    return config + f"[profile p{length}]\naws_access_key_id = A\naws_secret_access_key = B\n"


def test_a_source_profile_chain_2000_deep_is_refused_before_any_request(tmp_path: Path) -> None:
    # Each hop nests two generators: 2,000 hops once raised a raw RecursionError.
    sts = AssumeRoleSts([])
    with LoopbackServer(sts) as server:
        env = env_for(tmp_path, _chain(2000), AWS_ENDPOINT_URL_STS=server.endpoint_url)
        with pytest.raises(sib.CredentialRetrievalError, match="longer than 50 profiles"):
            resolve(env)
    assert sts.received == []


def test_a_chain_within_the_bound_still_resolves(tmp_path: Path) -> None:
    # MAX_ROLE_CHAIN role profiles, each AssumeRole signed with the keys the last issued.
    sts = AssumeRoleSts([sib.Credentials("A", "B")])
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, _chain(MAX_ROLE_CHAIN - 1), AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        assert resolve(env).access_key_id == f"ASIAROLE{MAX_ROLE_CHAIN}"
    assert len(sts.received) == MAX_ROLE_CHAIN


def test_assume_role_refused_by_sts(tmp_path: Path) -> None:
    sts = AssumeRoleSts([])  # knows no key: the signature check fails
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        with pytest.raises(
            sib.CredentialRetrievalError, match="HTTP 403 UnrecognizedClientException"
        ):
            resolve(env, profile="admin")


def test_assume_role_source_profile_with_credential_process_or_nothing(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDPROC', 'SecretAccessKey': 'proc-secret'}))"
    )
    config = (
        f"[profile src]\ncredential_process = {sys.executable} {script}\n"
        "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = src\n"
        "[profile empty]\nregion = us-east-1\n"
        "[profile role2]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = empty\n"
    )
    sts = AssumeRoleSts([sib.Credentials("AKIDPROC", "proc-secret")])
    with LoopbackServer(sts) as server:
        env = env_for(tmp_path, config, AWS_ENDPOINT_URL_STS=server.endpoint_url)
        assert resolve(env, profile="role").access_key_id == "ASIAROLE1"
        with pytest.raises(
            sib.CredentialRetrievalError, match="source profile empty has no credentials"
        ):
            resolve(env, profile="role2")
