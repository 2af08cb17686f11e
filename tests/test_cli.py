"""The command line: AWS CLI v2 exit codes, JSON output, no tracebacks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARN, SECRET

from sigv4_imagebuilder._cli import main
from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder, LoopbackServer, Reply


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEFAULT_CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DEFAULT_CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("cli_env")
def test_success_prints_the_services_json() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run(
            "cancel-image-creation",
            "--image-build-version-arn",
            ARN,
            "--client-token",
            "tok-1",
            "--region",
            "us-east-1",
            "--endpoint-url",
            server.endpoint_url,
        )
        assert server.image_status(ARN) == "CANCELLED"
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert set(data) == {"requestId", "clientToken", "imageBuildVersionArn"}
    assert data["clientToken"] == "tok-1" and data["imageBuildVersionArn"] == ARN
    assert out.startswith('{\n    "requestId"')


@pytest.mark.usefixtures("cli_env")
def test_service_error_is_254_with_the_aws_cli_message() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN, "AVAILABLE")
        code, out, err = run(
            "cancel-image-creation",
            "--image-build-version-arn",
            ARN,
            "--region",
            "us-east-1",
            "--endpoint-url",
            server.endpoint_url,
        )
    assert code == 254 and out == ""
    assert (
        "An error occurred (InvalidRequestException) when calling the CancelImageCreation operation: "
        "The image is in a terminal state (AVAILABLE)" in err
    )
    assert "Traceback" not in err


@pytest.mark.usefixtures("cli_env")
def test_bad_arn_is_252_and_sends_nothing() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        code, _, err = run(
            "cancel-image-creation",
            "--image-build-version-arn",
            "arn:bad",
            "--region",
            "us-east-1",
            "--endpoint-url",
            server.endpoint_url,
        )
        assert server.requests == []
    assert code == 252 and "Parameter validation failed" in err and "image_build_version_arn" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["cancel-image-creation"],
        ["cancel-image-creation", "--image-build-version-arn", ARN, "--max-attempts", "x"],
    ],
)
def test_usage_errors_are_252(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 252 and out == ""
    assert "usage" in err


def test_help_lists_the_command_and_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["cancel-image-creation", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--image-build-version-arn",
        "--client-token",
        "--region",
        "--profile",
        "--endpoint-url",
        "--max-attempts",
        "--debug",
    ):
        assert flag in text


def test_configuration_problems_are_253(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    code, _, err = run("cancel-image-creation", "--image-build-version-arn", ARN)
    assert code == 253 and "missing region" in err
    code, _, err = run(
        "cancel-image-creation",
        "--image-build-version-arn",
        ARN,
        "--region",
        "us-east-1",
        "--endpoint-url",
        "http://127.0.0.1:9",
    )
    assert code == 253 and "Unable to locate credentials" in err
    code, _, err = run(
        "cancel-image-creation", "--image-build-version-arn", ARN, "--profile", "ghost"
    )
    assert code == 253 and "ghost" in err


@pytest.mark.usefixtures("cli_env")
def test_connection_failure_is_255() -> None:
    with LoopbackServer(lambda r: Reply()) as server:
        pass
    code, _, err = run(
        "cancel-image-creation",
        "--image-build-version-arn",
        ARN,
        "--region",
        "us-east-1",
        "--endpoint-url",
        server.endpoint_url,
        "--max-attempts",
        "1",
    )
    assert code == 255 and "ConnectError" in err and "Traceback" not in err


def test_debug_logs_attempts_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sigv4_imagebuilder import Credentials

    creds = Credentials("AKIDDEBUG", SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with LocalImageBuilder(creds, region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run(
            "cancel-image-creation",
            "--image-build-version-arn",
            ARN,
            "--region",
            "us-east-1",
            "--endpoint-url",
            server.endpoint_url,
            "--debug",
        )
    assert code == 0
    assert "attempt 1/3 PUT" in err
    assert SECRET not in err + out and "Signature=" not in err


def test_ctrl_c_is_130_with_the_newline_on_stdout_as_the_aws_cli(tmp_path: Path) -> None:
    # A real process interrupted while it waits for a slow reply.
    import signal
    import threading
    import time

    env = _subprocess_env(tmp_path)
    received = threading.Event()

    def slow(request: object) -> Reply:
        received.set()
        return Reply(status=200, body=b"{}", delay=10)

    with LoopbackServer(slow) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sigv4_imagebuilder", "cancel-image-creation",
             "--image-build-version-arn", ARN, "--region", "us-east-1",
             "--endpoint-url", server.endpoint_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert received.wait(10), "the command never sent its request"
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert out == "\n" and "Traceback" not in err


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    module = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert module.returncode == 0 and module.stdout.startswith("sigv4-imagebuilder ")
    script = Path(sys.executable).parent / "sigv4-imagebuilder"
    bad = subprocess.run(
        [
            str(script),
            "cancel-image-creation",
            "--image-build-version-arn",
            "x",
            "--region",
            "us-east-1",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 252 and "Traceback" not in bad.stderr


def _subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    env["AWS_ACCESS_KEY_ID"] = DEFAULT_CREDENTIALS.access_key_id
    env["AWS_SECRET_ACCESS_KEY"] = DEFAULT_CREDENTIALS.secret_access_key
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder", *argv],
        capture_output=True, text=True, encoding="utf-8", env=env, check=False, timeout=60,
    )  # fmt: skip


def test_json_keeps_non_ascii_as_the_aws_cli_prints_it(tmp_path: Path) -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        done = _cli("cancel-image-creation", "--image-build-version-arn", ARN,
                    "--client-token", "tök-1", "--region", "us-east-1",
                    "--endpoint-url", server.endpoint_url, env=_subprocess_env(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"clientToken": "tök-1"' in done.stdout and "\\u00f6" not in done.stdout


def test_query_and_text_output_as_people_script_it(tmp_path: Path) -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        done = _cli("cancel-image-creation", "--image-build-version-arn", ARN,
                    "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                    "--query", "imageBuildVersionArn", "--output", "text",
                    env=_subprocess_env(tmp_path))  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{ARN}\n", "")


@pytest.mark.usefixtures("cli_env")
def test_global_options_may_come_before_the_command() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run("--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--output", "text", "--query", "clientToken",
                             "cancel-image-creation", "--image-build-version-arn", ARN,
                             "--client-token", "tok-9")  # fmt: skip
    assert (code, out, err) == (0, "tok-9\n", "")


@pytest.mark.usefixtures("cli_env")
def test_text_output_without_query_prints_the_aws_cli_row() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, _ = run("cancel-image-creation", "--image-build-version-arn", ARN,
                           "--client-token", "tok-2", "--region", "us-east-1",
                           "--endpoint-url", server.endpoint_url, "--output", "text")  # fmt: skip
    # Scalars in sorted key order: clientToken, imageBuildVersionArn, requestId.
    token, arn, request_id = out.rstrip("\n").split("\t")
    assert (code, token, arn) == (0, "tok-2", ARN) and request_id


@pytest.mark.parametrize(
    ("setting", "where"),
    [("env", "AWS_DEFAULT_OUTPUT"), ("profile", "profile 'default' output")],
)
def test_output_comes_from_the_environment_then_the_profile(
    setting: str, where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli_env: None
) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    if setting == "env":
        monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
        config.write_text("[default]\noutput = json\n")
    else:
        config.write_text("[default]\noutput = text\n")
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        argv = ("cancel-image-creation", "--image-build-version-arn", ARN, "--region",
                "us-east-1", "--endpoint-url", server.endpoint_url, "--query", "clientToken",
                "--client-token", "tok-3")  # fmt: skip
        assert run(*argv) == (0, "tok-3\n", "")
        # --output on the command line wins over both.
        assert run(*argv, "--output", "json") == (0, '"tok-3"\n', "")
        # A format we do not know is refused, naming where it came from, and sends nothing.
        if setting == "env":
            monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "yamlish")
        else:
            config.write_text("[default]\noutput = yamlish\n")
        server.add_image(ARN.replace("/3", "/4"))
        code, out, err = run(*argv[:2], ARN.replace("/3", "/4"), *argv[3:])
        assert code == 252 and out == "" and where in err and "yamlish" in err
        assert server.image_status(ARN.replace("/3", "/4")) == "BUILDING"


@pytest.mark.usefixtures("cli_env")
def test_a_bad_query_is_252_and_sends_nothing() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--query", "foo[?")  # fmt: skip
        assert server.image_status(ARN) == "BUILDING"
    assert code == 252 and out == "" and "Bad value for --query" in err


@pytest.mark.usefixtures("cli_env")
def test_an_unknown_output_flag_is_a_usage_error() -> None:
    code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                         "--output", "table")  # fmt: skip
    assert code == 252 and out == "" and "invalid choice: 'table'" in err
