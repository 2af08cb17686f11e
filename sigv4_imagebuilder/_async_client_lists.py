"""The async client's list operations, paginators and ``cancel_pipeline_builds``.

A mixin of :class:`~._async_client.AsyncImageBuilderClient` (its sync twin is
``_client_lists``): each method drives the shared flows with the client's
``_run``, through tasks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._actions import Flow
from ._client_lists import DEFAULT_PIPELINE_CONCURRENCY
from ._flow import CallContext, call_flow
from ._models import (
    BuildCancelOutcome,
    ImageSummary,
    ListImageBuildVersionsResponse,
    ListImagePipelineImagesResponse,
)
from ._operations import LIST_IMAGE_BUILD_VERSIONS, LIST_IMAGE_PIPELINE_IMAGES
from ._shapes import Operation

if TYPE_CHECKING:
    from ._pipelines import OnProgress

T = TypeVar("T")


class AsyncLists:
    """The async client's list, paginate and pipeline methods."""

    _ctx: CallContext

    def _run(self, flow: Flow[T]) -> Awaitable[T]:
        raise NotImplementedError

    async def list_image_pipeline_images(
        self,
        image_pipeline_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> ListImagePipelineImagesResponse:
        """One page of a pipeline's images; see
        :meth:`ImageBuilderClient.list_image_pipeline_images`."""
        return await self._run(
            call_flow(
                self._ctx,
                LIST_IMAGE_PIPELINE_IMAGES,
                {
                    "image_pipeline_arn": image_pipeline_arn,
                    "filters": filters,
                    "max_results": max_results,
                    "next_token": next_token,
                },
            )
        )

    async def list_image_build_versions(
        self,
        image_version_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> ListImageBuildVersionsResponse:
        """One page of a version's builds; see
        :meth:`ImageBuilderClient.list_image_build_versions`."""
        return await self._run(
            call_flow(
                self._ctx,
                LIST_IMAGE_BUILD_VERSIONS,
                {
                    "image_version_arn": image_version_arn,
                    "filters": filters,
                    "max_results": max_results,
                    "next_token": next_token,
                },
            )
        )

    def paginate_image_pipeline_images(
        self,
        image_pipeline_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ImageSummary]:
        """Every image a pipeline built, for ``async for``; see
        :meth:`ImageBuilderClient.paginate_image_pipeline_images`."""
        from . import _pipelines

        params = {"image_pipeline_arn": image_pipeline_arn, "filters": filters}
        return self._pages(
            LIST_IMAGE_PIPELINE_IMAGES,
            _pipelines.page_params(LIST_IMAGE_PIPELINE_IMAGES, params, page_size),
        )

    def paginate_image_build_versions(
        self,
        image_version_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ImageSummary]:
        """Every build of an image version, for ``async for``; see
        :meth:`ImageBuilderClient.paginate_image_build_versions`."""
        from . import _pipelines

        params = {"image_version_arn": image_version_arn, "filters": filters}
        return self._pages(
            LIST_IMAGE_BUILD_VERSIONS,
            _pipelines.page_params(LIST_IMAGE_BUILD_VERSIONS, params, page_size),
        )

    async def cancel_pipeline_builds(
        self,
        image_pipeline_arn: str,
        *,
        wait: bool = False,
        max_concurrency: int | None = None,
        on_progress: OnProgress | None = None,
    ) -> list[BuildCancelOutcome]:
        """Cancel a pipeline's unfinished builds; see
        :meth:`ImageBuilderClient.cancel_pipeline_builds`.

        Cancels (and waits) run as tasks, at most ``max_concurrency`` at once
        (default 8). Cancelling the call cancels the work not yet done; cancels
        already sent stay sent.
        """
        from . import _pipelines

        params = _pipelines.pipeline_params(image_pipeline_arn)
        limit = _pipelines.check_concurrency(max_concurrency, DEFAULT_PIPELINE_CONCURRENCY)
        listing = self._pages(LIST_IMAGE_PIPELINE_IMAGES, params)
        running = {s.arn: s async for s in listing if _pipelines.is_running(s)}
        tally = _pipelines.Tally(list(running.values()), on_progress)
        import asyncio

        gate = asyncio.Semaphore(limit)

        failed: list[BaseException] = []

        async def cancel(summary: ImageSummary) -> None:
            assert summary.arn is not None
            arn = summary.arn
            async with gate:
                if failed:  # another image's work failed the call: start nothing new
                    return
                flow = _pipelines.cancel_build_flow(
                    self._ctx, summary, wait, lambda status: tally.status(arn, status)
                )
                try:
                    tally.done(await self._run(flow))
                except BaseException as exc:
                    failed.append(exc)  # before the gate lets the next one in
                    raise

        tasks = [asyncio.ensure_future(cancel(s)) for s in running.values()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # The first failure (on_progress raising, a cancel of this call) stops
            # the rest: what was sent stays sent, nothing new starts.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return tally.outcomes()

    async def _pages(
        self, operation: Operation[Any], params: dict[str, object]
    ) -> AsyncIterator[Any]:
        from . import _pipelines

        paginator = operation.paginator
        assert paginator is not None
        seen: set[bytes] = set()
        while True:
            page = await self._run(call_flow(self._ctx, operation, params))
            for item in paginator.items(page):
                yield item
            if not _pipelines.next_page(operation, params, page, seen):
                return
