"""``zot-server bench URL``: zot's ``zb`` benchmark workloads against any OCI registry."""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import command
from .layers import parse_size
from .runner import Options, run_tests
from .stats import table
from .suite import select, zb_suite


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="registry base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("-c", "--concurrency", type=int, default=1, help="client threads (default 1)")
    p.add_argument("-n", "--requests", type=int, default=10, help="requests per test (default 10)")
    p.add_argument("-r", "--repo", default="zb", help="repository prefix (default zb)")
    p.add_argument("-t", "--test", action="append", help="only tests whose name contains this")
    p.add_argument(
        "--sizes",
        default="1MB,10MB,100MB",
        help="small,medium,large layer sizes (default 1MB,10MB,100MB)",
    )
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per test at most")
    p.add_argument("-o", "--output", choices=["stdout", "ci-cd"], default="stdout")
    p.add_argument("--json", dest="json_path", help="write the ci-cd JSON here (- for stdout)")
    p.add_argument("--details", help="write every figure of every test as JSON here")
    p.add_argument("--no-cleanup", action="store_true", help="keep what the run pushed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


@command("bench", _arguments)
def bench(args: argparse.Namespace) -> int:
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if len(sizes) != 3:
        print("--sizes takes three sizes: small,medium,large", file=sys.stderr)
        return 2
    tests = select(zb_suite(*sizes), args.test)
    if not tests:
        print("no test matches --test", file=sys.stderr)
        return 2
    options = Options(
        url=args.url.rstrip("/"),
        concurrency=max(1, args.concurrency),
        requests=max(1, args.requests),
        repo_prefix=args.repo,
        time_limit=args.time_limit,
        cleanup=not args.no_cleanup,
        progress=not args.no_progress,
    )
    results = run_tests(options, tests)
    print(
        f"Registry URL: {options.url}  concurrency {options.concurrency}  "
        f"requests {options.requests}"
    )
    print(table(results))
    cicd = [entry for r in results for entry in r.cicd()]
    json_path = args.json_path or ("ci-cd.json" if args.output == "ci-cd" else None)
    if json_path == "-":
        print(json.dumps(cicd, indent=1))
    elif json_path:
        with open(json_path, "w") as f:
            json.dump(cicd, f, indent=1)
    if args.details:
        with open(args.details, "w") as f:
            json.dump([r.summary() for r in results], f, indent=1)
    return 1 if any(r.errors for r in results) else 0
