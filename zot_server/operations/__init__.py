"""Handler modules, one per resource. The route table is the swagger file.

Each handler names the operation it serves with :func:`handles`: by operationId where
upstream's file has one, otherwise by method and path (parameter names do not matter, so an
upstream rename of ``{session_id}`` keeps routing). :mod:`zot_server.resolver` collects them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def handles(
    method: str, path: str | None = None, operation_id: str | None = None, quick: bool = False
) -> Callable[[F], F]:
    """Mark a function as the handler of one swagger operation.

    ``quick``: it reads no request body and answers from a few local reads (a stat, a cached
    index, a small file), so where storage says its reads are local, a request without a body
    runs it on the event loop instead of handing it to a thread (``zot_server/bridge.py``).
    """

    def mark(fn: F) -> F:
        keys = list(getattr(fn, "__zot_operations__", []))
        keys.append((method.upper(), path, operation_id))
        fn.__zot_operations__ = keys  # type: ignore[attr-defined]
        fn.__zot_quick__ = quick  # type: ignore[attr-defined]
        return fn

    return mark
