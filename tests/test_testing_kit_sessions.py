"""The kit's record/replay of several calls to one file, its error without respx, its async fixtures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    DEFAULT_CREDENTIALS,
    FixtureError,
    LocalImageBuilder,
    load_fixture,
    load_fixtures,
    record,
    replay,
)

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"


def test_several_calls_recorded_to_one_json_file_stay_one_file_and_replay_in_order(
    tmp_path: Path,
) -> None:
    session = tmp_path / "session.json"
    with LocalImageBuilder() as local:
        local.add_image(ARN, "BUILDING")
        with (
            record(session),
            sib.ImageBuilderClient(
                region="us-east-1", endpoint_url=local.endpoint_url, credentials=DEFAULT_CREDENTIALS
            ) as client,
        ):
            before = client.get_image(ARN)
            cancel = client.cancel_image_creation(ARN)
            after = client.get_image(ARN)
    assert session.is_file()
    document = json.loads(session.read_text())
    assert [call["request"]["path"] for call in document["calls"]] == [
        "/GetImage",
        "/CancelImageCreation",
        "/GetImage",
    ]
    assert [f.name for f in load_fixtures(session)] == ["session[1]", "session[2]", "session[3]"]
    with pytest.raises(FixtureError, match="records 3 calls"):
        load_fixture(session)
    with (
        replay(session) as played,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=sib.Credentials("AKID", "s")
        ) as client,
    ):
        assert client.get_image(ARN).image == before.image
        assert client.cancel_image_creation(ARN, client_token=cancel.client_token).request_id == (
            cancel.request_id
        )
        again = client.get_image(ARN)
    assert again.image is not None and after.image is not None
    assert again.image.state == after.image.state
    assert played.unplayed == []


def test_one_call_recorded_to_a_json_file_keeps_the_one_fixture_format(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    with LocalImageBuilder() as local:
        local.add_image(ARN, "BUILDING")
        with (
            record(one),
            sib.ImageBuilderClient(
                region="us-east-1", endpoint_url=local.endpoint_url, credentials=DEFAULT_CREDENTIALS
            ) as client,
        ):
            client.get_image(ARN)
    assert "calls" not in json.loads(one.read_text())
    assert load_fixture(one).name == "one"


def test_replay_without_respx_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "respx", None)  # import respx now fails as if absent
    with pytest.raises(ImportError) as info, replay("fixtures/success.json"):
        pass
    assert 'pip install "sigv4-imagebuilder[testing]"' in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_the_plugins_async_client_talks_to_the_stand_in(
    local_imagebuilder: LocalImageBuilder, local_imagebuilder_async_client: Any
) -> None:
    local_imagebuilder.add_image(ARN, "BUILDING")
    response = await local_imagebuilder_async_client.cancel_image_creation(ARN)
    assert isinstance(local_imagebuilder_async_client, sib.AsyncImageBuilderClient)
    assert response.image_build_version_arn == ARN
    assert local_imagebuilder.image_status(ARN) == "CANCELLED"


async def test_the_plugins_replay_serves_async_code(imagebuilder_replay: Any) -> None:
    played = imagebuilder_replay("fixtures/get_image/building.json")
    async with sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=sib.Credentials("AKID", "s")
    ) as client:
        fixture = played.fixtures[0]
        arn = fixture.expected_query["imageBuildVersionArn"][0]
        response = await client.get_image(arn)
    assert response.image is not None and response.image.state is not None
    assert response.image.state.status == "BUILDING"
