"""The metadata interface and the records it stores; no SQL, no HTTP."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # how zot (Go) writes a time that was never set


def go_time(value: datetime | None) -> str:
    """RFC 3339 as zot's JSON has it; ``None`` is Go's zero time."""
    if value is None:
        return GO_ZERO_TIME
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ApiKey:
    """One API key's details; the key itself is never stored, only its hash."""

    uuid: str
    user: str
    label: str
    scopes: list[str]
    created_at: datetime
    expiration: datetime | None = None
    creator_ua: str = ""
    generated_by: str = "manual"
    last_used: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def is_expired(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.expiration is not None and now >= self.expiration

    def to_zot(self) -> dict[str, Any]:
        """The fields of zot's ``APIKeyDetails``, named as zot's JSON names them."""
        return {
            "createdAt": go_time(self.created_at),
            "expirationDate": go_time(self.expiration),
            "isExpired": self.is_expired(),
            "creatorUa": self.creator_ua,
            "generatedBy": self.generated_by,
            "lastUsed": go_time(self.last_used),
            "label": self.label,
            "scopes": list(self.scopes),
            "uuid": self.uuid,
        }


class MetaStore(abc.ABC):
    """Per-user metadata, safe to call from several processes at once."""

    # -- API keys: stored by the hash of the key ------------------------------------------
    @abc.abstractmethod
    def add_api_key(self, key_hash: str, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def api_key(self, key_hash: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def api_keys(self, user: str) -> list[ApiKey]: ...

    @abc.abstractmethod
    def revoke_api_key(self, user: str, uuid: str) -> bool:
        """True when the user had a key with this id (it is gone now)."""

    @abc.abstractmethod
    def touch_api_key(self, key_hash: str, when: datetime) -> None: ...

    # -- browser sessions: stored by the hash of the cookie's token ---------------------------
    @abc.abstractmethod
    def add_session(self, token_hash: str, user: str, expires: datetime) -> None: ...

    @abc.abstractmethod
    def session_user(self, token_hash: str, now: datetime) -> str | None: ...

    @abc.abstractmethod
    def end_session(self, token_hash: str) -> bool: ...

    # -- stars and bookmarks ----------------------------------------------------------------
    @abc.abstractmethod
    def toggle_preference(self, user: str, kind: str, repo: str) -> bool:
        """Flip one mark; True when the repository is now marked."""

    @abc.abstractmethod
    def preferences(self, user: str, kind: str) -> list[str]: ...
