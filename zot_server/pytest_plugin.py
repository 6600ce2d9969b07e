"""pytest plugin shipped with zot-server: a ``zot_registry`` fixture for client test suites.

Installed with the package (entry point ``pytest11``), so any test suite can write::

    def test_my_client_pushes(zot_registry):
        my_client.push(zot_registry.host + "/repo:tag")
"""

from __future__ import annotations

import pytest

from .testing import RunningServer


@pytest.fixture
def zot_registry(tmp_path):
    """A zot-server on a free loopback port with a temporary root."""
    with RunningServer(tmp_path / "registry", workers=1) as running:
        yield running
