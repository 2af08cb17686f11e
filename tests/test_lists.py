"""The list operations, the paginator and cancel_pipeline_builds, on both clients (respx replay)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
import respx
from conftest import NO_SLEEP, PLAIN_CREDS

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._operations import LIST_IMAGE_PIPELINE_IMAGES
from sigv4_imagebuilder._protocol import parse_success, serialize_request, validate_input

ENDPOINT = "https://imagebuilder.us-east-1.amazonaws.com"
PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/web-pipeline"
VERSION = "arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0"
LIST_URL = f"{ENDPOINT}/ListImagePipelineImages"
modes = pytest.mark.parametrize("mode", ["sync", "async"])


def arn(n: int) -> str:
    return f"arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/{n}"


def summary(n: int, status: str) -> dict[str, Any]:
    return {
        "arn": arn(n),
        "name": "web",
        "type": "AMI",
        "version": f"1.0.0/{n}",
        "platform": "Linux",
        "osVersion": "Amazon Linux 2023",
        "state": {"status": status},
        "owner": "123456789012",
        "dateCreated": "2026-12-01T10:00:00.000Z",
        "buildType": "SCHEDULED",
        "imageSource": "CUSTOM",
        "deprecationTime": 1.8e9,
        "tags": {"team": "web"},
        "futureField": [1, {"x": None}],
    }


def page(items: Sequence[dict[str, Any]], token: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"requestId": "r", "imageSummaryList": list(items)}
    if token is not None:
        body["nextToken"] = token
    return httpx.Response(200, json=body, headers={"x-amzn-RequestId": "r"})


def client_kwargs(**extra: Any) -> dict[str, Any]:
    return {"region": "us-east-1", "credentials": PLAIN_CREDS, "retry_policy": NO_SLEEP, **extra}


def run(mode: str, call: Callable[[Any], Any], **extra: Any) -> Any:
    """``call(client)`` on a sync or an async client; async results awaited, iterators drained."""
    if mode == "sync":
        with sib.ImageBuilderClient(**client_kwargs(**extra)) as client:
            result = call(client)
            return list(result) if hasattr(result, "__next__") else result

    async def go() -> Any:
        async with sib.AsyncImageBuilderClient(**client_kwargs(**extra)) as client:
            result = call(client)
            if hasattr(result, "__anext__"):
                return [item async for item in result]
            return await result

    return asyncio.run(go())


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


# --- serialization and validation (nothing sent on bad input) ---


def test_filters_go_on_the_wire_as_the_models_list_and_max_results_as_a_number() -> None:
    values = validate_input(
        LIST_IMAGE_PIPELINE_IMAGES,
        {
            "image_pipeline_arn": PIPELINE,
            "filters": {"name": ["web", "api"], "version": ["1.0.0"]},
            "max_results": 25,
        },
    )
    request = serialize_request(LIST_IMAGE_PIPELINE_IMAGES, ENDPOINT, values)
    assert (request.method, request.url) == ("POST", LIST_URL)
    assert json.loads(request.body) == {
        "imagePipelineArn": PIPELINE,
        "filters": [
            {"name": "name", "values": ["web", "api"]},
            {"name": "version", "values": ["1.0.0"]},
        ],
        "maxResults": 25,
    }
    assert request.body.startswith(b'{"imagePipelineArn"')  # member order, compact


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (
            {"image_pipeline_arn": "arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/1"},
            "image_pipeline_arn",
        ),
        ({"image_pipeline_arn": PIPELINE, "max_results": 0}, "max_results"),
        ({"image_pipeline_arn": PIPELINE, "max_results": 101}, "max_results"),
        ({"image_pipeline_arn": PIPELINE, "max_results": True}, "max_results"),
        ({"image_pipeline_arn": PIPELINE, "max_results": "10"}, "max_results"),
        ({"image_pipeline_arn": PIPELINE, "next_token": ""}, "next_token"),
        ({"image_pipeline_arn": PIPELINE, "next_token": "x" * 65536}, "next_token"),
        ({"image_pipeline_arn": PIPELINE, "filters": [("name", ["web"])]}, "filters"),
        ({"image_pipeline_arn": PIPELINE, "filters": {}}, "filters"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"platform": ["Linux"]}}, "filters"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"na me": ["web"]}}, "filters"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"name": "web"}}, "filters['name']"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"name": []}}, "filters['name']"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"name": [""]}}, "filters['name']"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"name": ["w"] * 11}}, "filters['name']"),
        ({"image_pipeline_arn": PIPELINE, "filters": {"name": [7]}}, "filters['name']"),
        (
            {"image_pipeline_arn": PIPELINE, "filters": {f"n{'a' * i}": ["x"] for i in range(11)}},
            "filters",
        ),
    ],
)
@modes
def test_bad_list_arguments_raise_before_anything_is_sent(
    mode: str, params: dict[str, Any], param: str
) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.post(LIST_URL).mock(return_value=page([]))
        with pytest.raises(sib.ParamValidationError) as info:
            run(mode, lambda c: c.list_image_pipeline_images(**params))
        assert info.value.param == param
        # The paginators check at the call, not at the first page.
        paginate_params = {
            k: v for k, v in params.items() if k not in ("max_results", "next_token")
        }
        if paginate_params != {"image_pipeline_arn": PIPELINE}:
            with pytest.raises(sib.ParamValidationError):
                run(mode, lambda c: c.paginate_image_pipeline_images(**paginate_params))
        assert not route.called


@modes
def test_a_bad_page_size_or_pipeline_refuses_the_paginator_and_the_bulk_cancel(mode: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.post(LIST_URL).mock(return_value=page([]))
        for call in (
            lambda c: c.paginate_image_pipeline_images(PIPELINE, page_size=101),
            lambda c: c.paginate_image_build_versions(VERSION + "/1"),
            lambda c: c.cancel_pipeline_builds("not-an-arn"),
            lambda c: c.cancel_pipeline_builds(PIPELINE, max_concurrency=0),
        ):
            with pytest.raises(sib.ParamValidationError):
                run(mode, call)
        assert not route.called


# --- parsing ---


def test_a_summary_parses_to_typed_fields_and_keeps_the_rest_raw() -> None:
    body = json.dumps(
        {"requestId": "r", "imageSummaryList": [summary(3, "BUILDING")], "nextToken": "t"}
    )
    result = parse_success(
        LIST_IMAGE_PIPELINE_IMAGES, HttpResponse(status_code=200, headers={}, body=body.encode())
    )
    assert isinstance(result, sib.ListImagePipelineImagesResponse)
    (item,) = result.image_summary_list
    assert (item.arn, item.status, item.os_version, item.deprecation_time) == (
        arn(3),
        "BUILDING",
        "Amazon Linux 2023",
        1.8e9,
    )
    assert item.tags == {"team": "web"} and item.raw["futureField"] == (1, {"x": None})
    assert result.next_token == "t"
    with pytest.raises(TypeError):
        item.raw["arn"] = "changed"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"imageSummaryList": {"arn": "x"}}, "imageSummaryList"),
        ({"imageSummaryList": ["x"]}, "imageSummaryList[0]"),
        ({"imageSummaryList": [{"arn": 7}]}, "imageSummaryList[0].arn"),
        ({"imageSummaryList": [{"state": "BUILDING"}]}, "imageSummaryList[0].state"),
        (
            {"imageSummaryList": [{"deprecationTime": "soon"}]},
            "imageSummaryList[0].deprecationTime",
        ),
        ({"imageSummaryList": [], "nextToken": 5}, "nextToken"),
    ],
)
def test_a_wrongly_typed_field_is_a_parse_error_naming_it(body: dict[str, Any], field: str) -> None:
    with pytest.raises(sib.ResponseParseError) as info:
        parse_success(
            LIST_IMAGE_PIPELINE_IMAGES,
            HttpResponse(status_code=200, headers={}, body=json.dumps(body).encode()),
        )
    assert field in str(info.value)


# --- the paginator ---


@modes
def test_the_paginator_follows_every_token_and_stops_at_the_last_page(mode: str) -> None:
    with respx.mock as router:
        route = router.post(LIST_URL).mock(
            side_effect=[
                page([summary(1, "BUILDING"), summary(2, "AVAILABLE")], "t1"),
                httpx.Response(503, headers={"x-amzn-ErrorType": "ServiceUnavailableException"}),
                page([summary(3, "FAILED")], "t2"),
                page([], ""),  # an empty token ends it too
            ]
        )
        items = run(
            mode,
            lambda c: c.paginate_image_pipeline_images(
                PIPELINE, filters={"name": ["web"]}, page_size=2
            ),
        )
    assert [s.arn for s in items] == [arn(1), arn(2), arn(3)]
    bodies = sent(route)
    assert [b.get("nextToken") for b in bodies] == [None, "t1", "t1", "t2"]  # the 503 retried
    assert all(b["maxResults"] == 2 and b["filters"][0]["values"] == ["web"] for b in bodies)


@modes
@pytest.mark.parametrize("tokens", [["t1", "t1"], ["t1", "t2", "t1"]], ids=["same", "cycle"])
def test_a_server_handing_back_an_old_token_ends_in_an_error_not_a_loop(
    mode: str, tokens: list[str]
) -> None:
    with respx.mock as router:
        router.post(LIST_URL).mock(
            side_effect=[page([summary(i, "BUILDING")], t) for i, t in enumerate(tokens)]
        )
        with pytest.raises(sib.ImageBuilderError, match="already handed out"):
            run(mode, lambda c: c.paginate_image_pipeline_images(PIPELINE))


@modes
def test_list_build_versions_pages_and_the_errors_are_typed(mode: str) -> None:
    url = f"{ENDPOINT}/ListImageBuildVersions"
    with respx.mock as router:
        route = router.post(url).mock(
            side_effect=[
                page([summary(1, "AVAILABLE")], "n"),
                httpx.Response(
                    400,
                    json={"message": "bad token"},
                    headers={"x-amzn-ErrorType": "InvalidPaginationTokenException"},
                ),
            ]
        )
        first = run(mode, lambda c: c.list_image_build_versions(VERSION, max_results=1))
        assert isinstance(first, sib.ListImageBuildVersionsResponse) and first.next_token == "n"
        with pytest.raises(sib.InvalidPaginationTokenException) as info:
            run(mode, lambda c: c.list_image_build_versions(VERSION, next_token="forged"))
    assert info.value.operation_name == "ListImageBuildVersions"
    assert sent(route)[0] == {"imageVersionArn": VERSION, "maxResults": 1}


@modes
def test_an_unknown_pipeline_is_resource_not_found(mode: str) -> None:
    with respx.mock as router:
        router.post(LIST_URL).mock(
            return_value=httpx.Response(
                404,
                json={"message": "no"},
                headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        )
        with pytest.raises(sib.ResourceNotFoundException):
            run(mode, lambda c: c.list_image_pipeline_images(PIPELINE))
        with pytest.raises(sib.ResourceNotFoundException):
            run(mode, lambda c: c.cancel_pipeline_builds(PIPELINE))


# --- cancel_pipeline_builds ---


def _cancel_handler(
    refuse: dict[str, tuple[int, str]], cancelled: list[str]
) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        target = json.loads(request.content)["imageBuildVersionArn"]
        cancelled.append(target)
        if target in refuse:
            status, code = refuse[target]
            return httpx.Response(
                status, json={"message": "no"}, headers={"x-amzn-ErrorType": code}
            )
        token = json.loads(request.content)["clientToken"]
        return httpx.Response(
            200, json={"requestId": "r", "clientToken": token, "imageBuildVersionArn": target}
        )

    return handle


def _get_image(statuses: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        target = request.url.params["imageBuildVersionArn"]
        return httpx.Response(
            200,
            json={
                "requestId": "r",
                "image": {"arn": target, "state": {"status": statuses[target]}},
            },
        )

    return handle


@modes
def test_cancel_pipeline_builds_cancels_the_running_skips_the_finished_and_sorts_out_the_rest(
    mode: str,
) -> None:
    listing = [
        summary(1, "BUILDING"),
        summary(2, "AVAILABLE"),  # finished: never tried
        summary(3, "PENDING"),  # finished in between: the cancel is refused, GetImage says so
        summary(4, "TESTING"),  # the cancel is forbidden: failed, and the others go on
        summary(5, "DISTRIBUTING"),  # refused, and GetImage still says running: failed
    ]
    cancelled: list[str] = []
    progress: list[tuple[sib.BuildCancelOutcome, ...]] = []
    with respx.mock as router:
        router.post(LIST_URL).mock(side_effect=[page(listing[:3], "t"), page(listing[3:])])
        router.put(f"{ENDPOINT}/CancelImageCreation").mock(
            side_effect=_cancel_handler(
                {
                    arn(3): (400, "ResourceInUseException"),
                    arn(4): (403, "ForbiddenException"),
                    arn(5): (400, "InvalidRequestException"),
                },
                cancelled,
            )
        )
        router.get(f"{ENDPOINT}/GetImage").mock(
            side_effect=_get_image({arn(3): "AVAILABLE", arn(5): "DISTRIBUTING"})
        )
        outcomes = run(
            mode,
            lambda c: c.cancel_pipeline_builds(
                PIPELINE, max_concurrency=2, on_progress=progress.append
            ),
        )
    by_arn = {o.image_build_version_arn: o for o in outcomes}
    assert [o.image_build_version_arn for o in outcomes] == [arn(1), arn(3), arn(4), arn(5)]
    assert sorted(cancelled) == [arn(1), arn(3), arn(4), arn(5)]
    assert (by_arn[arn(1)].outcome, by_arn[arn(1)].error) == ("cancelled", None)
    assert (by_arn[arn(3)].outcome, by_arn[arn(3)].status) == ("already_finished", "AVAILABLE")
    assert by_arn[arn(4)].outcome == "failed" and isinstance(
        by_arn[arn(4)].error, sib.ForbiddenException
    )
    assert by_arn[arn(5)].outcome == "failed" and isinstance(
        by_arn[arn(5)].error, sib.InvalidRequestException
    )
    assert progress[0] and {o.outcome for o in progress[0]} == {"pending"}
    assert progress[-1] == tuple(outcomes)


@modes
def test_cancel_pipeline_builds_with_wait_polls_each_image_to_cancelled(mode: str) -> None:
    polls: dict[str, int] = {}

    def get_image(request: httpx.Request) -> httpx.Response:
        target = request.url.params["imageBuildVersionArn"]
        polls[target] = polls.get(target, 0) + 1
        status = "CANCELLED" if polls[target] >= 2 or target == arn(1) else "BUILDING"
        if target == arn(2):
            status = "FAILED"  # it failed instead: the cancel did not take
        return httpx.Response(
            200, json={"requestId": "r", "image": {"arn": target, "state": {"status": status}}}
        )

    with respx.mock as router:
        router.post(LIST_URL).mock(return_value=page([summary(n, "BUILDING") for n in (1, 2, 3)]))
        router.put(f"{ENDPOINT}/CancelImageCreation").mock(side_effect=_cancel_handler({}, []))
        router.get(f"{ENDPOINT}/GetImage").mock(side_effect=get_image)
        # The waiter's first delay is 5 s: run it with the sleep patched out.
        import sigv4_imagebuilder._waiters as waiters

        original = waiters.IMAGE_CANCELLED
        try:
            import attrs

            waiters.IMAGE_CANCELLED = attrs.evolve(original, min_delay=0.01, max_delay=0.01)
            import sigv4_imagebuilder._pipelines as pipelines

            pipelines.IMAGE_CANCELLED = waiters.IMAGE_CANCELLED
            outcomes = run(mode, lambda c: c.cancel_pipeline_builds(PIPELINE, wait=True))
        finally:
            waiters.IMAGE_CANCELLED = original
            pipelines.IMAGE_CANCELLED = original
    assert [(o.outcome, o.status) for o in outcomes] == [
        ("cancelled", "CANCELLED"),
        ("failed", "FAILED"),
        ("cancelled", "CANCELLED"),
    ]
    assert isinstance(outcomes[1].error, sib.WaiterFailureError)
    assert polls[arn(3)] == 2


@modes
def test_an_image_listed_twice_is_cancelled_once(mode: str) -> None:
    cancelled: list[str] = []
    with respx.mock as router:
        router.post(LIST_URL).mock(
            side_effect=[page([summary(1, "BUILDING")], "t"), page([summary(1, "BUILDING")])]
        )
        router.put(f"{ENDPOINT}/CancelImageCreation").mock(
            side_effect=_cancel_handler({}, cancelled)
        )
        outcomes = run(mode, lambda c: c.cancel_pipeline_builds(PIPELINE))
    assert cancelled == [arn(1)] and len(outcomes) == 1


@modes
def test_a_server_handing_out_fresh_pages_forever_is_stopped(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigv4_imagebuilder import _pipelines

    monkeypatch.setattr(_pipelines, "MAX_PAGES", 5)
    counter = iter(range(1000))
    with respx.mock as router:
        route = router.post(LIST_URL).mock(
            side_effect=lambda request: page([], f"t{next(counter)}")
        )
        with pytest.raises(sib.ImageBuilderError, match="past 5"):
            run(mode, lambda c: c.paginate_image_pipeline_images(PIPELINE))
    assert route.call_count == 6
