"""The configured security of one server: authentication methods, access policy, metadata.

Built once per worker process from the zot config document in ``Settings.config``. The
middleware asks it who a request comes from and whether that identity may do what the
request needs; handlers ask it about API keys, sessions and what a user may read.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..metadata import MetaStore, open_store
from .bearer import BearerError, BearerVerifier
from .htpasswd import Htpasswd
from .identity import ANONYMOUS, Identity
from .needs import Need
from .policy import AccessPolicy

API_KEY_PREFIX = "zak_"  # zot's constants.APIKeysPrefix
UI_HEADER = "x-zot-api-client"  # zot's SessionClientHeaderName, value "zot-ui"
UI_VALUE = "zot-ui"
SESSION_COOKIE = "session"
SESSION_SECONDS = 7 * 24 * 3600
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def hash_secret(value: str) -> str:
    """API keys and session tokens are stored as this (zot: sha256 hex of the key)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class Outcome:
    identity: Identity = ANONYMOUS
    status: int = 0  # 0: allowed; else 401 or 403
    code: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values for the answer
    delay: float = 0.0  # failDelay before answering a failed login


def _cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


class Security:
    def __init__(self, config: dict[str, Any], root: str, realm: str, tls: bool,
                 tag_exists=None, meta: MetaStore | None = None) -> None:  # fmt: skip
        http = config.get("http") or {}
        auth = http.get("auth") or {}
        self.realm = realm or "zot"
        self.tls = tls
        self.fail_delay = float(auth.get("failDelay") or 0)
        self.htpasswd = Htpasswd(auth["htpasswd"]["path"]) if auth.get("htpasswd") else None
        bearer = auth.get("bearer")
        self.bearer = (
            BearerVerifier(bearer["realm"], bearer["service"], bearer["cert"]) if bearer else None
        )
        self.apikey = bool(auth.get("apikey")) and self.htpasswd is not None
        self.policy = AccessPolicy(http.get("accessControl"))
        self.meta = meta or open_store(root)
        self.tag_exists = tag_exists or (lambda name, tag: False)
        # Only access control tells create from update: skip the storage read without it.
        self.tag_check = self.tag_exists if self.policy.enabled else None
        self.extensions = config.get("extensions") or {}

    @classmethod
    def from_settings(cls, settings, storage=None) -> Security:
        def tag_exists(name: str, tag: str) -> bool:
            try:
                return tag in storage.tags(name)
            except Exception:  # noqa: BLE001 - an unknown repository has no tags
                return False

        return cls(settings.config or {}, settings.root, settings.realm,
                   bool(settings.tls_cert), tag_exists if storage else None)  # fmt: skip

    @property
    def authn_enabled(self) -> bool:
        return self.htpasswd is not None or self.bearer is not None

    # -- identities ------------------------------------------------------------------------
    def _user(self, user: str, method: str) -> Identity:
        groups = tuple(self.policy.groups_of(user))
        return Identity(user, groups, self.policy.is_admin(user, groups), method)

    def _api_key_user(self, user: str, key: str) -> bool:
        record = self.meta.api_key(hash_secret(key[len(API_KEY_PREFIX) :]))
        if record is None or not hmac.compare_digest(record.user.encode(), user.encode()):
            return False
        now = datetime.now(UTC)
        if record.is_expired(now):
            return False
        self.meta.touch_api_key(hash_secret(key[len(API_KEY_PREFIX) :]), now)
        return True

    async def check_basic(self, header: str) -> Identity | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep or self.htpasswd is None:
            return None
        # An API key is tried first when it looks like one: the same outcome as zot's order
        # (htpasswd, then keys) without paying for a bcrypt check on every key request.
        if self.apikey and password.startswith(API_KEY_PREFIX) and user in self.htpasswd:
            if await asyncio.to_thread(self._api_key_user, user, password):
                return self._user(user, "apikey")
        if await asyncio.to_thread(self.htpasswd.verify, user, password):
            return self._user(user, "basic")
        return None

    def version_check_headers(self, headers) -> dict[str, str]:
        """zot names its auth scheme even on a 200 from ``/v2/`` ("allowed-read" mode), so
        clients that got in anonymously (skopeo) still know to send credentials for a push."""
        if headers.get(UI_HEADER) == UI_VALUE or not self.authn_enabled:
            return {}
        if self.bearer is not None:
            return {"WWW-Authenticate": f"bearer realm={self.bearer.realm}"}
        return {"WWW-Authenticate": f"basic realm={self.realm}"}

    def basic_challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.realm}"'}

    def _unauthorized(self, headers: dict[str, str], ui: bool, delay: float = 0.0) -> Outcome:
        return Outcome(status=401, code="UNAUTHORIZED", message="authentication required",
                       headers={} if ui else self.basic_challenge(), delay=delay)  # fmt: skip

    # -- sessions --------------------------------------------------------------------------
    def start_session(self, user: str) -> list[str]:
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=SESSION_SECONDS)
        self.meta.add_session(hash_secret(token), user, expires)
        secure = "; Secure" if self.tls else ""
        return [
            f"{SESSION_COOKIE}={token}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly;"
            f" SameSite=Lax{secure}",
            f"user={user}; Path=/; Max-Age={SESSION_SECONDS}; SameSite=Lax{secure}",
        ]

    def end_session(self, cookie_header: str) -> bool:
        token = _cookie_value(cookie_header, SESSION_COOKIE)
        return bool(token) and self.meta.end_session(hash_secret(token))

    @staticmethod
    def clear_cookies() -> list[str]:
        return [
            f"{SESSION_COOKIE}=; Path=/; Max-Age=0; Expires={EPOCH}; HttpOnly",
            f"user=; Path=/; Max-Age=0; Expires={EPOCH}",
        ]

    def _session_user(self, cookie_header: str) -> str | None:
        token = _cookie_value(cookie_header, SESSION_COOKIE)
        if not token:
            return None
        return self.meta.session_user(hash_secret(token), datetime.now(UTC))

    # -- the decision ----------------------------------------------------------------------
    async def decide(self, headers, need: Need) -> Outcome:
        """Authenticate, then authorise ``need``; headers is a case-insensitive mapping."""
        if self.bearer is not None:
            return self._decide_bearer(headers, need)
        outcome = await self._authenticate(headers, need)
        if outcome.status:
            return outcome
        return self._authorise(outcome, need, headers.get(UI_HEADER) == UI_VALUE)

    async def _authenticate(self, headers, need: Need) -> Outcome:
        ui = headers.get(UI_HEADER) == UI_VALUE
        if self.htpasswd is None:
            return Outcome()  # no password authentication configured: everyone is anonymous
        authorization = headers.get("authorization", "")
        if authorization and authorization.lower() != "basic og==":
            identity = await self.check_basic(authorization)
            if identity is None:
                return self._unauthorized(headers, ui, self.fail_delay)
            cookies = self.start_session(identity.user) if ui else []
            return Outcome(identity, cookies=cookies)
        if ui and _cookie_value(headers.get("cookie", ""), SESSION_COOKIE):
            user = self._session_user(headers.get("cookie", ""))
            if user:
                return Outcome(self._user(user, "session"))
            if self.policy.anonymous_allowed() or need.kind == "public":
                return Outcome(cookies=self.clear_cookies())
            failed = self._unauthorized(headers, ui, self.fail_delay)
            failed.cookies = self.clear_cookies()
            return failed
        if self.policy.anonymous_allowed() or need.kind == "public":
            return Outcome()
        return self._unauthorized(headers, ui)

    def _authorise(self, outcome: Outcome, need: Need, ui: bool) -> Outcome:
        identity = outcome.identity

        def refuse() -> Outcome:
            if identity.anonymous:
                failed = self._unauthorized({}, ui)
            else:
                failed = Outcome(identity, status=403, code="DENIED",
                                 message="requested access to the resource is denied")  # fmt: skip
            failed.cookies = outcome.cookies
            return failed

        if need.kind == "user" and identity.anonymous and self.authn_enabled:
            return refuse()
        if need.kind == "admin" and self.authn_enabled and not identity.is_admin:
            return refuse()
        if need.kind == "repo" and self.policy.enabled:
            for action, repo in need.actions:
                if not self.policy.can(identity.user, identity.groups, action, repo):
                    return refuse()
        return outcome

    def _decide_bearer(self, headers, need: Need) -> Outcome:
        assert self.bearer is not None
        authorization = headers.get("authorization", "")
        if need.kind == "public" and not authorization:
            return Outcome()
        scopes = self._scopes(need)
        scope = " ".join(f"{kind}:{name}:{action}" for kind, name, action in scopes)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Outcome(status=401, code="UNAUTHORIZED", message="bearer token required",
                           headers={"WWW-Authenticate": self.bearer.challenge(scope)})  # fmt: skip
        try:
            claims = self.bearer.claims(token.strip())
        except BearerError:
            return Outcome(status=401, code="UNAUTHORIZED", message="invalid bearer token",
                           headers={"WWW-Authenticate": self.bearer.challenge(
                               scope, "invalid_token")})  # fmt: skip
        for kind, name, action in scopes:
            for one in action.split(","):
                if not self.bearer.allows(claims, kind, name, one):
                    return Outcome(status=401, code="UNAUTHORIZED",
                                   message="the token does not grant this access",
                                   headers={"WWW-Authenticate": self.bearer.challenge(
                                       scope, "insufficient_scope")})  # fmt: skip
        user = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        return Outcome(Identity(user or None, (), False, "bearer", claims))

    @staticmethod
    def _scopes(need: Need) -> list[tuple[str, str, str]]:
        if need.kind == "catalog":
            return [("registry", "catalog", "*")]
        scopes = []
        for action, repo in need.actions:
            scopes.append(("repository", repo, "pull" if action == "read" else "push"))
        return scopes

    # -- what handlers ask -----------------------------------------------------------------
    def readable(self, identity: Identity, names: Iterable[str]) -> Iterator[str]:
        """The names this identity may read, in their order, as they come (catalog pages)."""
        if self.bearer is not None or not self.policy.enabled:
            return iter(names)
        return (n for n in names if self.policy.can(identity.user, identity.groups, "read", n))
