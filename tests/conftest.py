"""Shared fixtures: real zot-server processes on free loopback ports."""

from __future__ import annotations

import shutil

import pytest

from zot_server.contract.report import default_report_path, read_report
from zot_server.testing import RunningServer


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server (2 workers, so requests of one session cross processes) for the session.

    Strict (docs/contract.md): every response is validated against the spec, and a response
    that broke it fails the session at teardown, since it is a server bug."""
    root = tmp_path_factory.mktemp("registry")
    with RunningServer(root, workers=2, extra_args=["--strict"]) as running:
        yield running
        bugs = [v for v in read_report(default_report_path(root)) if v["kind"] == "response"]
    if bugs:
        pytest.fail(f"{len(bugs)} responses broke the spec (server bugs), e.g. {bugs[:3]}")


@pytest.fixture
def client(server):
    """A ``tests/oci.py`` client of the session server, with its own connection pool."""
    from oci import Client

    return Client(server.url)


@pytest.fixture
def make_server(tmp_path):
    """Start servers with their own root and arguments; all are stopped after the test."""
    started: list[RunningServer] = []

    def start(root=None, **kwargs) -> RunningServer:
        running = RunningServer(root or tmp_path / f"root{len(started)}", **kwargs)
        started.append(running)
        return running.start()

    yield start
    for running in started:
        running.close()


def require(tool: str) -> str:
    """Path of a Debian client the test drives; its absence is a setup failure, not a skip."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run .ci/setup (apt-get install {tool})")
    return path
