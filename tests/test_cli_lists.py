"""The list commands (paged as the AWS CLI pages) and cancel-pipeline-builds, on the command line.

The AWS CLI (v1) is the reference where it is installed next to this Python or on
PATH: the same stand-in answers both, and stdout must match byte for byte.
Everything talks to 127.0.0.1 with explicit credentials and endpoint.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.paginate import TokenDecoder, TokenEncoder
from test_testing_local_lists import (
    ACCOUNT,
    CLI_FIXTURE,
    PIPE,
    aws_cli,
    fill,
    fixture_server,
    image_arn,
)

from sigv4_imagebuilder._cli import main
from sigv4_imagebuilder._cli_pages import (
    PaginationArgumentError,
    decode_token,
    encode_token,
)
from sigv4_imagebuilder._cli_shorthand import FiltersError, parse_filters
from sigv4_imagebuilder.testing import (
    DEFAULT_CREDENTIALS,
    LocalImageBuilder,
    LoopbackServer,
    ReceivedRequest,
    Reply,
)

ENV = {
    "AWS_ACCESS_KEY_ID": DEFAULT_CREDENTIALS.access_key_id,
    "AWS_SECRET_ACCESS_KEY": DEFAULT_CREDENTIALS.secret_access_key,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
LIST = "list-image-pipeline-images"


class Terminal(io.StringIO):
    """A stderr that says it is a terminal: forces the live display in-process."""

    def isatty(self) -> bool:
        return True


def run(
    endpoint: str, *argv: str, err: io.StringIO | None = None, cmd: str = LIST
) -> tuple[int, str, str]:
    """Run the command in-process; a ``list-image-pipeline-images`` gets ``--image-pipeline-arn``."""
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    args = [cmd, *argv, "--endpoint-url", endpoint, "--region", "us-east-1"]
    if cmd == LIST and "--image-pipeline-arn" not in argv:
        args[1:1] = ["--image-pipeline-arn", PIPE]
    code = main(args, stdout=out, stderr=err, env=ENV)
    return code, out.getvalue(), err.getvalue()


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **ENV}


def listing_requests(server: LocalImageBuilder) -> list[ReceivedRequest]:
    return [r for r in server.requests if r.path == "/ListImagePipelineImages"]


# -- paging, as the AWS CLI pages ------------------------------------------------------


def test_two_pages_print_exactly_what_the_aws_cli_printed() -> None:
    with fixture_server() as server:
        code, out, err = run(server.endpoint_url, "--page-size", "2", "--output", "json")
        assert len(listing_requests(server)) == 2
    assert (code, err) == (0, "")
    assert out == CLI_FIXTURE.read_text()


@pytest.fixture
def big() -> Iterator[tuple[LocalImageBuilder, list[str]]]:
    """25 images on one pipeline, and a constant requestId so two clients' output can match."""
    with LocalImageBuilder(
        DEFAULT_CREDENTIALS, region="us-east-1", request_ids=lambda: "req-1"
    ) as s:
        yield s, fill(s, 25, pipeline_arn=PIPE)


def aws(server: LocalImageBuilder, *args: str) -> str:
    command = [
        aws_cli(), "imagebuilder", LIST, "--image-pipeline-arn", PIPE,
        "--endpoint-url", server.endpoint_url, "--region", "us-east-1", *args,
    ]  # fmt: skip
    done = subprocess.run(
        command, env=child_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--page-size", "7"],
        ["--page-size", "7", "--max-items", "10"],  # stops mid-page
        ["--page-size", "7", "--max-items", "14"],  # stops on a page boundary
        ["--page-size", "7", "--max-items", "25"],  # the last item: no NextToken
        ["--max-items", "3", "--query", "{n: length(imageSummaryList), t: NextToken}"],
        ["--page-size", "7", "--max-items", "10", "--output", "text"],
        ["--page-size", "7", "--output", "text", "--query", "imageSummaryList[].version"],
        ["--filters", "name=version,values=1.0.0/3,1.0.0/4", "--page-size", "1"],
        ["--filters", '[{"name": "name", "values": ["nope"]}]'],
    ],
)
def test_side_by_side_with_the_aws_cli(
    big: tuple[LocalImageBuilder, list[str]], args: list[str]
) -> None:
    server, _ = big
    expected = aws(server, "--output", "json", *args)
    code, out, err = run(server.endpoint_url, "--output", "json", *args)
    assert (code, err) == (0, "")
    assert out == expected


def test_starting_tokens_pass_between_the_aws_cli_and_us(
    big: tuple[LocalImageBuilder, list[str]],
) -> None:
    server, arns = big
    theirs = json.loads(aws(server, "--page-size", "7", "--max-items", "10"))["NextToken"]
    code, out, _ = run(server.endpoint_url, "--page-size", "7", "--max-items", "10")
    ours = json.loads(out)["NextToken"]
    assert code == 0 and ours == theirs
    resumed = ["--starting-token", ours, "--page-size", "7", "--max-items", "9"]
    expected = aws(server, *resumed)
    assert run(server.endpoint_url, *resumed)[1] == expected
    assert [s["arn"] for s in json.loads(expected)["imageSummaryList"]] == arns[10:19]


@pytest.mark.parametrize(("page_size", "max_items"), [(2, 3), (4, 4), (5, 3), (100, 7)])
def test_resuming_with_each_next_token_lists_everything_once(
    big: tuple[LocalImageBuilder, list[str]], page_size: int, max_items: int
) -> None:
    server, arns = big
    seen: list[str] = []
    token: list[str] = []
    for _ in range(30):
        code, out, err = run(
            server.endpoint_url, "--page-size", str(page_size), "--max-items", str(max_items),
            *(["--starting-token", token[0]] if token else []),
        )  # fmt: skip
        assert (code, err) == (0, "")
        data = json.loads(out)
        seen += [s["arn"] for s in data["imageSummaryList"]]
        assert len(data["imageSummaryList"]) <= max_items
        if "NextToken" not in data:
            break
        token[:] = [data["NextToken"]]
    assert seen == arns


def test_next_token_is_botocores_encoding() -> None:
    for token, printed in [("abc", None), (None, 3), ("x" * 500, 0), ("é/+=", 2)]:
        ours = encode_token(token, printed)
        data: dict[str, Any] = {"nextToken": token}
        if printed is not None:
            data["boto_truncate_amount"] = printed
        assert ours == TokenEncoder().encode(data)
        assert TokenDecoder().decode(ours) == data
        assert decode_token(ours) == (token, printed or 0)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("service-token", ("service-token", 0)),  # not botocore's: the service's own
        ("service-token___4", ("service-token", 4)),  # botocore's older form
        ("None___2", (None, 2)),
        ("tok___x", ("tok___x", 0)),
    ],
)
def test_other_starting_tokens_are_read_as_botocore_reads_them(
    given: str, expected: tuple[str | None, int]
) -> None:
    assert decode_token(given) == expected


@pytest.mark.parametrize(
    "data",
    [
        {"nextToken": "a", "other": 1},
        {"nextToken": 5},
        {"nextToken": "a", "boto_truncate_amount": -1},
        {"nextToken": "a", "boto_truncate_amount": "2"},
    ],
)
def test_a_bad_starting_token_is_252_and_sends_nothing(data: dict[str, Any]) -> None:
    token = base64.b64encode(json.dumps(data).encode()).decode()
    with pytest.raises(PaginationArgumentError):
        decode_token(token)
    with LocalImageBuilder(region="us-east-1") as server:
        code, out, err = run(server.endpoint_url, "--starting-token", token)
        assert server.requests == []
    assert (code, out) == (252, "") and "Bad starting token" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--max-items", "0"],
        ["--max-items", "-3"],
        ["--max-items", "x"],
        ["--page-size", "0"],
        ["--page-size", "101"],
        ["--no-paginate", "--max-items", "2"],
        ["--max-results", "2", "--starting-token", "abc"],
        ["--filters", "name=name,values=web", "name=name,values=db"],
        ["--filters", "name=nme,values=web"],
        ["--filters", "name=version,values=[1.0.0"],
        ["--filters", "name"],
        ["--filters", "nam=name,values=web"],
        ["--filters", "name=name,values=web,color=red"],
        ["--filters", '[{"name": "name", "values": "web"'],
        ["--filters", '[{"name": "name", "values": ["web"]}]', "name=version"],
    ],
)
def test_bad_paging_flags_and_filters_are_252_and_send_nothing(args: list[str]) -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        code, out, err = run(server.endpoint_url, *args)
        assert server.requests == []
    assert (code, out) == (252, "")
    assert "Traceback" not in err and err.strip()


def test_shorthand_and_json_filters_send_the_same_request() -> None:
    bodies = []
    for filters in (
        ["name=name,values=web*,db", "name=version,values=1.0.0"],
        ['[{"name": "name", "values": ["web*", "db"]}, {"name": "version", "values": ["1.0.0"]}]'],
        ['{"name": "name", "values": ["web*", "db"]}', '{"name": "version", "values": "1.0.0"}'],
        ["name=name,values=[web*,db]", "values='1.0.0',name=version"],
    ):
        with LocalImageBuilder(region="us-east-1") as server:
            assert run(server.endpoint_url, "--filters", *filters)[0] == 0
            bodies.append(json.loads(listing_requests(server)[0].body)["filters"])
    assert bodies == [bodies[0]] * 4
    assert bodies[0] == [
        {"name": "name", "values": ["web*", "db"]},
        {"name": "version", "values": ["1.0.0"]},
    ]


def test_shorthand_quotes_and_escapes() -> None:
    assert parse_filters(["name=name,values=\"a,b\",'c d'", "name=version,values=x\\,y"]) == {
        "name": ["a,b", "c d"],
        "version": ["x,y"],
    }
    with pytest.raises(FiltersError, match="Second instance of key 'name'"):
        parse_filters(["name=a,name=b"])


def test_no_paginate_makes_one_call_and_prints_its_reply(
    big: tuple[LocalImageBuilder, list[str]],
) -> None:
    server, arns = big
    code, out, _ = run(server.endpoint_url, "--no-paginate", "--output", "json")
    page = json.loads(out)
    assert code == 0 and len(listing_requests(server)) == 1
    assert list(page) == ["requestId", "imageSummaryList"]  # 25 fit the default page
    code, out, _ = run(server.endpoint_url, "--max-results", "10")  # a paging member: one call
    page = json.loads(out)
    assert code == 0 and len(listing_requests(server)) == 2
    assert [s["arn"] for s in page["imageSummaryList"]] == arns[:10] and page["nextToken"]
    code, out, _ = run(server.endpoint_url, "--next-token", page["nextToken"])
    assert [s["arn"] for s in json.loads(out)["imageSummaryList"]] == arns[10:]
    assert out == aws(server, "--next-token", page["nextToken"], "--output", "json")


def test_list_image_build_versions() -> None:
    version = f"{ACCOUNT}:image/web/1.0.0"
    with LocalImageBuilder(region="us-east-1") as server:
        for build in (1, 2, 3):
            server.add_image(image_arn("web", "1.0.0", build), "AVAILABLE")
        server.add_image(image_arn("web", "2.0.0", 1), "AVAILABLE")
        code, out, err = run(
            server.endpoint_url, "--image-version-arn", version, "--page-size", "2",
            "--query", "imageSummaryList[].arn", "--output", "text",
            cmd="list-image-build-versions",
        )  # fmt: skip
    assert (code, err) == (0, "")
    assert sorted(out.split()) == [image_arn("web", "1.0.0", b) for b in (1, 2, 3)]


def test_a_server_that_repeats_its_token_ends_the_listing_with_an_error() -> None:
    calls: list[object] = []

    def handler(request: ReceivedRequest) -> Reply:
        calls.append(json.loads(request.body).get("nextToken"))
        page = {"requestId": "r", "imageSummaryList": [{"arn": image_arn("w", "1.0.0", 1)}],
                "nextToken": "same"}  # fmt: skip
        return Reply(headers=[("Content-Type", "application/json")], body=json.dumps(page).encode())

    with LoopbackServer(handler) as server:
        code, out, err = run(server.endpoint_url)
    assert calls == [None, "same"]
    assert code == 255 and out == ""
    assert "nextToken already used in this listing" in err and "Traceback" not in err


def test_help_shows_the_aws_cli_paging_flags_not_the_paging_members(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main([LIST, "--help"])
    text = capsys.readouterr().out
    for flag in ("--image-pipeline-arn", "--filters", "--max-items", "--starting-token",
                 "--page-size", "--no-paginate"):  # fmt: skip
        assert flag in text
    assert "--max-results" not in text and "--next-token" not in text


# -- cancel-pipeline-builds ----------------------------------------------------------------


def thousand(server: LocalImageBuilder) -> tuple[list[str], dict[str, str]]:
    """1,000 images on one pipeline, 300 of them running: the running ARNs and the rest's statuses."""
    finished = ("AVAILABLE", "FAILED", "CANCELLED", "DEPRECATED")
    running, rest = [], {}
    for i in range(1000):
        arn = image_arn("web", "1.0.0", i + 1)
        status = ("BUILDING", "TESTING", "PENDING")[i % 3] if i < 300 else finished[i % 4]
        server.add_image(arn, status, pipeline_arn=PIPE)
        if i < 300:
            running.append(arn)
        else:
            rest[arn] = status
    return running, rest


def check_thousand(
    server: LocalImageBuilder, running: list[str], rest: dict[str, str], out: str
) -> None:
    document = json.loads(out)
    assert (document["cancelled"], document["alreadyFinished"], document["failed"]) == (300, 0, 0)
    assert sorted(o["imageBuildVersionArn"] for o in document["outcomes"]) == sorted(running)
    assert {o["status"] for o in document["outcomes"]} == {"CANCELLED"}
    assert all(server.image_status(arn) == "CANCELLED" for arn in running)
    assert all(server.image_status(arn) == status for arn, status in rest.items())
    cancels = [json.loads(r.body)["imageBuildVersionArn"] for r in server.requests
               if r.path == "/CancelImageCreation"]  # fmt: skip
    assert sorted(cancels) == sorted(running)


def test_cancel_pipeline_builds_of_a_thousand_images_in_process() -> None:
    with LocalImageBuilder(region="us-east-1", max_requests=5000) as server:
        running, rest = thousand(server)
        code, out, err = run(
            server.endpoint_url, "--image-pipeline-arn", PIPE, "--wait",
            "--max-concurrency", "16", cmd="cancel-pipeline-builds",
        )  # fmt: skip
        assert code == 0, err
        check_thousand(server, running, rest, out)
    lines = err.splitlines()
    assert lines[0] == "300 image(s) not finished; cancelling"
    assert lines[-1].startswith("cancelled 300, already finished 0, failed 0, pending 0 after")
    # One line per change: each image's status change, then its outcome.
    assert sum("-> CANCELLED [pending]" in line for line in lines) == 300
    assert sum(line.endswith(" s") and "CANCELLED [cancelled]" in line for line in lines) == 300


def test_cancel_pipeline_builds_of_a_thousand_images_as_a_child_process() -> None:
    with LocalImageBuilder(region="us-east-1", max_requests=5000) as server:
        running, rest = thousand(server)
        done = subprocess.run(
            [sys.executable, "-m", "sigv4_imagebuilder", "cancel-pipeline-builds",
             "--image-pipeline-arn", PIPE, "--wait", "--endpoint-url", server.endpoint_url,
             "--region", "us-east-1"],
            env=child_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        check_thousand(server, running, rest, done.stdout)
    assert "\x1b[" not in done.stderr  # not a terminal: plain lines


def reply(status: int, data: dict[str, Any], error: str | None = None, delay: float = 0) -> Reply:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", "r-1")]
    if error is not None:
        headers.append(("x-amzn-ErrorType", error))
    return Reply(status=status, headers=headers, body=json.dumps(data).encode(), delay=delay)


def accepted(arn: str, delay: float = 0) -> Reply:
    return reply(200, {"requestId": "r-1", "imageBuildVersionArn": arn}, delay=delay)


def scripted(images: dict[str, str], cancel: Callable[[str], Reply]) -> Callable[..., Reply]:
    """A server with these images (ARN: status); ``cancel`` answers each CancelImageCreation."""

    def handler(request: ReceivedRequest) -> Reply:
        if request.path == "/ListImagePipelineImages":
            summaries = [{"arn": a, "state": {"status": s}} for a, s in images.items()]
            return reply(200, {"requestId": "r-1", "imageSummaryList": summaries})
        if request.path == "/GetImage":
            arn = urllib.parse.parse_qs(request.query)["imageBuildVersionArn"][0]
            image = {"arn": arn, "state": {"status": images[arn]}}
            return reply(200, {"requestId": "r-1", "image": image})
        return cancel(json.loads(request.body)["imageBuildVersionArn"])

    return handler


def test_failures_exit_254_and_name_the_error_already_finished_is_not_one() -> None:
    ok, denied, raced, done = (image_arn("web", "1.0.0", b) for b in (1, 2, 3, 4))
    images = {ok: "BUILDING", denied: "BUILDING", raced: "AVAILABLE", done: "AVAILABLE"}
    listed = dict(images, **{raced: "TESTING"})  # finished between the listing and the cancel

    def cancel(arn: str) -> Reply:
        if arn == ok:
            return accepted(arn)
        if arn == denied:
            return reply(403, {"message": "not yours"}, "ForbiddenException")
        return reply(400, {"message": "finished"}, "ResourceInUseException")

    handler = scripted(images, cancel)
    lister = scripted(listed, cancel)

    def route(request: ReceivedRequest) -> Reply:
        return (lister if request.path == "/ListImagePipelineImages" else handler)(request)

    with LoopbackServer(route) as server:
        code, out, err = run(
            server.endpoint_url, "--image-pipeline-arn", PIPE, cmd="cancel-pipeline-builds"
        )
    assert code == 254, err
    document = json.loads(out)
    by_arn = {o["imageBuildVersionArn"]: o for o in document["outcomes"]}
    assert set(by_arn) == {ok, denied, raced}  # the finished one is not tried
    assert by_arn[ok] == {"imageBuildVersionArn": ok, "outcome": "cancelled",
                          "status": "BUILDING", "error": None}  # fmt: skip
    assert by_arn[raced]["outcome"] == "already_finished" and by_arn[raced]["error"] is None
    assert by_arn[denied]["outcome"] == "failed"
    assert by_arn[denied]["error"].startswith("ForbiddenException: ")
    assert "not yours" in by_arn[denied]["error"]
    assert (document["cancelled"], document["alreadyFinished"], document["failed"]) == (1, 1, 1)
    assert f"{denied} BUILDING [failed] (ForbiddenException: " in err


def test_query_and_text_output_apply_to_the_result() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(image_arn("web", "1.0.0", 1), "BUILDING", pipeline_arn=PIPE)
        code, out, _ = run(
            server.endpoint_url, "--image-pipeline-arn", PIPE, "--query", "[cancelled, failed]",
            "--output", "text", cmd="cancel-pipeline-builds",
        )  # fmt: skip
    assert (code, out) == (0, "1\t0\n")


def test_a_bad_pipeline_arn_or_concurrency_is_252_and_sends_nothing() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        for args in (["--image-pipeline-arn", "arn:nope"],
                     ["--image-pipeline-arn", PIPE, "--max-concurrency", "0"]):  # fmt: skip
            code, out, err = run(server.endpoint_url, *args, cmd="cancel-pipeline-builds")
            assert (code, out) == (252, "") and "Parameter validation failed" in err
        assert server.requests == []


def test_on_a_terminal_the_progress_is_drawn_live() -> None:
    pytest.importorskip("rich")
    terminal = Terminal()
    with LocalImageBuilder(region="us-east-1") as server:
        for build in (1, 2, 3):
            server.add_image(image_arn("web", "1.0.0", build), "BUILDING", pipeline_arn=PIPE)
        code, out, err = run(
            server.endpoint_url, "--image-pipeline-arn", PIPE, "--wait",
            err=terminal, cmd="cancel-pipeline-builds",
        )  # fmt: skip
    assert code == 0 and json.loads(out)["cancelled"] == 3
    assert "\x1b[?25l" in err  # rich hides the cursor while it redraws in place
    assert "cancelled 3, already finished 0, failed 0, pending 0" in err
    assert "web/1.0.0/2" in err and "CANCELLED" in err
    assert "not finished; cancelling" not in err  # the plain lines are not printed too


def test_on_a_terminal_without_rich_the_progress_is_plain_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("rich", "rich.console", "rich.live"):
        monkeypatch.setitem(sys.modules, name, None)
    terminal = Terminal()
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(image_arn("web", "1.0.0", 1), "BUILDING", pipeline_arn=PIPE)
        code, out, err = run(
            server.endpoint_url, "--image-pipeline-arn", PIPE, err=terminal,
            cmd="cancel-pipeline-builds",
        )  # fmt: skip
    assert code == 0 and json.loads(out)["cancelled"] == 1
    assert err.splitlines()[0] == "1 image(s) not finished; cancelling"
    assert "\x1b[" not in err


def test_on_a_pseudo_terminal_the_child_draws_live_and_stdout_stays_json() -> None:
    pytest.importorskip("rich")
    with LocalImageBuilder(region="us-east-1") as server:
        for build in (1, 2):
            server.add_image(image_arn("web", "1.0.0", build), "BUILDING", pipeline_arn=PIPE)
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sigv4_imagebuilder", "cancel-pipeline-builds",
             "--image-pipeline-arn", PIPE, "--endpoint-url", server.endpoint_url,
             "--region", "us-east-1"],
            env={**child_env(), "TERM": "xterm", "COLUMNS": "120", "LINES": "30"},
            stdout=subprocess.PIPE, stderr=follower, text=True,
        )  # fmt: skip
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = proc.communicate(timeout=60)
        os.close(leader)
    assert proc.returncode == 0
    assert json.loads(out)["cancelled"] == 2
    text = drawn.decode("utf-8", "replace")
    assert "\x1b[" in text and "cancelled 2, already finished 0, failed 0" in text


def test_the_command_and_the_package_do_not_import_rich_off_a_terminal() -> None:
    with LocalImageBuilder(region="us-east-1") as server:
        server.add_image(image_arn("web", "1.0.0", 1), "BUILDING", pipeline_arn=PIPE)
        script = (
            "import io, sys, sigv4_imagebuilder\n"
            "assert 'rich' not in sys.modules\n"
            "from sigv4_imagebuilder._cli import main\n"
            "code = main(['cancel-pipeline-builds', '--image-pipeline-arn', sys.argv[1],\n"
            "             '--endpoint-url', sys.argv[2], '--region', 'us-east-1'],\n"
            "            stdout=io.StringIO(), stderr=io.StringIO())\n"
            "print(code, 'rich' in sys.modules)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, PIPE, server.endpoint_url],
            env=child_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "0 False\n"), done.stderr


def test_ctrl_c_exits_130_and_the_last_line_names_the_cancels_sent() -> None:
    arns = [image_arn("web", "1.0.0", b) for b in range(1, 7)]
    images = dict.fromkeys(arns, "BUILDING")
    sent: list[str] = []
    slow = threading.Event()

    def cancel(arn: str) -> Reply:
        sent.append(arn)
        if len(sent) == 2:  # the second cancel takes a while: Ctrl-C comes meanwhile
            slow.set()
            return accepted(arn, delay=1.0)
        return accepted(arn)

    with LoopbackServer(scripted(images, cancel)) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sigv4_imagebuilder", "cancel-pipeline-builds",
             "--image-pipeline-arn", PIPE, "--max-concurrency", "1",
             "--endpoint-url", server.endpoint_url, "--region", "us-east-1"],
            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert slow.wait(30), "the second cancel never arrived"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == "\n" and "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("Interrupted: cancels sent and accepted for 2 image(s)")
    assert last.endswith("failed 0; not sent 4")
    assert sent == arns[:2]
    assert all(arn in last for arn in sent) and not any(arn in last for arn in arns[2:])
