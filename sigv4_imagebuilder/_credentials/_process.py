"""Source 4: ``credential_process`` in the config profile.

The helper runs in its own session (process group), so a timeout kills it and
everything it started. At most :data:`OUTPUT_LIMIT` bytes of each stream are
read. Its stderr never reaches an error message: helpers often log what they
fetched, so only its size is reported.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

from .._actions import Flow, RunBlocking
from .._errors import CredentialRetrievalError
from ._common import Skip, credentials_from_json
from ._model import Credentials

#: How long the helper may take, as the AWS CLI allows.
PROCESS_TIMEOUT = 60.0
#: The most read from each of its stdout and stderr; a helper's JSON is small.
OUTPUT_LIMIT = 1024 * 1024


class _Drain(threading.Thread):
    """Reads one pipe up to the limit, then stops (the helper is then killed)."""

    def __init__(self, pipe: IO[bytes], limit: int, changed: threading.Event) -> None:
        super().__init__(daemon=True)
        self.pipe, self.limit, self.changed = pipe, limit, changed
        self.chunks: list[bytes] = []
        self.size = 0
        self.over = False
        self.done = False

    def run(self) -> None:
        try:
            while True:
                chunk = self.pipe.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    return
                self.size += len(chunk)
                if self.size > self.limit:
                    self.over = True
                    return
                self.chunks.append(chunk)
        except (OSError, ValueError):  # the pipe was closed under us
            return
        finally:
            # done before the event, and _run clears the event before reading done:
            # a drain that ends after that read sets the event after the clear.
            self.done = True
            self.changed.set()

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The helper leads its own session: kill the whole group, so that its
    # children (a browser login, a sleep) are not orphaned.
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows has no process groups to kill
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _run(argv: list[str], timeout: float, limit: int) -> tuple[int, bytes, int, str | None]:
    """Run argv; return (status, stdout, stderr size, problem) with problem None if fine."""
    process = subprocess.Popen(  # the user's own configured command
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    changed = threading.Event()
    drains = [_Drain(process.stdout, limit, changed), _Drain(process.stderr, limit, changed)]
    for drain in drains:
        drain.start()
    deadline = time.monotonic() + timeout
    problem: str | None = None
    try:
        while True:
            changed.clear()
            if all(d.done for d in drains):
                break
            if any(d.over for d in drains):
                problem = f"it wrote more than {limit} bytes"
                break
            left = deadline - time.monotonic()
            if left <= 0:
                problem = f"it did not finish within {timeout:g} s"
                break
            changed.wait(left)
        if problem is None and any(d.over for d in drains):
            problem = f"it wrote more than {limit} bytes"
        if problem is None:
            try:
                process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                problem = f"it did not finish within {timeout:g} s"
    finally:
        if problem is not None or process.returncode is None:
            _kill_group(process)
        for drain in drains:
            drain.join(1.0)
        process.stdout.close()
        process.stderr.close()
    return process.returncode, drains[0].data, drains[1].size, problem


def run_credential_process(
    command: str, *, timeout: float = PROCESS_TIMEOUT, limit: int = OUTPUT_LIMIT
) -> Credentials:
    """Run ``credential_process`` and read its documented JSON (``Version: 1``).

    Raises:
        CredentialRetrievalError: the helper could not run, timed out, wrote too
            much, failed, or printed something else than the JSON; the message
            names the program and the size of its stderr, never its contents.
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        raise CredentialRetrievalError(
            "credential_process: the command is not valid shell syntax"
        ) from None
    if not argv:
        raise CredentialRetrievalError("credential_process: the command is empty")
    where = f"credential_process {argv[0]!r}"
    try:
        status, stdout, stderr_size, problem = _run(argv, timeout, limit)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CredentialRetrievalError(f"{where}: could not run it: {reason}") from None
    stderr_note = f"it wrote {stderr_size} bytes to stderr, not shown as it may hold secrets"
    if problem is not None:
        raise CredentialRetrievalError(f"{where}: {problem}; stopped it and its children")
    if status != 0:
        raise CredentialRetrievalError(f"{where}: exited with status {status} ({stderr_note})")
    try:
        data = json.loads(stdout)
    except (ValueError, RecursionError):
        raise CredentialRetrievalError(
            f"{where}: did not print JSON on stdout ({stderr_note})"
        ) from None
    if not isinstance(data, dict) or data.get("Version") != 1:
        raise CredentialRetrievalError(f'{where}: the JSON must have "Version": 1')
    return credentials_from_json(data, where, token_key="SessionToken")


def process_source(command: str | None, skipped: str) -> Flow[Credentials]:
    """Run ``command`` if set (a worker thread in async code), else skip."""
    if not command:
        raise Skip(skipped)
    run: Callable[[], Credentials] = lambda: run_credential_process(command)  # noqa: E731
    found = yield RunBlocking(run)
    assert isinstance(found, Credentials)
    return found
