"""Property tests: any reply gives a result or an ImageBuilderError, never a crash."""

from __future__ import annotations

import contextlib

import httpx
from conftest import ARN, NO_SLEEP, PLAIN_CREDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._operations import OPERATIONS, Operation
from sigv4_imagebuilder._protocol import parse_response

header_names = st.sampled_from(
    ["x-amzn-errortype", "x-amzn-requestid", "content-type", "date", "x-amz-retry-after", "x-other"]
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "code",
                    "Code",
                    "__type",
                    "message",
                    "Message",
                    "requestId",
                    "clientToken",
                    "imageBuildVersionArn",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)
bodies = st.binary(max_size=64) | json_values.map(lambda v: httpx.Response(200, json=v).content)
# GetImage's nested shapes, filled with anything.
image_bodies = st.fixed_dictionaries(
    {},
    optional={
        "state": json_values,
        "outputResources": st.fixed_dictionaries(
            {}, optional={"amis": json_values, "containers": json_values}
        ),
        "tags": json_values,
        "name": json_values,
    },
).map(lambda image: httpx.Response(200, json={"image": image}).content)


@given(
    operation=st.sampled_from(sorted(OPERATIONS.values(), key=lambda op: op.name)),
    status=st.integers(100, 599),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    body=bodies | image_bodies,
)
def test_parse_response_total(
    operation: Operation[object], status: int, headers: dict[str, str], body: bytes
) -> None:
    try:
        result = parse_response(
            operation, HttpResponse(status_code=status, headers=headers, body=body)
        )
    except sib.ServiceError as exc:
        assert not 200 <= status < 300
        assert exc.code and isinstance(exc.message, str)
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert f"when calling the {operation.name} operation" in str(exc)
    except sib.ResponseParseError:
        assert 200 <= status < 300
    else:
        assert 200 <= status < 300
        assert result.metadata.http_status_code == status  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.integers(200, 599),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    body=bodies,
)
def test_client_total_over_any_reply(status: int, headers: dict[str, str], body: bytes) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers=headers, content=body)
    )
    client = sib.ImageBuilderClient(
        region="us-east-1",
        credentials=PLAIN_CREDS,
        retry_policy=NO_SLEEP,
        http_client=httpx.Client(transport=transport),
    )
    # Anything but an ImageBuilderError (KeyError, JSONDecodeError, httpx...) fails the test.
    with contextlib.suppress(sib.ImageBuilderError):
        client.cancel_image_creation(ARN)
