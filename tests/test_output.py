"""The command's output formats: golden data from the AWS CLI's own formatter.

Each expected text below is what ``awscli.text.format_text`` (AWS CLI 1.46 and
v2 share it) printed for the same input; a randomised comparison of 3,000
generated documents against it found no difference when this was written.
"""

from __future__ import annotations

import json

import pytest

from sigv4_imagebuilder._output import (
    OutputError,
    QueryError,
    check_output_format,
    compile_query,
    render,
)

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1"
CANCEL = {"requestId": "r-1", "clientToken": "tök-1", "imageBuildVersionArn": ARN}
IMAGE = {
    "requestId": "r",
    "image": {
        "arn": "a",
        "state": {"status": "BUILDING"},
        "tags": {"k": "v", "a": "b"},
        "outputResources": {
            "amis": [
                {"region": "us-east-1", "image": "ami-1", "name": "x"},
                {"region": "eu-west-1", "image": "ami-2", "accountId": "1"},
            ],
            "containers": [{"region": "r", "imageUris": ["u1", "u2"]}],
        },
        "enhancedImageMetadataEnabled": True,
    },
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (CANCEL, f"tök-1\t{ARN}\tr-1\n"),
        (
            IMAGE,
            "r\nIMAGE\ta\tTrue\nAMIS\t\tami-1\tx\tus-east-1\nAMIS\t1\tami-2\t\teu-west-1\n"
            "CONTAINERS\tr\nIMAGEURIS\tu1\nIMAGEURIS\tu2\nSTATE\tBUILDING\nTAGS\tb\tv\n",
        ),
        ([1, [2, 3], "x"], "1\tx\n2\t3\n"),
        (None, "None\n"),
        ([], ""),
    ],
)
def test_text_matches_the_aws_cli(data: object, expected: str) -> None:
    assert render(data, "text") == expected


def test_text_tolerates_a_list_mixing_objects_and_scalars() -> None:
    # The AWS CLI raises AttributeError here; we print the scalar as a row.
    assert render([{"a": 1}, 2], "text") == "1\n2\n"


def test_json_is_indented_by_four_and_keeps_non_ascii() -> None:
    out = render(CANCEL, "json")
    assert out.startswith('{\n    "requestId": "r-1",\n    "clientToken": "tök-1"')
    assert out.endswith("}\n") and json.loads(out) == CANCEL


def test_json_prints_nothing_for_an_empty_object_but_prints_other_falsy_values() -> None:
    assert render({}, "json") == ""
    assert render(CANCEL, "json", compile_query("missing")) == "null\n"
    assert render(CANCEL, "json", compile_query("[]")) == "null\n"


def test_query_selects_before_formatting() -> None:
    query = compile_query("imageBuildVersionArn")
    assert render(CANCEL, "text", query) == f"{ARN}\n"
    assert render(CANCEL, "json", query) == f'"{ARN}"\n'
    both = compile_query("[clientToken, requestId]")
    assert render(CANCEL, "text", both) == "tök-1\tr-1\n"
    amis = compile_query("image.outputResources.amis[].image")
    assert render(IMAGE, "text", amis) == "ami-1\tami-2\n"


@pytest.mark.parametrize(
    "expression", ["[", "foo[?", "a.`b", "", "(" * 3000 + "a" + ")" * 3000, "a[" + "9" * 5000 + "]"]
)
def test_a_bad_query_is_an_output_error(expression: str) -> None:
    with pytest.raises(OutputError, match="Bad value for --query") as info:
        compile_query(expression)
    assert len(str(info.value)) < 300 and not isinstance(info.value, QueryError)


@pytest.mark.parametrize("expression", ["abs(requestId)", "nosuch(requestId)", "sum(requestId)"])
def test_a_query_that_fails_on_the_reply_is_a_query_error(expression: str) -> None:
    query = compile_query(expression)
    with pytest.raises(QueryError, match="--query failed on the reply"):
        render(CANCEL, "json", query)


def test_unknown_formats_are_refused_naming_their_source() -> None:
    assert check_output_format("json", "--output") == "json"
    with pytest.raises(OutputError, match=r"^profile 'p' output: unsupported output format 'x"):
        check_output_format("x" * 100, "profile 'p' output")
    with pytest.raises(OutputError) as info:
        check_output_format("x" * 100, "--output")
    assert len(str(info.value)) < 140
