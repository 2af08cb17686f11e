"""cancel_pipeline_builds and the paginators against the stand-in, over real sockets, at scale."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder

PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/nightly"
OTHER = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/weekly"
RUNNING = ("PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING")
FINISHED = ("AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED")


def arn(n: int, name: str = "nightly") -> str:
    return (
        f"arn:aws:imagebuilder:us-east-1:123456789012:image/{name}/1.0.{n // 1000}/{n % 1000 + 1}"
    )


def kwargs(local: LocalImageBuilder, **extra: Any) -> dict[str, Any]:
    return {
        "region": "us-east-1",
        "endpoint_url": local.endpoint_url,
        "credentials": DEFAULT_CREDENTIALS,
        **extra,
    }


def fill(local: LocalImageBuilder, total: int, running: int) -> tuple[set[str], set[str]]:
    """``total`` images in PIPELINE, ``running`` of them unfinished; and one other pipeline's."""
    live, done = set(), set()
    for n in range(total):
        target = arn(n)
        if n % (total // running) == 0 and len(live) < running:
            local.add_image(target, RUNNING[n % len(RUNNING)], pipeline_arn=PIPELINE)
            live.add(target)
        else:
            local.add_image(target, FINISHED[n % len(FINISHED)], pipeline_arn=PIPELINE)
            done.add(target)
    local.add_image(arn(0, "weekly"), "BUILDING", pipeline_arn=OTHER)
    return live, done


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thousand_image_pipeline_with_300_running_ends_with_those_300_cancelled(
    mode: str,
) -> None:
    with LocalImageBuilder(max_requests=100) as local:
        live, done = fill(local, 1000, 300)
        before = {target: local.image_status(target) for target in done}
        progress_calls = 0

        def on_progress(outcomes: Any) -> None:
            nonlocal progress_calls
            progress_calls += 1

        if mode == "sync":
            with sib.ImageBuilderClient(**kwargs(local)) as client:
                outcomes = client.cancel_pipeline_builds(
                    PIPELINE, wait=True, max_concurrency=16, on_progress=on_progress
                )
        else:

            async def go() -> list[sib.BuildCancelOutcome]:
                async with sib.AsyncImageBuilderClient(**kwargs(local)) as client:
                    return await client.cancel_pipeline_builds(
                        PIPELINE, wait=True, max_concurrency=32, on_progress=on_progress
                    )

            outcomes = asyncio.run(go())
        assert {o.image_build_version_arn for o in outcomes} == live
        assert {(o.outcome, o.status, o.error) for o in outcomes} == {
            ("cancelled", "CANCELLED", None)
        }
        assert all(local.image_status(target) == "CANCELLED" for target in live)
        assert {target: local.image_status(target) for target in done} == before
        assert local.image_status(arn(0, "weekly")) == "BUILDING"  # another pipeline's
        # At least: the first report, then a status change and an outcome per image.
        assert progress_calls >= 1 + 300


def test_a_build_that_finishes_between_the_listing_and_its_cancel_is_already_finished() -> None:
    with LocalImageBuilder() as local:
        local.add_image(arn(1), "BUILDING", pipeline_arn=PIPELINE)
        local.add_image(arn(2), "BUILDING", pipeline_arn=PIPELINE)
        finished = threading.Event()

        def on_progress(outcomes: Any) -> None:
            # Called first with every image pending, before any cancel is sent.
            if not finished.is_set():
                local.set_image_status(arn(2), "AVAILABLE")
                finished.set()

        with sib.ImageBuilderClient(**kwargs(local)) as client:
            outcomes = client.cancel_pipeline_builds(PIPELINE, on_progress=on_progress)
    by_arn = {o.image_build_version_arn: (o.outcome, o.status) for o in outcomes}
    assert by_arn == {arn(1): ("cancelled", "BUILDING"), arn(2): ("already_finished", "AVAILABLE")}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_paginators_walk_every_page_once_with_filters(mode: str) -> None:
    with LocalImageBuilder() as local:
        fill(local, 57, 19)
        local.add_image(arn(5, "other"), "BUILDING", pipeline_arn=PIPELINE)
        if mode == "sync":
            with sib.ImageBuilderClient(**kwargs(local)) as client:
                every = list(client.paginate_image_pipeline_images(PIPELINE, page_size=10))
                named = list(
                    client.paginate_image_pipeline_images(PIPELINE, filters={"name": ["other"]})
                )
        else:

            async def go() -> tuple[list[Any], list[Any]]:
                async with sib.AsyncImageBuilderClient(**kwargs(local)) as client:
                    every = [
                        s
                        async for s in client.paginate_image_pipeline_images(PIPELINE, page_size=10)
                    ]
                    named = [
                        s
                        async for s in client.paginate_image_pipeline_images(
                            PIPELINE, filters={"name": ["other"]}
                        )
                    ]
                    return every, named

            every, named = asyncio.run(go())
        pages = [r for r in local.requests if r.path == "/ListImagePipelineImages"]
    arns = [s.arn for s in every]
    assert len(arns) == 58 == len(set(arns))
    assert [s.arn for s in named] == [arn(5, "other")]
    assert len(pages) == 6 + 1  # 58 at 10 a page, then the filtered one


def test_a_forged_token_is_refused_by_the_stand_in_as_the_service_does() -> None:
    with LocalImageBuilder() as local, sib.ImageBuilderClient(**kwargs(local)) as client:
        local.add_pipeline(PIPELINE)
        with pytest.raises(sib.InvalidPaginationTokenException):
            client.list_image_pipeline_images(PIPELINE, next_token="forged")


TWO_PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pipeline_images_two_pages"
DEMO_PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/demo-pipeline"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_recorded_two_page_listing_replays_for_both_clients(mode: str) -> None:
    from conftest import PLAIN_CREDS

    from sigv4_imagebuilder.testing import replay

    options = {"region": "us-east-1", "credentials": PLAIN_CREDS}
    with replay(TWO_PAGES) as played:
        if mode == "sync":
            with sib.ImageBuilderClient(**options) as client:
                items = list(client.paginate_image_pipeline_images(DEMO_PIPELINE, page_size=2))
        else:

            async def go() -> list[sib.ImageSummary]:
                async with sib.AsyncImageBuilderClient(**options) as client:
                    pages = client.paginate_image_pipeline_images(DEMO_PIPELINE, page_size=2)
                    return [s async for s in pages]

            items = asyncio.run(go())
        assert played.unplayed == []
    assert [(s.version, s.status) for s in items] == [
        ("1.0.0/3", "AVAILABLE"),
        ("1.0.0/2", "CANCELLED"),
        ("1.0.0/1", "BUILDING"),
    ]


def test_recording_a_multi_page_listing_writes_one_fixture_per_page(tmp_path: Path) -> None:
    from sigv4_imagebuilder.testing import record, replay

    with LocalImageBuilder() as local:
        for n in range(5):
            local.add_image(arn(n), "BUILDING", pipeline_arn=PIPELINE)
        with record(tmp_path / "pages"), sib.ImageBuilderClient(**kwargs(local)) as client:
            recorded = [s.arn for s in client.paginate_image_pipeline_images(PIPELINE, page_size=2)]
    files = sorted((tmp_path / "pages").iterdir())
    assert len(files) == 3
    with (
        replay(tmp_path / "pages"),
        sib.ImageBuilderClient(region="us-east-1", credentials=DEFAULT_CREDENTIALS) as client,
    ):
        replayed = [s.arn for s in client.paginate_image_pipeline_images(PIPELINE, page_size=2)]
    assert replayed == recorded and len(set(recorded)) == 5


def test_an_interrupted_sync_bulk_cancel_with_wait_returns_promptly() -> None:
    """Ctrl-C ends the running waits at their next step, not after their 5-second poll
    delay (here up to 60 s of them); the cancels already sent stay sent."""
    import signal
    import time

    with LocalImageBuilder() as local:
        for n in range(4):
            local.add_image(arn(n), "BUILDING", pipeline_arn=PIPELINE, cancel_delay=60)
        interrupt = threading.Timer(
            1.0, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
        )
        with sib.ImageBuilderClient(**kwargs(local)) as client:
            start = time.monotonic()
            interrupt.start()
            try:
                with pytest.raises(KeyboardInterrupt):
                    client.cancel_pipeline_builds(PIPELINE, wait=True)
            finally:
                interrupt.cancel()
            elapsed = time.monotonic() - start
        cancels = [r for r in local.requests if r.path == "/CancelImageCreation"]
    assert elapsed < 3.0  # the waiters' next polls were 5 s away, their end 60 s
    assert len(cancels) == 4  # sent before the interrupt, and left sent
