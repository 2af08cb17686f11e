"""EC2 instance metadata (IMDSv2) on a loopback server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from credentials_support import (
    LATER,
    aresolve,
    env_for,
    resolve,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply


class ImdsServer:
    def __init__(self, role: str = "my-role") -> None:
        self.role = role
        self.received: list[ReceivedRequest] = []
        self.credentials_body: bytes | None = None

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        if request.path == "/latest/api/token":
            assert request.method == "PUT"
            assert request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600"
            return Reply(body=b"imds-session-token")
        if request.header("x-aws-ec2-metadata-token") != "imds-session-token":
            return Reply(status=401)
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return Reply(body=self.role.encode())
        if request.path == f"/latest/meta-data/iam/security-credentials/{self.role}":
            if self.credentials_body is not None:
                return Reply(body=self.credentials_body)
            return Reply(
                body=json.dumps(
                    {
                        "Code": "Success",
                        "AccessKeyId": "ASIAIMDS",
                        "SecretAccessKey": "is",
                        "Token": "it",
                        "Expiration": LATER,
                    }
                ).encode()
            )
        return Reply(status=404)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_imds_v2_on_loopback(tmp_path: Path, mode: str) -> None:
    imds = ImdsServer()
    with LoopbackServer(imds) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
    assert (got.access_key_id, got.session_token) == ("ASIAIMDS", "it")
    assert [r.path for r in imds.received] == [
        "/latest/api/token",
        "/latest/meta-data/iam/security-credentials/",
        "/latest/meta-data/iam/security-credentials/my-role",
    ]


def test_imds_unreachable_or_roleless_is_skipped_quickly(tmp_path: Path) -> None:
    with LoopbackServer(lambda r: Reply()) as server:
        pass  # closed port
    env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
    del env["AWS_EC2_METADATA_DISABLED"]
    start = time.monotonic()
    with pytest.raises(sib.NoCredentialsError, match="instance metadata: not reachable"):
        resolve(env)
    assert time.monotonic() - start < 5
    with LoopbackServer(ImdsServer(role="")) as server:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.endpoint_url
        with pytest.raises(sib.NoCredentialsError, match="no IAM role"):
            resolve(env)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://127.0.0.1:99999", "port is not a number"),
        ("http://127.0.0.1:abc", "port is not a number"),
        ("http://admin:PASSWORD@127.0.0.1:9", "user name or password"),
    ],
)
def test_unusable_metadata_endpoint_is_a_typed_error(
    tmp_path: Path, endpoint: str, message: str
) -> None:
    env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoint)
    del env["AWS_EC2_METADATA_DISABLED"]
    with pytest.raises(sib.CredentialRetrievalError, match=message) as info:
        resolve(env)
    assert "PASSWORD" not in str(info.value)


def test_hostile_metadata_replies_are_typed_errors(tmp_path: Path) -> None:
    def handler(request: ReceivedRequest) -> Reply:
        if request.path == "/latest/api/token":
            return Reply(body=b"token\r\nX-Injected: 1")
        return Reply(status=404)

    with LoopbackServer(handler) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        with pytest.raises(sib.CredentialRetrievalError, match="not a valid header value"):
            resolve(env)
    imds = ImdsServer()
    replies = [b"[" * 100_000, b'{"Code": "AccessDenied"}']
    with LoopbackServer(imds) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        for body, message in zip(replies, ["is not JSON", "AccessDenied"], strict=True):
            imds.credentials_body = body
            with pytest.raises(sib.CredentialRetrievalError, match=message):
                resolve(env)


@pytest.mark.parametrize("role", ["r?x=1#frag", "r\x01x", "@127.0.0.1:1/x", "r" * 3_000_000])
def test_a_hostile_role_name_is_refused_before_it_reaches_a_url(tmp_path: Path, role: str) -> None:
    # A control character or a 3 MB name once raised httpx's InvalidURL raw.
    imds = ImdsServer(role=role)
    with LoopbackServer(imds) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        with pytest.raises(sib.CredentialRetrievalError, match="not a valid IAM role name") as info:
            resolve(env)
    assert len(str(info.value)) < 200
    assert len(imds.received) == 2  # the token and the role name; no credentials request


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (["CREDSECRETzz9"], "'not a string'"),
        ({"s": "CREDSECRETzz9"}, "'not a string'"),
        ("Denied\x1b[2J" + "x" * 5000, "'Denied[2J" + "x" * 91 + "...'"),
    ],
)
def test_a_failure_code_is_shown_only_as_bounded_printable_text(
    tmp_path: Path, code: object, shown: str
) -> None:
    imds = ImdsServer()
    imds.credentials_body = json.dumps(
        {"Code": code, "AccessKeyId": "ASIA", "SecretAccessKey": "CREDSECRETzz9"}
    ).encode()
    with LoopbackServer(imds) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        with pytest.raises(sib.CredentialRetrievalError) as info:
            resolve(env)
    text = str(info.value) + repr(info.value)
    assert "CREDSECRETzz9" not in text and "\x1b" not in text
    assert str(info.value).endswith(f"the reply's Code is {shown}, not Success")
