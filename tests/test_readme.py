"""Every ```python block of the README and of docs/, in order per page, against the local stand-in."""

from __future__ import annotations

import inspect
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder, replay

README_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def run_page(
    page: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixtures: dict[str, Any],
) -> tuple[int, int, LocalImageBuilder]:
    """Run ``page``'s blocks in one namespace; (blocks, test functions run, the "AWS" stand-in)."""
    blocks = BLOCK.findall(page.read_text())
    monkeypatch.chdir(ROOT)
    with LocalImageBuilder(DEFAULT_CREDENTIALS, region="us-east-1") as aws:
        # "Real AWS" for the examples that name none: the stand-in, through the
        # same configuration a user's environment would provide.
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEFAULT_CREDENTIALS.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DEFAULT_CREDENTIALS.secret_access_key)
        namespace: dict[str, Any] = {"__name__": "readme"}
        ran_tests = 0
        for block in blocks:
            aws.add_image(README_ARN, "BUILDING")
            before = set(namespace)
            exec(compile(block, str(page.relative_to(ROOT)), "exec"), namespace)
            for name in sorted(set(namespace) - before):
                if name.startswith("test_") and callable(namespace[name]):
                    params = inspect.signature(namespace[name]).parameters
                    # Like the plugin's imagebuilder_replay, scoped to this one function.
                    with ExitStack() as stack:
                        scoped = {
                            **fixtures,
                            "imagebuilder_replay": lambda p: stack.enter_context(replay(p)),
                        }
                        namespace[name](**{p: scoped[p] for p in params})
                    ran_tests += 1
    return len(blocks), ran_tests, aws


def test_the_readme_examples_run_and_talk_to_aws(
    monkeypatch: pytest.MonkeyPatch,
    local_imagebuilder: LocalImageBuilder,
    local_imagebuilder_client: Any,
) -> None:
    fixtures = {
        "local_imagebuilder": local_imagebuilder,
        "local_imagebuilder_client": local_imagebuilder_client,
    }
    blocks, ran_tests, aws = run_page(ROOT / "README.md", monkeypatch, fixtures)
    assert blocks >= 6 and ran_tests == 1
    assert aws.image_status(README_ARN) == "CANCELLED"
    assert len(aws.requests) >= 3


@pytest.mark.parametrize(
    "page", [p for p in PAGES[1:] if BLOCK.search(p.read_text())], ids=lambda p: p.name
)
def test_the_docs_examples_run(
    page: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_imagebuilder: LocalImageBuilder,
    local_imagebuilder_client: Any,
) -> None:
    fixtures = {
        "local_imagebuilder": local_imagebuilder,
        "local_imagebuilder_client": local_imagebuilder_client,
    }
    blocks, ran_tests, _ = run_page(page, monkeypatch, fixtures)
    assert blocks >= 1
    expected_tests = len(re.findall(r"^def test_", page.read_text(), re.MULTILINE))
    assert ran_tests == expected_tests


def test_the_readme_is_one_sitting_and_links_pages_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < 20 * 1024
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).is_file(), link
    for page in PAGES[1:]:
        assert "](../README.md)" in page.read_text(), page.name
