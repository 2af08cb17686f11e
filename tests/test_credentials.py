"""The credential chain, source by source, with loopback servers for the HTTP ones."""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from conftest import ARN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._actions import Flow, RunBlocking
from sigv4_imagebuilder._config import resolve_config
from sigv4_imagebuilder._credentials import CredentialResolver
from sigv4_imagebuilder._default_chain import _container_url, chain_flow
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply

UTC = datetime.timezone.utc
LATER = "2099-01-01T00:00:00Z"


def env_for(
    tmp_path: Path, config: str = "", credentials: str = "", **extra: str
) -> dict[str, str]:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def resolve(env: dict[str, str], profile: str | None = None) -> sib.Credentials:
    """Run the default chain with the sync client's driver."""
    client = sib.ImageBuilderClient(env=env, profile=profile)
    with client:
        return client._credentials.get(client._run)


async def aresolve(env: dict[str, str], profile: str | None = None) -> sib.Credentials:
    async with sib.AsyncImageBuilderClient(env=env, profile=profile) as client:
        return await client._credentials.aget(client._run)


def test_environment_first_unless_profile_is_explicit(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        credentials="[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = fs\n"
        "[other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = os\n",
        AWS_ACCESS_KEY_ID="ENVKEY",
        AWS_SECRET_ACCESS_KEY="es",
        AWS_SESSION_TOKEN="et",
    )
    got = resolve(env)
    assert (got.access_key_id, got.session_token) == ("ENVKEY", "et")
    assert resolve({**env, "AWS_PROFILE": "other"}).access_key_id == "ENVKEY"
    assert resolve(env, profile="other").access_key_id == "OTHERKEY"


def test_shared_credentials_file_before_process_before_config_keys(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'PROCKEY', "
        "'SecretAccessKey': 'ps', 'SessionToken': 'pt', 'Expiration': '2099-01-01T00:00:00Z'}))"
    )
    config = (
        f"[profile p]\ncredential_process = {sys.executable} {script}\n"
        "aws_access_key_id = CFGKEY\naws_secret_access_key = cs\n"
    )
    env = env_for(
        tmp_path, config, "[p]\naws_access_key_id = FILEKEY\naws_secret_access_key = fs\n"
    )
    assert resolve(env, profile="p").access_key_id == "FILEKEY"
    env = env_for(tmp_path, config, "")
    got = resolve(env, profile="p")
    assert (got.access_key_id, got.session_token) == ("PROCKEY", "pt")
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    env = env_for(
        tmp_path,
        "[profile p]\naws_access_key_id = CFGKEY\naws_secret_access_key = cs\naws_session_token = ct\n",
    )
    assert resolve(env, profile="p") == sib.Credentials("CFGKEY", "cs", session_token="ct")


async def test_async_client_runs_the_process_source_in_a_thread(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'ASYNCPROC', 'SecretAccessKey': 's'}))"
    )
    env = env_for(tmp_path, f"[default]\ncredential_process = {sys.executable} {script}\n")
    assert (await aresolve(env)).access_key_id == "ASYNCPROC"


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "import sys; sys.stderr.write('sso session expired'); sys.exit(3)",
            "exited with status 3: sso session expired",
        ),
        (
            "import sys; print('not json'); sys.stderr.write('hint')",
            "did not print JSON; stderr: hint",
        ),
        (
            "import json; print(json.dumps({'Version': 2, 'AccessKeyId': 'A', 'SecretAccessKey': 'B'}))",
            '"Version": 1',
        ),
        (
            "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'A'}))",
            "SecretAccessKey is missing",
        ),
        (
            "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'A', 'SecretAccessKey': 'B', 'Expiration': 'soon'}))",
            "not ISO 8601",
        ),
    ],
)
def test_credential_process_errors_are_clear(tmp_path: Path, program: str, message: str) -> None:
    script = tmp_path / "proc.py"
    script.write_text(program)
    env = env_for(tmp_path, f"[default]\ncredential_process = {sys.executable} {script}\n")
    with pytest.raises(sib.CredentialRetrievalError, match=message.replace("(", r"\(")):
        resolve(env)
    env = env_for(tmp_path, "[default]\ncredential_process = /no/such/program\n")
    with pytest.raises(sib.CredentialRetrievalError, match="could not run"):
        resolve(env)


class StsServer:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[ReceivedRequest] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        if self.status != 200:
            return Reply(
                status=self.status,
                body=b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                b"<Error><Code>InvalidIdentityToken</Code><Message>Token expired</Message></Error></ErrorResponse>",
            )
        return Reply(
            body=(
                '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEBID</AccessKeyId>"
                "<SecretAccessKey>websecret</SecretAccessKey><SessionToken>webtoken</SessionToken>"
                f"<Expiration>{LATER}</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                "</AssumeRoleWithWebIdentityResponse>"
            ).encode()
        )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_web_identity_via_sts_on_loopback(tmp_path: Path, mode: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.web.identity\n")
    sts = StsServer()
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path,
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
            AWS_ROLE_ARN="arn:aws:iam::123456789012:role/r",
            AWS_ROLE_SESSION_NAME="sess",
            AWS_ENDPOINT_URL_STS=server.endpoint_url,
        )
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "ASIAWEBID",
        "websecret",
        "webtoken",
    )
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    request = sts.received[0]
    assert request.method == "POST" and request.header("authorization") is None
    form = urllib.parse.parse_qs(request.body.decode())
    assert form == {
        "Action": ["AssumeRoleWithWebIdentity"],
        "Version": ["2011-06-15"],
        "RoleArn": ["arn:aws:iam::123456789012:role/r"],
        "RoleSessionName": ["sess"],
        "WebIdentityToken": ["eyJ.web.identity"],
    }


def test_web_identity_from_profile_and_sts_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok")
    with LoopbackServer(StsServer(status=400)) as server:
        env = env_for(
            tmp_path,
            f"[default]\nweb_identity_token_file = {token_file}\nrole_arn = arn:aws:iam::1:role/r\n",
            AWS_ENDPOINT_URL_STS=server.endpoint_url,
        )
        with pytest.raises(
            sib.CredentialRetrievalError, match="HTTP 400 InvalidIdentityToken: Token expired"
        ):
            resolve(env)
    env = env_for(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "missing"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/r",
    )
    with pytest.raises(sib.CredentialRetrievalError, match="cannot read token file"):
        resolve(env)


class ContainerServer:
    def __init__(self, expiration: str = LATER) -> None:
        self.expiration = expiration
        self.received: list[ReceivedRequest] = []
        self.lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        with self.lock:
            self.received.append(request)
            n = len(self.received)
        time.sleep(0.05)
        return Reply(
            body=json.dumps(
                {
                    "AccessKeyId": f"ASIACONTAINER{n}",
                    "SecretAccessKey": "cs",
                    "Token": "ct",
                    "Expiration": self.expiration,
                }
            ).encode()
        )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_container_full_uri_with_token_file_and_env_token(tmp_path: Path, mode: str) -> None:
    (tmp_path / "auth").write_text("file-auth-token\n")
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(tmp_path / "auth"),
            AWS_CONTAINER_AUTHORIZATION_TOKEN="env-token",
        )
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
        del env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
        resolve(env)
    assert got.access_key_id == "ASIACONTAINER1" and got.session_token == "ct"
    assert container.received[0].path == "/creds"
    assert container.received[0].header("authorization") == "file-auth-token"
    assert container.received[1].header("authorization") == "env-token"


def test_container_uri_rules() -> None:
    assert (
        _container_url({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds/abc"})
        == "http://169.254.170.2/v2/creds/abc"
    )
    for ok in (
        "https://creds.example.com/x",
        "http://127.0.0.1:9/x",
        "http://[::1]:9/x",
        "http://169.254.170.23/v1",
        "http://[fd00:ec2::23]/v1",
        "http://localhost:8080/x",
    ):
        assert _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": ok}) == ok
    for bad in ("http://10.0.0.1/x", "http://evil.example/x", "ftp://127.0.0.1/x"):
        with pytest.raises(sib.CredentialRetrievalError, match="is not allowed"):
            _container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": bad})


class ImdsServer:
    def __init__(self, role: str = "my-role") -> None:
        self.role = role
        self.received: list[ReceivedRequest] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        if request.path == "/latest/api/token":
            assert request.method == "PUT"
            assert request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600"
            return Reply(body=b"imds-session-token")
        if request.header("x-aws-ec2-metadata-token") != "imds-session-token":
            return Reply(status=401)
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return Reply(body=self.role.encode())
        if request.path == f"/latest/meta-data/iam/security-credentials/{self.role}":
            return Reply(
                body=json.dumps(
                    {
                        "Code": "Success",
                        "AccessKeyId": "ASIAIMDS",
                        "SecretAccessKey": "is",
                        "Token": "it",
                        "Expiration": LATER,
                    }
                ).encode()
            )
        return Reply(status=404)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_imds_v2_on_loopback(tmp_path: Path, mode: str) -> None:
    imds = ImdsServer()
    with LoopbackServer(imds) as server:
        env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        got = resolve(env) if mode == "sync" else asyncio.run(aresolve(env))
    assert (got.access_key_id, got.session_token) == ("ASIAIMDS", "it")
    assert [r.path for r in imds.received] == [
        "/latest/api/token",
        "/latest/meta-data/iam/security-credentials/",
        "/latest/meta-data/iam/security-credentials/my-role",
    ]


def test_imds_unreachable_or_roleless_is_skipped_quickly(tmp_path: Path) -> None:
    with LoopbackServer(lambda r: Reply()) as server:
        pass  # closed port
    env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.endpoint_url)
    del env["AWS_EC2_METADATA_DISABLED"]
    start = time.monotonic()
    with pytest.raises(sib.NoCredentialsError, match="instance metadata: not reachable"):
        resolve(env)
    assert time.monotonic() - start < 5
    with LoopbackServer(ImdsServer(role="")) as server:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.endpoint_url
        with pytest.raises(sib.NoCredentialsError, match="no IAM role"):
            resolve(env)


def test_no_credentials_lists_every_source_without_secrets(tmp_path: Path) -> None:
    env = env_for(tmp_path, "[default]\naws_secret_access_key = lonely-secret\n")
    with pytest.raises(sib.NoCredentialsError) as info:
        resolve(env)
    text = str(info.value)
    for source in (
        "environment",
        "web identity",
        "shared credentials file",
        "credential_process",
        "access keys in",
        "container",
        "instance metadata: AWS_EC2_METADATA_DISABLED=true",
    ):
        assert source in text
    assert "lonely-secret" not in text
    with pytest.raises(sib.NoCredentialsError, match="skipped because profile= was given"):
        resolve({**env, "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"}, profile="default")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


def _run_sync(flow: Flow[Any]) -> Any:
    try:
        action = next(flow)
        while True:
            assert isinstance(action, RunBlocking)
            action = flow.send(action.function())
    except StopIteration as stop:
        return stop.value


def test_refresh_windows_with_an_injected_clock() -> None:
    clock = Clock()
    expiry = clock.now + datetime.timedelta(hours=1)
    fetched: list[int] = []
    failing = {"on": False}

    def fetch() -> sib.Credentials:
        if failing["on"]:
            raise sib.CredentialRetrievalError("source down")
        fetched.append(1)
        return sib.Credentials(
            f"KEY{len(fetched)}",
            "s",
            expiration=expiry + datetime.timedelta(hours=len(fetched) - 1),
        )

    def flow() -> Flow[sib.Credentials]:
        return (yield RunBlocking(fetch))

    resolver = CredentialResolver(flow, clock=clock)
    assert resolver.get(_run_sync).access_key_id == "KEY1"
    clock.now = expiry - datetime.timedelta(minutes=16)
    assert resolver.get(_run_sync).access_key_id == "KEY1" and len(fetched) == 1
    # Advisory window (15 min): a failed refresh keeps the cached credentials.
    clock.now = expiry - datetime.timedelta(minutes=12)
    failing["on"] = True
    assert resolver.get(_run_sync).access_key_id == "KEY1"
    # Mandatory window (10 min): a failed refresh is raised.
    clock.now = expiry - datetime.timedelta(minutes=9)
    with pytest.raises(sib.CredentialRetrievalError, match="source down"):
        resolver.get(_run_sync)
    failing["on"] = False
    assert resolver.get(_run_sync).access_key_id == "KEY2"


async def test_async_refresh_windows() -> None:
    clock = Clock()
    expiry = clock.now + datetime.timedelta(minutes=12)
    count = {"n": 0}

    def flow() -> Flow[sib.Credentials]:
        count["n"] += 1
        if count["n"] > 1:
            raise sib.CredentialRetrievalError("down")
        return sib.Credentials("K", "s", expiration=expiry)
        yield

    async def arun(f: Flow[sib.Credentials]) -> sib.Credentials:
        return _run_sync(f)  # type: ignore[no-any-return]

    resolver = CredentialResolver(flow, clock=clock)
    assert (await resolver.aget(arun)).access_key_id == "K"  # first fetch
    assert (await resolver.aget(arun)).access_key_id == "K"  # advisory failure tolerated
    clock.now += datetime.timedelta(minutes=5)
    with pytest.raises(sib.CredentialRetrievalError):
        await resolver.aget(arun)


def test_many_threads_cause_one_refresh(tmp_path: Path) -> None:
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        client = sib.ImageBuilderClient(env=env)
        barrier = threading.Barrier(16)
        got: list[str] = []

        def worker() -> None:
            barrier.wait()
            got.append(client._credentials.get(client._run).access_key_id)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
    assert len(container.received) == 1
    assert got == ["ASIACONTAINER1"] * 16


async def test_many_tasks_cause_one_refresh(tmp_path: Path) -> None:
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        async with sib.AsyncImageBuilderClient(env=env) as client:
            got = await asyncio.gather(*(client._credentials.aget(client._run) for _ in range(16)))
    assert len(container.received) == 1
    assert {c.access_key_id for c in got} == {"ASIACONTAINER1"}


def test_expiring_credentials_are_refreshed_by_the_client(tmp_path: Path) -> None:
    soon = (datetime.datetime.now(UTC) + datetime.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    container = ContainerServer(expiration=soon)
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        with sib.ImageBuilderClient(env=env) as client:
            first = client._credentials.get(client._run)
            second = client._credentials.get(client._run)
    # Inside the mandatory window: every ask fetches anew.
    assert (first.access_key_id, second.access_key_id) == ("ASIACONTAINER1", "ASIACONTAINER2")


def test_user_provider_cached_only_while_its_expiration_allows(tmp_path: Path) -> None:
    calls: list[int] = []

    def provider() -> sib.Credentials:
        calls.append(1)
        return sib.Credentials(
            "P", "s", expiration=datetime.datetime.now(UTC) + datetime.timedelta(hours=1)
        )

    client = sib.ImageBuilderClient(region="us-east-1", credentials=provider)
    client._credentials.get(client._run)
    client._credentials.get(client._run)
    assert len(calls) == 1


def test_chain_config_is_pure_over_env_and_files(tmp_path: Path) -> None:
    env = env_for(
        tmp_path, credentials="[default]\naws_access_key_id = K\naws_secret_access_key = S\n"
    )
    config = resolve_config(env=env)
    assert _run_sync(chain_flow(config, env)) == sib.Credentials("K", "S")


def test_full_call_with_chain_credentials(tmp_path: Path) -> None:
    import httpx

    env = env_for(
        tmp_path, credentials="[default]\naws_access_key_id = CHAINKEY\naws_secret_access_key = S\n"
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = sib.ImageBuilderClient(
        env=env, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    client.cancel_image_creation(ARN)
    assert "Credential=CHAINKEY/" in seen[0].headers["authorization"]


class AssumeRoleSts:
    """STS on loopback that checks each AssumeRole's SigV4 signature (service sts)
    against the keys it knows and hands out a new key pair per call."""

    def __init__(self, known: list[sib.Credentials]) -> None:
        self.known = {c.access_key_id: c for c in known}
        self.received: list[dict[str, list[str]]] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        from sigv4_imagebuilder.testing import verify_request_signature

        problem = verify_request_signature(
            request,
            credentials=self.known,
            region="us-east-1",
            now=datetime.datetime.now(UTC),
            service="sts",
        )
        if problem is not None:
            return Reply(
                status=403,
                body=(
                    f"<ErrorResponse><Error><Code>{problem.code}</Code>"
                    f"<Message>{problem.message}</Message></Error></ErrorResponse>"
                ).encode(),
            )
        form = urllib.parse.parse_qs(request.body.decode())
        self.received.append(form)
        n = len(self.received)
        issued = sib.Credentials(
            f"ASIAROLE{n}", f"role-secret-{n}", session_token=f"role-token-{n}"
        )
        self.known[issued.access_key_id] = issued
        return Reply(
            body=(
                '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
                f"<Credentials><AccessKeyId>{issued.access_key_id}</AccessKeyId>"
                f"<SecretAccessKey>{issued.secret_access_key}</SecretAccessKey>"
                f"<SessionToken>{issued.session_token}</SessionToken><Expiration>{LATER}</Expiration>"
                "</Credentials></AssumeRoleResult></AssumeRoleResponse>"
            ).encode()
        )


ROLE_CONFIG = """
[profile base]
region = us-east-1

[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = base
external_id = ext-1
role_session_name = my-session
duration_seconds = 900

[profile chained]
role_arn = arn:aws:iam::123456789012:role/deploy
source_profile = admin

[profile self]
role_arn = arn:aws:iam::123456789012:role/self
source_profile = self

[profile fromenv]
role_arn = arn:aws:iam::123456789012:role/env
credential_source = Environment

[profile loop1]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = loop2

[profile loop2]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = loop1

[profile mfa]
role_arn = arn:aws:iam::123456789012:role/mfa
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/me

[profile both]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = base
credential_source = Environment

[profile weird]
role_arn = arn:aws:iam::123456789012:role/x
credential_source = Mainframe
"""
ROLE_CREDENTIALS = """
[base]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret

[self]
aws_access_key_id = AKIDSELF
aws_secret_access_key = self-secret
"""
BASE = sib.Credentials("AKIDBASE", "base-secret")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_assume_role_with_source_profile_is_signed_by_the_source(tmp_path: Path, mode: str) -> None:
    sts = AssumeRoleSts([BASE])
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        got = (
            resolve(env, profile="admin")
            if mode == "sync"
            else asyncio.run(aresolve(env, profile="admin"))
        )
    assert (got.access_key_id, got.session_token) == ("ASIAROLE1", "role-token-1")
    assert got.expiration == datetime.datetime(2099, 1, 1, tzinfo=UTC)
    assert sts.received == [
        {
            "Action": ["AssumeRole"],
            "Version": ["2011-06-15"],
            "RoleArn": ["arn:aws:iam::123456789012:role/admin"],
            "RoleSessionName": ["my-session"],
            "ExternalId": ["ext-1"],
            "DurationSeconds": ["900"],
        }
    ]


def test_role_chain_and_self_reference_and_credential_source(tmp_path: Path) -> None:
    sts = AssumeRoleSts(
        [BASE, sib.Credentials("AKIDSELF", "self-secret"), sib.Credentials("AKIDENV", "env-secret")]
    )
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        # deploy's AssumeRole is signed with admin's temporary keys, which STS only knows once issued.
        assert resolve(env, profile="chained").access_key_id == "ASIAROLE2"
        assert [f["RoleArn"][0] for f in sts.received] == [
            "arn:aws:iam::123456789012:role/admin",
            "arn:aws:iam::123456789012:role/deploy",
        ]
        assert resolve(env, profile="self").access_key_id == "ASIAROLE3"
        with_env = {**env, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
        assert resolve(with_env, profile="fromenv").access_key_id == "ASIAROLE4"
        # Without profile=, the environment's own keys come first, as in the AWS CLI.
        assert resolve({**with_env, "AWS_PROFILE": "fromenv"}).access_key_id == "AKIDENV"


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("loop1", "loops back"),
        ("mfa", "mfa_serial needs an MFA code"),
        ("both", "not both"),
        ("weird", "'Mainframe' is not Environment"),
        ("fromenv", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"),
    ],
)
def test_assume_role_misconfigurations(tmp_path: Path, profile: str, message: str) -> None:
    env = env_for(
        tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"
    )
    with pytest.raises(sib.CredentialRetrievalError, match=message):
        resolve(env, profile=profile)


def test_assume_role_refused_by_sts(tmp_path: Path) -> None:
    sts = AssumeRoleSts([])  # knows no key: the signature check fails
    with LoopbackServer(sts) as server:
        env = env_for(
            tmp_path, ROLE_CONFIG, ROLE_CREDENTIALS, AWS_ENDPOINT_URL_STS=server.endpoint_url
        )
        with pytest.raises(
            sib.CredentialRetrievalError, match="HTTP 403 UnrecognizedClientException"
        ):
            resolve(env, profile="admin")


def test_assume_role_source_profile_with_credential_process_or_nothing(tmp_path: Path) -> None:
    script = tmp_path / "proc.py"
    script.write_text(
        "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDPROC', 'SecretAccessKey': 'proc-secret'}))"
    )
    config = (
        f"[profile src]\ncredential_process = {sys.executable} {script}\n"
        "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = src\n"
        "[profile empty]\nregion = us-east-1\n"
        "[profile role2]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = empty\n"
    )
    sts = AssumeRoleSts([sib.Credentials("AKIDPROC", "proc-secret")])
    with LoopbackServer(sts) as server:
        env = env_for(tmp_path, config, AWS_ENDPOINT_URL_STS=server.endpoint_url)
        assert resolve(env, profile="role").access_key_id == "ASIAROLE1"
        with pytest.raises(
            sib.CredentialRetrievalError, match="source profile empty has no credentials"
        ):
            resolve(env, profile="role2")
