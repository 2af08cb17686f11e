"""The environment source: its keys, and values that cannot be sent refused before sending."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import ARN
from credentials_support import run_cli

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._environment import environment_credentials

TOKEN = "IQoJb3JpZ2luX2VjEJrSECRETTOKEN"


def test_keys_token_and_empty_values() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": ""}
    assert environment_credentials(env) == sib.Credentials("AKID", "s")
    assert environment_credentials({"AWS_ACCESS_KEY_ID": "AKID"}) is None
    assert environment_credentials({**env, "AWS_SECRET_ACCESS_KEY": ""}) is None


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("AWS_SESSION_TOKEN", TOKEN + "\r", "carriage return"),
        ("AWS_ACCESS_KEY_ID", "AKIDSECRETTOKEN\r\n", "carriage return"),
        ("AWS_SESSION_TOKEN", TOKEN + "ü", "not ASCII"),
        ("AWS_ACCESS_KEY_ID", "AKIDSECRETTOKENé", "not ASCII"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unsendable_values_are_refused_before_sending_and_never_retried(
    empty_env: dict[str, str], variable: str, value: str, reason: str, mode: str
) -> None:
    env = {
        **empty_env,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s",
        variable: value,
    }
    sent, error = _refused_call(mode, env, "cancel_image_creation")
    text = str(error) + repr(error)
    assert f"environment: {variable} is not a valid HTTP header value" in text
    assert reason in text
    assert "SECRETTOKEN" not in text
    assert sent == [] and error.retry_attempts == 0


def test_cli_refuses_a_crlf_token_without_printing_it(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path,
        {
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
            "AWS_SESSION_TOKEN": TOKEN + "\r",
        },
    )
    assert done.returncode == 253
    assert b"AWS_SESSION_TOKEN is not a valid HTTP header value" in done.stderr
    for secret in (b"SECRETTOKEN", b"wJalrXUtnFEMI"):
        assert secret not in done.stdout + done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_secret_with_a_lone_surrogate_is_refused_before_sending(
    empty_env: dict[str, str], mode: str
) -> None:
    # os.environ decodes bytes that are not UTF-8 as lone surrogates; signing
    # with one once raised a raw UnicodeEncodeError mid-call.
    env = {
        **empty_env,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrSECRETTOKEN\udcff",
    }
    sent, error = _refused_call(mode, env, "get_image")
    text = str(error) + repr(error)
    assert "environment: AWS_SECRET_ACCESS_KEY cannot be encoded as UTF-8" in text
    assert "SECRETTOKEN" not in text and "udcff" not in text
    assert sent == []


def _refused_call(
    mode: str, env: dict[str, str], method: str
) -> tuple[list[httpx.Request], sib.CredentialRetrievalError]:
    """Call ``method`` on a sync or async client built from ``env``; expect the
    credentials to be refused. Returns what reached the transport, and the error."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(handler)
    if mode == "sync":
        client = sib.ImageBuilderClient(
            region="us-east-1", env=env, http_client=httpx.Client(transport=transport)
        )
        with pytest.raises(sib.CredentialRetrievalError) as info:
            getattr(client, method)(ARN)
    else:
        import asyncio

        async def call() -> None:
            aclient = sib.AsyncImageBuilderClient(
                region="us-east-1", env=env, http_client=httpx.AsyncClient(transport=transport)
            )
            await getattr(aclient, method)(ARN)

        with pytest.raises(sib.CredentialRetrievalError) as info:
            asyncio.run(call())
    return sent, info.value
