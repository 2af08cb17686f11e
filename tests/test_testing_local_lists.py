"""LocalImageBuilder's list operations, checked with clients nobody here wrote.

botocore's client and paginator always; boto3's and the AWS CLI (v1) when they are
installed (not in the test extra: run this file with an interpreter that has them,
e.g. ``/tmp/sib-bench-venv/bin/python -m pytest tests/test_testing_local_lists.py``).
Raw signed requests check what those clients refuse to send (bounds, garbled input).
Everything talks to 127.0.0.1 with explicit credentials and endpoint.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotocoreCredentials
from botocore.exceptions import ClientError
from conftest import FIXTURES, PLAIN_CREDS
from imagebuilder_model import imagebuilder_model, needs_current_lists
from test_testing_local import boto

from sigv4_imagebuilder.testing import (
    DEFAULT_CREDENTIALS,
    NON_TERMINAL,
    TERMINAL,
    LocalImageBuilder,
)

ACCOUNT = "arn:aws:imagebuilder:us-east-1:123456789012"
PIPE = f"{ACCOUNT}:image-pipeline/web-pipeline"
OTHER_PIPE = f"{ACCOUNT}:image-pipeline/db-pipeline"
BASE = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
CLI_FIXTURE = FIXTURES / "list_image_pipeline_images" / "aws_cli_output.json"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def image_arn(name: str, version: str, build: int) -> str:
    return f"{ACCOUNT}:image/{name}/{version}/{build}"


def fill(
    server: LocalImageBuilder, count: int, *, name: str = "web", version: str = "1.0.0", **kw: Any
) -> list[str]:
    """``count`` images one minute apart; returns their ARNs newest first (the list order)."""
    arns = [image_arn(name, version, build) for build in range(1, count + 1)]
    for minute, arn in enumerate(arns):
        server.add_image(arn, created=BASE + datetime.timedelta(minutes=minute), **kw)
    return arns[::-1]


def boto3_client(server: LocalImageBuilder) -> Any:
    boto3 = pytest.importorskip("boto3")
    session = boto3.session.Session(
        aws_access_key_id=PLAIN_CREDS.access_key_id,
        aws_secret_access_key=PLAIN_CREDS.secret_access_key,
        region_name="us-east-1",
    )
    return session.client(
        "imagebuilder",
        endpoint_url=server.endpoint_url,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(autouse=True)
def _no_imds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def server() -> Iterator[LocalImageBuilder]:
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1") as s:
        yield s


@pytest.fixture(params=["botocore", "boto3"])
def sdk(request: pytest.FixtureRequest, server: LocalImageBuilder) -> Any:
    """botocore's client, and boto3's where boto3 is installed."""
    return boto(server) if request.param == "botocore" else boto3_client(server)


def signed_post(
    server: LocalImageBuilder,
    path: str,
    body: object,
    *,
    content_type: str = "application/json",
) -> httpx.Response:
    """A POST signed by botocore's SigV4Auth, with exactly this body."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = f"{server.endpoint_url}{path}"
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": content_type})
    creds = BotocoreCredentials(PLAIN_CREDS.access_key_id, PLAIN_CREDS.secret_access_key)
    SigV4Auth(creds, "imagebuilder", "us-east-1").add_auth(request)
    with httpx.Client(verify=False) as http:  # plain http: skip loading CA certificates
        return http.post(url, content=data, headers=dict(request.headers.items()))


def error_code(reply: httpx.Response) -> str:
    return reply.headers["x-amzn-errortype"].split(":")[0]


def walk(paginator: Any, page_size: int | None, **params: Any) -> tuple[list[str], list[int]]:
    config = {} if page_size is None else {"PaginationConfig": {"PageSize": page_size}}
    arns: list[str] = []
    sizes: list[int] = []
    for page in paginator.paginate(**params, **config):
        sizes.append(len(page["imageSummaryList"]))
        arns += [summary["arn"] for summary in page["imageSummaryList"]]
    return arns, sizes


@needs_current_lists
@pytest.mark.parametrize("page_size", [None, 1, 10, 56, 57, 100])
def test_paginator_walks_every_pipeline_image_once(
    server: LocalImageBuilder, sdk: Any, page_size: int | None
) -> None:
    expected = fill(server, 57, pipeline_arn=PIPE)
    fill(server, 5, name="db", pipeline_arn=OTHER_PIPE)  # another pipeline's: not listed
    fill(server, 3, name="loose")  # no pipeline
    paginator = sdk.get_paginator("list_image_pipeline_images")
    arns, sizes = walk(paginator, page_size, imagePipelineArn=PIPE)
    assert arns == expected  # newest first, none twice, none skipped
    size = page_size or 25  # the service's default page
    assert sizes == [min(size, 57 - i * size) for i in range(math.ceil(57 / size))]


def test_one_page_by_hand_and_its_token(server: LocalImageBuilder, sdk: Any) -> None:
    expected = fill(server, 57, pipeline_arn=PIPE)
    first = sdk.list_image_pipeline_images(imagePipelineArn=PIPE)
    assert [s["arn"] for s in first["imageSummaryList"]] == expected[:25]
    assert first["requestId"] == first["ResponseMetadata"]["RequestId"]
    again = sdk.list_image_pipeline_images(imagePipelineArn=PIPE, nextToken=first["nextToken"])
    assert [s["arn"] for s in again["imageSummaryList"]] == expected[25:50]
    last = sdk.list_image_pipeline_images(
        imagePipelineArn=PIPE, nextToken=again["nextToken"], maxResults=100
    )
    assert [s["arn"] for s in last["imageSummaryList"]] == expected[50:]
    assert "nextToken" not in last
    # A token is self-contained: used twice, it gives the same page twice.
    replay = sdk.list_image_pipeline_images(imagePipelineArn=PIPE, nextToken=first["nextToken"])
    assert replay["imageSummaryList"] == again["imageSummaryList"]


@needs_current_lists
@pytest.mark.parametrize("page_size", [None, 7, 100])
def test_paginator_walks_every_build_version_once(
    server: LocalImageBuilder, sdk: Any, page_size: int | None
) -> None:
    expected = fill(server, 57, version="1.0.0", pipeline_arn=PIPE)
    newer = fill(server, 4, version="1.0.1")
    others = fill(server, 2, name="web-extra", version="1.0.0")
    paginator = sdk.get_paginator("list_image_build_versions")
    arns, _ = walk(paginator, page_size, imageVersionArn=f"{ACCOUNT}:image/web/1.0.0")
    assert arns == expected
    arns, _ = walk(paginator, page_size, imageVersionArn=f"{ACCOUNT}:image/web/1.0.1")
    assert arns == newer
    # Optional in the model: without it, every build version held.
    arns, _ = walk(paginator, page_size)
    assert sorted(arns) == sorted(expected + newer + others)
    # An unknown version lists nothing (the model: no ResourceNotFoundException here).
    reply = sdk.list_image_build_versions(imageVersionArn=f"{ACCOUNT}:image/web/9.9.9")
    assert reply["imageSummaryList"] == [] and "nextToken" not in reply


@pytest.mark.parametrize("content_type", ["application/json", "application/x-amz-json-1.1"])
def test_max_results_default_and_bounds(server: LocalImageBuilder, content_type: str) -> None:
    fill(server, 120, pipeline_arn=PIPE)
    path = "/ListImagePipelineImages"

    def post(body: object) -> httpx.Response:
        return signed_post(server, path, body, content_type=content_type)

    assert len(post({"imagePipelineArn": PIPE}).json()["imageSummaryList"]) == 25
    for size in (1, 100):
        reply = post({"imagePipelineArn": PIPE, "maxResults": size})
        assert reply.status_code == 200 and len(reply.json()["imageSummaryList"]) == size
    for bad in (0, 101, -1, "10", 10.5, True):
        reply = post({"imagePipelineArn": PIPE, "maxResults": bad})
        assert (reply.status_code, error_code(reply)) == (400, "InvalidRequestException"), bad
        assert "maxResults" in reply.json()["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ListImagePipelineImages", {}),
        ("/ListImagePipelineImages", {"imagePipelineArn": f"{ACCOUNT}:image/web/1.0.0"}),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE.replace("web", "Web")}),
        ("/ListImagePipelineImages", {"imagePipelineArn": 7}),
        ("/ListImageBuildVersions", {"imageVersionArn": f"{ACCOUNT}:image/web/1.x.x"}),
        ("/ListImageBuildVersions", {"imageVersionArn": f"{ACCOUNT}:image/web/1.0.0/1"}),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE, "nextToken": ""}),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE, "nextToken": "x" * 65_536}),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE, "filters": []}),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE, "filters": {"name": ["a"]}}),
        (
            "/ListImagePipelineImages",
            {"imagePipelineArn": PIPE, "filters": [{"name": "name", "values": ["a"]}] * 11},
        ),
        ("/ListImagePipelineImages", {"imagePipelineArn": PIPE, "filters": [{"name": "name"}]}),
        (
            "/ListImagePipelineImages",
            {"imagePipelineArn": PIPE, "filters": [{"name": "name", "values": []}]},
        ),
        (
            "/ListImagePipelineImages",
            {"imagePipelineArn": PIPE, "filters": [{"name": "name", "values": ["a"] * 11}]},
        ),
        (
            "/ListImagePipelineImages",
            {"imagePipelineArn": PIPE, "filters": [{"name": "name", "values": ["a;b"]}]},
        ),
        (
            "/ListImagePipelineImages",
            {"imagePipelineArn": PIPE, "filters": [{"name": "na-me", "values": ["a"]}]},
        ),
        ("/ListImagePipelineImages", b"{not json"),
        ("/ListImagePipelineImages", b"[]"),
    ],
)
def test_bad_input_is_invalid_request(server: LocalImageBuilder, path: str, body: object) -> None:
    reply = signed_post(server, path, body)
    assert (reply.status_code, error_code(reply)) == (400, "InvalidRequestException"), reply.text
    assert reply.json()["message"]


@needs_current_lists
@pytest.mark.parametrize(
    ("operation", "params", "bad_name"),
    [
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE}, "platform"),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE}, "Name"),  # case-sensitive
        ("list_image_build_versions", {}, "owner"),
    ],
)
def test_an_undocumented_filter_name_is_refused(
    server: LocalImageBuilder, sdk: Any, operation: str, params: dict[str, str], bad_name: str
) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(sdk, operation)(**params, filters=[{"name": bad_name, "values": ["x"]}])
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert bad_name in caught.value.response["Error"]["Message"]


def tamper(token: str) -> str:
    data, _, mac = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    payload["after"][1] = image_arn("web", "1.0.0", 99)
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"{forged}.{mac}"


def test_forged_foreign_and_misused_tokens_are_refused(server: LocalImageBuilder) -> None:
    fill(server, 30, pipeline_arn=PIPE)
    fill(server, 30, name="db", pipeline_arn=OTHER_PIPE)
    client = boto(server)
    token = client.list_image_pipeline_images(imagePipelineArn=PIPE, maxResults=5)["nextToken"]
    name_filter = [{"name": "name", "values": ["web"]}]
    filtered = client.list_image_pipeline_images(
        imagePipelineArn=PIPE, maxResults=5, filters=name_filter
    )["nextToken"]
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1") as other_server:
        fill(other_server, 30, pipeline_arn=PIPE)  # the same images, another secret
        foreign = boto(other_server).list_image_pipeline_images(
            imagePipelineArn=PIPE, maxResults=5
        )["nextToken"]
    assert foreign != token
    version_arn = f"{ACCOUNT}:image/web/1.0.0"
    refused = [
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": "forged"}),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": token[:-3]}),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": tamper(token)}),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": "a.b.c%%"}),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": foreign}),
        ("list_image_pipeline_images", {"imagePipelineArn": OTHER_PIPE, "nextToken": token}),
        ("list_image_pipeline_images", {"imagePipelineArn": PIPE, "nextToken": filtered}),
        (
            "list_image_pipeline_images",
            {"imagePipelineArn": PIPE, "nextToken": token, "filters": name_filter},
        ),
        ("list_image_build_versions", {"imageVersionArn": version_arn, "nextToken": token}),
    ]
    for operation, params in refused:
        with pytest.raises(ClientError) as caught:
            getattr(client, operation)(**params)
        error = caught.value.response
        assert error["Error"]["Code"] == "InvalidPaginationTokenException", params
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The genuine token still works, with its own pipeline and filters.
    reply = client.list_image_pipeline_images(
        imagePipelineArn=PIPE, maxResults=5, filters=name_filter, nextToken=filtered
    )
    assert len(reply["imageSummaryList"]) == 5


def test_unknown_pipeline_lists_nothing_or_is_not_found() -> None:
    # The model documents an empty list for an unknown pipeline; "not_found"
    # serves the ResourceNotFoundException it also lists.
    unknown = f"{ACCOUNT}:image-pipeline/nobody"
    declared = f"{ACCOUNT}:image-pipeline/declared-empty"
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1") as server:
        reply = boto(server).list_image_pipeline_images(imagePipelineArn=unknown)
        assert reply["imageSummaryList"] == [] and "nextToken" not in reply
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1", unknown_pipeline="not_found") as server:
        fill(server, 2, pipeline_arn=PIPE)  # declares PIPE
        server.add_pipeline(declared)
        client = boto(server)
        with pytest.raises(ClientError) as caught:
            client.list_image_pipeline_images(imagePipelineArn=unknown)
        error = caught.value.response
        assert error["Error"]["Code"] == "ResourceNotFoundException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert unknown in error["Error"]["Message"]
        assert (
            client.list_image_pipeline_images(imagePipelineArn=declared)["imageSummaryList"] == []
        )
        assert (
            len(client.list_image_pipeline_images(imagePipelineArn=PIPE)["imageSummaryList"]) == 2
        )


def test_kit_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown_pipeline"):
        LocalImageBuilder(unknown_pipeline="404")
    server = LocalImageBuilder()
    with pytest.raises(ValueError, match="image pipeline ARN"):
        server.add_pipeline(f"{ACCOUNT}:image/web/1.0.0")
    with pytest.raises(ValueError, match="image pipeline ARN"):
        server.add_image(image_arn("web", "1.0.0", 1), pipeline_arn="web-pipeline")
    with pytest.raises(ValueError, match="timezone-aware"):
        server.add_image(image_arn("web", "1.0.0", 1), created=datetime.datetime(2024, 1, 1))


def names_listed(
    client: Any, operation: str, filters: dict[str, list[str]], **kw: Any
) -> list[str]:
    wire = [{"name": name, "values": values} for name, values in filters.items()]
    pages = client.get_paginator(operation).paginate(filters=wire, **kw)
    return sorted(f"{s['name']} {s['version']}" for page in pages for s in page["imageSummaryList"])


@needs_current_lists
def test_filters_and_across_names_or_across_values(server: LocalImageBuilder) -> None:
    for name in ("web", "webapp", "my-web", "db"):
        for version in ("1.0.0", "2.0.0"):
            server.add_image(image_arn(name, version, 1), pipeline_arn=PIPE)
    client = boto(server)

    def listed(filters: dict[str, list[str]]) -> list[str]:
        return names_listed(client, "list_image_pipeline_images", filters, imagePipelineArn=PIPE)

    assert listed({"name": ["web"]}) == ["web 1.0.0/1", "web 2.0.0/1"]
    assert listed({"name": ["web", "db"], "version": ["2.0.0"]}) == ["db 2.0.0/1", "web 2.0.0/1"]
    assert listed({"version": ["1.0.0/1"]}) == [
        f"{n} 1.0.0/1" for n in ("db", "my-web", "web", "webapp")
    ]
    # The model's wildcards, in the name filter only: "web*" begins, "*web*" contains.
    assert listed({"name": ["web*"], "version": ["1.0.0"]}) == ["web 1.0.0/1", "webapp 1.0.0/1"]
    assert listed({"name": ["*web*"], "version": ["1.0.0"]}) == [
        "my-web 1.0.0/1", "web 1.0.0/1", "webapp 1.0.0/1",
    ]  # fmt: skip
    assert listed({"name": ["*web"]}) == []  # a wildcard elsewhere is a literal
    assert listed({"version": ["1.*"]}) == []
    assert listed({"name": ["WEB"]}) == []  # values are case-sensitive


@needs_current_lists
def test_build_version_filters(server: LocalImageBuilder) -> None:
    fill(server, 3)
    client = boto(server)
    version_arn = f"{ACCOUNT}:image/web/1.0.0"
    for filters, count in [
        ({"platform": ["Linux"]}, 3),
        ({"platform": ["Windows"]}, 0),
        ({"type": ["AMI", "DOCKER"], "osVersion": ["Amazon Linux 2023"]}, 3),
        ({"type": ["DOCKER"]}, 0),
        ({"name": ["web"], "version": ["1.0.0/2"]}, 1),
    ]:
        listed = names_listed(
            client, "list_image_build_versions", filters, imageVersionArn=version_arn
        )
        assert len(listed) == count, filters


@needs_current_lists
def test_a_listing_shows_each_image_as_get_image_does(server: LocalImageBuilder) -> None:
    statuses = sorted(NON_TERMINAL | TERMINAL)
    for build, status in enumerate(statuses, start=1):
        server.add_image(
            image_arn("web", "1.0.0", build), status, pipeline_arn=PIPE, tags={"team": "web"},
            created=BASE + datetime.timedelta(seconds=build),
        )  # fmt: skip
    client = boto(server)
    pages = client.get_paginator("list_image_pipeline_images").paginate(imagePipelineArn=PIPE)
    summaries = [s for page in pages for s in page["imageSummaryList"]]
    assert [s["state"]["status"] for s in summaries] == statuses[::-1]
    members = imagebuilder_model()["shapes"]["ImageSummary"]["members"]
    for summary in summaries:
        assert set(summary) <= set(members)
        assert summary["owner"] == "123456789012"
        image = client.get_image(imageBuildVersionArn=summary["arn"])["image"]
        shared = set(summary) - {"owner"}
        assert shared >= {"arn", "name", "type", "version", "platform", "osVersion", "state"}
        assert {k: summary[k] for k in shared} == {k: image[k] for k in shared}


@needs_current_lists
def test_images_cancelled_through_the_stand_in_show_cancelled_later() -> None:
    clock = FakeClock()
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1", clock=clock) as server:
        running = fill(server, 4, pipeline_arn=PIPE, cancel_delay=30)
        finished = image_arn("web", "2.0.0", 1)
        server.add_image(finished, "AVAILABLE", pipeline_arn=PIPE, created=BASE)
        client = boto(server)

        def statuses() -> dict[str, str]:
            pages = client.get_paginator("list_image_pipeline_images").paginate(
                imagePipelineArn=PIPE, PaginationConfig={"PageSize": 2}
            )
            return {s["arn"]: s["state"]["status"] for p in pages for s in p["imageSummaryList"]}

        for arn in running[:3]:
            client.cancel_image_creation(imageBuildVersionArn=arn)
        # Accepted, not landed: the listing still shows them running.
        assert set(statuses().values()) == {"BUILDING", "AVAILABLE"}
        clock.now += 30
        assert statuses() == {
            **dict.fromkeys(running[:3], "CANCELLED"), running[3]: "BUILDING", finished: "AVAILABLE"
        }  # fmt: skip


@needs_current_lists
def test_a_thousand_images_list_quickly(server: LocalImageBuilder) -> None:
    expected = fill(server, 1000, pipeline_arn=PIPE, status="AVAILABLE")
    client = boto(server)
    paginator = client.get_paginator("list_image_pipeline_images")
    started = time.perf_counter()
    arns, sizes = walk(paginator, 100, imagePipelineArn=PIPE)
    elapsed = time.perf_counter() - started
    assert arns == expected and sizes == [100] * 10
    assert elapsed < 5, f"10 pages of 100 took {elapsed:.2f} s"


def aws_cli() -> str:
    """The AWS CLI (v1) next to this interpreter, or on PATH; skip without one."""
    beside = Path(sys.executable).parent / "aws"
    found = str(beside) if beside.exists() else shutil.which("aws")
    if found is None:
        pytest.skip("the AWS CLI is not installed next to this Python or on PATH")
    return found


def run_aws_cli(server: LocalImageBuilder, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=DEFAULT_CREDENTIALS.access_key_id,
        AWS_SECRET_ACCESS_KEY=DEFAULT_CREDENTIALS.secret_access_key,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [
        aws_cli(), "imagebuilder", "list-image-pipeline-images",
        "--endpoint-url", server.endpoint_url, "--region", "us-east-1", "--output", "json",
        *args,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_aws_cli_merges_every_page() -> None:
    with LocalImageBuilder(DEFAULT_CREDENTIALS, region="us-east-1") as server:
        expected = fill(server, 57, pipeline_arn=PIPE)
        out = json.loads(run_aws_cli(server, "--image-pipeline-arn", PIPE, "--page-size", "10"))
        assert [s["arn"] for s in out["imageSummaryList"]] == expected
        assert "NextToken" not in out
        listing = [r for r in server.requests if r.path == "/ListImagePipelineImages"]
        assert len(listing) == 6  # ceil(57 / 10) pages
        out = json.loads(run_aws_cli(server, "--image-pipeline-arn", PIPE, "--max-items", "12"))
        assert [s["arn"] for s in out["imageSummaryList"]] == expected[:12]
        assert out["NextToken"]


def fixture_server() -> LocalImageBuilder:
    """Three fixed images and fixed requestIds: the CLI fixture's two pages (2 + 1)."""
    counter = itertools.count(1)
    server = LocalImageBuilder(
        DEFAULT_CREDENTIALS,
        region="us-east-1",
        request_ids=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    for build, status, tags in [
        (1, "AVAILABLE", {"team": "web"}),
        (2, "CANCELLED", None),
        (3, "BUILDING", None),
    ]:
        server.add_image(
            image_arn("web", "1.0.0", build), status, tags=tags, pipeline_arn=PIPE,
            created=BASE + datetime.timedelta(hours=build),
        )  # fmt: skip
    return server


def test_aws_cli_output_for_two_pages_matches_the_fixture() -> None:
    """Regenerate with SIB_UPDATE_FIXTURES=1 (needs the AWS CLI)."""
    with fixture_server() as server:
        out = run_aws_cli(server, "--image-pipeline-arn", PIPE, "--page-size", "2")
        assert len([r for r in server.requests if r.path == "/ListImagePipelineImages"]) == 2
    parsed = json.loads(out)
    assert [s["version"] for s in parsed["imageSummaryList"]] == ["1.0.0/3", "1.0.0/2", "1.0.0/1"]
    if os.environ.get("SIB_UPDATE_FIXTURES") == "1":
        CLI_FIXTURE.parent.mkdir(exist_ok=True)
        CLI_FIXTURE.write_text(out)
    assert out == CLI_FIXTURE.read_text()
