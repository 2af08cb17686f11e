"""The shared files: where they are (from env only), parsing, errors that echo nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from credentials_support import env_for, resolve, run_cli

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._shared_files import (
    parse_ini,
    profile_keys,
    read_shared_files,
    shared_file_paths,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET"
BROKEN = [
    # A secret on an indented line under an empty value.
    (f"[default]\naws_access_key_id = AKID\naws_secret_access_key =\n    {SECRET}\n", "line 4"),
    # A secret on a line that is neither [section] nor key = value.
    (f"[default]\naws_access_key_id = AKID\n{SECRET}\n", "line 3"),
    # A secret before any section.
    (f"aws_secret_access_key = {SECRET}\n", "line 1"),
]


@pytest.mark.parametrize(("text", "line"), BROKEN)
def test_parse_errors_name_file_and_line_only(text: str, line: str) -> None:
    with pytest.raises(sib.ConfigurationError) as info:
        parse_ini(text, "/home/me/.aws/credentials")
    assert "/home/me/.aws/credentials" in str(info.value) and line in str(info.value)
    assert SECRET not in str(info.value) and "wJalr" not in repr(info.value)
    # Not even hidden behind the error: configparser's own error quotes the line.
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert not _chain_mentions(info.value, "wJalr")


def _chain_mentions(error: BaseException, text: str) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if text in str(seen) or text in repr(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@pytest.mark.parametrize(("text", "line"), BROKEN)
def test_a_client_built_on_a_broken_file_chains_no_secret(
    tmp_path: Path, text: str, line: str
) -> None:
    (tmp_path / "credentials").write_text(text)
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_REGION": "us-east-1"}
    with pytest.raises(sib.ConfigurationError, match=line) as info:
        sib.ImageBuilderClient(env=env)
    assert not _chain_mentions(info.value, "wJalr")


@pytest.mark.parametrize(("text", "line"), BROKEN[:2])
def test_cli_names_the_broken_line_not_its_secret(tmp_path: Path, text: str, line: str) -> None:
    (tmp_path / "credentials").write_text(text)
    done = run_cli(
        tmp_path,
        {
            # Credentials from the environment: the file is still read, and refused.
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "env-secret",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        },
    )
    assert done.returncode == 253
    assert line.encode() in done.stderr and b"Unable to parse config file" in done.stderr
    assert SECRET.encode() not in done.stdout + done.stderr
    assert b"Traceback" not in done.stderr


def test_continuation_line_of_a_key_is_refused_by_the_source_without_echo(tmp_path: Path) -> None:
    # configparser joins an indented line to the value above: a key with a line break.
    env = env_for(
        tmp_path,
        credentials=f"[default]\naws_access_key_id = AKID\n  {SECRET}\naws_secret_access_key = s\n",
    )
    with pytest.raises(sib.CredentialRetrievalError) as info:
        resolve(env)
    assert "aws_access_key_id is not a valid HTTP header value (it contains a line feed)" in str(
        info.value
    )
    assert SECRET not in str(info.value)


def test_paths_come_from_env_only(tmp_path: Path) -> None:
    assert shared_file_paths({"HOME": "/h"}) == ("/h/.aws/config", "/h/.aws/credentials")
    assert shared_file_paths({"USERPROFILE": "/u"})[0] == "/u/.aws/config"
    assert shared_file_paths({"HOME": "/h", "AWS_CONFIG_FILE": "~/cfg"})[0] == "/h/cfg"
    # No home in env: the real home directory is not consulted, the files are absent.
    config, creds = shared_file_paths({})
    assert config.startswith("~") and creds.startswith("~")
    files = read_shared_files({})
    assert files.config == {} and files.credentials == {}


def test_unreadable_or_non_utf8_files_are_configuration_errors(tmp_path: Path) -> None:
    (tmp_path / "config").write_bytes(b"[default]\nregion = \xff\xfe\n")
    with pytest.raises(sib.ConfigurationError, match="is not UTF-8 text"):
        read_shared_files({"AWS_CONFIG_FILE": str(tmp_path / "config")})
    (tmp_path / "dir").mkdir()
    with pytest.raises(sib.ConfigurationError, match="Unable to read config file"):
        read_shared_files({"AWS_CONFIG_FILE": str(tmp_path / "dir")})


@pytest.mark.parametrize("variable", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"])
def test_a_nul_in_a_file_variable_is_a_configuration_error_naming_it(variable: str) -> None:
    # open() raises a bare ValueError ("embedded null byte").
    with pytest.raises(sib.ConfigurationError, match=f"{variable} contains a NUL") as info:
        read_shared_files({variable: "/tmp/a\x00b"})
    assert info.value.__context__ is None
    with pytest.raises(sib.ConfigurationError, match=variable):
        sib.ImageBuilderClient(env={variable: "/tmp/a\x00b", "AWS_REGION": "us-east-1"})


def test_profile_lookup() -> None:
    files = read_shared_files({})
    assert profile_keys(files, "default") == ({}, {})
    sections = parse_ini(
        "[profile default]\nregion = a\n[profile x]\nregion = b\n[services s]\nimagebuilder =\n  endpoint_url = u\n",
        "config",
    )
    from sigv4_imagebuilder._shared_files import SharedFiles

    files = SharedFiles(config_path="c", config=sections, credentials_path="k")
    assert profile_keys(files, "default")[0] == {"region": "a"}
    assert profile_keys(files, "x")[0] == {"region": "b"}
