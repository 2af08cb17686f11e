"""The sync client's list operations, paginators and ``cancel_pipeline_builds``.

A mixin of :class:`~._client.ImageBuilderClient` (its async twin is
``_async_client_lists``): each method drives the shared flows (``call_flow`` per
page, ``_pipelines.cancel_build_flow`` per image) with the client's ``_run``,
through threads.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._actions import Flow
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

#: Images ``cancel_pipeline_builds`` works on at once when not told otherwise
#: (threads on the sync client, tasks on the async one).
DEFAULT_PIPELINE_CONCURRENCY = 8


class SyncLists:
    """The sync client's list, paginate and pipeline methods."""

    _ctx: CallContext

    def _run(self, flow: Flow[T]) -> T:
        raise NotImplementedError

    def list_image_pipeline_images(
        self,
        image_pipeline_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> ListImagePipelineImagesResponse:
        """One page of the images a pipeline built (ListImagePipelineImages).

        Args:
            image_pipeline_arn: the pipeline's ARN (``...:image-pipeline/name``).
            filters: filter name to values, such as ``{"name": ["web"],
                "version": ["1.0.0"]}``; names ``name`` and ``version``.
            max_results: the page's size, 1 to 100.
            next_token: the previous page's ``next_token``.

        Returns:
            The page: ``image_summary_list`` and ``next_token`` (``None`` on the last).

        Raises:
            ParamValidationError: a bad argument; nothing was sent.
            ResourceNotFoundException: no such pipeline.
            InvalidPaginationTokenException: a token this listing did not hand out.
            ServiceError: another error the service answered, after retries.
        """
        return self._run(
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

    def list_image_build_versions(
        self,
        image_version_arn: str,
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> ListImageBuildVersionsResponse:
        """One page of an image version's builds (ListImageBuildVersions).

        Args:
            image_version_arn: the version's ARN (``.../image/name/1.0.0``).
            filters: as for :meth:`list_image_pipeline_images`; names ``name``,
                ``osVersion``, ``platform``, ``type`` and ``version``.
            max_results: the page's size, 1 to 100.
            next_token: the previous page's ``next_token``.

        Raises:
            ParamValidationError: a bad argument; nothing was sent.
            InvalidPaginationTokenException: a token this listing did not hand out.
            ServiceError: another error the service answered, after retries.
        """
        return self._run(
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
    ) -> Iterator[ImageSummary]:
        """Every image a pipeline built, across all pages.

        The arguments are checked now (a ``ParamValidationError`` before anything
        is sent); each page is one call with the client's retries. A server that
        hands back a token it already gave ends the iteration with
        ``ImageBuilderError`` rather than a loop.

        Example:
            >>> import sigv4_imagebuilder as sib
            >>> from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder
            >>> pipeline = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/web"
            >>> arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/1"
            >>> with LocalImageBuilder() as local, sib.ImageBuilderClient(
            ...         region="us-east-1", endpoint_url=local.endpoint_url,
            ...         credentials=DEFAULT_CREDENTIALS) as client:
            ...     local.add_image(arn, status="BUILDING", pipeline_arn=pipeline)
            ...     [(s.arn, s.status) for s in client.paginate_image_pipeline_images(pipeline)]
            [('arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/1', 'BUILDING')]
        """
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
    ) -> Iterator[ImageSummary]:
        """Every build of an image version, across all pages; see
        :meth:`paginate_image_pipeline_images`."""
        from . import _pipelines

        params = {"image_version_arn": image_version_arn, "filters": filters}
        return self._pages(
            LIST_IMAGE_BUILD_VERSIONS,
            _pipelines.page_params(LIST_IMAGE_BUILD_VERSIONS, params, page_size),
        )

    def cancel_pipeline_builds(
        self,
        image_pipeline_arn: str,
        *,
        wait: bool = False,
        max_concurrency: int | None = None,
        on_progress: OnProgress | None = None,
    ) -> list[BuildCancelOutcome]:
        """Cancel every build of a pipeline that has not finished; with ``wait``, see them stop.

        Pages through the pipeline's images, then cancels each one whose status
        is not finished (AVAILABLE, CANCELLED, FAILED, DEPRECATED, DELETED,
        DISABLED), each with its own client token kept across retries. An image
        that finished in between (the service refuses the cancel) counts as
        ``already_finished`` once GetImage confirms it. With ``wait=True`` each
        cancelled image is polled until ``CANCELLED``. One image's failure never
        stops the others. Runs on a thread pool of ``max_concurrency`` threads
        (default 8), within the client's own in-flight limit.

        Args:
            image_pipeline_arn: the pipeline's ARN.
            wait: wait for each cancelled image to reach ``CANCELLED``.
            max_concurrency: images worked on at once (threads), at least 1.
            on_progress: called with every image's outcome so far (``"pending"``
                while its work goes on) whenever one changes; calls never overlap.

        Returns:
            One :class:`BuildCancelOutcome` per image tried, in listing order.

        Raises:
            ParamValidationError: a bad argument; nothing was sent.
            ServiceError, TransportError: the listing itself failed (nothing
                was cancelled).
        """
        import concurrent.futures

        from . import _pipelines

        params = _pipelines.pipeline_params(image_pipeline_arn)
        workers = _pipelines.check_concurrency(max_concurrency, DEFAULT_PIPELINE_CONCURRENCY)
        running = {
            s.arn: s
            for s in self._pages(LIST_IMAGE_PIPELINE_IMAGES, params)
            if _pipelines.is_running(s)
        }
        tally = _pipelines.Tally(list(running.values()), on_progress)

        stop = threading.Event()

        def cancel(summary: ImageSummary) -> None:
            assert summary.arn is not None
            on_status = functools.partial(tally.status, summary.arn)
            flow = _pipelines.until_stopped(
                _pipelines.cancel_build_flow(self._ctx, summary, wait, on_status), stop, summary
            )
            tally.done(self._run(flow))

        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="cancel-pipeline"
        )
        try:
            futures = [pool.submit(cancel, s) for s in running.values()]
            # The first exception (on_progress raising, say) stops the rest at once.
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
            for future in futures:
                future.result()
        except BaseException:
            stop.set()  # Ctrl-C: running waits end at their next step; nothing new starts
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return tally.outcomes()

    def _pages(self, operation: Operation[Any], params: dict[str, object]) -> Iterator[Any]:
        from . import _pipelines

        paginator = operation.paginator
        assert paginator is not None
        seen: set[bytes] = set()
        while True:
            page = self._run(call_flow(self._ctx, operation, params))
            yield from paginator.items(page)
            if not _pipelines.next_page(operation, params, page, seen):
                return
