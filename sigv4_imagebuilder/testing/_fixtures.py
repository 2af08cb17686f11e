"""The ``fixtures/`` file format: one JSON file per recorded exchange.

::

    {"description": "...",
     "request": {"method": "PUT", "path": "/CancelImageCreation",
                 "json": {"imageBuildVersionArn": "...", "clientToken": "..."}},
     "response": {"status": 200, "headers": {...}, "json": {...}}}

    {"description": "...",
     "request": {"method": "GET", "path": "/GetImage",
                 "query": {"imageBuildVersionArn": "arn:aws:imagebuilder:..."}},
     "response": {"status": 200, "headers": {...}, "json": {...}}}

The request's ``"query"`` (optional) holds the decoded query parameters, a
list of strings for a repeated one; its ``"json"`` (optional) the JSON body,
or ``"body"`` a raw one. A response may carry ``"body": "raw text"`` instead
of ``"json"``; a retry scenario has ``"responses": [...]``, one per attempt.
Headers are stored as the client read the reply: a compressed body is stored
decoded, without Content-Encoding or Content-Length. A file may also hold a
sequence of calls, ``{"description": "...", "calls": [fixture, fixture, ...]}``,
played in order (what :func:`record` writes for several calls to one ``.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs


class FixtureError(ValueError):
    """A fixture file is not in the expected format."""


@attrs.frozen(kw_only=True)
class FixtureResponse:
    """One recorded reply."""

    status: int
    headers: Mapping[str, str] = attrs.field(hash=False)
    body: bytes

    def to_json(self) -> dict[str, Any]:
        """The reply in the file format (``json`` when the body is JSON, else ``body``)."""
        out: dict[str, Any] = {"status": self.status, "headers": dict(self.headers)}
        try:
            out["json"] = json.loads(self.body)
        except ValueError:  # not JSON, or empty
            out["body"] = self.body.decode("utf-8", errors="replace")
        return out


@attrs.frozen(kw_only=True)
class Fixture:
    """A recorded call: what was asked and each attempt's reply."""

    name: str
    description: str
    request: Mapping[str, Any] = attrs.field(hash=False)
    responses: tuple[FixtureResponse, ...]

    @property
    def expected_body(self) -> Mapping[str, Any]:
        """The request's JSON body as recorded."""
        body = self.request.get("json", {})
        return body if isinstance(body, dict) else {}

    @property
    def expected_query(self) -> Mapping[str, list[str]]:
        """The request's query parameters as recorded, each as a list of values."""
        query = self.request.get("query", {})
        return {
            name: list(value) if isinstance(value, list) else [value]
            for name, value in query.items()
        }

    def to_json(self) -> dict[str, Any]:
        """The fixture in the file format."""
        out: dict[str, Any] = {"description": self.description, "request": dict(self.request)}
        if len(self.responses) == 1:
            out["response"] = self.responses[0].to_json()
        else:
            out["responses"] = [r.to_json() for r in self.responses]
        return out


def _response(data: Any, where: str) -> FixtureResponse:
    if not isinstance(data, dict) or not isinstance(data.get("status"), int):
        raise FixtureError(f"{where}: a response needs an integer 'status'")
    headers = data.get("headers", {})
    if not isinstance(headers, dict):
        raise FixtureError(f"{where}: 'headers' must be an object")
    if "json" in data:
        body = json.dumps(data["json"]).encode()
    else:
        raw = data.get("body", "")
        if not isinstance(raw, str):
            raise FixtureError(f"{where}: 'body' must be a string")
        body = raw.encode()
    return FixtureResponse(
        status=data["status"], headers={str(k): str(v) for k, v in headers.items()}, body=body
    )


def _check_request(request: Any, path: Path) -> None:
    if not isinstance(request, dict):
        raise FixtureError(f"{path}: 'request' must be an object")
    for key in ("method", "path", "body"):
        if key in request and not isinstance(request[key], str):
            raise FixtureError(f"{path}: request '{key}' must be a string")
    query = request.get("query", {})
    if not isinstance(query, dict) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
        for v in query.values()
    ):
        raise FixtureError(
            f"{path}: request 'query' must be an object of strings (or lists of strings)"
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: expected a JSON object")
    return data


def _fixture(data: Any, path: Path, name: str) -> Fixture:
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: {name}: expected a JSON object")
    if "responses" in data:
        raw = data["responses"]
        if not isinstance(raw, list) or not raw:
            raise FixtureError(f"{path}: 'responses' must be a non-empty list")
        responses = tuple(_response(r, f"{path} responses[{i}]") for i, r in enumerate(raw))
    elif "response" in data:
        responses = (_response(data["response"], str(path)),)
    else:
        raise FixtureError(f"{path}: needs 'response' or 'responses'")
    request = data.get("request", {})
    _check_request(request, path)
    return Fixture(
        name=name,
        description=str(data.get("description", "")),
        request=request,
        responses=responses,
    )


def _fixtures_in(path: Path) -> list[Fixture]:
    data = _read(path)
    if "calls" not in data:
        return [_fixture(data, path, path.stem)]
    calls = data["calls"]
    if not isinstance(calls, list) or not calls:
        raise FixtureError(f"{path}: 'calls' must be a non-empty list")
    return [_fixture(call, path, f"{path.stem}[{i}]") for i, call in enumerate(calls, start=1)]


def load_fixture(path: str | Path) -> Fixture:
    """Read one fixture file that records one call."""
    path = Path(path)
    fixtures = _fixtures_in(path)
    if len(fixtures) != 1:
        raise FixtureError(f"{path}: records {len(fixtures)} calls; use load_fixtures()")
    return fixtures[0]


def load_fixtures(path: str | Path) -> list[Fixture]:
    """Read a fixture file (one call, or a sequence under ``"calls"``), or every
    ``*.json`` in a directory in name order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise FixtureError(f"{path}: no *.json fixtures")
        return [fixture for f in files for fixture in _fixtures_in(f)]
    return _fixtures_in(path)
