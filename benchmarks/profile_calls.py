"""Profile the hot paths the benchmark measures, against the loopback server in its own process.

    python benchmarks/profile_calls.py sync            # warm sync calls, default client
    python benchmarks/profile_calls.py async --concurrency 16
    python benchmarks/profile_calls.py sync --calls 3000 --top 40 --sort tottime

Prints the CPU per call without the profiler first (cProfile inflates call-heavy code), then
cProfile's top functions by cumulative and by own time, in µs per call.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["sync", "async"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=["cumulative", "tottime", "both"], default="both")
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
    label = "sync" if args.path == "sync" else f"async at concurrency {args.concurrency}"
    print(f"{label}: {plain * 1e6:,.0f} µs CPU per call without the profiler")
    for sort in ("cumulative", "tottime") if args.sort == "both" else (args.sort,):
        print(f"\ntop {args.top} by {sort}, per call ({args.calls} calls):")
        print(table(profile, sort, args.top, args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
