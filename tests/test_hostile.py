"""Hostile input: every request gets a 4xx OCI error and the root stays byte-for-byte the same.

Requests go out over raw sockets (http.client), so paths reach the server exactly as written:
no client-side dot-segment removal or re-encoding.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from oci import OCI_MANIFEST, Client, random_image, sha256
from robust import SettingsServer, snapshot

TRAVERSAL = [
    "..", "../..", "../../../etc/passwd", "%2e%2e", "%2e%2e%2f%2e%2e", "..%2f..%2fsecret",
    "%252e%252e%252f", ".", "./.", "/etc/passwd", "%2fetc%2fpasswd", "..\\..\\secret",
    "%5c..%5csecret", "a%00b", "%00", "x/../../secret", "host/app/../../secret", "....//secret",
    "~root", "%c0%ae%c0%ae/secret", "..;/secret", "a//b", "%20", "a%0d%0ab",
]  # fmt: skip
BAD_NAMES = ["A", "-a", "a-", "a__-b", "a/", "/a", "a" * 256, "a/" * 128 + "b", "h%C3%A9"]
BAD_DIGESTS = [
    "sha256:" + "0" * 63, "sha256:" + "g" * 64, "sha256:" + "A" * 64, "md5:" + "0" * 32,
    "sha256:", ":abc", "sha256", "sha256:../../secret", "sha256:..%2f..%2fsecret",
    "sha256:%00" + "0" * 61, "sha512:" + "0" * 64, "sha256:" + "0" * 65,
]  # fmt: skip
STALLED = 60
BAD_TAGS = ["-tag", ".tag", "a" * 129, "t%00", "t%20g", "%2e%2e", "t@g", "t:g"]
BAD_SESSIONS = [
    "0" * 31, "0" * 33, "../" + "0" * 32, "%2e%2e%2f" + "0" * 32, "0" * 31 + "G",
    "%00" + "0" * 31, "..", "/etc/passwd", "0" * 32 + "%00",
]  # fmt: skip


def _request(host: str, method: str, path: str, body: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = {"Content-Length": str(len(body or b""))} if body is not None else {}
        hdrs.update(headers or {})
        for key, value in hdrs.items():
            conn.putheader(key, value)
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        conn.close()


def _is_oci_error(body: bytes) -> bool:
    try:
        errors = json.loads(body)["errors"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(errors) and all({"code", "message"} <= set(e) for e in errors)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A server with one image and one open session per repository, and its snapshot."""
    base = tmp_path_factory.mktemp("hostile")
    (base / "secret").write_text("TOP-SECRET")
    root = base / "root"
    with SettingsServer(root, {"gc_interval": 0}, workers=2) as srv:
        client = Client(srv.url)
        image = random_image()
        client.push_image("host/app", "v1", image)
        client.push_image("host/other", "v1", random_image())
        sessions = {}
        for name in ("host/app", "host/other"):
            r = client.http.post(client.url(f"/v2/{name}/blobs/uploads/"))
            sessions[name] = r.headers["Location"].rsplit("/", 1)[1]
        yield srv, image, sessions, root


def _cases(image, sessions) -> list[tuple[str, str, bytes | None, dict, set[int]]]:
    """(method, path, body, headers, acceptable statuses) of every hostile request."""
    layer = sha256(image.layers[0])
    octets = {"Content-Type": "application/octet-stream"}
    cases: list[tuple[str, str, bytes | None, dict, set[int]]] = []
    bad = {400, 404, 405, 413, 415, 416, 431}
    for t in TRAVERSAL:
        for method, path in [
            ("GET", f"/v2/{t}/tags/list"),
            ("GET", f"/v2/{t}/manifests/v1"),
            ("HEAD", f"/v2/{t}/manifests/v1"),
            ("DELETE", f"/v2/{t}/manifests/v1"),
            ("PUT", f"/v2/{t}/manifests/v1"),
            ("GET", f"/v2/{t}/blobs/{layer}"),
            ("DELETE", f"/v2/{t}/blobs/{layer}"),
            ("POST", f"/v2/{t}/blobs/uploads/"),
            ("GET", f"/v2/host/app/manifests/{t}"),
            ("PUT", f"/v2/host/app/manifests/{t}"),
            ("DELETE", f"/v2/host/app/manifests/{t}"),
            ("GET", f"/v2/host/app/blobs/{t}"),
            ("DELETE", f"/v2/host/app/blobs/{t}"),
            ("GET", f"/v2/host/app/blobs/uploads/{t}"),
            ("PATCH", f"/v2/host/app/blobs/uploads/{t}"),
            ("PUT", f"/v2/host/app/blobs/uploads/{t}?digest={layer}"),
            ("DELETE", f"/v2/host/app/blobs/uploads/{t}"),
            ("POST", f"/v2/host/new/blobs/uploads/?mount={layer}&from={t}"),
            ("GET", f"/v2/host/app/referrers/{t}"),
        ]:
            body = b"x" if method in ("PUT", "PATCH", "POST") else None
            headers = octets if method in ("PATCH", "POST") or "uploads" in path else {}
            if "manifests" in path and method == "PUT":
                body, headers = image.manifest, {"Content-Type": OCI_MANIFEST}
            if "mount=" in path:
                body = None
            cases.append((method, path, body, headers, bad))
    for n in BAD_NAMES:
        for method, path in [
            ("GET", f"/v2/{n}/tags/list"), ("PUT", f"/v2/{n}/manifests/v1"),
            ("POST", f"/v2/{n}/blobs/uploads/"), ("DELETE", f"/v2/{n}/blobs/{layer}"),
        ]:  # fmt: skip
            body = image.manifest if method == "PUT" else (b"x" if method == "POST" else None)
            hdrs = {"Content-Type": OCI_MANIFEST} if method == "PUT" else octets
            cases.append((method, path, body, hdrs, {400, 404}))
    for d in BAD_DIGESTS:
        cases += [
            ("GET", f"/v2/host/app/blobs/{d}", None, {}, {400, 404}),
            ("HEAD", f"/v2/host/app/blobs/{d}", None, {}, {400, 404}),
            ("DELETE", f"/v2/host/app/blobs/{d}", None, {}, {400, 404}),
            ("GET", f"/v2/host/app/manifests/{d}", None, {}, {400, 404}),
            ("DELETE", f"/v2/host/app/manifests/{d}", None, {}, {400, 404}),
            ("POST", f"/v2/host/app/blobs/uploads/?digest={d}", b"abc", octets, {400}),
            ("PUT", f"/v2/host/app/blobs/uploads/{sessions['host/app']}?digest={d}", b"", octets,
             {400}),
            ("GET", f"/v2/host/app/referrers/{d}", None, {}, {400, 404}),
        ]  # fmt: skip
    for t in BAD_TAGS:
        cases.append(("PUT", f"/v2/host/app/manifests/{t}", image.manifest,
                      {"Content-Type": OCI_MANIFEST}, {400, 404}))  # fmt: skip
    for s in BAD_SESSIONS:
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            path = f"/v2/host/app/blobs/uploads/{s}" + (
                "?digest=" + layer if method == "PUT" else ""
            )
            cases.append((method, path, b"" if method != "GET" else None, octets, {400, 404}))
    # A session of another repository is unknown here.
    other = sessions["host/other"]
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        path = f"/v2/host/app/blobs/uploads/{other}" + (
            "?digest=" + layer if method == "PUT" else ""
        )
        cases.append((method, path, b"" if method != "GET" else None, octets, {404}))
    cases += _manifest_cases(image)
    cases += _header_cases(image, sessions)
    return cases


def _manifest_cases(image) -> list:
    doc = json.loads(image.manifest)
    mt = {"Content-Type": OCI_MANIFEST}
    variants: list[bytes] = [
        b"", b"{", b"null", b"[]", b'"x"', b"{}", b"\xff\xfe", b'{"schemaVersion": 2}',
        json.dumps({**doc, "schemaVersion": 1}).encode(),
        json.dumps({**doc, "schemaVersion": "2"}).encode(),
        json.dumps({**doc, "config": None}).encode(), json.dumps({**doc, "config": "x"}).encode(),
        json.dumps({**doc, "layers": {}}).encode(), json.dumps({**doc, "layers": [1]}).encode(),
        json.dumps({**doc, "mediaType": "application/x"}).encode(),
        json.dumps({**doc, "subject": {"digest": "sha256:../x"}}).encode(),
    ]  # fmt: skip
    for key in ("digest", "size", "mediaType"):
        for value in (None, 1, "x", -1, [], {}, "sha256:" + "0" * 64, 2**63):
            layers = [dict(doc["layers"][0], **{key: value})]
            variants.append(json.dumps({**doc, "layers": layers}).encode())
    # Naming a missing blob, and the right blob with the wrong size.
    variants.append(
        json.dumps({**doc, "layers": [dict(doc["layers"][0], digest=sha256(b"nope"))]}).encode()
    )
    variants.append(json.dumps({**doc, "layers": [dict(doc["layers"][0], size=1)]}).encode())
    cases = [("PUT", "/v2/host/app/manifests/hostile", v, mt, {400}) for v in variants]
    # Wrong Content-Type for a good body, and a body over 4 MiB.
    for ctype in ("text/plain", "application/json", "application/vnd.oci.image.index.v1+json"):
        hdrs = {"Content-Type": ctype}
        cases.append(("PUT", "/v2/host/app/manifests/hostile", image.manifest, hdrs, {400, 415}))
    big = json.dumps({**doc, "annotations": {"x": "y" * (4 * 1024 * 1024)}}).encode()
    cases.append(("PUT", "/v2/host/app/manifests/big", big, mt, {413}))
    # Pushed by a digest it does not have.
    cases.append(("PUT", f"/v2/host/app/manifests/sha256:{'0' * 64}", image.manifest, mt, {400}))
    return cases


def _header_cases(image, sessions) -> list:
    layer = sha256(image.layers[0])
    session = f"/v2/host/app/blobs/uploads/{sessions['host/app']}"
    octets = {"Content-Type": "application/octet-stream"}
    cases = []
    for cr in [
        "bytes=0-1",
        "5-2",
        "0-",
        "-1",
        "a-b",
        "0-99999999999999999999",
        "1-1",
        "0-0/0",
        " ",
    ]:
        cases.append(("PATCH", session, b"ab", {**octets, "Content-Range": cr}, {400, 416}))
    for rng in ["bytes=999999-", "bytes=5-2", "bytes=x-y", "items=0-1", "bytes=-0", "bytes=--1"]:
        cases.append(("GET", f"/v2/host/app/blobs/{layer}", None, {"Range": rng}, {416}))
    for cl in ["-1", "abc", "1e3", "0x10", "99999999999999999999999"]:
        cases.append(("POST", f"/v2/host/app/blobs/uploads/?digest={layer}", b"",
                      {**octets, "Content-Length": cl}, {400, 413}))  # fmt: skip
    cases.append(("GET", "/v2/host/app/tags/list?n=-1", None, {}, {400}))
    cases.append(("GET", "/v2/host/app/tags/list?n=abc", None, {}, {400}))
    cases.append(("GET", "/v2/" + "a/" * 3000 + "manifests/v1", None, {}, {400, 404}))
    cases.append(("GET", "/v2/" + "a/" * 10000 + "manifests/v1", None, {}, {414}))
    cases.append(("GET", "/v2/host/app/manifests/v1", None, {"X-Long": "y" * 100_000}, {431}))
    cases.append(("DELETE", f"/v2/host/app/manifests/v9?{'x=1&' * 2000}", None, {}, {400, 404}))
    return cases


def test_hostile_inputs_change_nothing(hostile):
    srv, image, sessions, root = hostile
    before = snapshot(root)
    cases = _cases(image, sessions)
    failures = []
    for method, path, body, headers, allowed in cases:
        status, payload, _ = _request(srv.host, method, path, body, headers)
        if status not in allowed:
            failures.append((method, path[:120], status, payload[:200]))
        elif method != "HEAD" and not _is_oci_error(payload):
            failures.append((method, path[:120], status, "not an OCI error body", payload[:200]))
        if b"TOP-SECRET" in payload:
            failures.append((method, path[:120], "leaked a file outside the root"))
    print(f"{len(cases)} hostile requests")
    assert not failures, "\n".join(map(str, failures[:40])) + f"\n({len(failures)} in all)"
    after = snapshot(root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert not changed, sorted(changed)[:40]


def test_unknown_query_parameters_are_ignored(hostile):
    srv, image, _, root = hostile
    before = snapshot(root)
    for path in ["/v2/host/app/manifests/v1", f"/v2/host/app/blobs/{sha256(image.layers[0])}",
                 "/v2/host/app/tags/list", "/v2/_catalog"]:  # fmt: skip
        for query in ["?foo=bar", "?digest=", "?x=%00", "?" + "a=b&" * 200, "?n=1&n=2"]:
            status, payload, _ = _request(srv.host, "GET", path + query)
            assert status in (200, 400), (path, query, status)
            if status == 400:
                assert _is_oci_error(payload)
    assert snapshot(root) == before


def test_slow_clients_cannot_pin_the_workers(tmp_path):
    """More stalled bodies than a worker has threads, and slow-header clients: /v2/ answers."""
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0, "body_timeout": 2.0}, workers=1) as srv:
        before = snapshot(root)
        digest = sha256(b"z" * 1_000_000)
        stalled = []
        # Measured here: 60 stalled bodies pin a worker's handler threads; without the body
        # timeout /v2/ then waits more than 8 s, with it the stalls are cut after 2 s.
        for i in range(STALLED):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(
                f"POST /v2/slow/r{i}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n".encode()
                + b"z" * 100
            )
            stalled.append(s)
        loris = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            loris.append(s)
        time.sleep(0.5)
        start = time.monotonic()
        status, _, _ = _request(srv.host, "GET", "/v2/")
        waited = time.monotonic() - start
        assert status == 200 and waited < 2.0 + 4.0, waited
        answers = []
        for s in stalled:
            s.settimeout(10)
            answers.append(s.recv(200).split(b"\r\n", 1)[0])
            s.close()
        released = time.monotonic() - start + 0.5
        # The body timeout (2 s), not anything else, ended them.
        assert 1.5 <= released <= 2.0 + 4.0, released
        for s in loris:
            s.close()
        assert all(a.startswith(b"HTTP/1.1 400") for a in answers), answers
        assert snapshot(root) == before, "a stalled upload left something behind"
    print(f"/v2/ answered in {waited:.2f} s behind {STALLED} stalled bodies and 50 slow headers;"
          f" stalled bodies refused after {released:.1f} s")  # fmt: skip


def test_many_concurrent_hostile_requests(hostile):
    """The same hostile set, 16 at a time: no 5xx, no change."""
    srv, image, sessions, root = hostile
    before = snapshot(root)
    cases = [c for c in _cases(image, sessions) if len(c[2] or b"") < 1 << 20]
    assert len(cases) > 500
    errors = []

    def worker(chunk):
        for method, path, body, headers, _ in chunk:
            status, _, _ = _request(srv.host, method, path, body, headers)
            if status >= 500:
                errors.append((method, path, status))

    chunks = [cases[i::16] for i in range(16)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:20]
    assert snapshot(root) == before
