"""Side-by-side benchmark: sigv4-imagebuilder against boto3, in one run, as ratios.

Every measurement runs in fresh child processes, interleaved A B A B over
several rounds; the table shows medians. CPU time and peak RSS come from the
OS's accounting of each finished child (wait4's rusage), not from timers in
the child.

    make bench                      # default rounds
    python benchmarks/bench.py --rounds 15 --calls 3000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/bench/1.0.0/1"
BODY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN})

OURS_SETUP = f"""
import httpx
import sigv4_imagebuilder as sib

def handler(request):
    return httpx.Response(200, content={BODY!r}.encode(),
                          headers={{"x-amzn-RequestId": "r", "Content-Type": "application/json"}})

client = sib.ImageBuilderClient(region="us-east-1",
                                credentials=sib.Credentials("AKIDBENCH", "bench-secret"),
                                http_client=httpx.Client(transport=httpx.MockTransport(handler)))

def call():
    return client.cancel_image_creation({ARN!r}, client_token="t")
"""

BOTO3_SETUP = f"""
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

def call():
    return client.cancel_image_creation(imageBuildVersionArn={ARN!r}, clientToken="t")
"""

COLD = "{setup}\ncall()\n"
IMPORT_OURS = "import sigv4_imagebuilder\n"
IMPORT_BOTO3 = "import boto3\n"
WARM = """{setup}
import time
for _ in range(200):
    call()
start = time.process_time()
for _ in range({calls}):
    call()
print((time.process_time() - start) / {calls})
"""

PARTS_TAIL = """
import datetime, time
from sigv4_imagebuilder._protocol import build_request, serialize_body
from sigv4_imagebuilder._signing import sign
http = client._http
unsigned = build_request("https://imagebuilder.us-east-1.amazonaws.com", serialize_body({arn!r}, "t"))
prebuilt = http.build_request("PUT", unsigned.url, headers=unsigned.headers, content=unsigned.body)
creds = sib.Credentials("AKIDBENCH", "bench-secret")
def timed(f, n={calls}):
    for _ in range(200):
        f()
    start = time.process_time()
    for _ in range(n):
        f()
    return (time.process_time() - start) / n
now = datetime.datetime.now(datetime.timezone.utc)
from sigv4_imagebuilder._flow import Send
action = Send(sign(unsigned, creds, region="us-east-1", now=now))
print(timed(lambda: http.send(prebuilt)), timed(lambda: sign(unsigned, creds, region="us-east-1", now=now)),
      timed(lambda: client._build(action, http)))
"""

FANOUT_SERVER = """
import json, sys, threading
from sigv4_imagebuilder.testing import LoopbackServer, Reply
body = json.dumps({"requestId": "r", "clientToken": "t"}).encode()
latency = float(sys.argv[1])
with LoopbackServer(lambda r: Reply(headers=[("x-amzn-RequestId", "r")], body=body, delay=latency)) as s:
    print(s.endpoint_url, flush=True)
    sys.stdin.read()
"""

FANOUT_CLIENT = f"""
import asyncio, sys, time
import sigv4_imagebuilder as sib
endpoint, n, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
creds = sib.Credentials("AKIDBENCH", "bench-secret")
arn = {ARN!r}
def sync():
    with sib.ImageBuilderClient(region="us-east-1", credentials=creds, endpoint_url=endpoint) as c:
        c.cancel_image_creation(arn)
        start = time.perf_counter()
        for _ in range(n):
            c.cancel_image_creation(arn)
        return time.perf_counter() - start
async def fan():
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=creds,
                                           endpoint_url=endpoint) as c:
        await c.cancel_image_creation(arn)
        gate = asyncio.Semaphore(concurrency)
        async def one():
            async with gate:
                await c.cancel_image_creation(arn)
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - start
print(sync(), asyncio.run(fan()))
"""


def run_child(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; return (CPU seconds, peak RSS MiB, stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{code}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def interleaved(
    rounds: int, a: Callable[[], tuple[float, ...]], b: Callable[[], tuple[float, ...]]
) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
    ra, rb = [], []
    for i in range(rounds):
        # A B, then B A: neither side always runs first.
        if i % 2 == 0:
            ra.append(a())
            rb.append(b())
        else:
            rb.append(b())
            ra.append(a())
    return ra, rb


def med(rows: list[tuple[float, ...]], i: int) -> float:
    return statistics.median(r[i] for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000, help="calls per warm-rate round")
    parser.add_argument("--fanout", type=int, default=200, help="calls in the loopback fan-out")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="seconds the loopback server waits before each reply, as a service would",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    # A wheel install byte-compiles the package; an editable one under
    # PYTHONDONTWRITEBYTECODE=1 would recompile it in every child instead.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "sigv4_imagebuilder")], check=True
    )
    # Versions from metadata, not imports: a forked child's peak RSS starts at
    # the parent's, so this process must stay small.
    from importlib.metadata import version

    print(
        f"sigv4-imagebuilder vs boto3 {version('boto3')} (botocore {version('botocore')}, "
        f"httpx {version('httpx')}), Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"{args.rounds} interleaved rounds per row, medians; each sample a fresh process\n")

    def child(code: str) -> Callable[[], tuple[float, ...]]:
        return lambda: run_child(code)[:2]

    rows = []
    ours, theirs = interleaved(
        args.rounds, child(COLD.format(setup=OURS_SETUP)), child(COLD.format(setup=BOTO3_SETUP))
    )
    cold = (med(ours, 0), med(theirs, 0), med(ours, 1), med(theirs, 1))
    rows.append(
        (
            "cold start CPU (import+client+1 call)",
            f"{cold[0] * 1000:.0f} ms",
            f"{cold[1] * 1000:.0f} ms",
            cold[0] / cold[1],
            "<= 0.65",
        )
    )
    rows.append(
        (
            "cold start peak RSS",
            f"{cold[2]:.1f} MiB",
            f"{cold[3]:.1f} MiB",
            cold[2] / cold[3],
            "<= 0.70",
        )
    )

    ours, theirs = interleaved(args.rounds, child(IMPORT_OURS), child(IMPORT_BOTO3))
    rows.append(
        (
            "import alone CPU",
            f"{med(ours, 0) * 1000:.0f} ms",
            f"{med(theirs, 0) * 1000:.0f} ms",
            med(ours, 0) / med(theirs, 0),
            "",
        )
    )
    rows.append(
        (
            "import alone peak RSS",
            f"{med(ours, 1):.1f} MiB",
            f"{med(theirs, 1):.1f} MiB",
            med(ours, 1) / med(theirs, 1),
            "",
        )
    )

    def warm(setup: str) -> Callable[[], tuple[float, ...]]:
        return lambda: (float(run_child(WARM.format(setup=setup, calls=args.calls))[2]),)

    ours, theirs = interleaved(args.rounds, warm(OURS_SETUP), warm(BOTO3_SETUP))
    o, t = med(ours, 0), med(theirs, 0)
    rows.append(("warm call CPU per call", f"{o * 1e6:.0f} µs", f"{t * 1e6:.0f} µs", o / t, ""))
    rows.append(("warm call rate", f"{1 / o:,.0f}/s", f"{1 / t:,.0f}/s", t / o, ">= 2.5"))

    parts = [
        tuple(
            float(x)
            for x in run_child(OURS_SETUP + PARTS_TAIL.format(arn=ARN, calls=args.calls))[2].split()
        )
        for _ in range(args.rounds)
    ]
    send_cost, sign_cost, build_cost = med(parts, 0), med(parts, 1), med(parts, 2)
    rows.append(
        ("  of which httpx Client.send (fixed)", f"{send_cost * 1e6:.0f} µs", "", send_cost / t, "")
    )
    rows.append(
        ("  of which SigV4 signing (botocore)", f"{sign_cost * 1e6:.0f} µs", "", sign_cost / t, "")
    )
    rows.append(
        ("  of which httpx.Request build", f"{build_cost * 1e6:.0f} µs", "", build_cost / t, "")
    )

    width = max(len(r[0]) for r in rows)
    print(
        f"| {'measure':<{width}} | {'sigv4-imagebuilder':>18} | {'boto3':>12} | {'ratio':>6} | target  |"
    )
    print(f"|{'-' * (width + 2)}|{'-' * 20}|{'-' * 14}|{'-' * 8}|---------|")
    for name, a, b, ratio, target in rows:
        print(f"| {name:<{width}} | {a:>18} | {b:>12} | {ratio:>5.2f}x | {target:<7} |")
    print("('of which' rows: that part's cost alone, as a fraction of boto3's whole call)")

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with subprocess.Popen(
        [sys.executable, "-c", FANOUT_SERVER, str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        endpoint = server.stdout.readline().strip()
        samples = []
        for _ in range(3):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    FANOUT_CLIENT,
                    endpoint,
                    str(args.fanout),
                    str(args.concurrency),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=ROOT,
            ).stdout
            samples.append(tuple(float(x) for x in out.split()))
        server.stdin.close()
        server.wait(timeout=10)
    seq, fan = statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)
    print(
        f"\nasync fan-out on loopback, {args.fanout} cancels, server in its own process answering "
        f"after {args.latency * 1000:.0f} ms (median of 3):"
    )
    print(
        f"  sync sequential: {seq:.2f} s ({args.fanout / seq:,.0f}/s); "
        f"async at concurrency {args.concurrency}: {fan:.2f} s ({args.fanout / fan:,.0f}/s); "
        f"speed-up {seq / fan:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
