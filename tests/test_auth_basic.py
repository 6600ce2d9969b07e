"""htpasswd (bcrypt) basic auth from a zot config file: challenges, failDelay, real clients
(skopeo with and without --creds, oras), browser sessions and logout, and no secret in any
log line or response."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from auth_support import assert_oci_error, module_servers, oci_layout, skopeo, write_htpasswd
from conftest import require
from oci import Client, random_image

USERS = {"alice": "alice-Pa55-word", "bob": "bob-Pa55-word"}
UI = {"X-ZOT-API-CLIENT": "zot-ui"}


servers = module_servers("basic")


@pytest.fixture(scope="module")
def basic(servers):
    htpasswd = write_htpasswd(servers.base / "htpasswd", USERS)
    auth = {"htpasswd": {"path": str(htpasswd)}, "failDelay": 1}
    return servers.start("basic", {"auth": auth}, workers=2)  # sessions cross processes


def test_an_open_config_needs_no_credentials(servers):
    running = servers.start("open")
    client = Client(running.url)
    client.push_image("open/app", "v1", random_image())
    r = requests.get(running.url + "/v2/open/app/manifests/v1")
    assert r.status_code == 200
    assert "WWW-Authenticate" not in r.headers


def test_no_or_bad_credentials_get_a_basic_challenge(basic):
    for path in ("/v2/", "/v2/_catalog", "/v2/a/manifests/v1", "/v2/_oci/ext/discover"):
        r = requests.get(basic.url + path)
        assert_oci_error(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="zot"'
    bad = [
        {"auth": ("alice", "wrong")},
        {"auth": ("mallory", "anything")},
        {"auth": ("alice", "")},
        {"headers": {"Authorization": "Basic !!notbase64"}},
        {"headers": {"Authorization": "Token abc"}},
    ]
    with ThreadPoolExecutor(len(bad)) as pool:  # each waits failDelay: wait in parallel
        answers = list(pool.map(lambda kw: requests.get(basic.url + "/v2/", **kw), bad))
    for r in answers:
        assert_oci_error(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="zot"'


def test_fail_delay_slows_failed_logins_only(basic):
    requests.get(basic.url + "/v2/", auth=("alice", USERS["alice"]))  # warm up
    started = time.monotonic()
    r = requests.get(basic.url + "/v2/", auth=("alice", "wrong"))
    failed = time.monotonic() - started
    assert r.status_code == 401 and failed >= 1.0
    started = time.monotonic()
    r = requests.get(basic.url + "/v2/", auth=("alice", USERS["alice"]))
    assert r.status_code == 200 and time.monotonic() - started < 1.0


def test_good_credentials_push_and_pull(basic):
    session = requests.Session()
    session.auth = ("alice", USERS["alice"])
    client = Client(basic.url, session)
    image = random_image()
    client.push_image("alice/app", "v1", image)
    r = session.get(basic.url + "/v2/alice/app/manifests/v1")
    assert r.status_code == 200 and r.content == image.manifest
    assert session.get(basic.url + "/v2/_catalog").json()["repositories"] == ["alice/app"]
    r = requests.get(basic.url + "/v2/alice/app/manifests/v1")  # the same, anonymous
    assert_oci_error(r, 401, "UNAUTHORIZED")


@pytest.mark.clients
def test_skopeo_needs_creds(basic, tmp_path):
    require("skopeo")
    layout = oci_layout(tmp_path / "layout")
    dest = f"docker://{basic.host}/skopeo/app:v1"
    denied = skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", dest)
    assert denied.returncode != 0
    assert "401" in denied.stderr or "unauthorized" in denied.stderr.lower()
    creds = f"bob:{USERS['bob']}"
    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds,
                    f"oci:{layout}:v1", dest)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    inspected = skopeo("inspect", "--tls-verify=false", "--creds", creds, "--raw", dest)
    assert inspected.returncode == 0 and '"schemaVersion"' in inspected.stdout
    anonymous = skopeo("inspect", "--tls-verify=false", "--raw", dest)
    assert anonymous.returncode != 0


@pytest.mark.clients
def test_oras_with_basic_auth(basic, tmp_path):
    import oras.client

    artifact = tmp_path / "notes.txt"
    artifact.write_text("signed, sealed, delivered")
    client = oras.client.OrasClient(hostname=basic.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth("alice", USERS["alice"])
    r = client.push(target=f"{basic.host}/oras/notes:v1", files=[str(artifact)],
                    disable_path_validation=True)  # fmt: skip
    assert r.status_code in (200, 201), r.text
    out = tmp_path / "out"
    files = client.pull(target=f"{basic.host}/oras/notes:v1", outdir=str(out))
    assert any(p.endswith("notes.txt") for p in files)
    assert (out / "notes.txt").read_text() == "signed, sealed, delivered"
    stranger = oras.client.OrasClient(hostname=basic.host, insecure=True, auth_backend="basic")
    stranger.auth.set_basic_auth("alice", "not-her-password")
    with pytest.raises(Exception):  # noqa: B017 - oras raises its own kinds on a 401
        stranger.pull(target=f"{basic.host}/oras/notes:v1", outdir=str(tmp_path / "x"))


def test_a_browser_login_gets_a_session_that_logout_ends(basic):
    browser = requests.Session()
    r = browser.get(basic.url + "/v2/_catalog", headers=UI, auth=("alice", USERS["alice"]))
    assert r.status_code == 200
    cookie = r.cookies.get("session")
    assert cookie and "HttpOnly" in r.headers["Set-Cookie"]
    assert browser.cookies.get("user") == "alice"
    r = browser.get(basic.url + "/v2/_catalog", headers=UI)  # the cookie alone
    assert r.status_code == 200
    r = browser.post(basic.url + "/zot/auth/logout", headers=UI)
    assert r.status_code == 200
    assert "session" not in browser.cookies  # told to drop it
    r = requests.get(basic.url + "/v2/_catalog", headers=UI, cookies={"session": cookie})
    assert_oci_error(r, 401, "UNAUTHORIZED")
    assert "WWW-Authenticate" not in r.headers  # zot sends the UI no challenge
    # Registry clients (no UI header) get no session cookie at all.
    r = requests.get(basic.url + "/v2/", auth=("alice", USERS["alice"]))
    assert "Set-Cookie" not in r.headers


def test_a_forged_session_cookie_is_refused(basic):
    r = requests.get(basic.url + "/v2/", headers=UI, cookies={"session": "forged-token"})
    assert_oci_error(r, 401, "UNAUTHORIZED")


def test_api_keys_are_off_unless_configured(basic):
    r = requests.post(basic.url + "/zot/auth/apikey", json={"label": "x"},
                      auth=("alice", USERS["alice"]))  # fmt: skip
    assert_oci_error(r, 404, "NOT_FOUND")


def test_no_secret_in_any_log_line_or_response(basic):
    seen = []
    for user, password in USERS.items():
        seen.append(requests.get(basic.url + "/v2/", auth=(user, password)))
        seen.append(requests.get(basic.url + "/v2/", auth=(user, password + "x")))
    r = requests.get(basic.url + "/v2/_catalog", headers=UI, auth=("bob", USERS["bob"]))
    token = r.cookies["session"]
    seen.append(requests.get(basic.url + "/v2/nope/manifests/x", headers=UI,
                             cookies={"session": token}))  # fmt: skip
    log = basic.log()
    assert "listening" in log  # the log is the server's
    for secret in [*USERS.values(), token]:
        assert secret not in log
        for response in seen:
            assert secret not in response.text
            assert all(secret not in v for k, v in response.headers.items() if k != "Set-Cookie")
