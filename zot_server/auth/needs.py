"""What a request needs before it may run: which action on which repository, or less.

zot maps methods to actions this way (``DistSpecAuthzHandler``): GET and HEAD read; PUT,
PATCH and POST create, except a manifest PUT to a tag the repository already has, which
updates (zot exempts the tag ``latest``, which always counts as create); DELETE deletes.
A blob mount also reads its ``from`` repository.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

# kinds: "public" (no credentials needed: mgmt), "open" (authenticated, or anonymous where
# zot lets anonymous in; no repository check), "user" (a known user), "admin" (adminPolicy),
# "catalog" (filtered by the handler), "repo" (actions below).
MGMT = "/v2/_zot/ext/mgmt"
_ADMIN_PATHS = ("/v2/_zot/ext/cosign", "/v2/_zot/ext/notation")
_USER_PATHS = ("/zot/auth/apikey",)


@dataclass
class Need:
    kind: str
    actions: list[tuple[str, str]] = field(default_factory=list)  # (action, repository)


def _name_and_rest(path: str, params: dict) -> tuple[str, str] | None:
    name = params.get("name")
    for prefix in ("/v2/", "/oras/artifacts/v1/"):
        if name and path.startswith(prefix + name + "/"):
            return name, path[len(prefix + name) :]
    return None


def classify(
    method: str,
    path: str,
    params: dict,
    query_string: bytes,
    tag_exists: Callable[[str, str], bool] | None,
) -> Need:
    """``tag_exists`` None: create and update need not be told apart (no access control)."""
    stripped = path.rstrip("/") or "/"
    if stripped == MGMT:
        return Need("public")
    if stripped in _ADMIN_PATHS:
        return Need("admin")
    if stripped in _USER_PATHS:
        return Need("user")
    if stripped == "/v2/_catalog":
        return Need("catalog")
    found = _name_and_rest(path, params)
    if found is None:
        return Need("open")  # /v2/, discover, userprefs, logout, unknown paths (404)
    name, rest = found
    if method in ("GET", "HEAD"):
        return Need("repo", [("read", name)])
    if method == "DELETE":
        return Need("repo", [("delete", name)])
    action = "create"
    reference = params.get("reference")
    if rest.startswith("/manifests/") and reference and reference != "latest" and tag_exists:
        if tag_exists(name, reference):
            action = "update"
    need = Need("repo", [(action, name)])
    if method == "POST" and rest.startswith("/blobs/uploads"):
        query = parse_qs(query_string.decode("latin1"))
        if query.get("mount") and query.get("from"):
            need.actions.append(("read", query["from"][0]))
    return need
