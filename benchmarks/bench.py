"""Side-by-side benchmark: sigv4-imagebuilder against boto3 and aiobotocore, in one run, as ratios.

What users run: warm calls and cold starts over a real loopback socket with the default client,
async calls against aiobotocore at several concurrencies, and async fan-out on one client of each;
plus the library-overhead rows over an in-memory stub transport on both sides, and the async
client's cancel_pipeline_builds against the local stand-in (no peer: no SDK has it). The default clients
send through httpx onto urllib3 (sync) and aiohttp (async), as boto3 and aiobotocore do.

Every sample is a fresh child process; the two sides run paired, A B then B A, round after round
(ABBA), and the table shows medians with the p10-p90 spread of each side and of the per-round
ratio. Cold-start CPU and peak RSS come from the OS's accounting of each finished child (wait4's
rusage); warm and async CPU from the child's own rusage over the measured window. The loopback
server (benchmarks/loopback_server.py) runs in its own process on 127.0.0.1 and is not counted;
so does the stand-in of the pipeline row (``python -m sigv4_imagebuilder.testing serve``).

    make bench                                   # full run, 1.5-6 minutes on 2 cores
    BENCH_QUICK=1 make bench                     # fewer rounds and calls, about 1-2 minutes
    python benchmarks/bench.py --only warm,async --rounds 3
    python benchmarks/bench.py --only pipeline       # the cancel_pipeline_builds row alone
    python benchmarks/bench.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads import ACCESS_KEY, PIPELINE, SECRET_KEY, pipeline_images

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = str(HERE / "workloads.py")
SERVER = str(HERE / "loopback_server.py")
ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/bench/1.0.0/1"
BODY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN})
GROUPS = ("cold", "warm", "async", "fanout", "pipeline")

# Cold-start children: as little as possible besides the measured work.
COLD_STUB_OURS = f"""
import httpx
import sigv4_imagebuilder as sib

def handler(request):
    return httpx.Response(200, content={BODY!r}.encode(),
                          headers={{"x-amzn-RequestId": "r", "Content-Type": "application/json"}})

client = sib.ImageBuilderClient(region="us-east-1",
                                credentials=sib.Credentials("AKIDBENCH", "bench-secret"),
                                http_client=httpx.Client(transport=httpx.MockTransport(handler)))
client.cancel_image_creation({ARN!r}, client_token="t")
"""

COLD_STUB_BOTO3 = f"""
import boto3
from botocore.awsrequest import AWSResponse

class _Raw:
    def stream(self, **kwargs):
        yield {BODY!r}.encode()

def before_send(request, **kwargs):
    return AWSResponse(request.url, 200, {{"x-amzn-RequestId": "r",
                                           "Content-Type": "application/json"}}, _Raw())

client = boto3.client("imagebuilder", region_name="us-east-1",
                      aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret")
client.meta.events.register("before-send.imagebuilder.CancelImageCreation", before_send)
client.cancel_image_creation(imageBuildVersionArn={ARN!r}, clientToken="t")
"""

# The default client: no http_client=, only where to send.
COLD_SOCKET_OURS = f"""
import sys
import sigv4_imagebuilder as sib
client = sib.ImageBuilderClient(region="us-east-1",
                                credentials=sib.Credentials("AKIDBENCH", "bench-secret"),
                                endpoint_url=sys.argv[1])
client.cancel_image_creation({ARN!r}, client_token="t")
"""

COLD_SOCKET_BOTO3 = f"""
import sys
import boto3
client = boto3.client("imagebuilder", region_name="us-east-1", endpoint_url=sys.argv[1],
                      aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret")
client.cancel_image_creation(imageBuildVersionArn={ARN!r}, clientToken="t")
"""

IMPORT_OURS = "import sigv4_imagebuilder\n"
IMPORT_BOTO3 = "import boto3\n"


# --------------------------------------------------------------------------- child processes

_children: set[subprocess.Popen[bytes]] = set()


def _child_env() -> dict[str, str]:
    # No credentials, config files or proxies from the caller's environment: every request
    # goes to 127.0.0.1 directly, and both sides resolve the same (explicit) credentials.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.lower().endswith("_proxy")
    }
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_PROXY="127.0.0.1",
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@dataclass
class ChildResult:
    cpu: float  # seconds, user + system, whole process
    rss: float  # peak RSS, MiB
    out: str
    killed: bool


def run_child(argv: Sequence[str], timeout: float) -> ChildResult:
    """Run ``python argv...`` fresh; return its rusage and stdout. Killed after ``timeout``."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=_child_env(),
        cwd=ROOT,
    )
    _children.add(proc)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.stdout.close()
        # wait4, not wait: the child's own rusage (CPU and peak RSS), after it has exited.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
        _children.discard(proc)
    if proc.returncode != 0 and not killed.is_set():
        raise RuntimeError(f"child {argv[:2]} failed with exit status {proc.returncode}")
    return ChildResult(
        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out, killed.is_set()
    )


def run_code(code: str, *args: str, timeout: float = 120.0) -> ChildResult:
    return run_child(["-c", code, *args], timeout)


def run_workload(
    name: str, timeout: float, *, tolerate_failure: bool = False, **params: Any
) -> dict[str, Any]:
    try:
        result = run_child([WORKLOADS, name, json.dumps(params)], timeout)
    except RuntimeError as exc:
        if not tolerate_failure:
            raise
        return {"crashed": str(exc)}
    if result.killed:
        return {"killed": timeout, "rss": result.rss}
    parsed: dict[str, Any] = json.loads(result.out)
    parsed["rss"] = result.rss  # the child's peak RSS, MiB, from wait4
    parsed["process_cpu"] = result.cpu  # the child's whole CPU (start, import, work), from wait4
    return parsed


@contextmanager
def loopback_server(max_seconds: float) -> Iterator[str]:
    """Start the canned-reply server in its own process; yield its endpoint URL."""
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--max-seconds", str(max_seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_child_env(),
        cwd=ROOT,
    )
    _children.add(proc)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"loopback server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line[1])}"
    finally:
        # Closing its stdin is the server's cue to stop; kill it if it does not.
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _children.discard(proc)


@contextmanager
def standin(images: dict[str, str]) -> Iterator[str]:
    """Start the package's stand-in in its own process with PIPELINE's ``images``; yield its URL."""
    argv = [
        "-m", "sigv4_imagebuilder.testing", "serve", "--port", "0", "--region", "us-east-1",
        "--pipeline", PIPELINE, "--access-key-id", ACCESS_KEY, "--secret-access-key", SECRET_KEY,
    ]  # fmt: skip
    for arn, status in images.items():
        argv += ["--image", f"{arn}={status}"]
    proc = subprocess.Popen(
        [sys.executable, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=_child_env(),
        cwd=ROOT,
    )
    _children.add(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if "listening on http://127.0.0.1:" not in line:
            raise RuntimeError(f"stand-in did not start: {line!r}")
        yield line.split()[-1]
    finally:
        # Ctrl-C is its cue to stop; kill it if it does not.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        _children.discard(proc)


def kill_children() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _children.clear()


# --------------------------------------------------------------------------- statistics


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, p10 and p90 (inclusive method: within the observed range)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[0], deciles[-1]


def paired(
    rounds: int, a: Callable[[], Any], b: Callable[[], Any], progress: str
) -> tuple[list[Any], list[Any]]:
    """Run ``a`` and ``b`` ``rounds`` times each, ABBA: neither side always runs first."""
    ra, rb = [], []
    for i in range(rounds):
        print(f"  {progress}: round {i + 1}/{rounds}", file=sys.stderr, flush=True)
        if i % 2 == 0:
            ra.append(a())
            rb.append(b())
        else:
            rb.append(b())
            ra.append(a())
    return ra, rb


@dataclass
class Row:
    measure: str
    ours: str
    peer: str
    ratio: str
    target: str = ""
    met: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*args))


def fmt(values: Sequence[float], unit: str) -> str:
    """``median (p10-p90)`` in ``unit`` (µs, ms, MiB, /s)."""
    scale = {"µs": 1e6, "ms": 1e3, "MiB": 1.0, "/s": 1.0, "s": 1.0}[unit]
    med, lo, hi = (v * scale for v in spread(values))
    digits = 1 if unit in ("MiB", "s") else 0
    if unit == "/s":
        return f"{med:,.0f}/s ({lo:,.0f}-{hi:,.0f})"
    return f"{med:,.{digits}f} {unit} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def ratio_cell(ours: Sequence[float], peer: Sequence[float], invert: bool = False) -> str:
    """Per-round paired ratio ours/peer (or peer/ours), median and p10-p90."""
    ratios = [(p / o) if invert else (o / p) for o, p in zip(ours, peer, strict=True)]
    med, lo, hi = spread(ratios)
    return f"{med:.2f}x ({lo:.2f}-{hi:.2f})"


def check(value: float, op: str, bound: float) -> str:
    ok = value >= bound if op == ">=" else value <= bound
    return "yes" if ok else "**no**"


def paired_ratio(ours: Sequence[float], peer: Sequence[float], invert: bool = False) -> float:
    return spread([(p / o) if invert else (o / p) for o, p in zip(ours, peer, strict=True)])[0]


# --------------------------------------------------------------------------- the rows


def cold_rows(table: Table, args: argparse.Namespace, endpoint: str) -> None:
    def cold(code: str, *argv: str) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            result = run_code(code, *argv)
            return result.cpu, result.rss

        return run

    for label, ours_code, peer_code, argv, targets in (
        (
            "cold start, default client, loopback socket (import + client + 1 call)",
            COLD_SOCKET_OURS,
            COLD_SOCKET_BOTO3,
            (endpoint,),
            (0.70, 0.70),
        ),
        (
            "library overhead (stub transport): cold start (import + client + 1 call)",
            COLD_STUB_OURS,
            COLD_STUB_BOTO3,
            (),
            (0.65, 0.70),
        ),
        ("import alone", IMPORT_OURS, IMPORT_BOTO3, (), None),
    ):
        ours, peer = paired(
            args.rounds, cold(ours_code, *argv), cold(peer_code, *argv), label.split(",")[0]
        )
        for index, what, unit in ((0, "CPU", "ms"), (1, "peak RSS", "MiB")):
            o, p = [r[index] for r in ours], [r[index] for r in peer]
            target = met = ""
            if targets is not None:
                target = f"≤ {targets[index]:.2f}x"
                met = check(paired_ratio(o, p), "<=", targets[index])
            table.add(f"{label}: {what}", fmt(o, unit), fmt(p, unit), ratio_cell(o, p), target, met)


def warm_rows(table: Table, args: argparse.Namespace, endpoint: str) -> None:
    for label, endpoint_arg, calls, target in (
        (
            "warm, default client, loopback socket: calls/s of CPU",
            endpoint,
            args.socket_calls,
            1.8,
        ),
        ("library overhead (stub transport): warm calls/s of CPU", None, args.calls, 2.5),
    ):
        params: dict[str, Any] = {"calls": calls}
        if endpoint_arg is not None:
            params["endpoint"] = endpoint_arg
        ours, peer = paired(
            args.rounds,
            lambda params=params: run_workload("ours_sync", 600, **params),
            lambda params=params: run_workload("boto3_sync", 600, **params),
            label.split(":")[0],
        )
        o_cpu, p_cpu = [r["cpu"] for r in ours], [r["cpu"] for r in peer]
        table.add(
            label,
            fmt([1 / c for c in o_cpu], "/s"),
            fmt([1 / c for c in p_cpu], "/s"),
            ratio_cell(o_cpu, p_cpu, invert=True),
            f"≥ {target}x",
            check(paired_ratio(o_cpu, p_cpu, invert=True), ">=", target),
        )
        table.add("  CPU per call", fmt(o_cpu, "µs"), fmt(p_cpu, "µs"), ratio_cell(o_cpu, p_cpu))
        table.add(
            "  wall per call (server in its own process)" if endpoint_arg else "  wall per call",
            fmt([r["wall"] for r in ours], "µs"),
            fmt([r["wall"] for r in peer], "µs"),
            "",
        )
        # "Of which": measured in the instrumented window of the same processes.
        table.add(
            "  whole call, instrumented window (basis of the 'of which' rows)",
            fmt([r["instrumented_cpu"] for r in ours], "µs"),
            fmt([r["instrumented_cpu"] for r in peer], "µs"),
            "",
        )
        labels = list(dict.fromkeys([*ours[0]["parts"], *peer[0]["parts"]]))
        for part in labels:

            def cell(results: list[dict[str, Any]], part: str = part) -> str:
                if part not in results[0]["parts"]:
                    return ""
                per_call = [r["parts"][part][0] for r in results]
                count = statistics.median(r["parts"][part][1] for r in results)
                if count == 0:
                    return "not called"
                share = statistics.median(
                    r["parts"][part][0] / r["instrumented_cpu"] for r in results
                )
                calls_note = "" if count == 1 else f", {count:g}x/call"
                return f"{fmt(per_call, 'µs').split(' (')[0]} ({share:.0%}{calls_note})"

            table.add(f"  of which {part}", cell(ours), cell(peer), "")


def async_rows(table: Table, args: argparse.Namespace, endpoint: str) -> None:
    levels = [1, 16, 64]
    params = {"calls": args.async_calls, "levels": levels, "limit": 120, "endpoint": endpoint}
    ours, peer = paired(
        args.rounds,
        lambda: run_workload("ours_async", 3 * 150, **params),
        lambda: run_workload("aiobotocore_async", 3 * 150, **params),
        "async vs aiobotocore",
    )
    for level in levels:
        key = str(level)
        label = f"async CPU per call, {args.async_calls} calls at concurrency {level}"
        ok_o = [r[key] for r in ours if key in r and "cpu" in r[key]]
        ok_p = [r[key] for r in peer if key in r and "cpu" in r[key]]
        if len(ok_o) != len(ours) or len(ok_p) != len(peer):
            table.add(
                label, f"{len(ok_o)} of {len(ours)} finished", f"{len(ok_p)} of {len(peer)}", ""
            )
            continue
        o, p = [r["cpu"] for r in ok_o], [r["cpu"] for r in ok_p]
        target = met = ""
        if level in (16, 64):
            target, met = "≤ 0.50x", check(paired_ratio(o, p), "<=", 0.5)
        table.add(label, fmt(o, "µs"), fmt(p, "µs"), ratio_cell(o, p), target, met)
        failed = sum(r["failed"] for r in ok_o), sum(r["failed"] for r in ok_p)
        table.add(
            "  calls/s (wall)",
            fmt([args.async_calls / r["wall"] for r in ok_o], "/s"),
            fmt([args.async_calls / r["wall"] for r in ok_p], "/s"),
            "",
            "",
            f"failed calls: {failed[0]} / {failed[1]}" if any(failed) else "",
        )


def fanout_cell(samples: list[dict[str, Any]], calls: int, limit: float) -> tuple[str, bool]:
    """One side's fan-out cell, and whether every run completed every call."""
    if any("crashed" in s for s in samples):
        return "crashed: see stderr", False
    if any("killed" in s or s["timed_out"] for s in samples):
        worst = min(samples, key=lambda s: s.get("completed", 0))
        return f"did not complete in {limit:.0f} s ({worst.get('completed', '?')} done)", False
    completed = [s["completed"] for s in samples]
    failed = [s["failed"] for s in samples]
    wall = [s["wall"] for s in samples]
    cell = (
        f"{statistics.median(c / w for c, w in zip(completed, wall, strict=True)):,.0f} ok/s, "
        f"{statistics.median(completed):,.0f} ok, {statistics.median(failed):,.0f} failed, "
        f"{fmt(wall, 's')} wall, "
        f"{statistics.median(s['cpu'] / calls for s in samples) * 1e6:,.0f} µs CPU/call"
    )
    return cell, all(f == 0 for f in failed)


def fanout_rows(table: Table, args: argparse.Namespace, endpoint: str) -> None:
    for calls in args.fanout:
        limit = args.fanout_limit

        def run(side: str, calls: int = calls, limit: float = limit) -> Callable[[], Any]:
            return lambda: run_workload(
                f"{side}_fanout",
                limit + 30,
                tolerate_failure=True,
                calls=calls,
                limit=limit,
                endpoint=endpoint,
            )

        # Each side in its own fresh process: wait4 gives each its own peak RSS.
        ours, peer = paired(args.fanout_rounds, run("ours"), run("aiobotocore"), f"fan-out {calls}")
        big = calls >= 10_000
        o_cell, o_ok = fanout_cell(ours, calls, limit)
        p_cell, _ = fanout_cell(peer, calls, limit)
        table.add(
            f"async fan-out: {calls:,} gathered cancels on one default client",
            o_cell,
            p_cell,
            "",
            "completes" if big else "",
            ("yes" if o_ok else "**no**") if big else "",
        )
        o_rss = [s["rss"] for s in ours if "rss" in s]
        p_rss = [s["rss"] for s in peer if "rss" in s]
        if len(o_rss) == len(ours) and len(p_rss) == len(peer):
            target = met = ""
            if big:
                target = "≤ 1.00x"
                # Not met unless ours completed: a run cut short holds less in memory.
                met = check(paired_ratio(o_rss, p_rss), "<=", 1.0) if o_ok else "**no**"
            table.add(
                "  peak RSS of the whole process",
                fmt(o_rss, "MiB"),
                fmt(p_rss, "MiB"),
                ratio_cell(o_rss, p_rss),
                target,
                met,
            )
        for side, samples in (("ours", ours), ("aiobotocore", peer)):
            errors: dict[str, int] = {}
            for sample in samples:
                for name, n in sample.get("errors", {}).items():
                    errors[name] = errors.get(name, 0) + n
            if errors:
                table.notes.append(
                    f"fan-out {calls:,}, {side}: failures by type (all runs): "
                    + ", ".join(f"{k} x {v}" for k, v in sorted(errors.items()))
                )


def pipeline_rows(table: Table, args: argparse.Namespace) -> None:
    total, running = 1000, 300
    images = pipeline_images(total, running)
    ours: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for i in range(args.rounds):
        print(f"  cancel_pipeline_builds: round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
        # A fresh stand-in per round: the run leaves its 300 images CANCELLED.
        with standin(images) as endpoint:
            params = {"endpoint": endpoint, "total": total, "running": running}
            # Each exits non-zero (and so stops the bench) unless all 300 came back cancelled
            # and CANCELLED; the check lists the pipeline in a process of its own afterwards.
            ours.append(run_workload("ours_cancel_pipeline", 300, **params))
            checks.append(run_workload("check_pipeline", 120, **params))
        if "killed" in ours[-1]:
            raise RuntimeError(f"cancel_pipeline_builds did not finish in {ours[-1]['killed']} s")
    label = (
        f"async cancel_pipeline_builds(wait=True): {total:,} images, {running} running, "
        f"stand-in in its own process: wall"
    )
    table.add(label, fmt([r["wall"] for r in ours], "s"), "", "")
    table.add(
        f"  CPU per cancelled image (client open to close: listing, cancels, waits) / {running}",
        fmt([r["cpu"] / running for r in ours], "µs"),
        "",
        "",
    )
    table.add(
        f"  CPU per cancelled image, whole process (start, import, call) / {running}",
        fmt([r["process_cpu"] / running for r in ours], "µs"),
        "",
        "",
    )
    table.add("  peak RSS of the whole process", fmt([r["rss"] for r in ours], "MiB"), "", "")
    table.notes.append(
        f"pipeline row: {args.rounds} rounds, each with a fresh stand-in (its own process, "
        f"not counted) and a fresh client process; no peer (no SDK has the operation), so "
        f"no ratio and no target. Wall and the first CPU row: from creating the client to "
        f"closing it; whole-process CPU and peak RSS from wait4."
    )
    cancelled = min(c["cancelled"] for c in checks)
    untouched = min(c["untouched"] for c in checks)
    table.add(
        "  outcomes (the client's, then the stand-in's listing, every round)",
        f"{cancelled} of {running} cancelled, CANCELLED; "
        f"{untouched} of {total - running} others untouched",
        "",
        "",
    )


# --------------------------------------------------------------------------- main


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # Versions from metadata, not imports: this process must stay small and clean.
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    deps = ", ".join(
        f"{n} {v(n)}"
        for n in (
            "sigv4-imagebuilder",
            "httpx",
            "urllib3",
            "yarl",
            "httpcore",
            "h11",
            "anyio",
            "sniffio",
            "botocore",
            "boto3",
            "aiobotocore",
            "aiohttp",
        )
    )
    return (
        f"{model}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; {deps}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2 if quick else 4, help="ABBA rounds per row")
    parser.add_argument(
        "--calls", type=int, default=500 if quick else 1500, help="calls per window, stub rows"
    )
    parser.add_argument(
        "--socket-calls",
        type=int,
        default=200 if quick else 600,
        help="calls per window, loopback rows",
    )
    parser.add_argument(
        "--async-calls",
        type=int,
        default=300 if quick else 1000,
        help="calls per concurrency level, async rows",
    )
    parser.add_argument(
        "--fanout",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[1000] if quick else [1000, 10_000],
        help="comma-separated fan-out sizes",
    )
    parser.add_argument(
        "--fanout-rounds", type=int, default=1 if quick else 2, help="ABBA rounds per fan-out row"
    )
    parser.add_argument(
        "--fanout-limit", type=float, default=120.0, help="seconds before a fan-out row gives up"
    )
    parser.add_argument(
        "--only",
        type=lambda s: [x for x in s.split(",") if x],
        default=list(GROUPS),
        help=f"comma-separated groups from {','.join(GROUPS)}",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {sorted(unknown)}")
    args.quick = quick
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A wheel install byte-compiles the package; an editable one might not, and every cold
    # child would then compile it again.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "sigv4_imagebuilder"), str(HERE)],
        check=True,
    )
    # SIGTERM (and SIGHUP) unwind like Ctrl-C does, so the finally below reaps every child.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    started = time.monotonic()
    table = Table()
    try:
        with loopback_server(max_seconds=3600) as endpoint:
            if "warm" in args.only:
                warm_rows(table, args, endpoint)
            if "cold" in args.only:
                cold_rows(table, args, endpoint)
            if "async" in args.only:
                async_rows(table, args, endpoint)
            if "fanout" in args.only:
                fanout_rows(table, args, endpoint)
        if "pipeline" in args.only:
            pipeline_rows(table, args)
    except KeyboardInterrupt:
        print("interrupted; children stopped", file=sys.stderr)
        return 130
    finally:
        kill_children()

    print(f"Machine: {machine()}")
    print(
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{time.monotonic() - started:.0f} s; {args.rounds} paired ABBA rounds per row "
        f"(fresh processes), median (p10-p90); ratio = per-round ours/peer, except calls/s "
        f"rows (peer CPU/ours: higher is better). Peer: boto3 for sync rows, aiobotocore for "
        f"async rows." + (" BENCH_QUICK=1." if args.quick else "")
    )
    print()
    headers = ("measure", "sigv4-imagebuilder", "boto3 / aiobotocore", "ratio", "target", "met")
    cells = [headers, *[(r.measure, r.ours, r.peer, r.ratio, r.target, r.met) for r in table.rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print()
    print(
        "'of which' rows: thread CPU inside that dependency method, per call, from a second "
        "window of the same processes with the methods wrapped (share of that window's whole "
        "call). Parts nest (Client.send contains the engine, which contains urlopen)."
    )
    for note in table.notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
