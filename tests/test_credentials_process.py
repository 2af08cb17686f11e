"""credential_process: the documented JSON, clear errors, no stderr in them, bounded runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from credentials_support import (
    aresolve,
    env_for,
    resolve,
)

import sigv4_imagebuilder as sib


async def test_async_client_runs_the_process_source_in_a_thread(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'ASYNCPROC', 'SecretAccessKey': 's'}))"
    )
    env = env_for(tmp_path, f"[default]\ncredential_process = {sys.executable} {script}\n")
    assert (await aresolve(env)).access_key_id == "ASYNCPROC"


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "import sys; sys.stderr.write('sso session expired'); sys.exit(3)",
            "exited with status 3 (it wrote 19 bytes to stderr, not shown",
        ),
        (
            "import sys; print('not json'); sys.stderr.write('hint')",
            "did not print JSON on stdout (it wrote 4 bytes to stderr",
        ),
        (
            "import json; print(json.dumps({'Version': 2, 'AccessKeyId': 'A', 'SecretAccessKey': 'B'}))",
            '"Version": 1',
        ),
        (
            "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'A'}))",
            "SecretAccessKey is missing",
        ),
        (
            "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'A', 'SecretAccessKey': 'B', 'Expiration': 'soon'}))",
            "not ISO 8601",
        ),
    ],
)
def test_credential_process_errors_are_clear(tmp_path: Path, program: str, message: str) -> None:
    script = tmp_path / "proc.py"
    script.write_text(program)
    env = env_for(tmp_path, f"[default]\ncredential_process = {sys.executable} {script}\n")
    with pytest.raises(sib.CredentialRetrievalError) as info:
        resolve(env)
    assert message in str(info.value)
    assert "sso session" not in str(info.value) and "hint" not in str(info.value)
    env = env_for(tmp_path, "[default]\ncredential_process = /no/such/program\n")
    with pytest.raises(sib.CredentialRetrievalError, match="could not run"):
        resolve(env)
