"""The command line: AWS CLI v2 exit codes, JSON output, no tracebacks."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
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
    assert code == 255 and "Traceback" not in err
    # As the AWS CLI: the URL the request was sent to.
    url = f"{server.endpoint_url.rstrip('/')}/CancelImageCreation"
    assert err == f'\nCould not connect to the endpoint URL: "{url}"\n'


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
                         "--output", "tabular")  # fmt: skip
    assert code == 252 and out == "" and "invalid choice: 'tabular'" in err


@pytest.mark.usefixtures("cli_env")
def test_get_image_prints_the_image_as_the_service_spells_it() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN, "BUILDING")
        base = ("get-image", "--image-build-version-arn", ARN, "--region", "us-east-1",
                "--endpoint-url", server.endpoint_url)  # fmt: skip
        code, out, err = run(*base)
        assert (code, err) == (0, "")
        data = json.loads(out)
        assert set(data) == {"requestId", "image", "latestVersionReferences"}
        assert data["image"]["arn"] == ARN and data["image"]["state"]["status"] == "BUILDING"
        assert run(*base, "--query", "image.state.status", "--output", "text") == (
            0, "BUILDING\n", "")  # fmt: skip
        # A version ARN with wildcards is GetImage's own pattern, refused by cancel.
        wildcard = ARN.rsplit("/", 2)[0] + "/1.x.x"
        code, out, _ = run("get-image", "--image-build-version-arn", wildcard, *base[3:],
                           "--query", "image.arn", "--output", "text")  # fmt: skip
        assert (code, out) == (0, f"{ARN}\n")
        code, out, err = run("get-image", "--image-build-version-arn", "nope", *base[3:])
        assert code == 252 and out == "" and "must match" in err
        unknown = ARN.replace("/3", "/99")
        code, out, err = run("get-image", "--image-build-version-arn", unknown, *base[3:])
        assert code == 254 and "(ClientException) when calling the GetImage operation" in err


def test_wait_commands_exit_as_aws_wait_does(tmp_path: Path, cli_env: None) -> None:
    env = _subprocess_env(tmp_path)
    fast = ("--min-delay", "0.05", "--max-delay", "0.1")
    with LocalImageBuilder(region="us-east-1") as server:
        common = ("--region", "us-east-1", "--endpoint-url", server.endpoint_url, *fast)
        server.add_image(ARN, "CANCELLED")
        # Real processes for success and a failure state, as a script sees them.
        done = _cli("wait", "image-cancelled", "--image-build-version-arn", ARN, *common, env=env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        server.set_image_status(ARN, "AVAILABLE")
        done = _cli("wait", "image-cancelled", "--image-build-version-arn", ARN, *common, env=env)
        assert done.returncode == 255 and done.stdout == ""
        # One line naming the state on stderr.
        assert done.stderr.strip().splitlines() == [
            "Waiter ImageCancelled failed: the image is AVAILABLE"]  # fmt: skip
        assert run("wait", "image-available", "--image-build-version-arn", ARN, *common) == (
            0, "", "")  # fmt: skip
        # A timeout is 255 too, naming the last status.
        server.set_image_status(ARN, "BUILDING")
        code, out, err = run("wait", "image-available", "--image-build-version-arn", ARN,
                             *common, "--max-wait", "0.3")  # fmt: skip
        assert code == 255 and out == "" and "timed out" in err
        assert "BUILDING" in err and "Traceback" not in err
        # A non-retryable service error while waiting is 254; bad wait arguments are 252.
        unknown = ARN.replace("/3", "/99")
        code, _, err = run("wait", "image-cancelled", "--image-build-version-arn", unknown,
                           *common)  # fmt: skip
        assert code == 254 and "ClientException" in err
        sent = len(server.requests)
        code, _, err = run("wait", "image-cancelled", "--image-build-version-arn", ARN,
                           "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                           "--min-delay", "0")  # fmt: skip
        assert code == 252 and "min_delay" in err
        assert len(server.requests) == sent  # the refused wait sent nothing
        assert run("wait", "--image-build-version-arn", ARN)[0] == 252  # no waiter named


@pytest.mark.usefixtures("cli_env")
def test_cancel_and_wait_prints_json_then_status_changes() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN, "BUILDING", cancel_delay=0.3)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--wait", "--min-delay", "0.05", "--max-delay", "0.1")  # fmt: skip
        assert code == 0 and json.loads(out)["imageBuildVersionArn"] == ARN
        lines = err.splitlines()
        assert lines[0] == "BUILDING after 0 s"
        assert re.fullmatch(r"BUILDING -> CANCELLED after \d+ s", lines[-1]), lines
        # The cancel lost the race: the JSON is printed, then the wait fails with 255.
        other = ARN.replace("/3", "/5")
        server.add_image(other, "BUILDING", cancel_delay=5)
        # Flip it once the wait has polled, so the cancel itself was accepted.
        polls_before = sum(r.path == "/GetImage" for r in server.requests)

        def flip_after_first_poll() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if sum(r.path == "/GetImage" for r in server.requests) > polls_before:
                    server.set_image_status(other, "AVAILABLE")
                    return
                time.sleep(0.01)

        flipper = threading.Thread(target=flip_after_first_poll)
        flipper.start()
        try:
            code, out, err = run("cancel-image-creation", "--image-build-version-arn", other,
                                 "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                                 "--wait", "--min-delay", "0.05", "--max-delay", "0.1")  # fmt: skip
        finally:
            flipper.join()
        assert code == 255 and json.loads(out)["imageBuildVersionArn"] == other
        assert "BUILDING -> AVAILABLE after" in err and "the image is AVAILABLE" in err


@pytest.mark.parametrize(
    ("body", "extra", "env_extra", "stdout_has"),
    [
        # A lone surrogate in the reply: printed escaped, in json and in text.
        (b'{"requestId":"\\ud800","clientToken":"t"}', (), {}, "\\ud800"),
        (b'{"requestId":"\\ud800","clientToken":"t"}', ("--output", "text"), {}, "\\ud800"),
        # Non-ASCII under an ASCII-only stdout.
        (
            b'{"requestId":"r","clientToken":"t\xc3\xb6k"}',
            (),
            {"PYTHONIOENCODING": "ascii"},
            "t\\xf6k",
        ),
    ],
)
def test_output_a_terminal_cannot_encode_is_escaped_not_a_traceback(
    tmp_path: Path, body: bytes, extra: tuple[str, ...], env_extra: dict[str, str], stdout_has: str
) -> None:
    reply = Reply(status=200, headers=[("Content-Type", "application/json")], body=body)
    with LoopbackServer(lambda request: reply) as server:
        done = subprocess.run(
            [sys.executable, "-m", "sigv4_imagebuilder", "cancel-image-creation",
             "--image-build-version-arn", ARN, "--region", "us-east-1",
             "--endpoint-url", server.endpoint_url, *extra],
            capture_output=True, env=_subprocess_env(tmp_path, **env_extra), check=False,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stdout_has.encode() in done.stdout and b"Traceback" not in done.stderr


@pytest.mark.usefixtures("cli_env")
def test_a_query_failing_on_the_reply_is_255_after_the_call() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--query", "abs(requestId)")  # fmt: skip
        assert server.image_status(ARN) == "CANCELLED"  # the call itself was made
    assert code == 255 and out == "" and "--query failed on the reply" in err


@pytest.mark.usefixtures("cli_env")
def test_an_unexpected_error_is_one_line_and_255(monkeypatch: pytest.MonkeyPatch) -> None:
    import sigv4_imagebuilder._cli as cli

    def broken(*args: object) -> int:
        raise TypeError(f"internal detail {SECRET}")

    monkeypatch.setattr(cli, "_call", broken)
    # set_defaults captured the function; rebuild the parser through main().
    code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN)
    assert code == 255 and out == ""
    assert err.strip() == "sigv4-imagebuilder: unexpected TypeError; rerun with --debug"
    assert SECRET not in err
