"""schemathesis fuzzes every documented operation of the spec the server serves.

The runs are the schemathesis CLI against a strict server (real process, real socket),
bounded by ``max_examples``, ``max-steps`` and a timeout; the JSON report must show zero
failures and the server's own contract report no response violation (a server bug).
Operations without a handler answer 501 UNSUPPORTED (a documented default error): for those
alone ``not_a_server_error`` accepts 501 (docs/contract.md, "Exclusions").

Two runs: coverage + fuzzing over all operations, then stateful scenarios over the OCI
operations (``/v2/``), where links feed one operation's output into the next. The split is
needed because schemathesis starts scenarios only from "reliable" roots when any exist, and
POST /zot/auth/apikey would then be the only root (docs/contract.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zot_server.contract.report import default_report_path, read_report
from zot_server.spec import effective_spec
from zot_server.spec_tools import handled_operations, operations

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = int(os.environ.get("ZOT_SCHEMATHESIS_EXAMPLES", "6"))
SCENARIOS = int(os.environ.get("ZOT_SCHEMATHESIS_SCENARIOS", "8"))
TIMEOUT = 240

STATEFUL = f"""
# Stateful scenarios use valid data so the links (upload -> PATCH -> PUT -> GET blob,
# PUT manifest -> GET/HEAD/DELETE) are followed, not rejected at the first step.
[phases.stateful]
max-steps = 5

[phases.stateful.generation]
mode = "positive"
max-examples = {SCENARIOS}
"""


def _config(unsupported: list[str]) -> str:
    """Per-operation schemathesis config: 501 is expected only where no handler exists."""
    blocks = [STATEFUL]
    for label in unsupported:
        blocks.append(
            "[[operations]]\n"
            f"include-name = {json.dumps(label)}\n"
            'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]\n'
        )
    return "\n".join(blocks)


def _schemathesis() -> list[str]:
    """The schemathesis CLI of this interpreter (CI's venv may not be on PATH)."""
    if importlib.util.find_spec("schemathesis") is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return [sys.executable, "-m", "schemathesis.cli"]


def _documented() -> set[str]:
    spec, _ = effective_spec()
    return {f"{m} {p}" for (m, _), (p, _) in operations(spec).items()}


def _run(make_server, tmp_path: Path, *args: str) -> tuple[dict, str]:
    """One schemathesis run against a fresh strict server; its report and its output."""
    unsupported = sorted(_documented() - handled_operations())
    server = make_server(extra_args=["--strict"], workers=2)
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(unsupported))
    report = tmp_path / "st.json"
    cmd = [
        *_schemathesis(), "--config-file", str(config), "--no-color", "run",
        f"{server.url}/openapi.json", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20261203", "--workers", "1", "--no-shrink", "--request-timeout", "10",
        "--suppress-health-check", "too_slow", "--report", "json",
        "--report-json-path", str(report), *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    (tmp_path / "schemathesis.txt").write_text(proc.stdout)
    tail = proc.stdout[-20000:]
    assert report.is_file(), f"no schemathesis report; output:\n{tail}\n{proc.stderr[-2000:]}"
    result = json.loads(report.read_text())
    phases = re.findall(r"(Coverage|Fuzzing|Stateful) \(in ([\d.]+)s\)", proc.stdout)
    print(
        f"schemathesis {' '.join(args)}: {result['test_cases']['generated']} cases over "
        f"{result['operations']['tested']} operations in {result['running_time']:.1f} s "
        f"(phases {phases})",
        file=sys.stderr,
    )
    assert result["failures"] == [], tail
    assert result["errors"] == [], tail
    assert proc.returncode == 0, tail
    server_bugs = [
        v for v in read_report(default_report_path(server.root)) if v["kind"] == "response"
    ]
    assert server_bugs == [], server_bugs[:5]
    return result, proc.stdout


def test_fuzz_every_operation(make_server, tmp_path):
    result, _ = _run(make_server, tmp_path, "--phases", "coverage,fuzzing")
    documented = _documented()
    assert result["operations"]["total"] == len(documented)
    assert result["operations"]["tested"] == len(documented)
    assert result["phases"]["fuzzing"]["status"] == "success"
    assert result["phases"]["coverage"]["status"] == "success"


def test_stateful_links(make_server, tmp_path):
    result, out = _run(
        make_server, tmp_path, "--phases", "stateful", "--include-path-regex", "^/v2/"
    )
    assert result["phases"]["stateful"]["status"] == "success", out[-4000:]
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", out)
    print(f"schemathesis stateful: {links and links.group(0)}", file=sys.stderr)
    assert links and int(links.group(1)) > 0, f"no stateful link was followed:\n{out[-4000:]}"
