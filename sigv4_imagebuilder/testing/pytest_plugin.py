"""pytest fixtures for code that uses sigv4_imagebuilder (registered via ``pytest11``).

- ``local_imagebuilder``: a started :class:`LocalImageBuilder` (us-east-1,
  checking signatures, serving CancelImageCreation and GetImage), stopped
  after the test;
- ``local_imagebuilder_client``: an ``ImageBuilderClient`` pointed at it;
- ``local_imagebuilder_async_client``: an ``AsyncImageBuilderClient`` pointed at
  it, for ``async def`` tests (needs pytest-asyncio, which runs async fixtures);
- ``imagebuilder_replay``: call it with a fixture path to answer every call in
  the test from recordings, of any operation (``fixtures/get_image/`` for
  GetImage), sync and async tests alike.

Example test::

    def test_cancel(local_imagebuilder, local_imagebuilder_client):
        local_imagebuilder.add_image(ARN)
        local_imagebuilder_client.cancel_image_creation(ARN)
        assert local_imagebuilder.image_status(ARN) == "CANCELLED"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._async_client import AsyncImageBuilderClient
    from .._client import ImageBuilderClient
    from ._local import LocalImageBuilder
    from ._replay import Replay


@pytest.fixture
def local_imagebuilder() -> Iterator[LocalImageBuilder]:
    """A LocalImageBuilder on 127.0.0.1 for the test's duration."""
    from ._local import DEFAULT_CREDENTIALS, LocalImageBuilder

    with LocalImageBuilder(DEFAULT_CREDENTIALS, region="us-east-1") as server:
        yield server


@pytest.fixture
def local_imagebuilder_client(
    local_imagebuilder: LocalImageBuilder,
) -> Iterator[ImageBuilderClient]:
    """A sync client signed with the stand-in's credentials and pointed at it."""
    from .._client import ImageBuilderClient
    from ._local import DEFAULT_CREDENTIALS

    with ImageBuilderClient(
        region="us-east-1",
        credentials=DEFAULT_CREDENTIALS,
        endpoint_url=local_imagebuilder.endpoint_url,
    ) as client:
        yield client


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture needs pytest-asyncio
    _HAS_PYTEST_ASYNCIO = False
else:
    _HAS_PYTEST_ASYNCIO = True

if _HAS_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def local_imagebuilder_async_client(
        local_imagebuilder: LocalImageBuilder,
    ) -> AsyncIterator[AsyncImageBuilderClient]:
        """An async client signed with the stand-in's credentials and pointed at it."""
        from .._async_client import AsyncImageBuilderClient
        from ._local import DEFAULT_CREDENTIALS

        async with AsyncImageBuilderClient(
            region="us-east-1",
            credentials=DEFAULT_CREDENTIALS,
            endpoint_url=local_imagebuilder.endpoint_url,
        ) as client:
            yield client


@pytest.fixture
def imagebuilder_replay() -> Iterator[Callable[[str | Path], Replay]]:
    """Call with a fixture file or directory; recordings answer for the rest of the test."""
    from ._replay import replay

    with ExitStack() as stack:

        def start(path: str | Path) -> Replay:
            return stack.enter_context(replay(path))

        yield start
