"""``zot-server bench`` and the side-by-side script, at tiny sizes against real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

from zot_server.bench.layers import parse_size
from zot_server.bench.stats import percentile
from zot_server.bench.suite import zb_suite

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1024, 4096, 16384)


def test_sizes_and_percentiles():
    assert parse_size("1MB") == 1 << 20
    assert parse_size("10MiB") == 10 << 20
    assert parse_size("4096") == 4096
    with pytest.raises(ValueError):
        parse_size("lots")
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0


def test_bench_runs_every_zb_test(make_server, tmp_path):
    server = make_server(workers=2)
    out, details = tmp_path / "ci-cd.json", tmp_path / "details.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zot_server",
            "bench",
            server.url,
            "-c",
            "2",
            "-n",
            "4",
            "--sizes",
            "1KB,4KB,16KB",
            "--json",
            str(out),
            "--details",
            str(details),
            "--time-limit",
            "30",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Push Monolith 1KB" in result.stdout  # the table
    assert "[" in result.stderr and "4/4" in result.stderr  # the progress bar

    expected = [t.name for t in zb_suite(*SIZES)]
    cicd = json.loads(out.read_text())
    by_name = {(e["name"], e["unit"]): e["value"] for e in cicd}
    assert all(set(e) == {"name", "unit", "value"} for e in cicd)
    for name in expected:
        assert by_name[(name, "requests per sec")] > 0, name
        assert by_name[(f"{name}: errors", "count")] == 0, name
        assert (
            0 < by_name[(f"{name}: p50 latency", "ms")] <= by_name[(f"{name}: p99 latency", "ms")]
        )

    summaries = {s["name"]: s for s in json.loads(details.read_text())}
    assert list(summaries) == expected
    for name, s in summaries.items():
        assert s["requests"] == 4 and s["errors"] == 0, (name, s)
        assert set(s["status_classes"]) == {"2xx"}, (name, s["status"])
        assert s["ttfb_p50_ms"] > 0
    # Pushes move their layer: 4 requests of 16 KiB are 64 KiB of layer bytes.
    assert summaries["Push Monolith 16KB"]["mb_per_sec"] > 0
    # Each pull is HEAD+GET of manifest, config and layer: six calls per request.
    assert sum(summaries["Pull 1KB"]["status"].values()) == 24


def test_bench_cleans_up(make_server, tmp_path):
    server = make_server()
    args = [
        sys.executable,
        "-m",
        "zot_server",
        "bench",
        server.url,
        "-n",
        "2",
        "-t",
        "Push Monolith 1KB",
    ]
    args += ["--sizes", "1KB,2KB,4KB", "--no-progress"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    layouts = [p for p in (server.root / "zb").glob("*/index.json")]
    assert len(layouts) == 2
    assert all(json.loads(p.read_text())["manifests"] == [] for p in layouts)
    subprocess.run([*args, "--no-cleanup"], check=True, capture_output=True, timeout=60)
    kept = [
        p
        for p in (server.root / "zb").glob("*/index.json")
        if json.loads(p.read_text())["manifests"]
    ]
    assert len(kept) == 2


def test_bench_counts_errors(tmp_path):
    """Against nothing listening every request fails, and the exit status says so."""
    from zot_server.testing import free_port

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zot_server",
            "bench",
            f"http://127.0.0.1:{free_port()}",
            "-n",
            "2",
            "-t",
            "Pull 1KB",
            "--sizes",
            "1KB,2KB,4KB",
            "--no-progress",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0


@pytest.mark.peer
def test_side_by_side_quick(tmp_path):
    require("docker-registry")
    require("hey")
    out = tmp_path / "side.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "side_by_side.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    summary = report["summary"]
    for figure in (
        "start-up to first 200 s", "zb Push Monolith 1MB c10 req/s", "zb Pull 1MB c10 req/s",
        "manifest HEAD c16 req/s", "manifest GET c16 req/s", "catalog listing s",
        "blob push monolithic MB/s", "blob push streamed MB/s", "blob pull MB/s",
        "peak RSS per worker MiB",
    ):  # fmt: skip
        row = summary[figure]
        assert row["zot-server"] > 0 and row["distribution"] > 0, (figure, row)
        assert row["ratio"] == pytest.approx(row["zot-server"] / row["distribution"])
    assert summary["catalog repositories"]["zot-server"] >= 50
    assert summary["catalog repositories"]["distribution"] >= 50
    assert report["bounds"]["sendfile MB/s"] > 0
    assert "ratio" in result.stdout


def test_spec_check_is_remembered_only_when_it_passed(tmp_path, monkeypatch):
    """Start-up skips Connexion's meta-schema check only for a spec that passed it before."""
    import connexion
    from connexion.exceptions import InvalidSpecification
    from connexion.spec import Specification

    from zot_server.startup import _marker, spec_checked_once

    valid = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    invalid = {"swagger": "2.0", "info": {"title": "t"}, "paths": {}}  # no version
    with pytest.raises(InvalidSpecification):
        with spec_checked_once(invalid, str(tmp_path)):
            connexion.FlaskApp(__name__).add_api(invalid)
    assert not Path(_marker(invalid, str(tmp_path))).exists()

    checks = []
    real = Specification.__dict__["_validate_spec"].__func__
    monkeypatch.setattr(
        Specification,
        "_validate_spec",
        classmethod(lambda cls, s: checks.append(1) or real(cls, s)),
    )
    for _ in range(2):
        with spec_checked_once(valid, str(tmp_path)):
            connexion.FlaskApp(__name__).add_api(valid)
    assert checks == [1]  # checked at the first start only
    assert Path(_marker(valid, str(tmp_path))).exists()
    with pytest.raises(InvalidSpecification):  # a changed spec is checked again
        with spec_checked_once(invalid, str(tmp_path)):
            connexion.FlaskApp(__name__).add_api(invalid)
