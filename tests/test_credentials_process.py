"""credential_process: the documented JSON, clear errors, no stderr in them, bounded runs."""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

import pytest
from credentials_support import (
    UTC,
    aresolve,
    env_for,
    resolve,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._process import run_credential_process


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


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting for a reaper is dead too
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_timeout_kills_the_helper_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "proc.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(sib.CredentialRetrievalError, match="did not finish within 1 s") as info:
        run_credential_process(f"{sys.executable} {script}", timeout=1.0)
    assert "stopped it and its children" in str(info.value)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while not _dead(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(grandchild)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_is_read_up_to_a_bound(tmp_path: Path, stream: str) -> None:
    script = tmp_path / "proc.py"
    # Writes without end: only the bound (and the kill) stops it.
    script.write_text(f"import sys\nwhile True:\n    sys.{stream}.write('x' * 65536)\n")
    with pytest.raises(sib.CredentialRetrievalError, match="wrote more than 100000 bytes"):
        run_credential_process(f"{sys.executable} {script}", limit=100_000)


def test_stderr_that_holds_secrets_stays_out_of_every_error(tmp_path: Path) -> None:
    leak = '{"AccessKeyId": "AKIDLEAK", "SecretAccessKey": "LEAKEDSECRET"}'
    for tail in ("sys.exit(2)", "print('<html>')"):
        script = tmp_path / "proc.py"
        script.write_text(f"import sys\nsys.stderr.write({leak!r})\n{tail}\n")
        with pytest.raises(sib.CredentialRetrievalError) as info:
            run_credential_process(f"{sys.executable} {script}")
        text = str(info.value) + repr(info.value)
        assert "LEAKEDSECRET" not in text and "AKIDLEAK" not in text
        assert f"it wrote {len(leak)} bytes to stderr" in text


def test_unusable_commands(tmp_path: Path) -> None:
    with pytest.raises(sib.CredentialRetrievalError, match="not valid shell syntax"):
        run_credential_process("helper 'unterminated")
    with pytest.raises(sib.CredentialRetrievalError, match="the command is empty"):
        run_credential_process("   ")
    with pytest.raises(sib.CredentialRetrievalError, match="could not run it"):
        run_credential_process(str(tmp_path))  # a directory: permission denied


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"SessionToken": "SECRETTOKEN\r"}, "SessionToken is not a valid HTTP header value"),
        ({"AccessKeyId": "AKIDSECRETTOKEN\u00e9"}, "AccessKeyId is not a valid HTTP header value"),
        ({"Expiration": "9999-12-31T23:59:59-01:00"}, "out of range in UTC"),
        ({"Expiration": 12}, "Expiration is missing or not a string"),
    ],
)
def test_hostile_json_fields_are_typed_errors(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    data = {"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "s", **fields}
    script = tmp_path / "proc.py"
    script.write_text(f"import json\nprint(json.dumps({data!r}))\n")
    with pytest.raises(sib.CredentialRetrievalError, match=message) as info:
        run_credential_process(f"{sys.executable} {script}")
    assert "SECRETTOKEN" not in str(info.value)


def test_an_expiration_in_year_one_is_used_and_refetched_without_overflow(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = tmp_path / "proc.py"
    script.write_text(
        "import json, pathlib\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'AKID{n}', 'SecretAccessKey': 's', "
        "'Expiration': '0001-01-01T00:00:00-01:00'}))\n"
    )
    env = env_for(tmp_path, f"[default]\ncredential_process = {sys.executable} {script}\n")
    with sib.ImageBuilderClient(env=env) as client:
        first = client._run(client._credentials.flow())
        second = client._run(client._credentials.flow())
    assert first.expiration == datetime.datetime(1, 1, 1, 1, 0, tzinfo=UTC)
    assert (first.access_key_id, second.access_key_id) == ("AKID1", "AKID2")
