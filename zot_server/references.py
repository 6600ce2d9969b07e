"""Grammar of repository names, tags and digests (OCI Distribution Spec v1.1, "Pulling manifests";
OCI Image Spec, "Digests").

Everything a client names passes through these checks before the storage layer sees it, and
the grammars leave no room for ``..``, absolute paths, backslashes or NUL: a checked name or
digest can be joined under the storage root safely.
"""

from __future__ import annotations

import re

from .errors import RegistryError

NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
MAX_NAME = 255

# Algorithms this registry computes, with the length of their lowercase hex encoding.
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise NAME_INVALID."""
    if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": _printable(name)})
    return name


def is_digest(reference: str) -> bool:
    return ":" in reference


def check_digest(digest: str, code: str = "DIGEST_INVALID") -> str:
    """Return ``digest`` if it is well formed and of a supported algorithm."""
    if not DIGEST_RE.fullmatch(digest):
        raise RegistryError(code, "invalid digest", detail={"digest": _printable(digest)})
    algorithm, encoded = digest.split(":", 1)
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise RegistryError(
            code,
            "unsupported digest algorithm",
            detail={"digest": _printable(digest), "supported": sorted(ALGORITHMS)},
        )
    if len(encoded) != length or not re.fullmatch(r"[a-f0-9]+", encoded):
        raise RegistryError(
            code,
            f"a {algorithm} digest is {length} lowercase hex characters",
            detail={"digest": _printable(digest)},
        )
    return digest


def check_tag(tag: str) -> str:
    if not TAG_RE.fullmatch(tag):
        raise RegistryError("MANIFEST_INVALID", "invalid tag", detail={"tag": _printable(tag)})
    return tag


def check_reference(reference: str) -> str:
    """A manifest reference is a digest or a tag; which one decides the error code."""
    if is_digest(reference):
        return check_digest(reference)
    if not TAG_RE.fullmatch(reference):
        raise RegistryError(
            "MANIFEST_INVALID", "invalid reference", detail={"reference": _printable(reference)}
        )
    return reference


def _printable(value: str, limit: int = 300) -> str:
    """Echo client input back in an error without control characters or unbounded length."""
    cleaned = "".join(c if c.isprintable() else "?" for c in value[:limit])
    return cleaned + ("..." if len(value) > limit else "")
