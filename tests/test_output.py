"""The command's output formats: golden data from the AWS CLI's own formatter.

Each expected text below is what ``awscli.text.format_text`` (AWS CLI 1.46 and
v2 share it) printed for the same input; a randomised comparison of 3,000
generated documents against it found no difference when this was written.
"""

from __future__ import annotations

import json

import pytest
from imagebuilder_model import needs_current_model

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


# --- table: golden text from awscli 1.46's TableFormatter (color off) ------------

IMAGE_TABLE = (
    "---------------------------------------------------\n"
    "|                    GetImage                     |\n"
    "+-----------------------------------+-------------+\n"
    "|  requestId                        |  r          |\n"
    "+-----------------------------------+-------------+\n"
    "||                     image                     ||\n"
    "|+-------+---------------------------------------+|\n"
    "||  arn  |     enhancedImageMetadataEnabled      ||\n"
    "|+-------+---------------------------------------+|\n"
    "||  a    |  True                                 ||\n"
    "|+-------+---------------------------------------+|\n"
    "|||               outputResources               |||\n"
    "||+---------------------------------------------+||\n"
    "||||                   amis                    ||||\n"
    "|||+------------+--------+-------+-------------+|||\n"
    "||||  accountId | image  | name  |   region    ||||\n"
    "|||+------------+--------+-------+-------------+|||\n"
    "||||            |  ami-1 |  x    |  us-east-1  ||||\n"
    "||||  1         |  ami-2 |       |  eu-west-1  ||||\n"
    "|||+------------+--------+-------+-------------+|||\n"
    "||||                containers                 ||||\n"
    "|||+-------------------------------------------+|||\n"
    "||||                  region                   ||||\n"
    "|||+-------------------------------------------+|||\n"
    "||||  r                                        ||||\n"
    "|||+-------------------------------------------+|||\n"
    "|||||                imageUris                |||||\n"
    "||||+-----------------------------------------+||||\n"
    "|||||  u1                                     |||||\n"
    "|||||  u2                                     |||||\n"
    "||||+-----------------------------------------+||||\n"
    "|||                    state                    |||\n"
    "||+-------------------+-------------------------+||\n"
    "|||  status           |  BUILDING               |||\n"
    "||+-------------------+-------------------------+||\n"
    "|||                    tags                     |||\n"
    "||+---------------------+-----------------------+||\n"
    "|||          a          |           k           |||\n"
    "||+---------------------+-----------------------+||\n"
    "|||  b                  |  v                    |||\n"
    "||+---------------------+-----------------------+||\n"
)

# A value wider than the terminal turns single-row sections on their side; a
# wide (East Asian) name takes two columns per character.
WIDE = {"requestId": "r", "image": {"arn": "x" * 120, "name": "名前", "version": "1"}}
WIDE_TABLE = (
    "-------------------------------------------------------------------------------------------------------------------------------------------\n"
    "|                                                                GetImage                                                                 |\n"
    "+--------------------------------------------------------------------------------------------------+--------------------------------------+\n"
    "|  requestId                                                                                       |  r                                   |\n"
    "+--------------------------------------------------------------------------------------------------+--------------------------------------+\n"
    "||                                                                 image                                                                 ||\n"
    "|+---------+-----------------------------------------------------------------------------------------------------------------------------+|\n"
    "||  arn    |  xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx   ||\n"
    "||  name   |  名前                                                                                                                       ||\n"
    "||  version|  1                                                                                                                          ||\n"
    "|+---------+-----------------------------------------------------------------------------------------------------------------------------+|\n"
)


def test_table_is_the_aws_cli_layout() -> None:
    assert render(IMAGE, "table", title="GetImage") == IMAGE_TABLE
    assert render(WIDE, "table", title="GetImage") == WIDE_TABLE
    # A wider terminal keeps the header-over-value layout: a header row, then the values.
    lines = render(WIDE, "table", title="GetImage", width=400).splitlines()
    assert [cell.strip() for cell in lines[7].strip("|").split("|")] == ["arn", "name", "version"]
    assert lines[9].split("|")[2].strip() == "x" * 120
    assert render({}, "table", title="GetImage") == ""


def test_table_escapes_what_a_hostile_reply_would_write_into_the_frame() -> None:
    hostile = {"requestId": "r\n|fake|\x1b[31m", "image": {"arn": "a\tb", "name": "\u202egnp.exe"}}
    text = render(hostile, "table", title="GetImage")
    assert "\x1b" not in text and "\u202e" not in text and "\t" not in text
    assert "r\\n|fake|\\x1b[31m" in text and "a\\tb" in text
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # every line the same width


def test_table_of_a_huge_member_is_drawn_not_a_hang() -> None:
    huge = {
        "requestId": "r",
        "image": {"arn": "a" * 200_000, "tags": {str(i): "v" for i in range(500)}},
    }
    text = render(huge, "table", title="GetImage")
    assert "a" * 200_000 in text and text.count("\n") > 500


def test_table_of_odd_shapes_does_not_fail_where_aws_would() -> None:
    # A list mixing objects and scalars, rows of unequal length: aws raises; we draw.
    text = render({"l": [{"a": 1}, "x"], "m": [[1, 2], [3]]}, "table", title="T")
    assert "x" in text and "3" in text


# --- yaml and yaml-stream: ruamel.yaml, as AWS CLI v2 ------------------------------


def test_yaml_is_block_style_with_sorted_keys_as_aws_cli_v2() -> None:
    pytest.importorskip("ruamel.yaml")
    short = {**CANCEL, "imageBuildVersionArn": "arn-1"}
    assert (
        render(short, "yaml") == "clientToken: tök-1\nimageBuildVersionArn: arn-1\nrequestId: r-1\n"
    )
    assert render({}, "yaml") == ""
    assert render(short, "yaml-stream") == (
        "- clientToken: tök-1\n  imageBuildVersionArn: arn-1\n  requestId: r-1\n"
    )
    nested = {"b": [{"y": 1, "x": [1, 2]}], "a": {}}
    assert render(nested, "yaml") == "a: {}\nb:\n- x:\n  - 1\n  - 2\n  y: 1\n"


@pytest.mark.parametrize(
    "value",
    ["true", "null", "no", "yes", "0123", "1e3", "a: b", "- x", "#c", "", " lead", "x\ny",
     "'\"", "\ud800", "~", "@x", "%x", "!x", "*x", "&x", "{a}", "[a]", "2019-12-02"],
)  # fmt: skip
def test_yaml_quotes_what_a_yaml_reader_would_misread(value: str) -> None:
    yaml_module = pytest.importorskip("ruamel.yaml")
    data = {"image": {"name": value, "tags": {value or "k": value}}}
    text = render(data, "yaml")
    assert yaml_module.YAML(typ="safe", pure=True).load(text) == data
    text = render(data, "yaml-stream")
    assert yaml_module.YAML(typ="safe", pure=True).load(text) == [data]


def test_yaml_without_its_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ruamel", None)
    monkeypatch.setitem(sys.modules, "ruamel.yaml", None)
    for name in ("yaml", "yaml-stream"):
        with pytest.raises(OutputError) as info:
            check_output_format(name, "--output")
        assert str(info.value) == (
            '--output yaml and yaml-stream need ruamel.yaml: pip install "sigv4-imagebuilder[yaml]"'
        )


# --- key order: the service model's, from a table checked against botocore's model ---


def _model_table() -> dict[str, tuple[tuple[str, str | None], ...]]:
    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("imagebuilder", "service-2")
    shapes = model["shapes"]

    def structure(name: str) -> str | None:
        shape = shapes[name]
        if shape["type"] == "structure":
            return name
        if shape["type"] == "list":
            return structure(shape["member"]["shape"])
        if shape["type"] == "map":
            assert structure(shape["value"]["shape"]) is None, (
                "a map of structures: teach the table"
            )
        return None

    table: dict[str, tuple[tuple[str, str | None], ...]] = {}

    def walk(name: str) -> None:
        if name in table:
            return
        members = tuple(
            (member, structure(spec["shape"])) for member, spec in shapes[name]["members"].items()
        )
        table[name] = members
        for _, nested in members:
            if nested is not None:
                walk(nested)

    for operation in ("CancelImageCreation", "GetImage", "ListImageBuildVersions",
                      "ListImagePipelineImages"):  # fmt: skip
        walk(model["operations"][operation]["output"]["shape"])
    return table


@needs_current_model
def test_the_member_order_table_is_botocores_model() -> None:
    from sigv4_imagebuilder._operations import OPERATIONS
    from sigv4_imagebuilder._output_order import known_shapes, shape_members

    expected = _model_table()
    assert known_shapes() == set(expected)
    for shape, members in expected.items():
        assert shape_members(shape) == members, shape
    # Every operation the command prints has its output shape in the table.
    assert {f"{name}Response" for name in OPERATIONS} <= known_shapes()


def test_json_lists_members_in_model_order_unknown_ones_after() -> None:
    from sigv4_imagebuilder._output_order import in_model_order

    received = {
        "latestVersionReferences": {"latestVersionArn": "l"},
        "image": {
            "zNewMember": {"b": 1, "a": 2},
            "state": {"reason": "r", "status": "FAILED"},
            "outputResources": {"amis": [{"image": "ami-1", "region": "us-east-1", "new": 1}]},
            "name": "n",
            "arn": "a",
        },
        "requestId": "r",
    }
    ordered = in_model_order(received, "GetImageResponse")
    assert ordered == received  # same data
    assert list(ordered) == ["requestId", "image", "latestVersionReferences"]
    image = ordered["image"]
    assert list(image) == ["arn", "name", "state", "outputResources", "zNewMember"]
    assert list(image["state"]) == ["status", "reason"]
    assert list(image["zNewMember"]) == ["b", "a"]  # unknown: as received
    assert list(image["outputResources"]["amis"][0]) == ["region", "image", "new"]
    assert render(ordered, "json").index('"arn"') < render(ordered, "json").index('"zNewMember"')
