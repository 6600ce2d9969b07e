"""pytest plugin shipped with zot-server: a ``zot_registry`` fixture for client test suites.

Installed with the package (entry point ``pytest11``), so any test suite can write::

    def test_my_client_pushes(zot_registry):
        my_client.push(zot_registry.host + "/repo:tag")
        assert zot_registry.violations() == []

The server runs in strict mode on a free loopback port with a temporary root: every request
the client makes is validated against the effective spec, and every spec violation (operation,
rule, request id) lands in a report file that :meth:`ZotRegistry.violations` reads. A response
of the server that breaks the spec is the server's bug, not the client's: it fails the test at
teardown instead of being counted against the client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .contract.report import default_report_path, read_report
from .testing import RunningServer


class ZotRegistry:
    """A running strict zot-server and its contract report."""

    def __init__(self, running: RunningServer) -> None:
        self.server = running
        self.report_path: Path = default_report_path(running.root)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def root(self) -> Path:
        return self.server.root

    def violations(self) -> list[dict[str, Any]]:
        """Every request of the client that broke the spec, oldest first."""
        return [v for v in read_report(self.report_path) if v["kind"] == "request"]

    def server_violations(self) -> list[dict[str, Any]]:
        """Responses of the server that broke the spec (server bugs)."""
        return [v for v in read_report(self.report_path) if v["kind"] == "response"]

    def clear(self) -> None:
        """Forget what was recorded so far (e.g. after a deliberate bad request)."""
        self.report_path.unlink(missing_ok=True)


@pytest.fixture
def zot_registry(tmp_path):
    """A strict zot-server on a free loopback port with a temporary root."""
    with RunningServer(tmp_path / "zot-registry", workers=1, extra_args=["--strict"]) as running:
        registry = ZotRegistry(running)
        yield registry
        bugs = registry.server_violations()
    if bugs:
        pytest.fail(f"zot-server answered outside its own spec (a server bug): {bugs[:3]}")
