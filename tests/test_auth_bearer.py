"""Bearer (Docker token) auth from a zot config file: the challenge names realm, service and
scope; tokens signed by the configured key grant exactly their ``access`` claims; forged,
expired or mis-addressed tokens are refused; skopeo runs the whole token flow against a
token server of the test's own on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from auth_support import Servers, assert_oci_error, oci_layout, skopeo
from conftest import require
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from oci import Client, random_image

SERVICE = "zot-test"


def signing_pair(tmp_path, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    path = tmp_path / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


def token(key, access, sub="alice", aud=SERVICE, ttl=300) -> str:
    now = int(time.time())
    claims = {"iss": "test-issuer", "sub": sub, "aud": aud, "iat": now, "nbf": now - 1,
              "exp": now + ttl, "access": access}  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256")


def repo(name, *actions):
    return {"type": "repository", "name": name, "actions": list(actions)}


class TokenServer:
    """A minimal Docker token server: Basic credentials in, a token for the asked scope out."""

    def __init__(self, key, users: dict[str, str]) -> None:
        outer = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                query = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    user = name if users.get(name) == pw else None
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    if user:
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                body = json.dumps({"token": token(key, access, sub=user or "")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_port}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def bearer(tmp_path_factory):
    base = tmp_path_factory.mktemp("bearer")
    key, cert = signing_pair(base, "signer")
    tokens = TokenServer(key, {"alice": "alice-pw"})
    servers = Servers(base)
    auth = {"bearer": {"realm": tokens.realm, "service": SERVICE, "cert": str(cert)}}
    running = servers.start("bearer", {"auth": auth})
    yield running, key, tokens, base
    servers.close()
    tokens.close()


def with_token(tok) -> dict:
    return {"Authorization": f"Bearer {tok}"}


def test_the_base_endpoint_challenges_with_an_empty_scope(bearer):
    running, key, tokens, _ = bearer
    r = requests.get(running.url + "/v2/")
    assert_oci_error(r, 401, "UNAUTHORIZED")
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="{tokens.realm}",service="{SERVICE}",scope=""'
    )
    r = requests.get(running.url + "/v2/", headers=with_token(token(key, [])))
    assert r.status_code == 200


def test_a_challenge_names_the_scope_a_request_needs(bearer):
    running, _, tokens, _ = bearer
    r = requests.get(running.url + "/v2/lib/app/manifests/v1")
    assert_oci_error(r, 401, "UNAUTHORIZED")
    assert 'scope="repository:lib/app:pull"' in r.headers["WWW-Authenticate"]
    r = requests.put(running.url + "/v2/lib/app/manifests/v1", data=b"{}")
    assert 'scope="repository:lib/app:push"' in r.headers["WWW-Authenticate"]
    r = requests.get(running.url + "/v2/_catalog")
    assert 'scope="registry:catalog:*"' in r.headers["WWW-Authenticate"]


def test_tokens_grant_exactly_their_access(bearer):
    running, key, _, _ = bearer
    pusher = requests.Session()
    pusher.headers.update(with_token(token(key, [repo("lib/app", "pull", "push")])))
    image = random_image(layers=1)
    Client(running.url, pusher).push_image("lib/app", "v1", image)
    reader = with_token(token(key, [repo("lib/app", "pull")]))
    r = requests.get(running.url + "/v2/lib/app/manifests/v1", headers=reader)
    assert r.status_code == 200 and r.content == image.manifest
    r = requests.delete(running.url + "/v2/lib/app/manifests/v1", headers=reader)
    assert_oci_error(r, 401, "UNAUTHORIZED")
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    other = with_token(token(key, [repo("lib/other", "pull", "push")]))
    r = requests.get(running.url + "/v2/lib/app/manifests/v1", headers=other)
    assert_oci_error(r, 401, "UNAUTHORIZED")
    assert requests.get(running.url + "/v2/lib/app/manifests/v1", headers=reader).status_code == 200


def test_forged_expired_and_misaddressed_tokens_are_refused(bearer, tmp_path):
    running, key, _, _ = bearer
    forger, _ = signing_pair(tmp_path, "forger")
    access = [repo("lib/app", "pull")]
    url = running.url + "/v2/lib/app/tags/list"
    for bad in (token(forger, access), token(key, access, ttl=-60),
                token(key, access, aud="another-service"), "not.a.jwt",
                jwt.encode({"access": access, "aud": SERVICE, "exp": int(time.time()) + 60},
                           "a-shared-secret-of-32-bytes-long!", algorithm="HS256")):  # fmt: skip
        r = requests.get(url, headers=with_token(bad))
        assert_oci_error(r, 401, "UNAUTHORIZED")
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_mgmt_needs_no_token(bearer):
    running, _, tokens, _ = bearer
    # mgmt is off in this config: 404, but not 401 (zot lets mgmt through without a token)
    r = requests.get(running.url + "/v2/_zot/ext/mgmt")
    assert_oci_error(r, 404, "NOT_FOUND")


@pytest.mark.clients
def test_skopeo_runs_the_token_flow(bearer, tmp_path):
    require("skopeo")
    running, _, tokens, _ = bearer
    layout = oci_layout(tmp_path / "layout")
    dest = f"docker://{running.host}/tokens/app:v1"
    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw",
                    f"oci:{layout}:v1", dest)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert any("scope=repository%3Atokens%2Fapp" in p for p in tokens.requests), tokens.requests
    denied = skopeo("inspect", "--tls-verify=false", "--creds", "alice:wrong", "--raw", dest)
    assert denied.returncode != 0
    inspected = skopeo("inspect", "--tls-verify=false", "--creds", "alice:alice-pw", "--raw",
                       dest)  # fmt: skip
    assert inspected.returncode == 0 and '"schemaVersion"' in inspected.stdout
    log = running.log()
    assert "listening" in log and "eyJ" not in log and "alice-pw" not in log  # no JWT, no password
