"""Every ```python block of the README runs, in order, against the local stand-in."""

from __future__ import annotations

import inspect
import re
from contextlib import ExitStack
from typing import Any

import pytest
from conftest import ROOT

from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder, replay

README_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_readme_examples_run(
    monkeypatch: pytest.MonkeyPatch,
    local_imagebuilder: LocalImageBuilder,
    local_imagebuilder_client: Any,
) -> None:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(blocks) >= 6
    monkeypatch.chdir(ROOT)
    with LocalImageBuilder(DEFAULT_CREDENTIALS, region="us-east-1") as aws:
        # "Real AWS" for the examples that name none: the stand-in, through the
        # same configuration a user's environment would provide.
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEFAULT_CREDENTIALS.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DEFAULT_CREDENTIALS.secret_access_key)
        namespace: dict[str, Any] = {"__name__": "readme"}
        fixtures = {
            "local_imagebuilder": local_imagebuilder,
            "local_imagebuilder_client": local_imagebuilder_client,
        }
        ran_tests = 0
        for block in blocks:
            aws.add_image(README_ARN, "BUILDING")
            before = set(namespace)
            exec(compile(block, "README.md", "exec"), namespace)
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
        assert ran_tests == 2
        assert aws.image_status(README_ARN) == "CANCELLED"
        assert len(aws.requests) >= 3
