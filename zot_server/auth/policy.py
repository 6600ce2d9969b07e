"""zot's access control (``http.accessControl``): who may read, create, update, delete where.

Semantics follow zot's ``AccessController``: the longest repository glob that matches wins;
within it a user's own policies, then their groups', then ``defaultPolicy`` (any
authenticated user), then ``anonymousPolicy`` (no user); ``adminPolicy`` grants its actions
everywhere. Globs are doublestar globs: ``*`` stays within a path segment, ``**`` spans them.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if i < n and pattern[i] == "/":
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                options = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(glob_regex(o).pattern[:-2] for o in options) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, name: str) -> bool:
    return glob_regex(pattern).match(name) is not None


def _names(policy: dict, key: str) -> list[str]:
    return list(policy.get(key) or [])


class AccessPolicy:
    """Built from the ``accessControl`` object; ``enabled`` is False when there is none."""

    def __init__(self, access: dict[str, Any] | None) -> None:
        self.enabled = access is not None
        access = access or {}
        self.repositories: dict[str, dict] = dict(access.get("repositories") or {})
        self.admin: dict = dict(access.get("adminPolicy") or {})
        self.groups: dict[str, list[str]] = {
            name: _names(group, "users") for name, group in (access.get("groups") or {}).items()
        }

    def anonymous_allowed(self) -> bool:
        """zot lets requests without credentials through only if some anonymousPolicy exists."""
        return any(group.get("anonymousPolicy") for group in self.repositories.values())

    def groups_of(self, user: str) -> list[str]:
        return sorted(name for name, users in self.groups.items() if user in users)

    def is_admin(self, user: str | None, groups: list[str] | tuple[str, ...]) -> bool:
        if not user:
            return False
        return user in _names(self.admin, "users") or any(
            g in _names(self.admin, "groups") for g in groups
        )

    def _group_for(self, repo: str) -> dict | None:
        best = None
        for pattern in self.repositories:
            if glob_match(pattern, repo) and (best is None or len(pattern) > len(best)):
                best = pattern
        return self.repositories.get(best) if best is not None else None

    def can(self, user: str | None, groups, action: str, repo: str) -> bool:
        if not self.enabled:
            return True
        group = self._group_for(repo)
        if group is not None and self._permitted(group, user, groups, action):
            return True
        return self.is_admin(user, groups) and action in _names(self.admin, "actions")

    @staticmethod
    def _permitted(group: dict, user: str | None, groups, action: str) -> bool:
        for policy in group.get("policies") or []:
            if action not in _names(policy, "actions"):
                continue
            if user and user in _names(policy, "users"):
                return True
            if any(g in _names(policy, "groups") for g in groups):
                return True
        if user:
            return action in (group.get("defaultPolicy") or [])
        return action in (group.get("anonymousPolicy") or [])
