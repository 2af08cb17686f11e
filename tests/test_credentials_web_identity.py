"""Web identity through STS AssumeRoleWithWebIdentity, on a loopback STS."""

from __future__ import annotations

import asyncio
import datetime
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
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply


class StsServer:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[ReceivedRequest] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        if self.status != 200:
            return Reply(
                status=self.status,
                body=b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                b"<Error><Code>InvalidIdentityToken</Code><Message>Token expired</Message></Error></ErrorResponse>",
            )
        return Reply(
            body=(
                '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEBID</AccessKeyId>"
                "<SecretAccessKey>websecret</SecretAccessKey><SessionToken>webtoken</SessionToken>"
                f"<Expiration>{LATER}</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                "</AssumeRoleWithWebIdentityResponse>"
            ).encode()
        )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_web_identity_via_sts_on_loopback(tmp_path: Path, mode: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.web.identity\n")
    sts = StsServer()
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path,
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
            AWS_ROLE_ARN="arn:aws:iam::123456789012:role/r",
            AWS_ROLE_SESSION_NAME="sess",
            AWS_ENDPOINT_URL_STS=server.endpoint_url,
        )
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "ASIAWEBID",
        "websecret",
        "webtoken",
    )
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    request = sts.received[0]
    assert request.method == "POST" and request.header("authorization") is None
    form = urllib.parse.parse_qs(request.body.decode())
    assert form == {
        "Action": ["AssumeRoleWithWebIdentity"],
        "Version": ["2011-06-15"],
        "RoleArn": ["arn:aws:iam::123456789012:role/r"],
        "RoleSessionName": ["sess"],
        "WebIdentityToken": ["eyJ.web.identity"],
    }


def test_web_identity_from_profile_and_sts_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok")
    with LoopbackServer(StsServer(status=400)) as server:
        env = env_for(
            tmp_path,
            f"[default]\nweb_identity_token_file = {token_file}\nrole_arn = arn:aws:iam::1:role/r\n",
            AWS_ENDPOINT_URL_STS=server.endpoint_url,
        )
        with pytest.raises(
            sib.CredentialRetrievalError, match="HTTP 400 InvalidIdentityToken: Token expired"
        ):
            resolve(env)
    env = env_for(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "missing"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/r",
    )
    with pytest.raises(sib.CredentialRetrievalError, match="cannot read token file"):
        resolve(env)


def test_non_utf8_token_file_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(b"\xff\xfe\x00eyJ")
    env = env_for(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/r",
    )
    with pytest.raises(sib.CredentialRetrievalError, match="is not UTF-8 text"):
        resolve(env)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://127.0.0.1:99999", "port is not a number"),
        ("http://127.0.0.1:abc", "port is not a number"),
        ("https://u:PASSWORD@sts.example", "user name or password"),
        ("https://sts.example/?Action=x", "query string"),
    ],
)
def test_unusable_sts_endpoint_is_a_typed_error(
    tmp_path: Path, endpoint: str, message: str
) -> None:
    (tmp_path / "token").write_text("eyJ")
    env = env_for(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/r",
        AWS_ENDPOINT_URL_STS=endpoint,
    )
    with pytest.raises(
        sib.CredentialRetrievalError, match=f"AWS_ENDPOINT_URL_STS .*{message}"
    ) as info:
        resolve(env)
    assert "PASSWORD" not in str(info.value)


def test_hostile_sts_replies_are_typed_errors(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("eyJ")
    replies = [
        (Reply(body=b"<not xml"), "the reply is not XML"),
        (Reply(body=b"<Response/>"), "the reply has no Credentials"),
        (
            Reply(
                body=b"<R><Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>s"
                b"</SecretAccessKey><SessionToken>SECRETTOKEN&#13;</SessionToken></Credentials></R>"
            ),
            "SessionToken is not a valid HTTP header value",
        ),
    ]
    for reply, message in replies:
        with LoopbackServer(lambda request, reply=reply: reply) as server:
            env = env_for(
                tmp_path,
                AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token"),
                AWS_ROLE_ARN="arn:aws:iam::1:role/r",
                AWS_ENDPOINT_URL_STS=server.endpoint_url,
            )
            with pytest.raises(sib.CredentialRetrievalError, match=message) as info:
                resolve(env)
        assert "SECRETTOKEN" not in str(info.value)


def test_a_nul_in_the_token_file_variable_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    # open() raises a bare ValueError ("embedded null byte").
    env = env_for(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "to\x00ken"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/r",
    )
    with pytest.raises(
        sib.CredentialRetrievalError, match="AWS_WEB_IDENTITY_TOKEN_FILE contains a NUL"
    ) as info:
        resolve(env)
    assert info.value.__context__ is None
    profile_env = env_for(
        tmp_path,
        f"[default]\nweb_identity_token_file = {tmp_path}/a\x00b\nrole_arn = arn:aws:iam::1:role/r\n",
    )
    with pytest.raises(
        sib.CredentialRetrievalError, match="web_identity_token_file contains a NUL"
    ):
        resolve(profile_env)
