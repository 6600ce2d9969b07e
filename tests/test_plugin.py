"""The shipped pytest plugin, run the way a client's suite runs it (pytester)."""

from __future__ import annotations

pytest_plugins = ["pytester"]

CLIENT_SUITE = """
import urllib.error
import urllib.request


def call(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_clean_client(zot_registry):
    assert call(zot_registry.url + "/v2/") == 200
    assert call(zot_registry.url + "/v2/library/alpine/tags/list?n=5") == 404
    assert zot_registry.host.startswith("127.0.0.1:")
    assert zot_registry.violations() == []


def test_sloppy_client_is_reported(zot_registry):
    assert call(zot_registry.url + "/v2/library/alpine/tags/list?n=many") == 400
    found = zot_registry.violations()
    assert len(found) == 1
    assert found[0]["operation"] == "GET /v2/{name}/tags/list"
    assert "n" in found[0]["rules"][0]
    assert found[0]["request_id"]


def test_sloppy_client_fails_its_suite(zot_registry):
    call(zot_registry.url + "/v2/UPPER/tags/list")
    assert zot_registry.violations() == [], "client broke the spec"
"""


def test_plugin_reports_client_violations(pytester):
    pytester.makepyfile(test_client=CLIENT_SUITE)
    result = pytester.runpytest_subprocess("-vv", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_sloppy_client_fails_its_suite*", "*client broke the spec*"])
    # The failure shows the client which rule it broke: the name grammar.
    result.stdout.fnmatch_lines(["*Invalid path parameter: name*UPPER*does not match*"])
