"""zot's extension endpoints from a config file: discover, mgmt (stripped config: no
secrets, no paths), userprefs (stars and bookmarks, persisted), cosign and notation uploads
(validated, stored under the root, admins only); and TLS from ``http.tls``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json

import pytest
import requests
from auth_support import assert_oci_error, module_servers, write_htpasswd
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from oci import Client, random_image

from zot_server.metadata import SQLiteMetaStore
from zot_server.testing import RunningServer, free_port

USERS = {"alice": "alice-Pa55", "bob": "bob-Pa55"}
ACCESS = {
    "repositories": {
        "**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read"]},
        "private/**": {"policies": [{"users": ["alice"], "actions": ["read", "create"]}]},
    },
    "adminPolicy": {"users": ["alice"], "actions": ["read", "create", "update", "delete"]},
}
EXTENSIONS = {"mgmt": {"enable": True}, "search": {"enable": True}, "ui": {"enable": True},
              "trust": {"enable": True, "cosign": True, "notation": True},
              "contract": {"strict": True}}  # fmt: skip


def certificate(name="signer", ip=None):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=1)))  # fmt: skip
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, pub_pem


servers = module_servers("ext")


@pytest.fixture(scope="module")
def ext(servers):
    htpasswd = write_htpasswd(servers.base / "htpasswd", USERS)
    http = {"auth": {"htpasswd": {"path": str(htpasswd)}, "apikey": True},
            "accessControl": ACCESS}  # fmt: skip
    running = servers.start("ext", http, extensions=EXTENSIONS)
    admin = Client(running.url, requests.Session())
    admin.http.auth = ("alice", USERS["alice"])
    admin.push_image("pub/app", "v1", random_image(layers=1))
    admin.push_image("private/x", "v1", random_image(layers=1))
    return running


@pytest.fixture(scope="module")
def plain(servers):
    return servers.start("plain")


def as_user(user):
    return {"auth": (user, USERS[user])} if user else {}


def test_discover_lists_the_enabled_extensions(ext, plain):
    r = requests.get(ext.url + "/v2/_oci/ext/discover")
    assert r.status_code == 200
    [entry] = r.json()["extensions"]
    assert entry["name"] == "_zot" and entry["url"].startswith("https://")
    assert sorted(entry["endpoints"]) == sorted(
        f"/v2/_zot/ext/{n}" for n in ("mgmt", "userprefs", "cosign", "notation")
    )
    assert requests.get(plain.url + "/v2/_oci/ext/discover").json() == {"extensions": []}


def test_mgmt_shows_the_stripped_config_without_secrets_or_paths(ext, plain, servers):
    r = requests.get(ext.url + "/v2/_zot/ext/mgmt")  # no credentials needed
    assert r.status_code == 200
    assert r.json() == {
        "distSpecVersion": "1.1.1",
        "binaryType": r.json()["binaryType"],
        "http": {"accessControl": {"anonymousPolicy": True},
                 "auth": {"htpasswd": {}, "apikey": True}},
    }  # fmt: skip
    assert str(servers.base) not in r.text and "path" not in r.text
    assert_oci_error(requests.get(ext.url + "/v2/_zot/ext/mgmt?resource=bogus"), 400,
                     "BAD_REQUEST")  # fmt: skip
    assert_oci_error(requests.get(plain.url + "/v2/_zot/ext/mgmt"), 404, "NOT_FOUND")


def userprefs(server, user, **params):
    return requests.put(server.url + "/v2/_zot/ext/userprefs", params=params, **as_user(user))


def test_userprefs_toggle_and_persist(ext):
    assert userprefs(ext, "bob", action="toggleStar", repo="pub/app").status_code == 200
    assert userprefs(ext, "bob", action="toggleBookmark", repo="pub/app").status_code == 200
    assert userprefs(ext, "alice", action="toggleStar", repo="private/x").status_code == 200
    store = SQLiteMetaStore(str(ext.root / ".zot-server" / "meta.db"))
    assert store.preferences("bob", "star") == ["pub/app"]
    assert store.preferences("bob", "bookmark") == ["pub/app"]
    assert store.preferences("alice", "star") == ["private/x"]
    assert userprefs(ext, "bob", action="toggleStar", repo="pub/app").status_code == 200
    assert store.preferences("bob", "star") == []  # toggled off


def test_userprefs_refusals(ext, servers):
    assert_oci_error(userprefs(ext, None, action="toggleStar", repo="pub/app"), 403, "DENIED")
    assert_oci_error(userprefs(ext, "bob", action="toggleStar", repo="private/x"), 403,
                     "DENIED")  # fmt: skip
    assert_oci_error(userprefs(ext, "bob", action="toggleStar", repo="no/such"), 404,
                     "NAME_UNKNOWN")  # fmt: skip
    assert_oci_error(userprefs(ext, "bob", action="delete", repo="pub/app"), 400, "BAD_REQUEST")
    assert_oci_error(userprefs(ext, "bob", action="toggleStar"), 400, "BAD_REQUEST")
    store = SQLiteMetaStore(str(ext.root / ".zot-server" / "meta.db"))
    assert "private/x" not in store.preferences("bob", "star")


def post(server, path, body, user, **params):
    return requests.post(server.url + path, data=body, params=params,
                         headers={"Content-Type": "application/octet-stream"},
                         **as_user(user))  # fmt: skip


def test_cosign_keys_are_validated_stored_and_for_admins_only(ext):
    cert, _, pub = certificate()
    assert_oci_error(post(ext, "/v2/_zot/ext/cosign", pub, None), 401, "UNAUTHORIZED")
    assert_oci_error(post(ext, "/v2/_zot/ext/cosign", pub, "bob"), 403, "DENIED")
    for bad in (b"not a key", cert, b""):
        assert_oci_error(post(ext, "/v2/_zot/ext/cosign", bad, "alice"), 400, "BAD_REQUEST")
    stored = ext.root / ".zot-server" / "trust" / "cosign"
    assert not stored.exists() or not any(stored.iterdir())
    assert post(ext, "/v2/_zot/ext/cosign", pub, "alice").status_code == 200
    assert [p.read_bytes() for p in stored.iterdir()] == [pub]


def test_notation_certificates_are_validated_stored_and_for_admins_only(ext):
    cert, _, pub = certificate()
    path = "/v2/_zot/ext/notation"
    assert_oci_error(post(ext, path, cert, None), 401, "UNAUTHORIZED")
    assert_oci_error(post(ext, path, cert, "bob"), 403, "DENIED")
    assert_oci_error(post(ext, path, pub, "alice"), 400, "BAD_REQUEST")
    assert_oci_error(post(ext, path, cert, "alice", truststoreType="bogus"), 400, "BAD_REQUEST")
    assert post(ext, path, cert, "alice").status_code == 200
    assert post(ext, path, cert, "alice", truststoreType="signingAuthority").status_code == 200
    trust = ext.root / ".zot-server" / "trust" / "notation"
    assert sorted(p.parent.name for p in trust.glob("*/*.crt")) == ["ca", "signingAuthority"]


def test_disabled_extensions_are_not_found(plain):
    cert, _, pub = certificate()
    for r in (userprefs(plain, None, action="toggleStar", repo="x"),
              post(plain, "/v2/_zot/ext/cosign", pub, None),
              post(plain, "/v2/_zot/ext/notation", cert, None)):  # fmt: skip
        assert_oci_error(r, 404, "NOT_FOUND")


def test_tls_from_the_config_file(tmp_path):
    cert, key, _ = certificate("127.0.0.1", ip="127.0.0.1")
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    htpasswd = write_htpasswd(tmp_path / "htpasswd", USERS)
    port = free_port()
    doc = {"distSpecVersion": "1.1.1", "storage": {"rootDirectory": str(tmp_path / "root")},
           "http": {"address": "127.0.0.1", "port": str(port),
                    "tls": {"cert": str(tmp_path / "tls.crt"), "key": str(tmp_path / "tls.key")},
                    "auth": {"htpasswd": {"path": str(htpasswd)}}}}  # fmt: skip
    (tmp_path / "tls.json").write_text(json.dumps(doc))
    with RunningServer(tmp_path / "root", port=port, scheme="https",
                       extra_args=["--config", str(tmp_path / "tls.json")]) as running:  # fmt: skip
        ca = str(tmp_path / "tls.crt")
        r = requests.get(running.url + "/v2/", verify=ca, auth=("bob", USERS["bob"]),
                         headers={"X-ZOT-API-CLIENT": "zot-ui"})  # fmt: skip
        assert r.status_code == 200
        assert "Secure" in r.headers["Set-Cookie"]  # the session cookie only travels over TLS
        assert_oci_error(requests.get(running.url + "/v2/", verify=ca), 401, "UNAUTHORIZED")
        # Without a user, userprefs is refused at the door here: no anonymousPolicy.
        r = requests.put(running.url + "/v2/_zot/ext/userprefs", verify=ca,
                         params={"action": "toggleStar", "repo": "x"})  # fmt: skip
        assert_oci_error(r, 401, "UNAUTHORIZED")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2)


def test_extension_answers_follow_the_effective_spec(ext):
    """Strict mode checked every answer above; none of the extension answers broke the spec."""
    report = ext.root / ".zot-server" / "contract-violations.jsonl"
    lines = report.read_text().splitlines() if report.exists() else []
    answers = [json.loads(line) for line in lines if '"kind": "response"' in line]
    assert [a for a in answers if "/_zot/" in a["path"] or "/_oci/" in a["path"]] == []
