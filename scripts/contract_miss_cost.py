"""Cost of one request validation that the result cache cannot answer (fresh values each time).

    python3 scripts/contract_miss_cost.py [N]

Upload POSTs with a new digest each: what a push workload makes the contract layer do.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")

from zot_server.contract.validator import Contract, build_request  # noqa: E402
from zot_server.spec import effective_spec  # noqa: E402


def main(n: int = 500) -> None:
    contract = Contract(effective_spec()[0])

    def one(i: int) -> list:
        path = f"/v2/bench/repo{i}/blobs/uploads/"
        route, params = contract.match("POST", path)
        scope = {
            "method": "POST",
            "path": path,
            "query_string": f"digest=sha256:{os.urandom(32).hex()}".encode(),
            "headers": [(b"content-type", b"application/octet-stream")],
        }
        return contract.request_problems(build_request(scope, params, None), route)

    assert one(0) == []
    start = time.perf_counter()
    for i in range(n):
        one(i)
    print(f"{(time.perf_counter() - start) / n * 1000:.3f} ms per uncached request validation")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
