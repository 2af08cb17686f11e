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
            client.cancel_image_creation(ARN)
    else:
        import asyncio

        async def call() -> None:
            aclient = sib.AsyncImageBuilderClient(
                region="us-east-1", env=env, http_client=httpx.AsyncClient(transport=transport)
            )
            await aclient.cancel_image_creation(ARN)

        with pytest.raises(sib.CredentialRetrievalError) as info:
            asyncio.run(call())
    text = str(info.value) + repr(info.value)
    assert f"environment: {variable} is not a valid HTTP header value" in text
    assert reason in text
    assert "SECRETTOKEN" not in text
    assert sent == [] and info.value.retry_attempts == 0


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
            client.get_image(ARN)
    else:
        import asyncio

        async def call() -> None:
            aclient = sib.AsyncImageBuilderClient(
                region="us-east-1", env=env, http_client=httpx.AsyncClient(transport=transport)
            )
            await aclient.get_image(ARN)

        with pytest.raises(sib.CredentialRetrievalError) as info:
            asyncio.run(call())
    text = str(info.value) + repr(info.value)
    assert "environment: AWS_SECRET_ACCESS_KEY cannot be encoded as UTF-8" in text
    assert "SECRETTOKEN" not in text and "udcff" not in text
    assert sent == []
