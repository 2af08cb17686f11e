"""Both clients, driven by the same recorded fixtures through respx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from conftest import ARN, CREDS, FIXTURES, NO_SLEEP, PLAIN_CREDS, TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import ReplayMismatch, load_fixture, replay

FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def _expected_error(fixture_path: Path) -> tuple[type[sib.ServiceError], str] | None:
    reply = load_fixture(fixture_path).responses[-1]
    if reply.status < 300:
        return None
    code = reply.headers.get("x-amzn-ErrorType", str(reply.status)).split(":")[0]
    return getattr(sib, code, sib.ServiceError), code


def _check(fixture_path: Path, call: Callable[[], Any]) -> None:
    fixture = load_fixture(fixture_path)
    expected = _expected_error(fixture_path)
    if expected is None:
        resp = call()
        body = json.loads(fixture.responses[-1].body)
        assert resp.request_id == body["requestId"]
        assert resp.client_token == body["clientToken"]
        assert resp.image_build_version_arn == body["imageBuildVersionArn"]
        assert resp.metadata.request_id == fixture.responses[-1].headers["x-amzn-RequestId"]
        assert resp.metadata.http_status_code == 200
        assert resp.metadata.retry_attempts == len(fixture.responses) - 1
        return
    cls, code = expected
    with pytest.raises(sib.ServiceError) as info:
        call()
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.status_code == fixture.responses[-1].status
    assert info.value.request_id == fixture.responses[-1].headers.get("x-amzn-RequestId")


def _token_for(fixture_path: Path) -> str | None:
    return load_fixture(fixture_path).expected_body.get("clientToken")


@pytest.mark.parametrize("fixture_path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_replay_every_fixture_sync(fixture_path: Path) -> None:
    with (
        replay(fixture_path, assert_all_played=False) as r,
        sib.ImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            max_attempts=1 if "retry" not in fixture_path.stem else 3,
            retry_policy=NO_SLEEP,
        ) as client,
    ):
        _check(
            fixture_path,
            lambda: client.cancel_image_creation(ARN, client_token=_token_for(fixture_path)),
        )
    assert len(r.calls) >= 1
    request = r.calls[0][0]
    assert request.method == "PUT" and request.url.path == "/CancelImageCreation"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith(f"sigv4-imagebuilder/{sib.__version__}")
    assert set(json.loads(request.content)) == {"imageBuildVersionArn", "clientToken"}


@pytest.mark.parametrize("fixture_path", FIXTURE_FILES, ids=lambda p: p.stem)
async def test_replay_every_fixture_async(fixture_path: Path) -> None:
    with replay(fixture_path, assert_all_played=False) as r:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            max_attempts=1 if "retry" not in fixture_path.stem else 3,
            retry_policy=NO_SLEEP,
        ) as client:
            result: dict[str, Any] = {}

            async def go() -> None:
                try:
                    result["value"] = await client.cancel_image_creation(
                        ARN, client_token=_token_for(fixture_path)
                    )
                except sib.ServiceError as exc:
                    result["error"] = exc

            await go()

            def call() -> Any:
                if "error" in result:
                    raise result["error"]
                return result["value"]

            _check(fixture_path, call)
    assert len(r.calls) >= 1


def test_replay_directory_plays_files_in_order_and_checks_body() -> None:
    outcomes: list[object] = []
    with (
        replay(FIXTURES) as r,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=PLAIN_CREDS, max_attempts=3, retry_policy=NO_SLEEP
        ) as client,
    ):
        for fixture in r.fixtures:
            try:
                outcomes.append(
                    client.cancel_image_creation(
                        ARN, client_token=fixture.expected_body.get("clientToken")
                    )
                )
            except sib.ServiceError as exc:
                outcomes.append(exc.code)
    names = [f.name for f in r.fixtures]
    assert outcomes[names.index("error_html_502_from_proxy")] == "502"
    assert outcomes[names.index("error_service_exception")] == "ServiceException"
    assert isinstance(outcomes[names.index("retry_503_429_200")], sib.CancelImageCreationResponse)
    # 500, 502, 503 and 429 record one reply, replayed for each of the 3 attempts;
    # the retry scenario takes 3 attempts.
    assert len(r.calls) == len(outcomes) + 4 * 2 + 2


def test_replay_rejects_a_different_token_and_extra_calls() -> None:
    with (
        pytest.raises(ReplayMismatch, match="clientToken"),
        replay(FIXTURES / "success.json"),
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client,
    ):
        client.cancel_image_creation(ARN, client_token="other")
    with (
        pytest.raises(ReplayMismatch, match="every recorded fixture has been played"),
        replay(FIXTURES / "success.json"),
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client,
    ):
        client.cancel_image_creation(ARN, client_token=TOKEN)
        client.cancel_image_creation(ARN, client_token=TOKEN)
    with pytest.raises(ReplayMismatch, match="never played"), replay(FIXTURES / "success.json"):
        pass


@respx.mock(assert_all_called=False)
def test_bad_input_sends_nothing(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.route().mock(return_value=httpx.Response(200, json={}))
    client = sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS)
    for bad in ("arn:nope", None, 7):
        with pytest.raises(sib.ParamValidationError):
            client.cancel_image_creation(bad)  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="client_token"):
        client.cancel_image_creation(ARN, client_token="x" * 65)
    assert route.call_count == 0


def test_client_token_is_generated_once_per_call(respx_mock: respx.MockRouter) -> None:
    tokens = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(json.loads(request.content)["clientToken"])
        return httpx.Response(200, json={"clientToken": tokens[-1]})

    respx_mock.route().mock(side_effect=handler)
    with sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client:
        first = client.cancel_image_creation(image_build_version_arn=ARN)
        second = client.cancel_image_creation(ARN)
    assert first.client_token == tokens[0] and second.client_token == tokens[1]
    assert tokens[0] != tokens[1]
    assert all(len(t) == 36 for t in tokens)


def test_constructor_validation(empty_env: dict[str, str]) -> None:
    with pytest.raises(sib.ParamValidationError, match="max_attempts"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, max_attempts=0)
    with pytest.raises(sib.ParamValidationError, match="max_attempts"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, max_attempts="3")  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="max_attempts"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, max_attempts=True)  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="timeout"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, timeout=-1)
    with pytest.raises(sib.ParamValidationError, match="timeout"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, timeout="1")  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="http_client"):
        sib.ImageBuilderClient(
            region="us-east-1", credentials=PLAIN_CREDS, http_client=httpx.AsyncClient()
        )  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="http_client"):
        sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=PLAIN_CREDS, http_client=httpx.Client()
        )  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="credentials"):
        sib.ImageBuilderClient(region="us-east-1", credentials=("AKID", "secret"))  # type: ignore[arg-type]
    with pytest.raises(sib.ParamValidationError, match="retry_policy"):
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, retry_policy=3)  # type: ignore[arg-type]
    with pytest.raises(sib.ConfigurationError, match="missing region"):
        sib.ImageBuilderClient(credentials=PLAIN_CREDS, env=empty_env)
    with pytest.raises(sib.ConfigurationError, match="Invalid region"):
        sib.ImageBuilderClient(region="us-east-1.evil.example", credentials=PLAIN_CREDS)


def test_region_and_credentials_from_the_environment(
    empty_env: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.route().mock(return_value=httpx.Response(200, json={}))
    env = {
        **empty_env,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDENV",
        "AWS_SECRET_ACCESS_KEY": "envsecret",
        "AWS_SESSION_TOKEN": "envtoken",
    }
    client = sib.ImageBuilderClient(env=env)
    assert client.region == "eu-west-1"
    client.cancel_image_creation(ARN)
    sent = route.calls[0].request
    assert sent.url.host == "imagebuilder.eu-west-1.amazonaws.com"
    assert "Credential=AKIDENV/" in sent.headers["authorization"]
    assert sent.headers["x-amz-security-token"] == "envtoken"
    assert sib.ImageBuilderClient(env={**env, "AWS_REGION": "ap-south-1"}).region == "ap-south-1"
    assert sib.ImageBuilderClient(region="us-west-2", env=env).region == "us-west-2"


def test_no_credentials_is_a_clear_error(empty_env: dict[str, str]) -> None:
    client = sib.ImageBuilderClient(region="us-east-1", env=empty_env)
    with pytest.raises(sib.NoCredentialsError, match="environment"):
        client.cancel_image_creation(ARN)


def test_provider_and_callable_credentials(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.route().mock(return_value=httpx.Response(200, json={}))
    calls = []

    class Provider:
        def get_credentials(self) -> sib.Credentials:
            calls.append("provider")
            return sib.Credentials("AKIDPROVIDER", "s")

    sib.ImageBuilderClient(region="us-east-1", credentials=Provider()).cancel_image_creation(ARN)
    sib.ImageBuilderClient(
        region="us-east-1", credentials=lambda: sib.Credentials("AKIDLAMBDA", "s")
    ).cancel_image_creation(ARN)
    assert "Credential=AKIDPROVIDER/" in route.calls[0].request.headers["authorization"]
    assert "Credential=AKIDLAMBDA/" in route.calls[1].request.headers["authorization"]
    bad = sib.ImageBuilderClient(region="us-east-1", credentials=lambda: ("AKID", "s"))  # type: ignore[arg-type,return-value]
    with pytest.raises(
        sib.CredentialRetrievalError, match=r"broke its contract.*expected sigv4_imagebuilder\."
    ):
        bad.cancel_image_creation(ARN)


def test_own_http_client_is_closed_and_a_passed_one_is_not() -> None:
    with sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as own:
        pass
    assert own._http.is_closed
    with pytest.raises(sib.ImageBuilderError, match="closed"):
        own.cancel_image_creation(ARN)
    theirs = httpx.Client()
    with sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, http_client=theirs):
        pass
    assert not theirs.is_closed
    theirs.close()


async def test_async_own_http_client_is_closed_and_a_passed_one_is_not() -> None:
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as own:
        assert "AsyncImageBuilderClient(region='us-east-1'" in repr(own)
    assert own._http.is_closed
    with pytest.raises(sib.ImageBuilderError, match="closed"):
        await own.cancel_image_creation(ARN)
    theirs = httpx.AsyncClient()
    async with sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=PLAIN_CREDS, http_client=theirs
    ):
        pass
    assert not theirs.is_closed
    await theirs.aclose()


def test_passed_http_client_is_used_as_given() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"requestId": "via-transport"})

    http = httpx.Client(
        transport=httpx.MockTransport(handler), headers={"X-Custom": "1"}, auth=("user", "pass")
    )
    client = sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, http_client=http)
    assert client.cancel_image_creation(ARN).request_id == "via-transport"
    assert seen[0].headers["x-custom"] == "1"
    # The client's own auth must not replace the SigV4 Authorization header.
    assert seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_one_client_shared_across_threads(respx_mock: respx.MockRouter) -> None:
    respx_mock.route().mock(
        side_effect=lambda request: httpx.Response(
            200, json={"clientToken": json.loads(request.content)["clientToken"]}
        )
    )
    client = sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS)
    results: list[str | None] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        token = f"token-{i}"
        resp = client.cancel_image_creation(ARN, client_token=token)
        with lock:
            results.append(resp.client_token if resp.client_token == token else None)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"token-{i}" for i in range(16))  # type: ignore[type-var]


async def test_one_async_client_shared_across_tasks(respx_mock: respx.MockRouter) -> None:
    import asyncio

    respx_mock.route().mock(
        side_effect=lambda request: httpx.Response(
            200, json={"clientToken": json.loads(request.content)["clientToken"]}
        )
    )
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS) as client:
        calls: list[Awaitable[sib.CancelImageCreationResponse]] = [
            client.cancel_image_creation(ARN, client_token=f"t{i}") for i in range(20)
        ]
        results = await asyncio.gather(*calls)
    assert [r.client_token for r in results] == [f"t{i}" for i in range(20)]


_COLD_CALL = """
import asyncio, json, sys
import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing._loopback import LoopbackServer, Reply

body = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": sys.argv[1]})
reply = Reply(headers=[("x-amzn-RequestId", "r")], body=body.encode())
kwargs = dict(region="us-east-1", credentials=sib.Credentials("AKID", "s"))
seen = {}
with LoopbackServer(lambda request: reply) as server:
    with sib.ImageBuilderClient(endpoint_url=server.endpoint_url, **kwargs) as client:
        client.cancel_image_creation(sys.argv[1])
    seen["sync"] = sorted(m for m in ("httpcore", "anyio", "aiohttp") if m in sys.modules)
    seen["httpx imports httpcore"] = tuple(map(int, __import__("httpx").__version__.split(".")[:2])) < (0, 28)

    async def main():
        async with sib.AsyncImageBuilderClient(endpoint_url=server.endpoint_url, **kwargs) as c:
            seen["async client made"] = "aiohttp" in sys.modules
            await c.cancel_image_creation(sys.argv[1])
            seen["async sent"] = "aiohttp" in sys.modules

    asyncio.run(main())
print(json.dumps(seen))
"""


@pytest.mark.parametrize("proxy", [None, "http://127.0.0.1:9"])
def test_the_default_clients_load_one_engine_each_and_only_when_they_send(
    proxy: str | None,
) -> None:
    # A sync client never loads aiohttp, nor httpcore (a proxy or not: urllib3
    # carries proxied requests too); an async one loads aiohttp at its first send.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = "127.0.0.1"  # the call itself goes direct either way
    if proxy is not None:
        env["HTTPS_PROXY"] = proxy
    done = subprocess.run(
        [sys.executable, "-c", _COLD_CALL, ARN], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    # httpx before 0.28 imports httpcore (and anyio) with itself.
    expected_sync = ["anyio", "httpcore"] if seen.pop("httpx imports httpcore") else []
    assert seen == {"sync": expected_sync, "async client made": False, "async sent": True}
