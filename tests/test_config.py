"""Settings resolution over a controlled environment and temporary shared files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._config import MAX_MAX_ATTEMPTS, ClientConfig, resolve_config
from sigv4_imagebuilder._shared_files import parse_ini, profile_keys, read_shared_files


def resolve(env: dict[str, str], **kwargs: Any) -> ClientConfig:
    """resolve_config over the files env points at, read once as the clients do."""
    return resolve_config(env=env, files=read_shared_files(env), **kwargs)


def write(tmp_path: Path, config: str = "", credentials: str = "") -> dict[str, str]:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }


CONFIG = """
[default]
region = eu-central-1
max_attempts = 5

[profile dev]
region = ap-southeast-2
use_fips_endpoint = true
services = local

[profile ep]
region = us-east-1
endpoint_url = http://127.0.0.1:1111

[profile dual]
region = us-east-1
use_dualstack_endpoint = TRUE

[profile badattempts]
region = us-east-1
max_attempts = lots

[services local]
imagebuilder =
  endpoint_url = http://127.0.0.1:2222
sts =
  endpoint_url = http://127.0.0.1:3333
"""


def test_region_precedence(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    assert resolve(env).region == "eu-central-1"
    assert resolve({**env, "AWS_DEFAULT_REGION": "us-west-1"}).region == "us-west-1"
    assert (
        resolve({**env, "AWS_DEFAULT_REGION": "us-west-1", "AWS_REGION": "us-west-2"}).region
        == "us-west-2"
    )
    assert resolve({**env, "AWS_REGION": "us-west-2"}, region="sa-east-1").region == "sa-east-1"


def test_profile_precedence(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    assert resolve(env).profile_name == "default"
    assert resolve({**env, "AWS_DEFAULT_PROFILE": "ep"}).profile_name == "ep"
    assert (
        resolve({**env, "AWS_DEFAULT_PROFILE": "ep", "AWS_PROFILE": "dual"}).profile_name == "dual"
    )
    chosen = resolve({**env, "AWS_PROFILE": "dual"}, profile="ep")
    assert (chosen.profile_name, chosen.explicit_profile) == ("ep", True)
    assert resolve({**env, "AWS_PROFILE": "ep"}).explicit_profile is False


def test_endpoint_precedence(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    ep = {**env, "AWS_PROFILE": "ep"}
    assert resolve(ep).endpoint_url == "http://127.0.0.1:1111"
    dev = {**env, "AWS_PROFILE": "dev", "AWS_USE_FIPS_ENDPOINT": "false"}
    assert resolve(dev).endpoint_url == "http://127.0.0.1:2222"
    assert (
        resolve({**dev, "AWS_ENDPOINT_URL": "http://127.0.0.1:4444"}).endpoint_url
        == "http://127.0.0.1:4444"
    )
    both = {
        **dev,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4444",
        "AWS_ENDPOINT_URL_IMAGEBUILDER": "http://127.0.0.1:5555",
    }
    assert resolve(both).endpoint_url == "http://127.0.0.1:5555"
    assert (
        resolve(both, endpoint_url="http://127.0.0.1:6666").endpoint_url == "http://127.0.0.1:6666"
    )
    ignored = {**both, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert resolve(ignored).endpoint_url == "https://imagebuilder.ap-southeast-2.amazonaws.com"
    assert (
        resolve(ignored, endpoint_url="http://127.0.0.1:6666").endpoint_url
        == "http://127.0.0.1:6666"
    )


def test_fips_and_dualstack_precedence(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    dev = {**env, "AWS_PROFILE": "dev", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert resolve(dev).endpoint_url == "https://imagebuilder-fips.ap-southeast-2.amazonaws.com"
    assert (
        resolve({**dev, "AWS_USE_FIPS_ENDPOINT": "false"}).endpoint_url
        == "https://imagebuilder.ap-southeast-2.amazonaws.com"
    )
    assert (
        resolve({**dev, "AWS_USE_FIPS_ENDPOINT": "true"}, use_fips_endpoint=False).endpoint_url
        == "https://imagebuilder.ap-southeast-2.amazonaws.com"
    )
    dual = {**env, "AWS_PROFILE": "dual"}
    assert resolve(dual).endpoint_url == "https://imagebuilder.us-east-1.api.aws"
    assert (
        resolve({**dual, "AWS_USE_DUALSTACK_ENDPOINT": "false"}).endpoint_url
        == "https://imagebuilder.us-east-1.amazonaws.com"
    )
    with pytest.raises(
        sib.ConfigurationError, match="AWS_USE_FIPS_ENDPOINT must be 'true' or 'false'"
    ):
        resolve({**env, "AWS_USE_FIPS_ENDPOINT": "yes"})


def test_max_attempts_precedence_and_errors(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    assert resolve(env).max_attempts == 5
    assert resolve({**env, "AWS_MAX_ATTEMPTS": "2"}).max_attempts == 2
    assert resolve({**env, "AWS_MAX_ATTEMPTS": "2"}, max_attempts=7).max_attempts == 7
    assert resolve({**env, "AWS_PROFILE": "ep"}).max_attempts == 3
    with pytest.raises(
        sib.ConfigurationError, match="AWS_MAX_ATTEMPTS must be a whole number, got 'three'"
    ):
        resolve({**env, "AWS_MAX_ATTEMPTS": "three"})
    with pytest.raises(sib.ConfigurationError, match="AWS_MAX_ATTEMPTS must be at least 1"):
        resolve({**env, "AWS_MAX_ATTEMPTS": "0"})
    with pytest.raises(
        sib.ConfigurationError, match=r"max_attempts in profile badattempts in .*config"
    ):
        resolve({**env, "AWS_PROFILE": "badattempts"})


@pytest.mark.parametrize("value", ["51", "1" + "0" * 30, "9" * 5000])
def test_max_attempts_above_the_maximum_is_refused_naming_the_source(
    tmp_path: Path, value: str
) -> None:
    # 10**30 was accepted; a 5,000-digit value made int() raise its own ValueError.
    env = write(tmp_path, CONFIG)
    with pytest.raises(sib.ConfigurationError, match="AWS_MAX_ATTEMPTS must be at most 50") as info:
        resolve({**env, "AWS_MAX_ATTEMPTS": value})
    assert len(str(info.value)) < 120
    write(tmp_path, f"[default]\nregion = us-east-1\nmax_attempts = {value}\n")
    with pytest.raises(
        sib.ConfigurationError, match=r"max_attempts in profile default in .*config"
    ):
        resolve(env)


@pytest.mark.parametrize("value", [51, 10**30])
def test_max_attempts_argument_above_the_maximum_is_refused(value: int) -> None:
    with pytest.raises(sib.ParamValidationError, match="must be at most 50") as info:
        sib.ImageBuilderClient(
            region="us-east-1", credentials=sib.Credentials("A", "s"), max_attempts=value
        )
    assert info.value.param == "max_attempts"


def test_max_attempts_at_the_maximum_is_accepted(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    assert resolve({**env, "AWS_MAX_ATTEMPTS": " 50 "}).max_attempts == MAX_MAX_ATTEMPTS == 50
    assert resolve(env, max_attempts=50).max_attempts == 50
    with pytest.raises(sib.ConfigurationError, match="must be a whole number, got '-1'"):
        resolve({**env, "AWS_MAX_ATTEMPTS": "-1"})


def test_named_profile_not_found(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    with pytest.raises(
        sib.ConfigurationError, match=r"The config profile \(nope\) could not be found"
    ):
        resolve(env, profile="nope")
    with pytest.raises(sib.ConfigurationError, match="nope"):
        resolve({**env, "AWS_PROFILE": "nope"})
    # A profile that exists only in the credentials file is fine.
    env = write(tmp_path, CONFIG, "[ci]\naws_access_key_id = A\naws_secret_access_key = B\n")
    assert resolve({**env, "AWS_REGION": "us-east-1"}, profile="ci").profile_name == "ci"
    assert profile_keys(read_shared_files(env), "ci")[1]["aws_access_key_id"] == "A"


def test_malformed_file_names_file_and_line(tmp_path: Path) -> None:
    env = write(tmp_path, "[default]\nregion = us-east-1\nthis line is junk\n")
    with pytest.raises(sib.ConfigurationError, match=r"config.*line 3"):
        resolve(env)
    env = write(tmp_path, "aws_secret_access_key = s3cr3t\n")
    with pytest.raises(sib.ConfigurationError, match="line 1: a key = value before any") as info:
        resolve(env)
    assert "s3cr3t" not in str(info.value)


def test_missing_services_section_and_missing_files(tmp_path: Path) -> None:
    env = write(tmp_path, "[default]\nregion = us-east-1\nservices = gone\n")
    with pytest.raises(sib.ConfigurationError, match="services section 'gone'"):
        resolve(env)
    no_files = {
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent2"),
    }
    with pytest.raises(sib.ConfigurationError, match="missing region"):
        resolve(no_files)


def test_home_directory_default(tmp_path: Path) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = eu-north-1\n")
    assert resolve({"HOME": str(tmp_path)}).region == "eu-north-1"


def test_parse_nested_sections() -> None:
    sections = parse_ini(CONFIG, "config")
    assert sections["services local"]["imagebuilder"] == {"endpoint_url": "http://127.0.0.1:2222"}
    with pytest.raises(sib.ConfigurationError, match="line 3: an indented line under imagebuilder"):
        parse_ini("[services x]\nimagebuilder =\n  junk\n", "config")


def test_clients_accept_profile(tmp_path: Path) -> None:
    env = write(tmp_path, CONFIG)
    client = sib.ImageBuilderClient(profile="ep", env=env, credentials=sib.Credentials("A", "B"))
    assert (client.region, client.endpoint_url, client.max_attempts) == (
        "us-east-1",
        "http://127.0.0.1:1111",
        3,
    )
    with pytest.raises(sib.ParamValidationError, match="profile"):
        sib.ImageBuilderClient(profile="", env=env)


def test_resolved_config_reprs_hide_profile_secrets(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        "[default]\nregion = us-east-1\naws_secret_access_key = cfg-s3cret\n",
        "[default]\naws_access_key_id = A\naws_secret_access_key = file-s3cret\n",
    )
    files = read_shared_files(env)
    config = resolve_config(env=env, files=files)
    assert profile_keys(files, "default")[1]["aws_secret_access_key"] == "file-s3cret"
    text = repr(config) + repr(files)
    assert "s3cret" not in text and "us-east-1" in text
