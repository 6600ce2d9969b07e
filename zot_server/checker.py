"""``zot-server check URL``: where does a registry deviate from the effective spec?

A fixed, bounded script of API calls (read-only unless ``--push``; a push goes to a scratch
repository and is deleted again). Every response is validated with openapi-core against the
effective spec (status, headers, JSON bodies), and a few OCI expectations the spec alone does
not state are checked too (e.g. that a pushed manifest has a referrers list). It talks only to
the URL given.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.datastructures import Headers

from .cli import command
from .contract.validator import Contract, Response, build_request
from .spec import effective_spec

TIMEOUT = 10.0
MAX_BODY = 4 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_JSON = b"{}"
MISSING_DIGEST = "sha256:" + "0" * 64


@dataclass
class Finding:
    step: str
    method: str
    path: str
    status: int | None
    deviations: list[str] = field(default_factory=list)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an answer to judge, not to follow
        return None


class Checker:
    def __init__(self, url: str, user: str | None = None, swagger: str | None = None) -> None:
        self.base = url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(user.encode()).decode() if user else None
        self.contract = Contract(effective_spec(swagger)[0])
        self.findings: list[Finding] = []
        self.opener = urllib.request.build_opener(_NoRedirect)

    def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: set[int] | None = None,
    ) -> tuple[int | None, Headers, bytes]:
        """One request; its response is validated and anything off recorded under ``step``."""
        qs = urllib.parse.urlencode(query or {})
        sent = dict(headers or {})
        if self.auth:
            sent["Authorization"] = self.auth
        request = urllib.request.Request(
            self.base + path + (f"?{qs}" if qs else ""), data=body, method=method, headers=sent
        )
        finding = Finding(step, method, path, None)
        self.findings.append(finding)
        try:
            with self.opener.open(request, timeout=TIMEOUT) as answer:
                status, got, data = answer.status, Headers(list(answer.headers.items())), b""
                data = answer.read(MAX_BODY)
        except urllib.error.HTTPError as exc:
            status, got = exc.code, Headers(list(exc.headers.items()))
            data = exc.read(MAX_BODY)
        except OSError as exc:
            finding.deviations.append(f"no HTTP answer: {exc}")
            return None, Headers(), b""
        finding.status = status
        finding.deviations += self._validate(method, path, qs, sent, body, status, got, data)
        if expect and status not in expect:
            finding.deviations.append(f"status {status}, expected {sorted(expect)} (OCI spec)")
        return status, got, data

    def _validate(self, method, path, qs, sent, body, status, got, data) -> list[str]:
        found = self.contract.match(method, path)
        if found is None:
            return [f"{method} {path} is not an operation of the spec"]
        route, params = found
        scope = {
            "method": method,
            "path": path,
            "query_string": qs.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        }
        request = build_request(scope, params, body)
        ctype = got.get("Content-Type", "")
        binary = self.contract.response_is_binary(route, status, ctype)
        response = Response(status, got, ctype, b"" if binary or method == "HEAD" else data)
        checked = not binary and method != "HEAD"
        return self.contract.response_problems(request, response, checked)

    def run(self, push: bool = False) -> list[Finding]:
        status, _, _ = self.call("version check", "GET", "/v2/", expect={200})
        status, _, data = self.call("catalog", "GET", "/v2/_catalog", query={"n": "5"})
        repo = None
        if status == 200:
            try:
                repo = (json.loads(data).get("repositories") or [None])[0]
            except (ValueError, AttributeError):
                repo = None
        if repo:
            self.call("tags of a listed repository", "GET", f"/v2/{repo}/tags/list", expect={200})
        probe = f"zot-server-check/absent-{uuid.uuid4().hex[:8]}"
        self.call("tags of an unknown repository", "GET", f"/v2/{probe}/tags/list", expect={404})
        self.call("unknown manifest", "GET", f"/v2/{probe}/manifests/latest", expect={404})
        self.call("unknown manifest (HEAD)", "HEAD", f"/v2/{probe}/manifests/latest", expect={404})
        self.call("unknown blob", "GET", f"/v2/{probe}/blobs/{MISSING_DIGEST}", expect={404})
        self.call(
            "unknown blob (HEAD)", "HEAD", f"/v2/{probe}/blobs/{MISSING_DIGEST}", expect={404}
        )
        self.call("invalid repository name", "GET", "/v2/Not..Valid/tags/list", expect={400, 404})
        self.call("invalid digest", "GET", f"/v2/{probe}/blobs/sha256:xyz", expect={400, 404})
        self.call("extension discovery", "GET", "/v2/_oci/ext/discover", expect={200})
        if push:
            self._push(f"zot-server-check/scratch-{uuid.uuid4().hex[:8]}")
        return self.findings

    def _push(self, repo: str) -> None:
        """Push a tiny image into a scratch repository, read it back, then delete it."""
        config_digest = "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest()
        status, headers, _ = self.call(
            "start upload", "POST", f"/v2/{repo}/blobs/uploads/", expect={202}
        )
        location = headers.get("Location", "")
        if status == 202 and location:
            loc = urllib.parse.urlsplit(location)
            query = dict(urllib.parse.parse_qsl(loc.query)) | {"digest": config_digest}
            self.call(
                "finish upload (monolithic PUT)", "PUT", loc.path, query=query, body=EMPTY_JSON,
                headers={"Content-Type": "application/octet-stream"}, expect={201},
            )  # fmt: skip
        self.call("pushed blob", "GET", f"/v2/{repo}/blobs/{config_digest}", expect={200})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.zot-server.check",
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": config_digest,
                    "size": len(EMPTY_JSON),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.empty.v1+json",
                        "digest": config_digest,
                        "size": len(EMPTY_JSON),
                    }
                ],
            }
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        self.call(
            "push manifest", "PUT", f"/v2/{repo}/manifests/check", body=manifest,
            headers={"Content-Type": OCI_MANIFEST}, expect={201},
        )  # fmt: skip
        accept = {"Accept": OCI_MANIFEST}
        self.call(
            "pull manifest", "GET", f"/v2/{repo}/manifests/check", headers=accept, expect={200}
        )
        self.call(
            "manifest exists", "HEAD", f"/v2/{repo}/manifests/{digest}", headers=accept,
            expect={200},
        )  # fmt: skip
        self.call("tags", "GET", f"/v2/{repo}/tags/list", expect={200})
        self.call("referrers", "GET", f"/v2/{repo}/referrers/{digest}", expect={200})
        self.call("delete manifest", "DELETE", f"/v2/{repo}/manifests/{digest}", expect={202})
        self.call("delete blob", "DELETE", f"/v2/{repo}/blobs/{config_digest}", expect={202})


def deviations(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.deviations]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the registry, e.g. http://127.0.0.1:5000")
    p.add_argument("--user", help="USER:PASSWORD for HTTP Basic authentication")
    p.add_argument("--push", action="store_true", help="also push to (and delete) a scratch repo")
    p.add_argument("--swagger", help="judge against this swagger file (default: swagger/)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


@command("check", _arguments)
def run(args: argparse.Namespace) -> int:
    """Exit 0 when the registry kept to the spec on every call, 1 otherwise."""
    findings = Checker(args.url, args.user, args.swagger).run(push=args.push)
    bad = deviations(findings)
    if args.json:
        out: dict[str, Any] = {
            "url": args.url,
            "calls": len(findings),
            "deviations": [asdict(f) for f in bad],
        }
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
    else:
        for f in findings:
            mark = "DEVIATES" if f.deviations else "ok"
            sys.stdout.write(f"{mark:<8} {f.step}: {f.method} {f.path} -> {f.status}\n")
            for d in f.deviations:
                sys.stdout.write(f"           {d}\n")
        sys.stdout.write(f"{len(bad)} of {len(findings)} calls deviate from the spec\n")
    return 1 if bad else 0
