"""The registry answers the base endpoint and a push/pull round trip over a real socket."""

from oci import Client, random_image


def test_version_check(server):
    import requests

    r = requests.get(server.url + "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}


def test_push_pull_round_trip(server):
    client = Client(server.url)
    image = random_image()
    digest = client.push_image("smoke/app", "v1", image)
    r = client.http.get(client.url("/v2/smoke/app/manifests/v1"))
    assert r.status_code == 200 and r.content == image.manifest
    assert r.headers["Docker-Content-Digest"] == digest
    for layer in image.layers:
        from oci import sha256

        r = client.http.get(client.url(f"/v2/smoke/app/blobs/{sha256(layer)}"))
        assert r.content == layer
