"""The engines' proxy settings against the readers botocore uses: urllib's and botocore's own."""

from __future__ import annotations

import os
import urllib.request

import pytest
from botocore.utils import should_bypass_proxies

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
    else:
        assert bypassed == should_bypass_proxies(url)
