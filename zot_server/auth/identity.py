"""Who is making a request, as the auth middleware established it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCOPE_KEY = "zot.identity"  # where the middleware leaves it in the ASGI scope


@dataclass(frozen=True)
class Identity:
    user: str | None = None  # None: anonymous
    groups: tuple[str, ...] = ()
    is_admin: bool = False
    method: str | None = None  # "basic", "apikey", "session", "bearer"
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Identity()
