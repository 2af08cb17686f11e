"""``ServiceError.response`` against botocore's ``ClientError.response``, for the same replies.

botocore runs here only as the reference: a real botocore client whose
``before-send`` hook hands back the scripted replies (nothing leaves the
process), and our clients driven through respx with the same replies.
"""

from __future__ import annotations

import functools
import multiprocessing
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from types import MappingProxyType
from typing import Any

import httpx
import pytest
import respx
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._errors import MODELED_ERRORS

Reply = tuple[int, dict[str, str], bytes]

FIREWALL_PAGE = b"""<!DOCTYPE html>
<html><head><title>Request Rejected</title>
<style>h1 { font: 2em sans-serif }</style></head>
<body><h1>The requested URL was rejected.</h1>
<p>Your support ID is: 1234567890</p></body></html>"""


@functools.cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()  # one loader: the model is read once


def botocore_response(replies: list[Reply], max_attempts: int) -> dict[str, Any]:
    """``ClientError.response`` from a real botocore client served ``replies`` in turn."""
    import botocore.config
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    client = _botocore_session().create_client(
        "imagebuilder",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=botocore.config.Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts}
        ),
    )
    sent: list[int] = []

    def send(request: Any, **_: Any) -> AWSResponse:
        status, headers, body = replies[min(len(sent), len(replies) - 1)]
        sent.append(status)
        return AWSResponse(request.url, status, headers, Raw(body))

    client.meta.events.register("before-send", send)
    try:
        client.cancel_image_creation(imageBuildVersionArn=ARN, clientToken="t")
    except ClientError as exc:
        assert len(sent) == min(max_attempts, len(sent))
        return exc.response  # type: ignore[return-value]
    finally:
        client.close()
    raise AssertionError("botocore did not fail")


def _side_effect(replies: list[Reply]) -> Any:
    sent: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        status, headers, body = replies[min(len(sent), len(replies) - 1)]
        sent.append(status)
        return httpx.Response(status, headers=headers, content=body)

    return reply


def our_error_sync(replies: list[Reply], max_attempts: int) -> sib.ServiceError:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(side_effect=_side_effect(replies))
        with (
            sib.ImageBuilderClient(
                region="us-east-1",
                credentials=CREDS,
                max_attempts=max_attempts,
                retry_policy=NO_SLEEP,
            ) as client,
            pytest.raises(sib.ServiceError) as info,
        ):
            client.cancel_image_creation(ARN, client_token="t")
    assert route.call_count == info.value.retry_attempts + 1
    return info.value


async def our_error_async(replies: list[Reply], max_attempts: int) -> sib.ServiceError:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(side_effect=_side_effect(replies))
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            max_attempts=max_attempts,
            retry_policy=NO_SLEEP,
        ) as client:
            with pytest.raises(sib.ServiceError) as info:
                await client.cancel_image_creation(ARN, client_token="t")
    assert route.call_count == info.value.retry_attempts + 1
    return info.value


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """The parts of an error dict that must match botocore's.

    ``HTTPHeaders`` differ by transport-added headers (``content-length``),
    and ``RequestId`` is compared on its own (botocore drops it on a generic
    5xx page; we keep it).
    """
    metadata = response["ResponseMetadata"]
    return {
        **{k: v for k, v in response.items() if k not in ("Error", "ResponseMetadata")},
        "Error": response["Error"],
        "ResponseMetadata": {
            k: metadata[k]
            for k in ("HTTPStatusCode", "RetryAttempts", "MaxAttemptsReached", "RetryQuotaReached")
            if k in metadata
        },
    }


# (id, replies, max_attempts, what differs from botocore on purpose); the sync
# and async tests share botocore's answer for a case.
CASES: list[tuple[str, list[Reply], int, dict[str, Any]]] = [
    (
        "modeled-with-message",
        [
            (
                400,
                {"x-amzn-errortype": "InvalidRequestException", "x-amzn-requestid": "rid-1"},
                b'{"message":"The image is in a terminal state."}',
            )
        ],
        3,
        {},
    ),
    (
        "unknown-code",
        [
            (
                400,
                {"x-amzn-errortype": "BrandNewException:http://x", "x-amzn-requestid": "rid-2"},
                b'{"message":"new"}',
            )
        ],
        3,
        {},
    ),
    (
        "modeled-capital-Message",
        [(400, {}, b'{"code":"ClientException","Message":"Only in Error.Message"}')],
        3,
        {},
    ),
    (
        "html-502-retried-to-exhaustion",
        [(502, {"content-type": "text/html", "x-amzn-requestid": "rid-3"}, b"<html>oops</html>")],
        3,
        {},
    ),
    ("empty-503-retried-to-exhaustion", [(503, {}, b"")], 3, {}),
    (
        "unavailable-then-modeled-400-on-the-last-attempt",
        [
            (503, {"x-amzn-errortype": "ServiceUnavailableException"}, b'{"message":"later"}'),
            (400, {"x-amzn-errortype": "ResourceInUseException"}, b'{"message":"busy"}'),
        ],
        2,
        {},
    ),
    (
        "non-retryable-with-max-attempts-1",
        [(400, {"x-amzn-errortype": "ClientException"}, b'{"message":"no"}')],
        1,
        {},
    ),
    ("plain-text-400", [(400, {}, b"Missing required header: X-Amz-Date")], 3, {}),
    # botocore's message is the whole page; ours is its title.
    (
        "html-403-firewall",
        [(403, {"content-type": "text/html"}, FIREWALL_PAGE)],
        3,
        {"Message": "Request Rejected"},
    ),
    (
        "html-403-with-a-modeled-code",
        [(403, {"x-amzn-errortype": "ForbiddenException"}, FIREWALL_PAGE)],
        3,
        {"Message": "Request Rejected", "message": "Request Rejected"},
    ),
    # botocore leaves a 4xx's empty message empty; ours is the reason phrase.
    (
        "empty-400-modeled",
        [(400, {"x-amzn-errortype": "InvalidRequestException"}, b"")],
        3,
        {"Message": "Bad Request"},
    ),
]


_THEIRS: dict[str, dict[str, Any]] = {}


def _check_against_botocore(ours: sib.ServiceError, case_id: str) -> None:
    _, replies, max_attempts, differs = next(case for case in CASES if case[0] == case_id)
    if case_id not in _THEIRS:
        _THEIRS[case_id] = botocore_response(replies, max_attempts)
    theirs = _THEIRS[case_id]
    expected = comparable(theirs)
    if "Message" in differs:
        # Ours is the tidy form of what botocore shows raw.
        assert differs["Message"] in theirs["Error"]["Message"] or not theirs["Error"]["Message"]
        expected["Error"] = {**expected["Error"], "Message": differs["Message"]}
    if "message" in differs:
        assert differs["message"] in expected["message"]
        expected["message"] = differs["message"]
    assert comparable(ours.response) == expected
    request_id = theirs["ResponseMetadata"].get("RequestId")
    if request_id is not None:
        assert ours.response["ResponseMetadata"]["RequestId"] == request_id
    headers = theirs["ResponseMetadata"]["HTTPHeaders"]
    assert {k: ours.response["ResponseMetadata"]["HTTPHeaders"][k] for k in headers} == headers


@pytest.mark.parametrize("case_id", [case[0] for case in CASES])
def test_response_matches_botocores_sync(case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # botocore's backoff
    _, replies, max_attempts, _ = next(case for case in CASES if case[0] == case_id)
    ours = our_error_sync(replies, max_attempts)
    _check_against_botocore(ours, case_id)
    text = repr(ours.response) + str(ours) + repr(ours)
    assert SECRET not in text and SESSION_TOKEN not in text


@pytest.mark.parametrize("case_id", [case[0] for case in CASES])
async def test_response_matches_botocores_async(
    case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    _, replies, max_attempts, _ = next(case for case in CASES if case[0] == case_id)
    ours = await our_error_async(replies, max_attempts)
    _check_against_botocore(ours, case_id)


def test_the_known_cases_read_as_expected() -> None:
    # The comparison above could pass with both sides wrong; pin ours.
    replies: list[Reply] = [(502, {"content-type": "text/html"}, b"<html>oops</html>")]
    err = our_error_sync(replies, 3)
    assert err.response == {
        "Error": {"Code": "502", "Message": "Bad Gateway"},
        "ResponseMetadata": {
            "RequestId": "",
            "HTTPStatusCode": 502,
            "HTTPHeaders": {"content-type": "text/html", "content-length": "17"},
            "RetryAttempts": 2,
            "MaxAttemptsReached": True,
        },
    }
    assert str(err) == (
        "An error occurred (502) when calling the CancelImageCreation operation: Bad Gateway"
    )
    err = our_error_sync([(400, {"x-amzn-errortype": "ClientException"}, b'{"message":"m"}')], 3)
    assert (
        err.response["message"] == "m"
        and "MaxAttemptsReached" not in err.response["ResponseMetadata"]
    )


def test_quota_exhaustion_says_retry_quota_reached() -> None:
    with respx.mock as mock:
        route = mock.route().mock(return_value=httpx.Response(500, content=b"boom"))
        with (
            sib.ImageBuilderClient(
                region="us-east-1",
                credentials=CREDS,
                max_attempts=5,
                retry_policy=sib.RetryPolicy(
                    base_delay=0.0, throttling_base_delay=0.0, random=lambda: 0.0, budget=10
                ),
            ) as client,
            pytest.raises(sib.ServiceError) as info,
        ):
            client.cancel_image_creation(ARN, client_token="t")
    assert route.call_count == 3  # two retries paid for, then the bucket is empty
    metadata = info.value.response["ResponseMetadata"]
    assert metadata["RetryQuotaReached"] is True and "MaxAttemptsReached" not in metadata
    assert info.value.response["Error"] == {"Code": "500", "Message": "boom"}


def _image_response() -> sib.GetImageResponse:
    metadata = sib.ResponseMetadata(request_id="r", http_status_code=200, http_headers={"a": "b"})
    image = sib.Image(
        arn=ARN,
        state=sib.ImageState(status="FAILED", reason="boom"),
        tags=MappingProxyType({"k": "v"}),
        raw=MappingProxyType({"arn": ARN, "extra": (1, MappingProxyType({"x": None}))}),
    )
    return sib.GetImageResponse(
        request_id="r", image=image, latest_version_references=None, metadata=metadata
    )


def _every_error() -> list[sib.ImageBuilderError]:
    throttled = sib.ServiceError(
        code="Weird", message="m", status_code=418, headers={"x-amzn-requestid": "r"}
    )
    throttled.retry_attempts = 2
    throttled.max_attempts_reached = True
    errors: list[sib.ImageBuilderError] = [
        sib.ImageBuilderError("root"),
        sib.ParamValidationError("image_build_version_arn", "must match a pattern", "nope"),
        sib.ConfigurationError("bad region"),
        sib.NoCredentialsError("none found"),
        sib.CredentialRetrievalError("source failed"),
        sib.ResponseParseError("not JSON", status_code=200, body=b"[", request_id="r"),
        sib.TransportError("wire"),
        sib.ConnectError("refused"),
        sib.ConnectionClosedError("closed"),
        sib.TransportTimeoutError("slow"),
        sib.WaiterError("stopped", waiter_name="ImageAvailable", last_response=None),
        sib.WaiterFailureError(
            waiter_name="ImageAvailable",
            status="FAILED",
            reason="boom",
            last_response=_image_response(),
        ),
        sib.WaiterTimeoutError(
            waiter_name="ImageCancelled",
            waited=3.0,
            attempts=2,
            last_response=_image_response(),
            last_error=sib.TransportTimeoutError("slow"),
        ),
        throttled,
    ]
    for cls in MODELED_ERRORS.values():
        errors.append(
            cls(
                code=cls.__name__,
                message="nope",
                status_code=400,
                request_id="req",
                headers={"x-amzn-errortype": cls.__name__},
                operation_name="GetImage",
                modeled_fields={"message": "nope"},
            )
        )
    return errors


def test_the_pickle_test_covers_every_exception_class() -> None:
    from sigv4_imagebuilder import _errors

    classes = {
        value
        for value in vars(_errors).values()
        if isinstance(value, type) and issubclass(value, sib.ImageBuilderError)
    }
    assert {type(error) for error in _every_error()} == classes
    assert classes <= {getattr(sib, name) for name in sib.__all__}


def _same_error(back: BaseException, error: BaseException) -> None:
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert repr(back) == repr(error)
    assert back.args == error.args
    assert set(vars(back)) == set(vars(error))
    for name, value in vars(error).items():
        if isinstance(value, BaseException):
            _same_error(vars(back)[name], value)
        else:
            assert vars(back)[name] == value, name


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: type(e).__name__)
def test_every_exception_round_trips_through_pickle(error: sib.ImageBuilderError) -> None:
    # Exception's pickling calls type(e)(*e.args), which keyword-only
    # constructors refuse: a batch's worker error once became BrokenProcessPool.
    back = pickle.loads(pickle.dumps(error))
    _same_error(back, error)
    if isinstance(error, sib.ServiceError):
        assert isinstance(back, sib.ServiceError)
        assert back.response == error.response
    if isinstance(error, sib.WaiterError):
        assert isinstance(back, sib.WaiterError)
        assert back.last_response == error.last_response


def test_a_pickled_error_carries_no_secret_or_cause() -> None:
    try:
        try:
            raise RuntimeError(SECRET)
        except RuntimeError as exc:
            raise sib.CredentialRetrievalError("the process source failed") from exc
    except sib.CredentialRetrievalError as error:
        data = pickle.dumps(error)
    assert SECRET.encode() not in data
    back = pickle.loads(data)
    assert back.__cause__ is None and str(back) == "the process source failed"


def _failing_batch_item() -> None:
    # Runs in a worker process: a real call whose error must reach the parent.
    with respx.mock(assert_all_called=False) as mock:
        mock.route().respond(
            400, headers={"x-amzn-errortype": "ClientException"}, json={"message": "nope"}
        )
        client = sib.ImageBuilderClient(
            region="us-east-1", credentials=sib.Credentials("AKID", "secret"), max_attempts=1
        )
        with client:
            client.get_image(ARN)


def test_a_process_pool_worker_error_reaches_the_parent_typed() -> None:
    # spawn, not fork: forking a threaded pytest process is unsafe (and warns).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        future = pool.submit(_failing_batch_item)
        with pytest.raises(sib.ClientException) as caught:
            future.result(timeout=60)
    assert caught.value.code == "ClientException"
    assert caught.value.message == "nope"
    assert caught.value.operation_name == "GetImage"
