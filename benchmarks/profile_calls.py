"""Profile the hot paths the benchmark measures, against the loopback server in its own process.

    python benchmarks/profile_calls.py sync            # warm sync calls, default client
    python benchmarks/profile_calls.py async --concurrency 16
    python benchmarks/profile_calls.py sync --calls 3000 --top 40 --sort tottime

Prints the CPU per call without the profiler first (cProfile inflates call-heavy code), then
cProfile's own time summed by where the code lives (httpx, urllib3 and http.client, aiohttp,
botocore, ours, ...; the standard library's and C built-ins' time charged to the package that
called them), then the top functions by cumulative and by own time, in µs per call.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import kill_children, loopback_server
from workloads import ACCESS_KEY, ARN, SECRET_KEY, _drive


def table(profile: cProfile.Profile, sort: str, top: int, calls: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(sort)
    width = 0
    rows = []
    for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
        _cc, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        name = f"{Path(func[0]).name}:{func[1]}({func[2]})"
        width = max(width, len(name))
        rows.append((name, nc / calls, tt / calls * 1e6, ct / calls * 1e6))
    lines = [f"{'function':<{width}}  {'n/call':>7}  {'self µs':>8}  {'cum µs':>8}"]
    lines += [f"{n:<{width}}  {a:>7.2f}  {b:>8.1f}  {c:>8.1f}" for n, a, b, c in rows]
    return "\n".join(lines)


# Where a function's file lives -> its group; the first match wins.
GROUPS = (
    ("/sigv4_imagebuilder/", "ours (sigv4_imagebuilder)"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpcore"),
    ("/urllib3/", "urllib3 + http.client"),
    ("/http/client.py", "urllib3 + http.client"),
    ("/aiohttp/", "aiohttp + yarl + multidict"),
    ("/yarl/", "aiohttp + yarl + multidict"),
    ("/multidict/", "aiohttp + yarl + multidict"),
    ("/botocore/", "botocore (signing)"),
    ("/asyncio/", "asyncio"),
    ("/attr/", "attrs"),
)
OTHER = "other (the workload, the event loop's callbacks)"

Func = tuple[str, int, str]


def group_of(filename: str) -> str | None:
    for needle, group in GROUPS:
        if needle in filename:
            return group
    return None


def groups(profile: cProfile.Profile, calls: int) -> str:
    """Own time per group, µs per call.

    The rest of the standard library and C built-ins (socket calls, hashing, email's header
    parser, http.cookiejar) are charged to the group whose code called them, split by the
    callers' cumulative time along each edge.
    """
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    owners: dict[Func, dict[str, float]] = {}

    def owner(func: Func, seen: frozenset[Func]) -> dict[str, float]:
        if func in owners:
            return owners[func]
        group = group_of(func[0]) if func[0] != "~" else None
        if group is not None:
            share = {group: 1.0}
        else:
            callers = stats[func][4] if func in stats else {}
            edges = {c: e[3] for c, e in callers.items() if c not in seen}
            whole = sum(edges.values())
            share = {}
            for caller, weight in edges.items():
                for g, part in owner(caller, seen | {func}).items():
                    share[g] = share.get(g, 0.0) + part * weight / whole
            share = share or {OTHER: 1.0}
        if not seen:
            owners[func] = share
        return share

    totals: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for group, part in owner(func, frozenset()).items():
            totals[group] = totals.get(group, 0.0) + tt * part
    everything = sum(totals.values()) or 1.0
    width = max(len(g) for g in totals)
    lines = [f"{'group':<{width}}  {'µs/call':>8}  {'share':>6}"]
    for group, tt in sorted(totals.items(), key=lambda kv: -kv[1]):
        if tt / calls < 5e-8:
            continue
        lines.append(f"{group:<{width}}  {tt / calls * 1e6:>8.1f}  {tt / everything:>6.0%}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["sync", "async"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=["cumulative", "tottime", "both"], default="both")
    parser.add_argument("--dump", metavar="FILE", help="also write the raw pstats to FILE")
    args = parser.parse_args()

    import sigv4_imagebuilder as sib

    creds = sib.Credentials(ACCESS_KEY, SECRET_KEY)
    # CPU, not wall: a blocking recv must not count as work.
    profile = cProfile.Profile(time.thread_time)
    try:
        with loopback_server(max_seconds=600) as endpoint:
            if args.path == "sync":
                with sib.ImageBuilderClient(
                    region="us-east-1", credentials=creds, endpoint_url=endpoint
                ) as client:
                    for _ in range(200):
                        client.cancel_image_creation(ARN, client_token="t")
                    start = time.process_time()
                    for _ in range(args.calls):
                        client.cancel_image_creation(ARN, client_token="t")
                    plain = (time.process_time() - start) / args.calls
                    profile.enable()
                    for _ in range(args.calls):
                        client.cancel_image_creation(ARN, client_token="t")
                    profile.disable()
            else:
                import asyncio

                async def run() -> float:
                    async with sib.AsyncImageBuilderClient(
                        region="us-east-1", credentials=creds, endpoint_url=endpoint
                    ) as client:

                        def call() -> object:
                            return client.cancel_image_creation(ARN, client_token="t")

                        await _drive(call, max(50, 2 * args.concurrency), args.concurrency)
                        start = time.process_time()
                        await _drive(call, args.calls, args.concurrency)
                        plain = (time.process_time() - start) / args.calls
                        profile.enable()
                        await _drive(call, args.calls, args.concurrency)
                        profile.disable()
                        return plain

                plain = asyncio.run(run())
    finally:
        kill_children()
    if args.dump:
        profile.dump_stats(args.dump)
    label = "sync" if args.path == "sync" else f"async at concurrency {args.concurrency}"
    print(f"{label}: {plain * 1e6:,.0f} µs CPU per call without the profiler")
    print(
        f"\nown time by group, per call ({args.calls} calls, under the profiler; stdlib and "
        "C built-ins charged to their caller's group):"
    )
    print(groups(profile, args.calls))
    for sort in ("cumulative", "tottime") if args.sort == "both" else (args.sort,):
        print(f"\ntop {args.top} by {sort}, per call ({args.calls} calls):")
        print(table(profile, sort, args.top, args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
