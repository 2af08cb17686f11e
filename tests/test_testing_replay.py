"""replay() and the fixture format for any operation: GetImage fixtures, query matching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.parsers import RestJSONParser
from conftest import ARN, FIXTURES, PLAIN_CREDS, TOKEN
from imagebuilder_model import imagebuilder_model, needs_current_model

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    FixtureError,
    ReplayMismatch,
    load_fixture,
    load_fixtures,
    replay,
)

GET_IMAGE = FIXTURES / "get_image"
GET_IMAGE_FILES = sorted(GET_IMAGE.glob("*.json"))
ENDPOINT = "https://imagebuilder.us-east-1.amazonaws.com"


def get_image_shapes() -> Any:
    from botocore.model import ServiceModel

    model = ServiceModel(imagebuilder_model())
    return model.operation_model("GetImage")


def test_the_get_image_fixtures_cover_states_retries_and_errors() -> None:
    statuses = set()
    errors = set()
    for path in GET_IMAGE_FILES:
        fixture = load_fixture(path)
        assert fixture.request["method"] == "GET" and fixture.request["path"] == "/GetImage"
        assert set(fixture.expected_query) == {"imageBuildVersionArn"}
        last = fixture.responses[-1]
        if last.status == 200:
            statuses.add(json.loads(last.body)["image"]["state"]["status"])
        else:
            errors.add(last.headers["x-amzn-ErrorType"].split(":")[0])
    assert {"BUILDING", "CANCELLED", "AVAILABLE", "FAILED"} <= statuses
    assert {"ForbiddenException", "ClientException"} <= errors
    assert any(len(load_fixture(p).responses) > 1 for p in GET_IMAGE_FILES)


@needs_current_model
@pytest.mark.parametrize("path", GET_IMAGE_FILES, ids=lambda p: p.stem)
def test_every_get_image_fixture_parses_with_botocore(path: Path) -> None:
    """botocore, a parser nobody here wrote, reads each recorded reply as the service's."""
    operation = get_image_shapes()
    for reply in load_fixture(path).responses:
        parsed = RestJSONParser().parse(
            {
                "status_code": reply.status,
                "headers": {k.lower(): v for k, v in reply.headers.items()},
                "body": reply.body,
            },
            operation.output_shape,
        )
        if reply.status == 200:
            assert parsed["image"]["arn"].startswith("arn:aws:imagebuilder:")
            assert parsed["requestId"] == reply.headers["x-amzn-RequestId"]
            amis = parsed["image"]["outputResources"].get("amis", [])
            assert bool(amis) == (parsed["image"]["state"]["status"] == "AVAILABLE")
        else:
            assert parsed["Error"]["Code"] == reply.headers["x-amzn-ErrorType"].split(":")[0]
            assert parsed["Error"]["Message"]


@pytest.mark.parametrize("path", GET_IMAGE_FILES, ids=lambda p: p.stem)
def test_every_get_image_fixture_replays_to_a_plain_httpx_client(path: Path) -> None:
    fixture = load_fixture(path)
    arn = fixture.expected_query["imageBuildVersionArn"][0]
    invocation = {"amz-sdk-invocation-id": "one-call"}
    with replay(path) as r, httpx.Client() as http:
        for expected in fixture.responses:
            got = http.get(
                f"{ENDPOINT}/GetImage", params={"imageBuildVersionArn": arn}, headers=invocation
            )
            assert (got.status_code, got.content) == (expected.status, expected.body)
    assert len(r.calls) == len(fixture.responses)
    sent = r.calls[0][0]
    # The ARN went out percent-encoded, ':' and '/' included, and matched.
    assert b"arn%3Aaws%3Aimagebuilder" in sent.url.raw_path and b"%2F" in sent.url.raw_path


async def test_get_image_fixtures_replay_to_an_async_client() -> None:
    fixture = load_fixture(GET_IMAGE / "cancelled.json")
    arn = fixture.expected_query["imageBuildVersionArn"][0]
    with replay(GET_IMAGE / "cancelled.json"):
        async with httpx.AsyncClient() as http:
            got = await http.get(f"{ENDPOINT}/GetImage", params={"imageBuildVersionArn": arn})
    assert got.json()["image"]["state"]["status"] == "CANCELLED"


@pytest.mark.parametrize(
    ("url", "method", "message"),
    [
        (f"{ENDPOINT}/GetImage?imageBuildVersionArn={ARN}9", "GET", r"query imageBuildVersionArn is '.*/39', fixture has '.*/3'"),
        (f"{ENDPOINT}/GetImage", "GET", r"query imageBuildVersionArn is absent, fixture has"),
        (f"{ENDPOINT}/GetImage?imageBuildVersionArn={ARN}&x=1", "GET", r"query x is '1', fixture has absent"),
        (f"{ENDPOINT}/GetImage?imageBuildVersionArn={ARN}&imageBuildVersionArn={ARN}", "GET", r"query imageBuildVersionArn is \[.*\], fixture has"),
        (f"{ENDPOINT}/GetImage?imageBuildVersionArn={ARN}", "PUT", "expected GET /GetImage, got PUT /GetImage"),
        (f"{ENDPOINT}/CancelImageCreation", "GET", "expected GET /GetImage, got GET /Cancel"),
    ],
)  # fmt: skip
def test_a_different_request_does_not_match_and_says_what_differed(
    url: str, method: str, message: str
) -> None:
    with (
        pytest.raises(ReplayMismatch, match=f"building: (request )?{message}"),
        replay(GET_IMAGE / "building.json", assert_all_played=False),
        httpx.Client() as http,
    ):
        http.request(method, url)


def test_a_cancel_fixture_without_query_refuses_a_query_and_other_bodies(tmp_path: Path) -> None:
    with (
        pytest.raises(
            ReplayMismatch, match=r"query imageBuildVersionArn is .*, fixture has absent"
        ),
        replay(FIXTURES / "success.json", assert_all_played=False),
        httpx.Client() as http,
    ):
        http.put(
            f"{ENDPOINT}/CancelImageCreation",
            params={"imageBuildVersionArn": ARN},
            json={"imageBuildVersionArn": ARN, "clientToken": TOKEN},
        )
    with (
        pytest.raises(ReplayMismatch, match="request body is not JSON"),
        replay(FIXTURES / "success.json", assert_all_played=False),
        httpx.Client() as http,
    ):
        http.put(f"{ENDPOINT}/CancelImageCreation", content=b"<xml/>")
    raw = tmp_path / "raw.json"
    raw.write_text(
        json.dumps(
            {
                "request": {"method": "POST", "path": "/raw", "body": "a=b"},
                "response": {"status": 204},
            }
        )
    )
    with replay(raw), httpx.Client() as http:
        assert http.post(f"{ENDPOINT}/raw", content=b"a=b").status_code == 204
    with (
        pytest.raises(ReplayMismatch, match="body differs"),
        replay(raw, assert_all_played=False),
        httpx.Client() as http,
    ):
        http.post(f"{ENDPOINT}/raw", content=b"a=c")
    listed = tmp_path / "list.json"
    listed.write_text(
        json.dumps(
            {
                "request": {"method": "POST", "path": "/l", "json": [1, 2]},
                "response": {"status": 200},
            }
        )
    )
    with (
        pytest.raises(ReplayMismatch, match=r"body is \[1\], fixture has \[1, 2\]"),
        replay(listed, assert_all_played=False),
        httpx.Client() as http,
    ):
        http.post(f"{ENDPOINT}/l", json=[1])


def test_a_fixture_with_no_request_answers_anything(tmp_path: Path) -> None:
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"response": {"status": 200, "json": {"ok": True}}}))
    with replay(loose), httpx.Client() as http:
        assert http.get(f"{ENDPOINT}/Anything?x=1").json() == {"ok": True}


def test_the_library_client_still_replays_cancel_fixtures_through_the_generic_match() -> None:
    with (
        replay(FIXTURES / "success.json") as r,
        sib.ImageBuilderClient(region="eu-west-1", credentials=PLAIN_CREDS) as client,
    ):
        resp = client.cancel_image_creation(ARN, client_token=TOKEN)
    assert resp.request_id == "5d8f3c1e-0a4b-4c7d-9e2f-1a2b3c4d5e6f" and len(r.calls) == 1


@pytest.mark.parametrize(
    ("request_json", "message"),
    [
        ({"method": 5}, "request 'method' must be a string"),
        ({"path": None}, "request 'path' must be a string"),
        ({"body": {}}, "request 'body' must be a string"),
        ({"query": []}, "'query' must be an object of strings"),
        ({"query": {"a": 1}}, "'query' must be an object of strings"),
        ({"query": {"a": ["x", 2]}}, "'query' must be an object of strings"),
    ],
)
def test_bad_request_objects_in_fixtures(
    tmp_path: Path, request_json: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"request": request_json, "response": {"status": 200}}))
    with pytest.raises(FixtureError, match=message):
        load_fixture(path)


def test_repeated_query_parameters_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "multi.json"
    path.write_text(
        json.dumps(
            {
                "request": {"method": "GET", "path": "/m", "query": {"a": ["1", "2"], "b": ""}},
                "response": {"status": 200},
            }
        )
    )
    assert load_fixture(path).expected_query == {"a": ["1", "2"], "b": [""]}
    with replay(path), httpx.Client() as http:
        assert http.get(f"{ENDPOINT}/m?a=1&a=2&b=").status_code == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a JSON object"),
        ("{}", "needs 'response' or 'responses'"),
        ("{", "Expecting"),
        ('{"responses": []}', "non-empty list"),
        ('{"response": {"status": "x"}}', "integer 'status'"),
        ('{"response": {"status": 200, "headers": []}}', "'headers' must be an object"),
        ('{"response": {"status": 200, "body": 5}}', "'body' must be a string"),
        ('{"request": [], "response": {"status": 200}}', "'request' must be an object"),
    ],
)
def test_bad_fixture_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FixtureError, match=message):
        load_fixture(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FixtureError, match=r"no \*\.json"):
        load_fixtures(empty)
