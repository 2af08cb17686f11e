"""The measured side of the benchmark: one workload per fresh child process.

    python benchmarks/workloads.py WORKLOAD '{"calls": 1000, ...}'

Each workload builds a client with the public API only (sigv4_imagebuilder's
``ImageBuilderClient`` / ``AsyncImageBuilderClient`` / ``Credentials``; boto3; aiobotocore),
warms it up, then measures windows of calls and prints one JSON object on stdout. CPU is this
process's own rusage (user + system) over the window; the server answering the calls runs in
another process and is not counted.

"Of which" parts are measured in a second window of the same process, right after the plain
one, by wrapping methods of the *dependencies* (httpx, urllib3, botocore) and of our engine at
class level with a thread-CPU timer; the wrapped window's whole call is reported too, so the
timer's own cost shows.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/bench/1.0.0/1"
BODY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}).encode()
HEADERS = {"x-amzn-RequestId": "r", "Content-Type": "application/json"}
ACCESS_KEY, SECRET_KEY = "AKIDBENCH", "bench-secret"
WARMUP = 200
# The pipeline row: the stand-in (``python -m sigv4_imagebuilder.testing serve``, started by
# bench.py with ACCESS_KEY/SECRET_KEY) holds PIPELINE's images, statuses from these.
PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/bench"
RUNNING = ("PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING")
FINISHED = ("AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Parts:
    """Thread CPU spent inside wrapped dependency methods, and how often they ran."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}
        self.count: dict[str, int] = {}
        self._undo: list[tuple[type, str, Any]] = []
        self._pending: list[tuple[type, str, str]] = []

    def wrap(self, cls: type, name: str, label: str) -> None:
        """Time ``cls.name`` once :meth:`install` runs (after the plain window)."""
        self.ns[label] = self.count[label] = 0
        self._pending.append((cls, name, label))

    def install(self) -> None:
        # Not before the plain window: a wrapper is a patch, and the library sends its own
        # clients through Client.send while Client.send is patched (as a recorder needs).
        clock = time.thread_time_ns
        ns, count = self.ns, self.count
        for cls, name, label in self._pending:
            original = cls.__dict__[name]

            def timed(
                *args: Any, _original: Any = original, _label: str = label, **kwargs: Any
            ) -> Any:
                start = clock()
                try:
                    return _original(*args, **kwargs)
                finally:
                    ns[_label] += clock() - start
                    count[_label] += 1

            setattr(cls, name, timed)
            self._undo.append((cls, name, original))
        self._pending.clear()

    def reset(self) -> None:
        for label in self.ns:
            self.ns[label] = self.count[label] = 0

    def per_call(self, calls: int) -> dict[str, list[float]]:
        return {k: [self.ns[k] / 1e9 / calls, self.count[k] / calls] for k in self.ns}


def window(call: Callable[[], Any], calls: int) -> tuple[float, float]:
    """CPU seconds per call and wall seconds per call over ``calls`` calls."""
    wall, start = time.perf_counter(), cpu()
    for _ in range(calls):
        call()
    return (cpu() - start) / calls, (time.perf_counter() - wall) / calls


def sync_measure(call: Callable[[], Any], parts: Parts, calls: int) -> dict[str, Any]:
    for _ in range(WARMUP):
        call()
    plain_cpu, plain_wall = window(call, calls)
    parts.install()
    for _ in range(10):  # the wrappers' first calls
        call()
    parts.reset()
    instrumented_cpu, _ = window(call, calls)
    return {
        "cpu": plain_cpu,
        "wall": plain_wall,
        "instrumented_cpu": instrumented_cpu,
        "parts": parts.per_call(calls),
    }


def wrap_signing(parts: Parts) -> None:
    # Both sides run these two steps of botocore's SigV4 (this library calls them itself, not
    # through add_auth); the HMAC chain after them differs (this library caches the key).
    from botocore.auth import SigV4Auth

    parts.wrap(SigV4Auth, "canonical_request", "SigV4 canonical request (botocore)")
    parts.wrap(SigV4Auth, "string_to_sign", "SigV4 string to sign (botocore)")


def wrap_urlopen(parts: Parts, *, manager: bool = False) -> None:
    # urllib3's own send + read of the head, under both sides' glue (ours: the engine; boto3:
    # URLLib3Session.send): what is left above it is each side's adapter. Our engine enters
    # through PoolManager.urlopen (the URL parsed and the pool looked up per request); boto3
    # looks the pool up itself (connection_from_url) and calls the pool's urlopen.
    import urllib3
    from urllib3.connectionpool import HTTPConnectionPool

    if manager:
        parts.wrap(urllib3.PoolManager, "urlopen", "urllib3 PoolManager.urlopen")

    parts.wrap(HTTPConnectionPool, "urlopen", "urllib3 HTTPConnectionPool.urlopen")


def ours_sync(endpoint: str | None) -> tuple[Callable[[], Any], Parts]:
    import httpx

    import sigv4_imagebuilder as sib

    creds = sib.Credentials(ACCESS_KEY, SECRET_KEY)
    parts = Parts()
    if endpoint is None:
        # Library overhead: an in-memory transport instead of a socket. The stub answers as
        # boto3's does below: a response object around headers and an unread body stream.
        # (Response(content=...) would also encode, measure and pre-read the body, the
        # stub server's work, not the library's: a fifth of this call's CPU.)
        raw_headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers=raw_headers, stream=httpx.ByteStream(BODY))

        client = sib.ImageBuilderClient(
            region="us-east-1",
            credentials=creds,
            http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        )
    else:
        client = sib.ImageBuilderClient(
            region="us-east-1", credentials=creds, endpoint_url=endpoint
        )
    # Outermost first: the table lists the parts in this order, and they nest. Both clients
    # send through Client.send; wrapping it (or our engine) is not one of the patches that
    # hand requests to httpx's stock transport (those are httpx's and httpcore's transports).
    parts.wrap(httpx.Client, "send", "httpx Client.send (incl. transport)")
    # Client.send runs it on every reply, Set-Cookie or not (none here sets a cookie).
    parts.wrap(httpx.Cookies, "extract_cookies", "httpx Cookies.extract_cookies (no cookies)")
    if endpoint is not None:
        # The default client's engine; it returns once the head is read (the body is read
        # by the client afterwards, through the response's stream).
        from sigv4_imagebuilder._engines._urllib3 import Urllib3Transport

        parts.wrap(Urllib3Transport, "handle_request", "engine: urllib3 send + read the head")
        wrap_urlopen(parts, manager=True)
    wrap_signing(parts)

    def call() -> Any:
        return client.cancel_image_creation(ARN, client_token="t")

    return call, parts


def boto3_sync(endpoint: str | None) -> tuple[Callable[[], Any], Parts]:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.parsers import ResponseParser

    parts = Parts()
    client = boto3.client(
        "imagebuilder",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        endpoint_url=endpoint,
    )
    if endpoint is None:
        from botocore.awsrequest import AWSResponse

        class Raw:
            def stream(self, **kwargs: Any) -> Any:
                yield BODY

        def before_send(request: Any, **kwargs: Any) -> Any:
            return AWSResponse(request.url, 200, HEADERS, Raw())

        client.meta.events.register("before-send.imagebuilder.CancelImageCreation", before_send)
    else:
        from botocore.httpsession import URLLib3Session

        parts.wrap(URLLib3Session, "send", "URLLib3Session.send (urllib3 + socket)")
        wrap_urlopen(parts)
    parts.wrap(SigV4Auth, "add_auth", "SigV4Auth.add_auth (botocore, whole signing)")
    wrap_signing(parts)
    parts.wrap(ResponseParser, "parse", "ResponseParser.parse (botocore)")

    def call() -> Any:
        return client.cancel_image_creation(imageBuildVersionArn=ARN, clientToken="t")

    return call, parts


async def _drive(call: Callable[[], Any], calls: int, concurrency: int) -> int:
    """Make ``calls`` calls with ``concurrency`` workers; return how many failed."""
    remaining = calls
    failed = 0

    async def worker() -> None:
        nonlocal remaining, failed
        while remaining > 0:
            remaining -= 1
            try:
                await call()
            except Exception:
                failed += 1

    import asyncio

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


async def async_measure(
    make_client: Callable[[], Any], calls: int, levels: list[int], limit: float
) -> dict[str, Any]:
    import asyncio

    results: dict[str, Any] = {}
    for level in levels:
        async with make_client() as call:
            try:
                # Enough calls to open the connections this concurrency needs.
                await asyncio.wait_for(_drive(call, max(50, 2 * level), level), limit)
                wall, start = time.perf_counter(), cpu()
                failed = await asyncio.wait_for(_drive(call, calls, level), limit)
                results[str(level)] = {
                    "cpu": (cpu() - start) / calls,
                    "wall": time.perf_counter() - wall,
                    "failed": failed,
                }
            except asyncio.TimeoutError:
                results[str(level)] = {"timeout": limit}
    return results


def ours_async_client(endpoint: str) -> Callable[[], Any]:
    import contextlib

    import sigv4_imagebuilder as sib

    @contextlib.asynccontextmanager
    async def make() -> Any:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=sib.Credentials(ACCESS_KEY, SECRET_KEY),
            endpoint_url=endpoint,
        ) as client:
            yield lambda: client.cancel_image_creation(ARN, client_token="t")

    return make


def aiobotocore_client(endpoint: str) -> Callable[[], Any]:
    import contextlib

    from aiobotocore.session import get_session

    session = get_session()

    @contextlib.asynccontextmanager
    async def make() -> Any:
        async with session.create_client(
            "imagebuilder",
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            endpoint_url=endpoint,
        ) as client:
            yield lambda: client.cancel_image_creation(imageBuildVersionArn=ARN, clientToken="t")

    return make


async def fanout(side: str, endpoint: str, calls: int, limit: float) -> dict[str, Any]:
    """``calls`` gathered cancels on ONE default async client, bounded by ``limit`` seconds.

    ``side`` is ``ours`` or ``aiobotocore``; each runs in its own process, so the parent's
    wait4 gives each side's peak RSS for the same fan-out.
    """
    import asyncio
    from collections import Counter

    done = 0
    errors: Counter[str] = Counter()
    make = (ours_async_client if side == "ours" else aiobotocore_client)(endpoint)

    async with make() as call:
        await call()

        async def one() -> None:
            nonlocal done
            try:
                await call()
                done += 1
            except Exception as exc:
                # The exception's type, and the cause it chains, name the failure.
                cause = exc.__cause__
                name = type(exc).__name__ + (f"<-{type(cause).__name__}" if cause else "")
                errors[name] += 1

        wall, start = time.perf_counter(), cpu()

        def report(timed_out: bool) -> dict[str, Any]:
            return {
                "completed": done,
                "failed": sum(errors.values()),
                "errors": dict(errors),
                "wall": time.perf_counter() - wall,
                "cpu": cpu() - start,
                "timed_out": timed_out,
            }

        def give_up() -> None:
            # A watchdog thread, not asyncio.wait_for: a pile-up can make each turn of the
            # event loop (and cancelling thousands of tasks) take minutes.
            print(json.dumps(report(True)), flush=True)
            os._exit(0)

        watchdog = threading.Timer(limit, give_up)
        watchdog.daemon = True
        watchdog.start()
        await asyncio.gather(*(one() for _ in range(calls)))
        watchdog.cancel()
        result = report(False)
    return result


def pipeline_images(total: int, running: int) -> dict[str, str]:
    """The bench pipeline's ``total`` images and their statuses, ``running`` of them unfinished
    and spread evenly (as tests/test_pipelines.py's ``fill``); the bench serves these, the
    workloads check against them."""
    images = {}
    live = 0
    for n in range(total):
        arn = f"arn:aws:imagebuilder:us-east-1:123456789012:image/bench/1.0.{n // 1000}/{n % 1000 + 1}"
        if n % (total // running) == 0 and live < running:
            images[arn] = RUNNING[n % len(RUNNING)]
            live += 1
        else:
            images[arn] = FINISHED[n % len(FINISHED)]
    return images


async def cancel_pipeline(endpoint: str, total: int, running: int) -> dict[str, Any]:
    """The async client's ``cancel_pipeline_builds(PIPELINE, wait=True)``, defaults otherwise.

    The window runs from creating the client to closing it: the listing, the cancels, the
    waits, and opening (and closing) the connections. Exits non-zero unless every image that
    was running came back ``cancelled`` with status CANCELLED, and no other was tried.
    """
    import sigv4_imagebuilder as sib

    expected = {a for a, s in pipeline_images(total, running).items() if s in RUNNING}
    wall, start = time.perf_counter(), cpu()
    async with sib.AsyncImageBuilderClient(
        region="us-east-1",
        credentials=sib.Credentials(ACCESS_KEY, SECRET_KEY),
        endpoint_url=endpoint,
    ) as client:
        outcomes = await client.cancel_pipeline_builds(PIPELINE, wait=True)
    result = {"wall": time.perf_counter() - wall, "cpu": cpu() - start}
    wrong = [
        (o.image_build_version_arn, o.outcome, o.status, repr(o.error))
        for o in outcomes
        if (o.outcome, o.status, o.error) != ("cancelled", "CANCELLED", None)
    ]
    tried = {o.image_build_version_arn for o in outcomes}
    if wrong or tried != expected or len(outcomes) != len(expected):
        raise SystemExit(
            f"cancel_pipeline_builds: {len(outcomes)} outcomes for {len(expected)} running "
            f"images; {len(tried - expected)} not running, {len(expected - tried)} missing; "
            f"not cancelled/CANCELLED: {wrong[:5]}"
        )
    result["cancelled"] = len(outcomes)
    return result


def check_pipeline(endpoint: str, total: int, running: int) -> dict[str, Any]:
    """List the pipeline over the wire (a process of its own, not measured): every running
    image now CANCELLED, every other one as it was. Exits non-zero otherwise."""
    import sigv4_imagebuilder as sib

    images = pipeline_images(total, running)
    with sib.ImageBuilderClient(
        region="us-east-1",
        credentials=sib.Credentials(ACCESS_KEY, SECRET_KEY),
        endpoint_url=endpoint,
    ) as client:
        now = {
            s.arn: s.state.status if s.state is not None else None
            for s in client.paginate_image_pipeline_images(PIPELINE)
        }
    cancelled = [a for a, s in images.items() if s in RUNNING and now.get(a) == "CANCELLED"]
    untouched = [a for a, s in images.items() if s not in RUNNING and now.get(a) == s]
    if set(now) != set(images) or len(cancelled) + len(untouched) != total:
        raise SystemExit(
            f"after the run: {len(now)} images listed of {total}; {len(cancelled)} of "
            f"{running} CANCELLED, {len(untouched)} of {total - running} untouched"
        )
    return {"cancelled": len(cancelled), "untouched": len(untouched)}


def main() -> int:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    endpoint = args.get("endpoint")
    out: dict[str, Any]
    if name in ("ours_sync", "boto3_sync"):
        call, parts = (ours_sync if name == "ours_sync" else boto3_sync)(endpoint)
        out = sync_measure(call, parts, args["calls"])
    elif name in ("ours_async", "aiobotocore_async"):
        import asyncio

        make = (ours_async_client if name == "ours_async" else aiobotocore_client)(endpoint)
        out = asyncio.run(async_measure(make, args["calls"], args["levels"], args["limit"]))
    elif name in ("ours_fanout", "aiobotocore_fanout"):
        import asyncio

        side = name.removesuffix("_fanout")
        out = asyncio.run(fanout(side, endpoint, args["calls"], args["limit"]))
    elif name == "ours_cancel_pipeline":
        import asyncio

        out = asyncio.run(cancel_pipeline(endpoint, args["total"], args["running"]))
    elif name == "check_pipeline":
        out = check_pipeline(endpoint, args["total"], args["running"])
    else:
        raise SystemExit(f"unknown workload {name!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
