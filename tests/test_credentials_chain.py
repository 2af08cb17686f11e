"""The default chain's order, source by source, and what it says when nothing applies."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
from conftest import ARN
from credentials_support import (
    UTC,
    env_for,
    resolve,
    run_sync,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._config import resolve_config
from sigv4_imagebuilder._credentials._chain import chain_flow
from sigv4_imagebuilder._shared_files import read_shared_files


def test_environment_first_unless_profile_is_explicit(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        credentials="[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = fs\n"
        "[other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = os\n",
        AWS_ACCESS_KEY_ID="ENVKEY",
        AWS_SECRET_ACCESS_KEY="es",
        AWS_SESSION_TOKEN="et",
    )
    got = resolve(env)
    assert (got.access_key_id, got.session_token) == ("ENVKEY", "et")
    assert resolve({**env, "AWS_PROFILE": "other"}).access_key_id == "ENVKEY"
    assert resolve(env, profile="other").access_key_id == "OTHERKEY"


def test_shared_credentials_file_before_process_before_config_keys(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'PROCKEY', "
        "'SecretAccessKey': 'ps', 'SessionToken': 'pt', 'Expiration': '2099-01-01T00:00:00Z'}))"
    )
    config = (
        f"[profile p]\ncredential_process = {sys.executable} {script}\n"
        "aws_access_key_id = CFGKEY\naws_secret_access_key = cs\n"
    )
    env = env_for(
        tmp_path, config, "[p]\naws_access_key_id = FILEKEY\naws_secret_access_key = fs\n"
    )
    assert resolve(env, profile="p").access_key_id == "FILEKEY"
    env = env_for(tmp_path, config, "")
    got = resolve(env, profile="p")
    assert (got.access_key_id, got.session_token) == ("PROCKEY", "pt")
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    env = env_for(
        tmp_path,
        "[profile p]\naws_access_key_id = CFGKEY\naws_secret_access_key = cs\naws_session_token = ct\n",
    )
    assert resolve(env, profile="p") == sib.Credentials("CFGKEY", "cs", session_token="ct")


def test_no_credentials_lists_every_source_without_secrets(tmp_path: Path) -> None:
    env = env_for(tmp_path, "[default]\naws_secret_access_key = lonely-secret\n")
    with pytest.raises(sib.NoCredentialsError) as info:
        resolve(env)
    text = str(info.value)
    for source in (
        "environment",
        "web identity",
        "shared credentials file",
        "credential_process",
        "access keys in",
        "container",
        "instance metadata: AWS_EC2_METADATA_DISABLED=true",
    ):
        assert source in text
    assert "lonely-secret" not in text
    with pytest.raises(sib.NoCredentialsError, match="skipped because profile= was given"):
        resolve({**env, "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"}, profile="default")


def test_chain_config_is_pure_over_env_and_files(tmp_path: Path) -> None:
    env = env_for(
        tmp_path, credentials="[default]\naws_access_key_id = K\naws_secret_access_key = S\n"
    )
    files = read_shared_files(env)
    config = resolve_config(env=env, files=files)
    flow = chain_flow(
        env,
        files,
        profile_name=config.profile_name,
        explicit_profile=config.explicit_profile,
        region=config.region,
    )
    assert run_sync(flow) == sib.Credentials("K", "S")


def test_full_call_with_chain_credentials(tmp_path: Path) -> None:
    import httpx

    env = env_for(
        tmp_path, credentials="[default]\naws_access_key_id = CHAINKEY\naws_secret_access_key = S\n"
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = sib.ImageBuilderClient(
        env=env, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    client.cancel_image_creation(ARN)
    assert "Credential=CHAINKEY/" in seen[0].headers["authorization"]
