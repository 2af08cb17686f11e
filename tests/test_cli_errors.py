"""The command where things go wrong, side by side with the AWS CLI's words.

Every request goes to 127.0.0.1; the unresolvable region's host is never
looked up (``socket.getaddrinfo`` is replaced for that one name).
"""

from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ARN
from test_cli import run

from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder, LoopbackServer, Reply


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_OUTPUT", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEFAULT_CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DEFAULT_CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def _closed_port_url() -> str:
    with LoopbackServer(lambda r: Reply()) as server:
        pass
    return server.endpoint_url.rstrip("/")


def test_a_refused_connection_names_the_url_and_the_retries_made() -> None:
    url = _closed_port_url()
    code, out, err = run("get-image", "--image-build-version-arn", ARN, "--region", "us-east-1",
                         "--endpoint-url", url, "--max-attempts", "2")  # fmt: skip
    quoted = ARN.replace(":", "%3A").replace("/", "%2F")
    assert (code, out) == (255, "")
    assert err == (
        f'\nCould not connect to the endpoint URL: "{url}/GetImage?imageBuildVersionArn={quoted}"'
        " (reached max retries: 1)\n"
    )


def test_a_host_that_does_not_resolve_is_named_with_its_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = "imagebuilder.mars-north-9.amazonaws.com"
    looked_up: list[str] = []
    guarded = socket.getaddrinfo

    def resolver(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name == host:  # answered here, as a resolver would: nothing is sent
            looked_up.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return guarded(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                         "--region", "mars-north-9", "--max-attempts", "1")  # fmt: skip
    assert looked_up == [host]
    assert (code, out) == (255, "")
    assert err == (
        f'\nCould not connect to the endpoint URL: "https://{host}/CancelImageCreation"\n'
        f"The host name {host} did not resolve (Name or service not known): check the region "
        "and the endpoint URL.\n"
    )


def test_cli_read_timeout_ends_a_silent_server_and_names_it() -> None:
    def silent(request: object) -> Reply:
        return Reply(status=200, body=b"{}", delay=10.0)  # the server is not waited for

    with LoopbackServer(silent) as server:
        url = server.endpoint_url.rstrip("/")
        start = time.monotonic()
        code, out, err = run("get-image", "--image-build-version-arn", ARN, "--region",
                             "us-east-1", "--endpoint-url", url, "--max-attempts", "1",
                             "--cli-read-timeout", "0.5")  # fmt: skip
        took = time.monotonic() - start
    assert (code, out) == (255, "")
    assert 0.4 < took < 5.0, took  # the 0.5 s read timeout, not the 10 s reply
    assert err.startswith(f'\nRead timeout on endpoint URL: "{url}/GetImage?')


def test_cli_timeouts_map_to_the_clients_and_zero_is_none() -> None:
    import argparse

    from sigv4_imagebuilder._cli_context import timeout
    from sigv4_imagebuilder._options import DEFAULT_TIMEOUT, check_timeout

    def args(connect: float | None, read: float | None) -> argparse.Namespace:
        return argparse.Namespace(cli_connect_timeout=connect, cli_read_timeout=read)

    assert timeout(args(None, None)) is None
    both = timeout(args(0, 7))
    assert both is not None and (both.connect, both.read) == (None, 7)
    assert (both.write, both.pool) == (DEFAULT_TIMEOUT.write, DEFAULT_TIMEOUT.pool)
    assert check_timeout(both) is both  # the library accepts it
    only_connect = timeout(args(2, None))
    assert only_connect is not None and (only_connect.connect, only_connect.read) == (
        2, DEFAULT_TIMEOUT.read)  # fmt: skip


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_timeout_is_252_and_sends_nothing(value: str) -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--cli-connect-timeout", value)  # fmt: skip
        assert server.requests == []
    assert code == 252 and out == "" and "--cli-connect-timeout" in err


def test_retries_that_ran_out_say_so_as_the_aws_cli() -> None:
    throttled = Reply(
        status=400,
        headers=[("Content-Type", "application/json"), ("x-amzn-ErrorType", "ThrottlingException")],
        body=b'{"message": "Rate exceeded"}',
    )
    with LoopbackServer(lambda r: throttled) as server:
        base = ("get-image", "--image-build-version-arn", ARN, "--region", "us-east-1",
                "--endpoint-url", server.endpoint_url)  # fmt: skip
        code, _, err = run(*base, "--max-attempts", "2")
        assert code == 254
        assert err == (
            "\nAn error occurred (ThrottlingException) when calling the GetImage operation "
            "(reached max retries: 1): Rate exceeded\n"
        )
        # One attempt, no retry: the plain message.
        code, _, err = run(*base, "--max-attempts", "1")
    assert code == 254 and "max retries" not in err and err.endswith("operation: Rate exceeded\n")


def test_cancel_and_wait_on_a_cancelled_image_succeeds() -> None:
    from sigv4_imagebuilder import ImageBuilderClient, InvalidRequestException

    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN, "CANCELLED")
        common = ("--region", "us-east-1", "--endpoint-url", server.endpoint_url)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             *common, "--wait")  # fmt: skip
        assert code == 0 and json.loads(out)["image"]["state"]["status"] == "CANCELLED"
        code, out, _ = run("cancel-image-creation", "--image-build-version-arn", ARN, *common,
                           "--wait", "--query", "image.state.status", "--output", "text")  # fmt: skip
        assert (code, out) == (0, "CANCELLED\n")
        assert err == (
            "CANCELLED already; the service refused the cancel: The image is in a terminal "
            "state (CANCELLED) and cannot be cancelled.\n"
        )
        # Without --wait the refusal stands, as in the AWS CLI.
        code, _, err = run("cancel-image-creation", "--image-build-version-arn", ARN, *common)
        assert code == 254 and "InvalidRequestException" in err
        # AVAILABLE and FAILED still fail with --wait.
        for status in ("AVAILABLE", "FAILED"):
            server.set_image_status(ARN, status)
            code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                                 *common, "--wait")  # fmt: skip
            assert (code, out) == (254, "") and f"terminal state ({status})" in err
        # The Python method keeps raising the service's error.
        server.set_image_status(ARN, "CANCELLED")
        client = ImageBuilderClient(region="us-east-1", endpoint_url=server.endpoint_url,
                                    credentials=DEFAULT_CREDENTIALS)  # fmt: skip
        with client, pytest.raises(InvalidRequestException):
            client.cancel_image_creation(ARN)


def test_elapsed_seconds_are_rounded_not_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import sigv4_imagebuilder._cli_progress as progress
    from sigv4_imagebuilder import WaiterTimeoutError

    assert "after 3 s" in str(
        WaiterTimeoutError(waiter_name="ImageAvailable", waited=2.9, attempts=2, last_response=None)
    )
    now = [100.0]
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    err = io.StringIO()
    lines = progress.StatusLines(err)
    from sigv4_imagebuilder import ImageBuilderClient

    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN, "BUILDING")
        with ImageBuilderClient(region="us-east-1", endpoint_url=server.endpoint_url,
                                credentials=DEFAULT_CREDENTIALS) as client:  # fmt: skip
            response = client.get_image(ARN)
    now[0] = 102.9
    lines(response)
    assert err.getvalue() == "BUILDING after 3 s\n"


def test_table_and_yaml_from_a_profile_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\noutput = table\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        argv = ("get-image", "--image-build-version-arn", ARN, "--region", "us-east-1",
                "--endpoint-url", server.endpoint_url, "--query", "image.state")  # fmt: skip
        code, out, err = run(*argv)
        assert (code, err) == (0, "")
        assert out == (
            "------------------------\n"
            "|       GetImage       |\n"
            "+---------+------------+\n"
            "|  status |  BUILDING  |\n"
            "+---------+------------+\n"
        )
        pytest.importorskip("ruamel.yaml")
        monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "yaml")
        assert run(*argv) == (0, "status: BUILDING\n", "")
        monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "yaml-stream")
        assert run(*argv) == (0, "- status: BUILDING\n", "")


def test_yaml_without_the_extra_is_one_line_and_252(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ruamel", None)
    monkeypatch.setitem(sys.modules, "ruamel.yaml", None)
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(ARN)
        code, out, err = run("cancel-image-creation", "--image-build-version-arn", ARN,
                             "--region", "us-east-1", "--endpoint-url", server.endpoint_url,
                             "--output", "yaml")  # fmt: skip
        assert server.image_status(ARN) == "BUILDING"  # nothing was sent
    assert (code, out) == (252, "")
    assert err.strip().splitlines() == [
        '--output yaml and yaml-stream need ruamel.yaml: pip install "sigv4-imagebuilder[yaml]"'
    ]


def test_list_commands_print_tables_and_yaml_streams_page_by_page() -> None:
    pytest.importorskip("ruamel.yaml")
    pipeline = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/p"
    with LocalImageBuilder(region="us-east-1") as server:
        for n in (1, 2, 3):
            server.add_image(ARN.replace("/3", f"/{n}"), pipeline_arn=pipeline)
        base = ("list-image-pipeline-images", "--image-pipeline-arn", pipeline, "--region",
                "us-east-1", "--endpoint-url", server.endpoint_url, "--page-size", "2")  # fmt: skip
        code, out, _ = run(*base, "--output", "yaml-stream", "--query", "imageSummaryList[].arn")
        assert code == 0
        # Two pages, each an item of the one top-level list.
        assert out.count("\n- - ") == 1 and out.startswith("- - ")
        code, out, _ = run(*base, "--output", "table")
        assert code == 0 and out.splitlines()[1].strip("| ") == "ListImagePipelineImages"
        assert out.count("imageSummaryList") == 3  # one section per image, as aws
