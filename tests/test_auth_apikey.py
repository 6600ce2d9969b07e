"""API keys (``/zot/auth/apikey``) with htpasswd: zot's JSON fields, shown once, stored
hashed, usable as the Basic password (requests and skopeo --creds), revoked and expired keys
refused, persisted across a restart."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from auth_support import assert_oci_error, module_servers, oci_layout, skopeo, write_htpasswd
from conftest import require
from oci import OCI_MANIFEST

USERS = {"alice": "alice-Pa55-word", "bob": "bob-Pa55-word"}
ZOT_FIELDS = {"createdAt", "expirationDate", "isExpired", "creatorUa", "generatedBy",
              "lastUsed", "label", "scopes", "uuid"}  # fmt: skip


servers = module_servers("apikey")


@pytest.fixture(scope="module")
def keyed(servers):
    htpasswd = write_htpasswd(servers.base / "htpasswd", USERS)
    auth = {"htpasswd": {"path": str(htpasswd)}, "apikey": True}
    # Two workers: keys made in one process must work in the other. Strict contract mode:
    # every answer is checked against the effective spec too.
    return servers.start("keyed", {"auth": auth}, workers=2,
                         extensions={"contract": {"strict": True}})  # fmt: skip


def create(server, user="alice", **payload) -> requests.Response:
    headers = {"User-Agent": "key-test/1"}
    url = server.url + "/zot/auth/apikey"
    return requests.post(url, json=payload, auth=(user, USERS[user]), headers=headers)


def new_key(server, user="alice", **payload) -> dict:
    """A key that must be created: a refusal fails with the server's answer in the message."""
    r = create(server, user, **payload)
    assert r.status_code == 201, (r.status_code, r.text[:500])
    return r.json()


def test_create_answers_zot_fields_once_and_list_hides_the_key(keyed):
    r = create(keyed, label="ci", scopes=["repo1"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == ZOT_FIELDS | {"apiKey"}
    assert body["apiKey"].startswith("zak_") and len(body["apiKey"]) == 36
    assert body["label"] == "ci" and body["scopes"] == ["repo1"] and not body["isExpired"]
    assert body["creatorUa"] == "key-test/1" and body["generatedBy"] == "manual"
    assert body["expirationDate"] == "0001-01-01T00:00:00Z"  # Go's zero time: never expires
    listed = requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", USERS["alice"]))
    assert listed.status_code == 200
    keys = listed.json()["apiKeys"]
    mine = [k for k in keys if k["uuid"] == body["uuid"]]
    assert len(mine) == 1 and set(mine[0]) == ZOT_FIELDS
    assert body["apiKey"] not in listed.text
    others = requests.get(keyed.url + "/zot/auth/apikey", auth=("bob", USERS["bob"])).json()
    assert body["uuid"] not in [k["uuid"] for k in others["apiKeys"]]  # keys are per user


def test_the_key_is_stored_hashed(keyed):
    key = new_key(keyed, label="hashed")["apiKey"]
    with open(keyed.root / ".zot-server" / "meta.db", "rb") as f:
        raw = f.read()
    wal = keyed.root / ".zot-server" / "meta.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert key.encode() not in raw and key[4:].encode() not in raw


def test_a_key_is_a_password_for_its_user_only(keyed):
    key = new_key(keyed, label="login")["apiKey"]
    assert requests.get(keyed.url + "/v2/_catalog", auth=("alice", key)).status_code == 200
    assert_oci_error(requests.get(keyed.url + "/v2/", auth=("bob", key)), 401, "UNAUTHORIZED")
    assert_oci_error(requests.get(keyed.url + "/v2/", auth=("alice", key + "0")), 401,
                     "UNAUTHORIZED")  # fmt: skip
    listed = requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", key)).json()
    used = [k for k in listed["apiKeys"] if k["label"] == "login"][0]
    assert used["lastUsed"] != "0001-01-01T00:00:00Z"


def test_a_revoked_key_is_refused(keyed):
    body = new_key(keyed, label="revoke-me")
    assert requests.get(keyed.url + "/v2/", auth=("alice", body["apiKey"])).status_code == 200
    r = requests.delete(keyed.url + "/zot/auth/apikey", params={"id": body["uuid"]},
                        auth=("bob", USERS["bob"]))  # fmt: skip
    assert r.status_code == 200  # zot answers 200 ...
    assert requests.get(keyed.url + "/v2/", auth=("alice", body["apiKey"])).status_code == 200
    r = requests.delete(keyed.url + "/zot/auth/apikey", params={"id": body["uuid"]},
                        auth=("alice", USERS["alice"]))  # fmt: skip
    assert r.status_code == 200  # ... but only the owner's revocation removes the key
    r = requests.get(keyed.url + "/v2/", auth=("alice", body["apiKey"]))
    assert_oci_error(r, 401, "UNAUTHORIZED")
    listed = requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", USERS["alice"]))
    assert body["uuid"] not in listed.text


def test_an_expired_key_is_refused(keyed):
    soon = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    body = create(keyed, label="short", expirationDate=soon.isoformat().replace("+00:00", "Z"))
    assert body.status_code == 201, body.text
    key = body.json()["apiKey"]
    assert requests.get(keyed.url + "/v2/", auth=("alice", key)).status_code == 200
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.3)
    assert_oci_error(requests.get(keyed.url + "/v2/", auth=("alice", key)), 401, "UNAUTHORIZED")
    listed = requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", USERS["alice"])).json()
    assert [k["isExpired"] for k in listed["apiKeys"] if k["label"] == "short"] == [True]


@pytest.mark.parametrize(
    "payload, raw",
    [(None, b"{not json"), (None, b"[1, 2]"), ({"label": 3}, None), ({"scopes": "x"}, None),
     ({"expirationDate": "tomorrow"}, None), ({"expirationDate": "2001-01-01T00:00:00Z"}, None),
     ({"expirationDate": "2099-01-01T00:00:00"}, None)],
)  # fmt: skip
def test_bad_requests_are_400_and_create_nothing(keyed, payload, raw):
    before = requests.get(keyed.url + "/zot/auth/apikey", auth=("bob", USERS["bob"])).json()
    kwargs = {"json": payload} if raw is None else {
        "data": raw, "headers": {"Content-Type": "application/json"}}  # fmt: skip
    r = requests.post(keyed.url + "/zot/auth/apikey", auth=("bob", USERS["bob"]), **kwargs)
    assert_oci_error(r, 400, "BAD_REQUEST")
    after = requests.get(keyed.url + "/zot/auth/apikey", auth=("bob", USERS["bob"])).json()
    assert after == before
    r = requests.delete(keyed.url + "/zot/auth/apikey", auth=("bob", USERS["bob"]))
    assert_oci_error(r, 400, "BAD_REQUEST")  # no ?id=


def test_anonymous_callers_get_401(keyed):
    for method in ("get", "post", "delete"):
        r = requests.request(method, keyed.url + "/zot/auth/apikey", json={})
        assert_oci_error(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="zot"'


@pytest.mark.clients
def test_skopeo_with_an_api_key_as_password(keyed, tmp_path):
    require("skopeo")
    key = new_key(keyed, label="skopeo")["apiKey"]
    layout = oci_layout(tmp_path / "layout")
    dest = f"docker://{keyed.host}/keyed/app:v1"
    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{key}",
                    f"oci:{layout}:v1", dest)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    back = tmp_path / "back"
    pulled = skopeo("copy", "--src-tls-verify=false", "--src-creds", f"alice:{key}", dest,
                    f"oci:{back}:v1")  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    stored = requests.head(keyed.url + "/v2/keyed/app/manifests/v1", auth=("alice", key),
                           headers={"Accept": OCI_MANIFEST})  # fmt: skip
    pulled_digest = json.loads((back / "index.json").read_text())["manifests"][0]["digest"]
    assert stored.headers["Docker-Content-Digest"] == pulled_digest
    assert key not in keyed.log()


def test_keys_made_at_once_all_work_in_every_worker(keyed):
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: create(keyed, label=f"burst-{i}"), range(16)))
    assert [r.status_code for r in made] == [201] * 16, [r.text[:300] for r in made[:2]]
    keys = [r.json()["apiKey"] for r in made]
    with ThreadPoolExecutor(8) as pool:  # many connections: both workers answer
        codes = list(
            pool.map(
                lambda k: requests.get(keyed.url + "/v2/", auth=("alice", k)).status_code, keys * 4
            )
        )
    assert codes == [200] * 64
    listed = requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", USERS["alice"])).json()
    assert sum(k["label"].startswith("burst-") for k in listed["apiKeys"]) == 16


def test_keys_persist_across_a_restart(keyed):
    body = new_key(keyed, label="durable")
    keyed.stop()
    keyed.start()
    assert requests.get(keyed.url + "/v2/", auth=("alice", body["apiKey"])).status_code == 200
    with sqlite3.connect(keyed.root / ".zot-server" / "meta.db") as db:
        labels = [row[0] for row in db.execute("SELECT label FROM api_keys")]
    assert "durable" in labels
    assert body["apiKey"] not in keyed.log()


def test_answers_follow_the_spec_and_no_key_reaches_the_report(keyed):
    body = new_key(keyed, label="contract")
    requests.get(keyed.url + "/zot/auth/apikey", auth=("alice", USERS["alice"]))
    requests.delete(keyed.url + "/zot/auth/apikey", params={"id": body["uuid"]},
                    auth=("alice", USERS["alice"]))  # fmt: skip
    report = keyed.root / ".zot-server" / "contract-violations.jsonl"
    text = report.read_text() if report.exists() else ""
    # Bad requests of other tests are recorded as such; no answer of ours may be.
    answers = [json.loads(line) for line in text.splitlines() if '"kind": "response"' in line]
    assert [a for a in answers if a["path"].startswith("/zot/")] == []
    assert body["apiKey"] not in text and body["apiKey"] not in keyed.log()
