"""An htpasswd file of bcrypt entries, as zot reads it, checked in constant time.

bcrypt is slow on purpose (a cost-10 check takes ~100 ms), and registry clients send Basic
credentials on every request. A successful check is therefore remembered for a short time as
an HMAC of the credentials under a per-process random key: the cache holds nothing that
reveals a password, and it is compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import bcrypt

BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")
CACHE_SECONDS = 60.0


class HtpasswdError(ValueError):
    pass


def load_htpasswd(path: str) -> dict[str, bytes]:
    """user -> bcrypt hash; zot accepts only bcrypt entries (``htpasswd -B``)."""
    users: dict[str, bytes] = {}
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            user, sep, hashed = line.partition(b":")
            if not sep or not user:
                raise HtpasswdError(f"line {number}: expected user:bcrypt-hash")
            if not hashed.startswith(BCRYPT_PREFIXES):
                raise HtpasswdError(f"line {number}: expected a bcrypt hash (htpasswd -B)")
            users[user.decode("utf-8", "replace")] = hashed
    return users


class Htpasswd:
    def __init__(self, path: str) -> None:
        self.users = load_htpasswd(path)
        self._key = os.urandom(32)
        self._ok: dict[str, tuple[bytes, float]] = {}
        # Unknown users are checked against this, at the file's own cost, so that they take
        # as long as known ones.
        self._decoy = bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(rounds=self._cost()))

    def _cost(self) -> int:
        for hashed in self.users.values():
            cost = hashed[4:6]
            if cost.isdigit() and 4 <= int(cost) <= 31:
                return int(cost)
        return 10

    def __contains__(self, user: str) -> bool:
        return user in self.users

    def _fingerprint(self, user: str, password: str) -> bytes:
        data = user.encode() + b"\0" + password.encode("utf-8", "surrogateescape")
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def verify(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        secret = password.encode("utf-8", "surrogateescape")
        if stored is None or len(secret) > 72:  # bcrypt ignores bytes after the 72nd
            bcrypt.checkpw(secret[:72], self._decoy)
            return False
        fingerprint = self._fingerprint(user, password)
        cached = self._ok.get(user)
        if cached and cached[1] > time.monotonic() and hmac.compare_digest(cached[0], fingerprint):
            return True
        try:
            ok = bcrypt.checkpw(secret, stored)
        except ValueError:  # a malformed hash in the file
            return False
        if ok:
            self._ok[user] = (fingerprint, time.monotonic() + CACHE_SECONDS)
        return ok
