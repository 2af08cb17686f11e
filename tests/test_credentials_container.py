"""Container credentials (ECS, EKS Pod Identity): URL rules and a loopback endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from credentials_support import (
    ContainerServer,
    aresolve,
    env_for,
    resolve,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._container import container_url as _container_url
from sigv4_imagebuilder.testing import LoopbackServer


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_container_full_uri_with_token_file_and_env_token(tmp_path: Path, mode: str) -> None:
    (tmp_path / "auth").write_text("file-auth-token\n")
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "auth"),
            AWS_CONTAINER_AUTHORIZATION_TOKEN="env-token",
        )
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
        del env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
        resolve(env)
    assert got.access_key_id == "ASIACONTAINER1" and got.session_token == "ct"
    assert container.received[0].path == "/creds"
    assert container.received[0].header("authorization") == "file-auth-token"
    assert container.received[1].header("authorization") == "env-token"


def test_container_uri_rules() -> None:
    assert (
        _container_url({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds/abc"})
        == "http://169.254.170.2/v2/creds/abc"
    )
    for ok in (
        "https://creds.example.com/x",
        "http://127.0.0.1:9/x",
        "http://[::1]:9/x",
        "http://169.254.170.23/v1",
        "http://[fd00:ec2::23]/v1",
        "http://localhost:8080/x",
    ):
        assert _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": ok}) == ok
    for bad in ("http://10.0.0.1/x", "http://evil.example/x"):
        with pytest.raises(sib.CredentialRetrievalError, match="is not allowed"):
            _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": bad})
    with pytest.raises(sib.CredentialRetrievalError, match="http:// or https://"):
        _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "ftp://127.0.0.1/x"})


@pytest.mark.parametrize(
    "relative",
    [
        "@evil.example/creds",
        ".evil.example/creds",
        "//evil.example/creds",
        "\\\\evil.example/creds",
        "/creds\\@evil",
        "/creds\r\nHost: evil",
        "/v2/creds/ü",
    ],
)
def test_relative_uri_that_could_change_the_host_is_refused(relative: str) -> None:
    with pytest.raises(sib.CredentialRetrievalError, match="RELATIVE_URI must be a path"):
        _container_url({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": relative})
    # An @ after the first / is part of the path: the host stays 169.254.170.2.
    assert (
        _container_url({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x@y"})
        == "http://169.254.170.2/v2/x@y"
    )


@pytest.mark.parametrize(
    ("full", "message"),
    [
        ("http://127.0.0.1:99999/creds", "port is not a number"),
        ("http://127.0.0.1:abc/creds", "port is not a number"),
        ("http://user:PASSWORDpw@127.0.0.1/creds", "user name or password"),
        ("http://127.0.0.1/creds?x=1", "query string or fragment"),
        ("http://127.0.0.1/creds#frag", "query string or fragment"),
        ("http://127.0.0.1/cr\neds", "control character"),
        ("http:///creds", "followed by a host"),
    ],
)
def test_unusable_full_uri_is_a_typed_error_without_echo(full: str, message: str) -> None:
    with pytest.raises(sib.CredentialRetrievalError, match=message) as info:
        _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": full})
    assert "PASSWORD" not in str(info.value)


def test_bad_authorization_tokens_are_typed_errors(tmp_path: Path) -> None:
    base = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"}
    (tmp_path / "auth").write_bytes(b"\xff\xfeSECRETAUTH")
    env = env_for(tmp_path, **base, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "auth"))
    with pytest.raises(sib.CredentialRetrievalError, match="is not UTF-8 text"):
        resolve(env)
    env = env_for(tmp_path, **base, AWS_CONTAINER_AUTHORIZATION_TOKEN="SECRETAUTH\r")
    with pytest.raises(sib.CredentialRetrievalError, match="carriage return") as info:
        resolve(env)
    assert "SECRETAUTH" not in str(info.value)


def test_a_nul_in_the_token_file_variable_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:9/creds",
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="/tmp/\x00",
    )
    with pytest.raises(
        sib.CredentialRetrievalError, match="AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE contains a NUL"
    ):
        resolve(env)
