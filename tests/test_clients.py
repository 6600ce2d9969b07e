"""Real clients against a real server: skopeo, podman (Debian) and the ``oras`` PyPI client.

The images are generated here as OCI image layouts with random, valid tar+gzip layers, so
podman can unpack them too. A missing client is a failure (``require``), never a skip.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from conftest import require
from oci import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, Client, unique

pytestmark = pytest.mark.clients
TIMEOUT = 120  # seconds for any one client command


def _tar_layer(seed: int) -> tuple[bytes, str]:
    """A gzip'd tar holding one random file; (compressed bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = os.urandom(20_000 + seed)
        info = tarfile.TarInfo(f"layer{seed}/data.bin")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    uncompressed = raw.getvalue()
    return gzip.compress(uncompressed, mtime=0), "sha256:" + hashlib.sha256(
        uncompressed
    ).hexdigest()


def _write_blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_oci_layout(layout: Path, tag: str, layers: int = 3) -> str:
    """An OCI image layout with one multi-layer image under ``tag``; its manifest digest."""
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    compressed, diff_ids = [], []
    for i in range(layers):
        blob, diff_id = _tar_layer(i)
        compressed.append({"mediaType": OCI_LAYER, **_write_blob(layout, blob)})
        diff_ids.append(diff_id)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **_write_blob(layout, config)}, "layers": compressed,
    }).encode()  # fmt: skip
    desc = {"mediaType": OCI_MANIFEST, **_write_blob(layout, manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}  # fmt: skip
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
    (layout / "index.json").write_text(json.dumps(index))
    return desc["digest"]


def write_multiarch_layout(layout: Path, tag: str) -> str:
    """An OCI image layout whose ``tag`` is an index of an amd64 and an arm64 image."""
    write_oci_layout(layout, "amd64", layers=1)
    images = json.loads((layout / "index.json").read_text())["manifests"]
    arm = layout / "arm"
    write_oci_layout(arm, "arm64", layers=2)
    for blob in (arm / "blobs" / "sha256").iterdir():
        (layout / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
    images += json.loads((arm / "index.json").read_text())["manifests"]
    shutil.rmtree(arm)
    children = []
    for desc, arch in zip(images, ("amd64", "arm64"), strict=True):
        plain = {k: desc[k] for k in ("mediaType", "digest", "size")}
        children.append({**plain, "platform": {"architecture": arch, "os": "linux"}})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
    desc = {"mediaType": OCI_INDEX, **_write_blob(layout, body.encode()),
            "annotations": {"org.opencontainers.image.ref.name": tag}}  # fmt: skip
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
    (layout / "index.json").write_text(json.dumps(index))
    return desc["digest"]


def run(*argv: str) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{argv}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def layout_manifest_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return desc["digest"]
    raise AssertionError(f"{tag} not in {layout}/index.json")


def test_skopeo_copies_an_image_in_and_out(server, tmp_path):
    skopeo = require("skopeo")
    source = tmp_path / "src"
    digest = write_oci_layout(source, "v1", layers=3)
    name = unique("skopeo")
    target = f"docker://{server.host}/{name}:v1"
    run(skopeo, "copy", "--dest-tls-verify=false", f"oci:{source}:v1", target)

    inspected = json.loads(run(skopeo, "inspect", "--tls-verify=false", target).stdout)
    assert inspected["Digest"] == digest
    assert len(inspected["Layers"]) == 3
    raw = run(skopeo, "inspect", "--raw", "--tls-verify=false", target).stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digest

    back = tmp_path / "back"
    run(skopeo, "copy", "--src-tls-verify=false", target, f"oci:{back}:v1")
    assert layout_manifest_digest(back, "v1") == digest
    for blob in (source / "blobs" / "sha256").iterdir():
        assert (back / "blobs" / "sha256" / blob.name).read_bytes() == blob.read_bytes()

    # The registry's storage root is itself an OCI image layout per repository.
    direct = tmp_path / "direct"
    run(skopeo, "copy", f"oci:{server.root / name}:v1", f"oci:{direct}:v1")
    assert layout_manifest_digest(direct, "v1") == digest


def test_skopeo_copies_between_repositories_of_the_registry(server, tmp_path):
    """Registry to registry: skopeo mounts or re-uploads blobs; the digest survives."""
    skopeo = require("skopeo")
    source = tmp_path / "src"
    digest = write_oci_layout(source, "v1", layers=2)
    first, second = unique("skopeo"), unique("skopeo")
    run(skopeo, "copy", "--dest-tls-verify=false", f"oci:{source}:v1",
        f"docker://{server.host}/{first}:v1")  # fmt: skip
    run(skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        f"docker://{server.host}/{first}:v1", f"docker://{server.host}/{second}:v2")  # fmt: skip
    r = Client(server.url).http.head(
        f"{server.url}/v2/{second}/manifests/v2", headers={"Accept": OCI_MANIFEST}
    )
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    tags = json.loads(run(skopeo, "list-tags", "--tls-verify=false",
                          f"docker://{server.host}/{second}").stdout)  # fmt: skip
    assert tags["Tags"] == ["v2"]


def test_skopeo_copies_a_multi_arch_index_and_converts_to_docker(server, tmp_path):
    """``--all`` pushes an OCI index and both images; ``--format v2s2`` makes skopeo push a
    Docker schema 2 manifest, which the registry serves with its own media type."""
    skopeo = require("skopeo")
    source = tmp_path / "src"
    digest = write_multiarch_layout(source, "multi")
    name = unique("skopeo")
    target = f"docker://{server.host}/{name}:multi"
    run(skopeo, "copy", "--all", "--dest-tls-verify=false", f"oci:{source}:multi", target)
    raw = run(skopeo, "inspect", "--raw", "--tls-verify=false", target).stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digest
    for child in json.loads(raw)["manifests"]:
        r = Client(server.url).http.head(
            f"{server.url}/v2/{name}/manifests/{child['digest']}", headers={"Accept": OCI_MANIFEST}
        )
        assert r.status_code == 200
    back = tmp_path / "back"
    run(skopeo, "copy", "--all", "--src-tls-verify=false", target, f"oci:{back}:multi")
    assert layout_manifest_digest(back, "multi") == digest

    docker = f"docker://{server.host}/{name}:docker"
    run(skopeo, "copy", "--format", "v2s2", "--dest-tls-verify=false",
        f"oci:{source}:multi", docker)  # fmt: skip
    r = Client(server.url).http.get(
        f"{server.url}/v2/{name}/manifests/docker",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"
    inspected = json.loads(run(skopeo, "inspect", "--tls-verify=false", docker).stdout)
    assert inspected["Architecture"] == "amd64"


@pytest.fixture
def podman(tmp_path):
    """podman with private storage: no daemon, no shared state. Its runroot must be a short
    path (podman refuses one over 50 characters), so it lives in its own /tmp directory."""
    binary = require("podman")
    runroot = tempfile.mkdtemp(prefix="pm-", dir="/tmp")

    def call(*argv: str) -> subprocess.CompletedProcess:
        return run(
            binary, "--storage-driver", "vfs", "--root", str(tmp_path / "storage"),
            "--runroot", runroot, "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            *argv,
        )  # fmt: skip

    yield call
    shutil.rmtree(runroot, ignore_errors=True)


def test_podman_pushes_and_pulls(server, tmp_path, podman):
    source = tmp_path / "src"
    write_oci_layout(source, "v1", layers=2)
    name = unique("podman")
    ref = f"{server.host}/{name}:v1"
    podman("pull", "-q", f"oci:{source}:v1")
    image_id = podman("images", "-q", "--no-trunc").stdout.split()[0]
    podman("tag", image_id, ref)
    podman("push", "-q", "--tls-verify=false", ref, f"docker://{ref}")
    podman("rmi", "-f", image_id)
    assert podman("images", "-q").stdout.strip() == ""

    podman("pull", "-q", "--tls-verify=false", f"docker://{ref}")
    pulled = podman("images", "-q", "--no-trunc").stdout.split()
    assert pulled == [image_id]  # the image id is the config digest: same image back
    # What the registry holds is what podman reports pushing.
    r = Client(server.url).http.get(
        f"{server.url}/v2/{name}/manifests/v1",
        headers={"Accept": f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert r.status_code == 200
    assert json.loads(r.content)["config"]["digest"] == image_id


def test_oras_pushes_attaches_a_referrer_and_discovers_it(server, tmp_path, monkeypatch):
    """oras-py has no attach/discover command: it pushes both manifests (the referrer with its
    ``subject=`` argument), and the referrers API is then driven through its own session."""
    import oras.client
    import oras.oci

    monkeypatch.chdir(tmp_path)  # oras-py only uploads files under the working directory
    Path("artifact.txt").write_text("hello from oras\n")
    Path("signature.sig").write_text("not really a signature\n")
    client = oras.client.OrasClient(hostname=server.host, insecure=True)
    name = unique("oras")
    target = f"{server.host}/{name}:v1"
    r = client.push(target=target, files=["artifact.txt"], quiet=True)
    assert r.status_code == 201, r.text
    subject_digest = r.headers["Docker-Content-Digest"]

    manifest = client.get_manifest(target)
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == "artifact.txt"
    head = client.do_request(f"http://{server.host}/v2/{name}/manifests/v1", "HEAD",
                             headers={"Accept": OCI_MANIFEST})  # fmt: skip
    subject = oras.oci.Subject(
        mediaType=OCI_MANIFEST, digest=subject_digest, size=int(head.headers["Content-Length"])
    )
    sig_type = "application/vnd.example.signature.v1+json"
    Path("sig-config.json").write_text("{}")
    r = client.push(
        target=f"{server.host}/{name}:sig", files=["signature.sig"], subject=subject,
        manifest_config=f"sig-config.json:{sig_type}", quiet=True,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.headers["OCI-Subject"] == subject_digest
    referrer_digest = r.headers["Docker-Content-Digest"]

    r = client.do_request(
        f"http://{server.host}/v2/{name}/referrers/{subject_digest}", "GET",
        headers={"Accept": OCI_INDEX},
    )  # fmt: skip
    assert r.status_code == 200
    found = r.json()["manifests"]
    assert [(d["digest"], d["artifactType"]) for d in found] == [(referrer_digest, sig_type)]

    out = tmp_path / "pulled"
    files = client.pull(target=target, outdir=str(out))
    assert [Path(f).read_text() for f in files] == ["hello from oras\n"]
