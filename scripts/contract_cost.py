"""What contract validation costs per request: in-process per call, and end to end.

    python3 scripts/contract_cost.py [--requests N]

In process: openapi-core request validation per call with values never seen before (cold) and
repeated (warm, the result cache), and strict-mode response validation of a JSON body.
End to end: the same server (1 worker) with validation off (ZOT_SERVER_CONTRACT=off), on,
and strict, driven by ``hey`` (bounded by request count) in the same run; ratios against off.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.datastructures import Headers  # noqa: E402

from tests.oci import Client, random_image  # noqa: E402
from zot_server.contract.validator import Contract, Response, build_request  # noqa: E402
from zot_server.spec import effective_spec  # noqa: E402
from zot_server.testing import RunningServer  # noqa: E402


def per_call(n: int) -> dict[str, float]:
    contract = Contract(effective_spec()[0])

    def request(i):
        scope = {
            "method": "GET", "path": f"/v2/bench/r{i}/tags/list", "query_string": b"n=10",
            "headers": [(b"accept", b"application/json")],
        }  # fmt: skip
        route, params = contract.match("GET", scope["path"])
        return build_request(scope, params, None), route

    def timed(fn) -> float:
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        return (time.perf_counter() - start) / n * 1000

    for i in range(20):
        contract.request_problems(*request(-i - 1))
    cold = timed(lambda i: contract.request_problems(*request(i)))
    warm = timed(lambda i: contract.request_problems(*request(0)))
    req, _ = request(0)

    def response(i):
        body = b'{"name": "bench/r0", "tags": ["t%d"]}' % i
        answer = Response(200, Headers({"Content-Type": "application/json"}), "application/json")
        answer.data = body
        return contract.response_problems(req, answer, True)

    return {
        "request cold": cold,
        "request warm": warm,
        "response cold": timed(response),
        "response warm": timed(lambda i: response(0)),
    }


def hey(url: str, n: int, method: str) -> tuple[float, float]:
    out = subprocess.run(
        ["hey", "-n", str(n), "-c", "8", "-m", method, "-t", "10", url],
        capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mean = float(re.search(r"Average:\s+([\d.]+) secs", out).group(1)) * 1000
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    assert all(code in ("200",) for code, _ in codes), codes
    return rps, mean


def end_to_end(n: int) -> list[tuple[str, str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode, args, env in (
            ("off", [], {"ZOT_SERVER_CONTRACT": "off"}),
            ("on", [], {}),
            ("strict", ["--strict"], {}),
        ):
            with RunningServer(Path(tmp) / mode, workers=1, extra_args=args, env=env) as s:
                Client(s.url).push_image("bench/app", "v1", random_image())
                for method, path in (
                    ("HEAD", "/v2/bench/app/manifests/v1"),
                    ("GET", "/v2/bench/app/tags/list"),
                ):
                    hey(s.url + path, min(n, 200), method)  # warm-up
                    rps, mean = hey(s.url + path, n, method)
                    rows.append((mode, f"{method} {path}", rps, mean))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, ms in per_call(args.calls).items():
        print(f"in process  {name:<18} {ms:7.3f} ms per call")
    if shutil.which("hey") is None:
        print("hey is not installed (apt-get install hey): no end-to-end numbers")
        return 1
    rows = end_to_end(args.requests)
    base = {req: rps for mode, req, rps, _ in rows if mode == "off"}
    for mode, req, rps, mean in rows:
        print(f"end to end  {mode:<6} {req:<34} {rps:8.1f} req/s  mean {mean:6.2f} ms  "
              f"({rps / base[req]:.2f}x of off)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
