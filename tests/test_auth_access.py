"""zot's access control from a config file: a matrix of user x action x repository showing
each allowed where the policy allows and refused (401 anonymous, 403 known user, nothing
changed) where it does not; the catalog lists only what the caller may read; a mount needs
read on its source; anonymous read with real clients."""

from __future__ import annotations

import pytest
import requests
from auth_support import Servers, assert_oci_error, oci_layout, skopeo, write_htpasswd
from conftest import require
from oci import OCI_MANIFEST, Client, random_image, sha256

USERS = {n: f"{n}-Pa55" for n in ("alice", "bob", "carol", "dave", "admin")}
ACCESS = {
    "repositories": {
        "**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read"]},
        "pub/**": {"policies": [{"users": ["alice"],
                                 "actions": ["read", "create", "update", "delete"]}],
                   "anonymousPolicy": ["read"], "defaultPolicy": ["read"]},
        "team/**": {"policies": [{"groups": ["devs"], "actions": ["read", "create"]}]},
        "team/secret/**": {"policies": [{"users": ["carol"],
                                         "actions": ["read", "create", "update", "delete"]}]},
    },
    "adminPolicy": {"users": ["admin"], "actions": ["read", "create", "update", "delete"]},
    "groups": {"devs": {"users": ["alice", "bob"]}},
}  # fmt: skip
REPOS = ["pub/app", "team/app", "team/secret/x", "other/app"]
ACTIONS = ["read", "create", "update", "delete"]
ALL = set(ACTIONS)
# Written out by hand from the policy above (not computed by the server's code).
EXPECTED = {
    "pub/app": {None: {"read"}, "alice": ALL, "bob": {"read"}, "carol": {"read"},
                "dave": {"read"}, "admin": ALL},
    "team/app": {None: set(), "alice": {"read", "create"}, "bob": {"read", "create"},
                 "carol": set(), "dave": set(), "admin": ALL},
    # The longest glob wins: team/** (devs) does not apply under team/secret/.
    "team/secret/x": {None: set(), "alice": set(), "bob": set(), "carol": ALL, "dave": set(),
                      "admin": ALL},
    "other/app": {None: {"read"}, "alice": {"read"}, "bob": {"read"}, "carol": {"read"},
                  "dave": {"read"}, "admin": {"read", "create", "update", "delete"}},
}  # fmt: skip
CALLERS = [None, "alice", "bob", "carol", "dave", "admin"]


@pytest.fixture(scope="module")
def acl(tmp_path_factory):
    servers = Servers(tmp_path_factory.mktemp("access"))
    htpasswd = write_htpasswd(servers.base / "htpasswd", USERS)
    running = servers.start(
        "access", {"auth": {"htpasswd": {"path": str(htpasswd)}}, "accessControl": ACCESS}
    )
    yield running
    servers.close()


def session(user: str | None) -> requests.Session:
    s = requests.Session()
    if user:
        s.auth = (user, USERS[user])
    return s


def tags(server, repo: str) -> list[str]:
    r = session("admin").get(f"{server.url}/v2/{repo}/tags/list")
    assert r.status_code == 200, r.text
    return r.json()["tags"]


@pytest.fixture(scope="module")
def seeded(acl):
    """The admin pushes one image per repository, tagged v1, u-<caller> and d-<caller>."""
    admin = Client(acl.url, session("admin"))
    images = {}
    for repo in REPOS:
        image = random_image(layers=1, size=256)
        admin.push_image(repo, "v1", image)
        for caller in CALLERS:
            for prefix in ("u", "d"):
                r = admin.push_manifest(repo, f"{prefix}-{caller or 'anon'}", image.manifest)
                assert r.status_code == 201
        images[repo] = image
    return images


def attempt(server, image, user, action, repo) -> requests.Response:
    s = session(user)
    me = user or "anon"
    base = f"{server.url}/v2/{repo}/manifests/"
    body, headers = image.manifest, {"Content-Type": OCI_MANIFEST}
    if action == "read":
        return s.get(base + "v1", headers={"Accept": OCI_MANIFEST})
    if action == "create":
        return s.put(base + f"c-{me}", data=body, headers=headers)
    if action == "update":  # the tag exists already: zot calls this update
        return s.put(base + f"u-{me}", data=body, headers=headers)
    return s.delete(base + f"d-{me}")


@pytest.mark.parametrize("repo", REPOS)
def test_user_action_repository_matrix(acl, seeded, repo):
    image = seeded[repo]
    for user in CALLERS:
        for action in ACTIONS:
            before = tags(acl, repo)
            r = attempt(acl, image, user, action, repo)
            allowed = action in EXPECTED[repo][user]
            label = (user, action, repo, r.status_code)
            if allowed:
                assert r.status_code in (200, 201, 202), label
                continue
            if user is None:
                assert_oci_error(r, 401, "UNAUTHORIZED")
                assert r.headers["WWW-Authenticate"] == 'Basic realm="zot"', label
            else:
                assert_oci_error(r, 403, "DENIED")
            assert tags(acl, repo) == before, label  # a refusal changes nothing


@pytest.mark.parametrize("user", CALLERS)
def test_catalog_lists_only_what_the_caller_may_read(acl, seeded, user):
    r = session(user).get(acl.url + "/v2/_catalog")
    assert r.status_code == 200
    readable = sorted(repo for repo in REPOS if "read" in EXPECTED[repo][user])
    assert r.json()["repositories"] == readable


def test_blob_reads_and_uploads_follow_the_policy(acl, seeded):
    layer = seeded["team/secret/x"].layers[0]
    url = f"{acl.url}/v2/team/secret/x/blobs/{sha256(layer)}"
    assert session("carol").get(url).content == layer
    assert_oci_error(session("alice").get(url), 403, "DENIED")
    r = session(None).head(url)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="zot"'
    assert r.content == b""  # HEAD answers carry no body
    r = session("dave").post(f"{acl.url}/v2/team/app/blobs/uploads/")
    assert_oci_error(r, 403, "DENIED")
    r = session("bob").post(f"{acl.url}/v2/team/app/blobs/uploads/")
    assert r.status_code == 202


def test_a_mount_needs_read_on_its_source(acl, seeded):
    secret = sha256(seeded["team/secret/x"].layers[0])
    public = sha256(seeded["pub/app"].layers[0])
    url = f"{acl.url}/v2/team/app/blobs/uploads/"
    r = session("bob").post(url, params={"mount": secret, "from": "team/secret/x"})
    assert_oci_error(r, 403, "DENIED")
    assert session("admin").head(f"{acl.url}/v2/team/app/blobs/{secret}").status_code == 404
    r = session("bob").post(url, params={"mount": public, "from": "pub/app"})
    assert r.status_code == 201, r.text
    assert session("bob").head(f"{acl.url}/v2/team/app/blobs/{public}").status_code == 200


def test_base_endpoint_and_tags_with_anonymous_read(acl, seeded):
    assert session(None).get(acl.url + "/v2/").status_code == 200  # some anonymousPolicy exists
    assert session(None).get(acl.url + "/v2/pub/app/tags/list").status_code == 200
    assert_oci_error(session(None).get(acl.url + "/v2/team/app/tags/list"), 401, "UNAUTHORIZED")
    assert_oci_error(session("bob").get(acl.url + "/v2/", auth=("bob", "x")), 401,
                     "UNAUTHORIZED")  # fmt: skip


@pytest.mark.clients
def test_skopeo_anonymous_read_and_authorised_push(acl, seeded, tmp_path):
    require("skopeo")
    back = tmp_path / "back"
    pulled = skopeo("copy", "--src-tls-verify=false", f"docker://{acl.host}/pub/app:v1",
                    f"oci:{back}:v1")  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    layout = oci_layout(tmp_path / "layout")
    dest = f"docker://{acl.host}/pub/skopeo:v1"
    denied = skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", dest)
    assert denied.returncode != 0
    denied = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"bob:{USERS['bob']}",
                    f"oci:{layout}:v1", dest)  # fmt: skip
    assert denied.returncode != 0  # skopeo words a 403 as "unauthorized" too
    assert any(w in denied.stderr.lower() for w in ("denied", "unauthorized", "403"))
    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{USERS['alice']}",
                    f"oci:{layout}:v1", dest)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "v1" in tags(acl, "pub/skopeo")


@pytest.mark.parametrize(
    "pattern, name, matches",
    [("**", "a/b/c", True), ("*", "a", True), ("*", "a/b", False), ("a/*", "a/b", True),
     ("a/*", "a/b/c", False), ("a/**", "a/b/c", True), ("a/**", "b/a", False),
     ("**/app", "x/y/app", True), ("**/app", "app", True), ("{pub,team}/*", "team/x", True),
     ("{pub,team}/*", "other/x", False), ("repo?", "repo1", True), ("repo?", "repo/", False),
     ("[ab]x", "bx", True), ("[!ab]x", "bx", False), ("a.b", "axb", False)],
)  # fmt: skip
def test_globs_follow_doublestar(pattern, name, matches):
    from zot_server.auth.policy import glob_match

    assert glob_match(pattern, name) is matches
