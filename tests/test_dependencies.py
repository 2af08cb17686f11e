"""Runtime dependencies that the code needs but no import of ours names.

httpcore looks up the running async library with ``import sniffio`` inside a function, on
every async lock and event it creates (several per request). anyio 4.16 stopped depending on
sniffio, so without our own declaration the import fails, and a failed import is not cached:
Python searches every path entry again each time, about 100 µs a try, around a millisecond of
CPU per async call (encode/httpcore#1103).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Iterator
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import httpx
import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import LoopbackServer, Reply

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/deps/1.0.0/1"
BODY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}).encode()


def test_sniffio_is_a_declared_runtime_dependency() -> None:
    declared = [
        re.split(r"[<>=!~ ;\[]", line, maxsplit=1)[0].lower()
        for line in requires("sigv4-imagebuilder") or []
        if "extra ==" not in line
    ]
    assert "sniffio" in declared


def test_sniffio_detects_asyncio() -> None:
    import sniffio

    async def which() -> str:
        return sniffio.current_async_library()

    import asyncio

    assert asyncio.run(which()) == "asyncio"


@pytest.fixture
def sniffio_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Record every ``import sniffio``, wherever it comes from: True if it succeeded."""
    imports: list[bool] = []
    real_import = builtins.__import__

    def counting_import(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            module = real_import(name, *args, **kwargs)
        except ImportError:
            if name == "sniffio":
                imports.append(False)
            raise
        if name == "sniffio":
            imports.append(True)
        return module

    monkeypatch.setattr(builtins, "__import__", counting_import)
    yield imports


async def test_async_calls_over_a_socket_never_retry_a_failing_sniffio_import(
    sniffio_imports: list[bool],
) -> None:
    # A real socket through httpcore: the library's own async client has its own
    # transport, so a user's httpx.AsyncClient (sent through httpcore's pool, whose
    # locks and events run the import); respx would replace that pool.
    reply = Reply(
        headers=[("x-amzn-RequestId", "r"), ("Content-Type", "application/json")], body=BODY
    )
    with LoopbackServer(lambda request: reply) as server:
        async with (
            httpx.AsyncClient() as http,
            sib.AsyncImageBuilderClient(
                region="us-east-1",
                credentials=sib.Credentials("AKIDDEPS", "deps-secret"),
                endpoint_url=server.endpoint_url,
                max_attempts=1,
                http_client=http,
            ) as client,
        ):
            for _ in range(20):
                result = await client.cancel_image_creation(ARN, client_token="t")
                assert result.image_build_version_arn == ARN
    assert sniffio_imports, "the calls never reached httpcore's async machinery"
    assert all(sniffio_imports)


def _names_defined_in(tree: ast.Module) -> set[str]:
    """What a module defines itself: its top-level and class-level names, the attributes
    it stores on ``self``/``cls``, its ``__slots__``, and the names it imports."""
    names: set[str] = set()

    def body_names(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if isinstance(node, ast.ClassDef):
                    body_names(node.body)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.add(target.id)
                        if target.id == "__slots__" and node.value is not None:
                            names.update(
                                c.value
                                for c in ast.walk(node.value)
                                if isinstance(c, ast.Constant) and isinstance(c.value, str)
                            )
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                body_names(node.body)

    body_names(tree.body)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)  # nested helpers
    return names


def test_no_runtime_module_reads_a_private_attribute_of_a_dependency() -> None:
    # Every ``x._name`` (or ``getattr(x, "_name")``) the package reads, its testing kit
    # aside, names something the package defines itself. A private name of httpx,
    # urllib3, aiohttp or botocore would not be one of those.
    root = Path(sib.__file__).parent
    trees = {path: ast.parse(path.read_text()) for path in root.rglob("*.py")}
    ours = {path.stem for path in trees}
    for tree in trees.values():
        ours |= _names_defined_in(tree)
    foreign = []
    for path, tree in trees.items():
        if "testing" in path.parts:
            continue
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr", "setattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                name = node.args[1].value
            if name and name.startswith("_") and not name.startswith("__") and name not in ours:
                foreign.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    assert foreign == []
