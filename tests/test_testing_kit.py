"""The testing kit as a whole: the pytest plugin, the demo and serve commands, its public names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ARN, CREDS, NO_SLEEP

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    LocalImageBuilder,
)

OTHER = "arn:aws:imagebuilder:us-east-1:123456789012:image/other/2.0.0/7"


def client_for(
    server: LocalImageBuilder, creds: sib.Credentials = CREDS, **kw: object
) -> sib.ImageBuilderClient:
    return sib.ImageBuilderClient(
        region="us-east-1",
        credentials=creds,
        endpoint_url=server.endpoint_url,
        retry_policy=NO_SLEEP,
        **kw,
    )  # type: ignore[arg-type]


def test_plugin_fixtures(
    local_imagebuilder: LocalImageBuilder, local_imagebuilder_client: sib.ImageBuilderClient
) -> None:
    local_imagebuilder.add_image(ARN)
    local_imagebuilder_client.cancel_image_creation(ARN)
    assert local_imagebuilder.image_status(ARN) == "CANCELLED"


def test_plugin_replay_fixture(imagebuilder_replay: object) -> None:
    from conftest import FIXTURES, TOKEN

    r = imagebuilder_replay(FIXTURES / "success.json")  # type: ignore[operator]
    resp = sib.ImageBuilderClient(region="us-east-1", credentials=CREDS).cancel_image_creation(
        ARN, client_token=TOKEN
    )
    assert resp.request_id == "5d8f3c1e-0a4b-4c7d-9e2f-1a2b3c4d5e6f" and len(r.calls) == 1


def test_plugin_is_registered_through_pytest11(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("sigv4_imagebuilder")


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        '"imageBuildVersionArn": "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"'
        in done.stdout
    )
    assert ": BUILDING" in done.stdout and ": CANCELLED" in done.stdout and "stopped" in done.stdout
    # The demo ends by waiting for the asynchronous cancel, showing the status change.
    assert "BUILDING -> CANCELLED after" in done.stderr


def _signed_get_image(endpoint: str, creds: sib.Credentials) -> httpx.Request:
    from urllib.parse import quote

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotocoreCredentials

    url = f"{endpoint}/GetImage?imageBuildVersionArn={quote(ARN, safe='')}"
    signing = AWSRequest(method="GET", url=url)
    SigV4Auth(
        BotocoreCredentials(creds.access_key_id, creds.secret_access_key),
        "imagebuilder",
        "us-east-1",
    ).add_auth(signing)
    return httpx.Request("GET", url, headers=dict(signing.headers.items()))


def test_serve_command_runs_until_interrupted(tmp_path: Path) -> None:
    import signal

    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sigv4_imagebuilder.testing",
            "serve",
            "--image",
            f"{ARN}=TESTING",
            "--region",
            "us-east-1",
            "--cancel-delay",
            "3600",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("LocalImageBuilder listening on http://127.0.0.1:")
            endpoint = line.rsplit(" ", 1)[-1].strip()
            creds = sib.Credentials("AKIDLOCALSTANDIN", "local-stand-in-secret")
            with sib.ImageBuilderClient(
                region="us-east-1", credentials=creds, endpoint_url=endpoint
            ) as client:
                assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
            # The cancel is accepted but takes an hour: GetImage still says TESTING.
            request = _signed_get_image(endpoint, creds)
            with httpx.Client() as http:
                state = http.send(request).json()["image"]["state"]
            assert state == {"status": "TESTING"}
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", "arn:x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "not an image build version ARN" in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", f"{ARN}=NOPE"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "unknown status" in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", ARN,
         "--cancel-delay", "-5"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "cancel_delay" in bad.stderr


def test_testing_all_is_sorted_and_exact() -> None:
    import sigv4_imagebuilder.testing as kit

    assert kit.__all__ == sorted(kit.__all__)
    assert set(kit.__all__) == {
        "DEFAULT_CREDENTIALS",
        "NON_TERMINAL",
        "TERMINAL",
        "Fixture",
        "FixtureError",
        "FixtureResponse",
        "LocalImageBuilder",
        "LoopbackServer",
        "ReceivedRequest",
        "Recording",
        "Replay",
        "ReplayMismatch",
        "Reply",
        "SignatureProblem",
        "load_fixture",
        "load_fixtures",
        "record",
        "replay",
        "verify_request_signature",
        "verify_signature",
    }
    for name in kit.__all__:
        assert getattr(kit, name) is not None


def test_plugin_fixtures_serve_get_image(local_imagebuilder: LocalImageBuilder) -> None:
    """The plugin's stand-in answers GetImage for any SDK; here botocore's."""
    import botocore.session

    from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS

    local_imagebuilder.add_image(ARN, "BUILDING", cancel_delay=3600)
    boto = botocore.session.get_session().create_client(
        "imagebuilder",
        region_name="us-east-1",
        endpoint_url=local_imagebuilder.endpoint_url,
        aws_access_key_id=DEFAULT_CREDENTIALS.access_key_id,
        aws_secret_access_key=DEFAULT_CREDENTIALS.secret_access_key,
    )
    boto.cancel_image_creation(imageBuildVersionArn=ARN)
    assert boto.get_image(imageBuildVersionArn=ARN)["image"]["state"]["status"] == "BUILDING"
    local_imagebuilder.set_image_status(ARN, "CANCELLED")
    assert boto.get_image(imageBuildVersionArn=ARN)["image"]["state"]["status"] == "CANCELLED"


def test_plugin_replay_fixture_plays_get_image(imagebuilder_replay: object) -> None:
    from conftest import FIXTURES

    r = imagebuilder_replay(FIXTURES / "get_image" / "available.json")  # type: ignore[operator]
    with httpx.Client() as http:
        got = http.get(
            "https://imagebuilder.us-east-1.amazonaws.com/GetImage",
            params={"imageBuildVersionArn": ARN},
        )
    assert got.json()["image"]["outputResources"]["amis"][0]["image"].startswith("ami-")
    assert len(r.calls) == 1
