"""The engines' settings: proxies read as urllib and botocore read them, and followed by the
credential sources' own requests, as the CA bundle is."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from botocore.utils import should_bypass_proxies
from test_engine_urllib3 import CA, NO_ENV, Peer, Server, cancel_reply, free_port, reply
from test_engine_urllib3 import _server_tls as _tls
from test_engines_adversarial import call

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._engines import environment_proxies, proxy_for

ENVIRONMENTS = [
    {"HTTP_PROXY": "http://up:1", "http_proxy": "http://low:2"},
    {"HTTP_PROXY": "http://up:1", "http_proxy": ""},  # empty lower-case cancels
    {"http_proxy": "", "HTTP_PROXY": "http://up:1"},  # whatever the order
    {"HTTPS_PROXY": "http://up:1", "Https_Proxy": "http://mixed:2"},
    {"HTTPS_PROXY": "http://up:1", "https_PROXY": "http://mixed:2"},
    {"HTTP_PROXY": "http://up:1", "REQUEST_METHOD": "GET"},  # CGI: httpoxy
    {"http_proxy": "http://low:2", "REQUEST_METHOD": "GET"},  # CGI keeps lower-case
    {"ALL_PROXY": "http://all:3", "no_proxy": "localhost", "NO_PROXY": "other"},
    {"FTP_PROXY": "", "PATH": "/bin", "proxy": "x"},
]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_proxies_reads_as_urllib_does(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # urllib reads os.environ; ours reads the client's env= mapping.
    assert environment_proxies(env) == urllib.request.getproxies_environment()


@pytest.mark.parametrize(
    ("url", "no_proxy"),
    [
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "127.0.0.1:9090"),
        ("https://api.example.com/", "example.com"),
        ("https://api.example.com/", ".example.com"),
        ("https://api.example.com:8443/", "api.example.com:8443"),
        ("https://api.example.com:8443/", "api.example.com:443"),
        ("https://api.example.com/", "api.example.com:443"),
        ("https://api.example.com/", "api.example.com:8443"),
        ("https://notexample.com/", "example.com"),
        ("http://[::1]:8080/", "::1"),
        ("http://localhost:8080/", "*"),
        ("http://localhost:8080/", "other, localhost "),
    ],
)
def test_no_proxy_is_matched_as_botocore_matches_it(
    url: str, no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    proxies = {"http": "http://proxy:3128", "https": "http://proxy:3128", "no": no_proxy}
    parsed = httpx.URL(url)
    bypassed = proxy_for(parsed.scheme, parsed.host, parsed.port, proxies) is None
    if url.startswith("http://[::1]"):
        # botocore asks with the netloc "[::1]:8080", which no entry without
        # brackets matches; the bare host is asked too here, as requests does.
        assert bypassed and not should_bypass_proxies(url)
    elif url == "https://api.example.com/" and no_proxy.endswith(":443"):
        # botocore matches "host:443" only when the URL spells the port out; httpx
        # drops a default port, so the default is asked for here: the same place.
        assert bypassed and should_bypass_proxies("https://api.example.com:443/")
    else:
        assert bypassed == should_bypass_proxies(url)


# --------------------------------------------------------------------------- the credential
# sources' own requests (container, IMDS, STS) go through the client that makes them, so they
# follow its CA bundle and its proxies; over real sockets, both clients.

CONTAINER_CREDS = json.dumps(
    {
        "AccessKeyId": "ASIAFROMCONTAINER",
        "SecretAccessKey": "container-secret",
        "Token": "container-token",
        "Expiration": "2099-01-01T00:00:00Z",
    }
).encode()


def _serving_credentials(peer: Peer, index: int, server: Server) -> None:
    while (request := peer.request()) is not None:
        server.record(request)
        if b"/creds" in request.split(b"\r\n", 1)[0]:
            peer.send(reply(CONTAINER_CREDS, b"Content-Type: application/json"))
        else:
            peer.send(cancel_reply())


def _signed_by(request: bytes) -> bool:
    return b"Credential=ASIAFROMCONTAINER/" in request


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("bundle", [True, False], ids=["bundle", "no-bundle"])
def test_container_credentials_over_https_are_verified_with_the_ca_bundle(
    mode: str, bundle: bool
) -> None:
    container = Server(lambda peer, index: _serving_credentials(peer, index, container), _tls())
    with container, Server() as api:
        env = {**NO_ENV, "AWS_CONTAINER_CREDENTIALS_FULL_URI": container.url + "/creds"}
        if bundle:
            env["AWS_CA_BUNDLE"] = CA
        result = call(mode, api.url, credentials=None, env=env)
    if bundle:
        assert isinstance(result, sib.CancelImageCreationResponse), repr(result)
        assert len(api.requests) == 1 and _signed_by(api.requests[0])
    else:  # the test CA is not in the system's store: refused, and nothing signed is sent
        assert isinstance(result, sib.CredentialRetrievalError), repr(result)
        assert "CERTIFICATE_VERIFY_FAILED" in str(result)
        assert container.requests == [] and api.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_container_credentials_go_through_the_environment_proxy(mode: str) -> None:
    # The proxy answers both requests itself; the container endpoint has no listener.
    proxy = Server(lambda peer, index: _serving_credentials(peer, index, proxy))
    container = f"http://127.0.0.1:{free_port()}/creds"
    with proxy, Server() as api:
        env = {**NO_ENV, "HTTP_PROXY": proxy.url, "AWS_CONTAINER_CREDENTIALS_FULL_URI": container}
        result = call(mode, api.url, credentials=None, env=env)
    assert isinstance(result, sib.CancelImageCreationResponse), repr(result)
    lines = [request.split(b"\r\n", 1)[0] for request in proxy.requests]
    assert lines == [
        b"GET " + container.encode() + b" HTTP/1.1",
        b"PUT " + api.url.encode() + b"/CancelImageCreation HTTP/1.1",
    ]
    assert _signed_by(proxy.requests[1]) and api.requests == []
