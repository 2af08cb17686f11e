"""Paging through list operations, and cancelling a pipeline's running builds: flows and books.

Both clients drive these: each page and each image's cancel is an ordinary
flow (``call_flow``, ``wait_flow``), so it gets the client's retries, deadlines
and credentials; what is here decides what to do next and keeps the tally.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._actions import Sleep
from ._errors import (
    ImageBuilderError,
    InvalidRequestException,
    ParamValidationError,
    ResourceInUseException,
    ResponseParseError,
    WaiterFailureError,
)
from ._flow import CallContext, call_flow
from ._models import BuildCancelOutcome, ImageSummary
from ._operations import CANCEL_IMAGE_CREATION, GET_IMAGE, LIST_IMAGE_PIPELINE_IMAGES
from ._options import check_max_concurrency
from ._protocol import validate_input
from ._shapes import Operation
from ._waiters import IMAGE_CANCELLED, wait_flow

#: Statuses after which a build does nothing more (the model's ImageStatus).
FINISHED = frozenset({"AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED"})

OnProgress = Callable[[Sequence[BuildCancelOutcome]], object]


def page_params(
    operation: Operation[Any], params: Mapping[str, object], page_size: object
) -> dict[str, object]:
    """The first page's parameters, validated now: bad input raises before anything is sent.

    Raises:
        ParamValidationError: a bad argument, or an operation that does not page.
    """
    paginator = operation.paginator
    if paginator is None:
        raise ParamValidationError("operation", "does not page", operation.name)
    first = {**params, paginator.limit: page_size}
    validate_input(operation, first)
    return first


#: The most pages one listing follows (10 million images at 100 a page): a server
#: that hands out fresh tokens forever ends in an error, not an endless loop.
MAX_PAGES = 100_000
#: The model's bound on a ``nextToken``.
MAX_TOKEN = 65_535


def next_page(
    operation: Operation[Any], params: dict[str, object], page: object, seen: set[bytes]
) -> bool:
    """Point ``params`` at the page after ``page``; False when ``page`` was the last.

    ``seen`` holds a digest of every token this listing followed (a token may be
    64 KiB; its digest is 32 bytes).

    Raises:
        ImageBuilderError: the server handed back a token already used in this
            listing (its own, or an earlier one), which would loop, or more than
            :data:`MAX_PAGES` pages.
    """
    paginator = operation.paginator
    assert paginator is not None
    token = paginator.output_token(page)
    if not token:
        return False
    if len(token) > MAX_TOKEN:
        # The server's fault, not the caller's: sending it back would be refused
        # by the model's bound as if the caller had passed it.
        metadata = getattr(page, "metadata", None)
        raise ResponseParseError(
            f"the reply's nextToken is longer than the model's {MAX_TOKEN} characters",
            status_code=getattr(metadata, "http_status_code", 200),
            body=b"",
            request_id=getattr(metadata, "request_id", None),
        )
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    if digest in seen:
        raise ImageBuilderError(
            f"{operation.name} returned a nextToken it had already handed out in this "
            "listing; stopping rather than looping"
        )
    if len(seen) >= MAX_PAGES:
        raise ImageBuilderError(
            f"{operation.name} kept handing out new pages past {MAX_PAGES:,}; stopping"
        )
    seen.add(digest)
    params[paginator.input_token] = token
    return True


def is_running(summary: ImageSummary) -> bool:
    """Whether a build may still be cancelled (no status, or one not finished)."""
    return summary.arn is not None and summary.status not in FINISHED


def pipeline_params(image_pipeline_arn: object) -> dict[str, object]:
    """ListImagePipelineImages' parameters for a pipeline's every image, validated."""
    return page_params(LIST_IMAGE_PIPELINE_IMAGES, {"image_pipeline_arn": image_pipeline_arn}, 100)


def check_concurrency(value: object, default: int) -> int:
    """``max_concurrency``, checked as the client's own: None for ``default``."""
    checked = check_max_concurrency(value)
    return default if checked is None else checked


def cancel_build_flow(
    ctx: CallContext,
    summary: ImageSummary,
    wait: bool,
    on_status: Callable[[str | None], object],
) -> Any:
    """Cancel one build (and with ``wait``, wait for CANCELLED): a flow whose value is
    the image's :class:`BuildCancelOutcome`. It never raises an ImageBuilderError: a
    failure is the outcome's ``error``."""
    arn = summary.arn
    assert arn is not None
    status = summary.status
    try:
        yield from call_flow(ctx, CANCEL_IMAGE_CREATION, {"image_build_version_arn": arn})
    except (ResourceInUseException, InvalidRequestException) as refused:
        # It may have finished between the listing and the cancel: ask.
        try:
            now = yield from call_flow(ctx, GET_IMAGE, {"image_build_version_arn": arn})
        except ImageBuilderError:
            return BuildCancelOutcome(
                image_build_version_arn=arn, outcome="failed", status=status, error=refused
            )
        image = now.image
        status = image.state.status if image is not None and image.state is not None else None
        on_status(status)
        outcome = "already_finished" if status in FINISHED else "failed"
        error = None if outcome == "already_finished" else refused
        return BuildCancelOutcome(
            image_build_version_arn=arn, outcome=outcome, status=status, error=error
        )
    except ImageBuilderError as exc:
        return BuildCancelOutcome(
            image_build_version_arn=arn, outcome="failed", status=status, error=exc
        )
    if not wait:
        return BuildCancelOutcome(image_build_version_arn=arn, outcome="cancelled", status=status)
    seen: list[str | None] = []

    def noted(response: Any) -> None:
        image = response.image
        seen[:] = [image.state.status if image is not None and image.state is not None else None]
        on_status(seen[0])

    try:
        done = yield from wait_flow(
            ctx,
            IMAGE_CANCELLED,
            arn,
            min_delay=IMAGE_CANCELLED.min_delay,
            max_delay=IMAGE_CANCELLED.max_delay,
            max_wait=IMAGE_CANCELLED.max_wait,
            on_status=noted,
        )
    except WaiterFailureError as exc:
        return BuildCancelOutcome(
            image_build_version_arn=arn, outcome="failed", status=exc.status, error=exc
        )
    except ImageBuilderError as exc:
        last = seen[0] if seen else status
        return BuildCancelOutcome(
            image_build_version_arn=arn, outcome="failed", status=last, error=exc
        )
    image = done.image
    final = image.state.status if image is not None and image.state is not None else "CANCELLED"
    return BuildCancelOutcome(image_build_version_arn=arn, outcome="cancelled", status=final)


#: The longest sleep between a waiter's polls that a stopped bulk cancel waits out.
STOP_STEP = 0.2


def until_stopped(flow: Any, stop: threading.Event, summary: ImageSummary) -> Any:
    """``flow`` (a :func:`cancel_build_flow`), ended early once ``stop`` is set.

    Its sleeps are taken in steps of :data:`STOP_STEP`, so a sync bulk cancel
    interrupted (Ctrl-C) returns promptly instead of after every running wait's
    next poll; what was sent stays sent.
    """
    try:
        action = next(flow)
        while True:
            if stop.is_set():
                flow.close()
                return BuildCancelOutcome(
                    image_build_version_arn=summary.arn or "",
                    outcome="failed",
                    status=summary.status,
                    error=ImageBuilderError("stopped before this image's work finished"),
                )
            result: Any = None
            if isinstance(action, Sleep):
                left = action.seconds
                while left > 0 and not stop.is_set():
                    yield Sleep(min(STOP_STEP, left))
                    left -= STOP_STEP
                if stop.is_set():
                    continue
            else:
                try:
                    result = yield action
                except Exception as exc:  # as the clients' runners do: the flow decides
                    action = flow.throw(exc)
                    continue
            action = flow.send(result)
    except StopIteration as done:
        return done.value


class ProgressReport(tuple[BuildCancelOutcome, ...]):
    """What ``on_progress`` gets: every image's outcome so far, in listing order.

    A tuple, with ``changed``: the outcome that just changed (``None`` in the
    first report), so a display can show one line per change without comparing
    every image each time.
    """

    changed: BuildCancelOutcome | None = None


def _report_of(outcomes: Any, changed: BuildCancelOutcome | None) -> ProgressReport:
    report = ProgressReport(outcomes)
    report.changed = changed
    return report


class Tally:
    """Every image's outcome so far, reported to ``on_progress`` on each change.

    Thread-safe: the sync client's workers report from their threads, and
    ``on_progress`` is called with the lock held, so calls never overlap.
    """

    def __init__(self, running: Sequence[ImageSummary], on_progress: OnProgress | None) -> None:
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self._outcomes = {
            s.arn: BuildCancelOutcome(
                image_build_version_arn=s.arn, outcome="pending", status=s.status
            )
            for s in running
            if s.arn is not None
        }
        self._report(None)

    def status(self, arn: str, status: str | None) -> None:
        """An image in progress was seen with ``status``."""
        with self._lock:
            current = self._outcomes[arn]
            if current.status != status:
                changed = BuildCancelOutcome(
                    image_build_version_arn=arn, outcome=current.outcome, status=status
                )
                self._outcomes[arn] = changed
                self._report(changed)

    def done(self, outcome: BuildCancelOutcome) -> None:
        """An image's work ended with ``outcome``."""
        with self._lock:
            self._outcomes[outcome.image_build_version_arn] = outcome
            self._report(outcome)

    def outcomes(self) -> list[BuildCancelOutcome]:
        """Every image's outcome, in listing order."""
        with self._lock:
            return list(self._outcomes.values())

    def _report(self, changed: BuildCancelOutcome | None) -> None:
        if self._on_progress is not None:
            self._on_progress(_report_of(self._outcomes.values(), changed))
