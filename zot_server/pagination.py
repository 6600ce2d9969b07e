"""``n``/``last`` pagination with a ``Link`` header, shared by tags/list and _catalog."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from .context import query_value
from .errors import RegistryError


def _n() -> int | None:
    raw_n = query_value("n")
    if raw_n is None or raw_n == "":
        return None
    if not raw_n.isdigit():
        raise RegistryError(
            "PAGINATION_NUMBER_INVALID",
            "n must be a non-negative integer",
            detail={"n": raw_n[:50]},
        )
    return int(raw_n)


def page_of(
    after: Callable[[str | None], Iterable[str]], base_url: str
) -> tuple[list[str], dict[str, str]]:
    """At most ``n`` of the entries ``after(last)`` yields (in sorted order, all after
    ``last``), and a Link if more remain: one entry beyond the page is read to know."""
    n = _n()
    entries = after(query_value("last") or None)
    if n is None:
        return list(entries), {}
    chunk = list(itertools.islice(entries, n + 1)) if n else []
    headers = {}
    if len(chunk) > n:
        chunk = chunk[:n]
        query = urlencode({"n": n, "last": chunk[-1]})
        headers["Link"] = f'<{base_url}?{query}>; rel="next"'
    return chunk, headers


def page(items: list[str], base_url: str) -> tuple[list[str], dict[str, str]]:
    """Entries after ``last`` (sorted order), at most ``n`` of them, and a Link if more remain."""

    def after(last: str | None) -> list[str]:
        return items[bisect.bisect_right(items, last) :] if last else items

    return page_of(after, base_url)
