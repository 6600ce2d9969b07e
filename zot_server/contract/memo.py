"""Memoise what openapi-core rebuilds on every call: schema validators and style
deserializers depend only on the spec node they are made for, never on the value judged.

Measured (scripts/prof: 200 upload POSTs with fresh digests, no result-cache hits):
openapi-core spent ~55% of a parameter validation building these objects, a third of that
deep-copying its format checker. They are stateless once built, so one per spec node serves
every request and thread.
"""

from __future__ import annotations

import threading
from typing import Any


def _key(*parts: Any) -> tuple:
    return tuple(tuple(p.parts) if hasattr(p, "parts") else p for p in parts)


class _Memo:
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._made: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _get(self, key: tuple, make) -> Any:
        made = self._made.get(key)
        if made is None:
            made = make()
            with self._lock:
                self._made.setdefault(key, made)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MemoSchemaValidators(_Memo):
    """Wraps a ``SchemaValidatorsFactory``: one validator per (spec node, options)."""

    def create(self, spec, schema, **options) -> Any:
        opts = tuple(sorted((k, id(v)) for k, v in options.items()))
        return self._get(_key(schema, opts), lambda: self._inner.create(spec, schema, **options))


class MemoStyleDeserializers(_Memo):
    """Wraps a ``StyleDeserializersFactory``: one deserializer per parameter node."""

    def create(self, spec, schema, style: str, explode: bool, name: str) -> Any:
        return self._get(
            _key(schema, style, explode, name),
            lambda: self._inner.create(spec, schema, style, explode, name=name),
        )


def memoise(validator: Any) -> Any:
    """Give an openapi-core validator memoising factories; returns the validator."""
    validator.schema_validators_factory = MemoSchemaValidators(validator.schema_validators_factory)
    validator.style_deserializers_factory = MemoStyleDeserializers(
        validator.style_deserializers_factory
    )
    return validator
