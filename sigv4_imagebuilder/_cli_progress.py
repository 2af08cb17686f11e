"""What the commands show on stderr while they work: a wait's status changes, a pipeline's cancels.

``cancel-pipeline-builds`` on a terminal draws a live table with rich (the
``cli`` extra), imported only then, so ``import sigv4_imagebuilder`` never loads
it; without rich, or when stderr is not a terminal, it prints one plain line
per change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ._text import printable

if TYPE_CHECKING:
    from ._models import BuildCancelOutcome, GetImageResponse


#: ``changed`` of a report that does not say what changed.
_UNKNOWN = object()


def error_text(error: BaseException | None) -> str | None:
    """A failure as one short line: the exception's class and message."""
    if error is None:
        return None
    message = printable(str(error), 300)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class StatusLines:
    """One image's wait: each status change on a line, ``BUILDING -> CANCELLED after 42 s``."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._start = time.monotonic()
        self._last: str | None = None

    def __call__(self, response: GetImageResponse) -> None:
        image = response.image
        status = (image.state.status if image and image.state else None) or "UNKNOWN"
        elapsed = time.monotonic() - self._start
        if self._last is None:
            print(f"{status} after {elapsed:.0f} s", file=self._err)
        else:
            print(f"{self._last} -> {status} after {elapsed:.0f} s", file=self._err)
        self._last = status
        self._err.flush()


def _counts(outcomes: Sequence[BuildCancelOutcome]) -> str:
    tally = {name: 0 for name in ("cancelled", "already_finished", "failed", "pending")}
    for o in outcomes:
        tally[o.outcome] = tally.get(o.outcome, 0) + 1
    return (
        f"cancelled {tally['cancelled']}, already finished {tally['already_finished']}, "
        f"failed {tally['failed']}, pending {tally['pending']}"
    )


class Progress:
    """A pipeline's cancels: ``on_progress`` reports in, a display out.

    :meth:`close` or :meth:`interrupted` ends the display. Calls never overlap
    (the client holds a lock around them).
    """

    def __init__(self, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._err = err
        self._clock = clock
        self._start = clock()
        self._latest: tuple[BuildCancelOutcome, ...] = ()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def __call__(self, outcomes: Sequence[BuildCancelOutcome]) -> None:
        # The client's report is a tuple that names what changed (ProgressReport):
        # a display shows that one, not a comparison of every image each time.
        # A report is a tuple already: kept as it is, not copied on every change.
        latest = outcomes if isinstance(outcomes, tuple) else tuple(outcomes)
        before, self._latest = self._latest, latest
        self._show(before, self._latest, getattr(outcomes, "changed", _UNKNOWN))

    def _show(
        self,
        before: tuple[BuildCancelOutcome, ...],
        now: tuple[BuildCancelOutcome, ...],
        changed: Any,
    ) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """End a live display, if any (again: nothing)."""

    def close(self) -> None:
        """The work ended: stop the display and print the counts."""
        self.stop()
        print(f"{_counts(self._latest)} after {self.elapsed():.0f} s", file=self._err)
        self._err.flush()

    def interrupted(self) -> None:
        """Ctrl-C: stop the display; the last line says which cancels were sent."""
        self.stop()
        sent = [o.image_build_version_arn for o in self._latest if o.outcome == "cancelled"]
        failed = sum(1 for o in self._latest if o.outcome == "failed")
        unsent = sum(1 for o in self._latest if o.outcome == "pending")
        print(
            f"Interrupted: cancels sent and accepted for {len(sent)} image(s), which stay "
            f"cancelled: {' '.join(sent) or '-'}; failed {failed}; not sent {unsent}",
            file=self._err,
        )
        self._err.flush()


class PlainProgress(Progress):
    """One line per image whose status or outcome changed.

    What a server sent (ARNs, statuses) is printed through :func:`printable`:
    a hostile status cannot move the cursor or retitle the terminal.
    """

    def __init__(self, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(err, clock)
        self._seen: dict[str, BuildCancelOutcome] = {}

    def _show(
        self,
        before: tuple[BuildCancelOutcome, ...],
        now: tuple[BuildCancelOutcome, ...],
        changed: Any,
    ) -> None:
        if not before:
            print(f"{len(now)} image(s) not finished; cancelling", file=self._err)
            self._seen = {o.image_build_version_arn: o for o in now}
        elif changed is _UNKNOWN:  # a caller that does not say: compare them all
            for o in now:
                self._line(o)
        elif changed is not None:
            self._line(changed)
        self._err.flush()

    def _line(self, o: BuildCancelOutcome) -> None:
        was = self._seen.get(o.image_build_version_arn)
        self._seen[o.image_build_version_arn] = o
        if was is None or (was.status, was.outcome) == (o.status, o.outcome):
            return
        status = printable(str(o.status), 64)
        change = (
            status if was.status == o.status else f"{printable(str(was.status), 64)} -> {status}"
        )
        error = f" ({error_text(o.error)})" if o.error is not None else ""
        print(
            f"{printable(o.image_build_version_arn, 200)} {change} [{o.outcome}]{error} "
            f"after {self.elapsed():.0f} s",
            file=self._err,
        )


class LiveProgress(Progress):
    """A table redrawn in place: the counts, the elapsed time, and the images not yet done."""

    def __init__(self, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(err, clock)
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=err, highlight=False)
        # The result goes to stdout after the display stops: leave sys.stdout alone.
        self._live = Live(
            get_renderable=self._render,
            console=self._console,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._started = False

    def _show(
        self,
        before: tuple[BuildCancelOutcome, ...],
        now: tuple[BuildCancelOutcome, ...],
        changed: Any,
    ) -> None:
        # rich redraws on its own thread, four times a second, from the latest report.
        if not self._started:
            self._started = True
            self._live.start()

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._live.stop()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        outcomes = self._latest
        # Pending first, then failed, then the rest: what needs eyes stays on screen.
        order = {"pending": 0, "failed": 1}
        shown = sorted(outcomes, key=lambda o: order.get(o.outcome, 2))
        room = max(3, self._console.size.height - 6)
        table = Table(box=None, pad_edge=False)
        for column in ("image", "status", "outcome"):
            table.add_column(column)
        for o in shown[:room]:
            # Text, not str: rich would read a server's "[/bold]" as markup and fail.
            table.add_row(
                Text(printable(o.image_build_version_arn.split(":", 5)[-1], 80)),
                Text(printable(o.status or "-", 64)),
                Text(o.outcome if o.error is None else f"{o.outcome}: {error_text(o.error)}"),
            )
        more = len(shown) - room
        footer = Text(f"... and {more} more" if more > 0 else "")
        return Group(Text(f"{_counts(outcomes)}  {self.elapsed():.0f} s"), table, footer)


def open_progress(err: TextIO) -> Progress:
    """The live display when ``err`` is a terminal and rich is installed, else plain lines."""
    isatty = getattr(err, "isatty", None)
    if isatty is not None and isatty():
        try:
            return LiveProgress(err)
        except ImportError:
            pass
    return PlainProgress(err)
