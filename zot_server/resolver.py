"""Map each operation of the swagger file to its handler, with no hand-written route table.

Upstream's file has no operationIds, so an operation is found by its operationId where one
exists and otherwise by (method, normalised path). Operations without a handler answer
501 UNSUPPORTED, so a newer upstream file with extra operations still boots.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable

import flask
from connexion.resolver import Resolution, Resolver

from . import operations
from .errors import RegistryError
from .errors import from_storage_error as translate
from .responses import error_response
from .spec import normalize_path
from .storage import StorageError


def _key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), normalize_path(path).rstrip("/") or "/"


def discover_handlers(package=operations) -> dict[object, Callable]:
    """Import every handler module and collect the functions marked with ``@handles``."""
    found: dict[object, Callable] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, fn in inspect.getmembers(module, inspect.isfunction):
            for method, path, operation_id in getattr(fn, "__zot_operations__", []):
                if operation_id:
                    found[operation_id] = fn
                if path:
                    found[_key(method, path)] = fn
    return found


def _unsupported(method: str, path: str) -> Callable:
    def unsupported():
        return error_response(
            RegistryError(
                "UNSUPPORTED",
                "this operation of the API has no implementation here",
                detail={"method": method, "path": path},
                status=501,
            )
        )

    unsupported.__name__ = "unsupported"
    return unsupported


def guarded(fn: Callable) -> Callable:
    """Answer registry and storage errors as OCI error bodies."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RegistryError as exc:
            return error_response(exc)
        except StorageError as exc:
            return error_response(translate(exc))

    return call


def _with_head(get_fn: Callable, head_fn: Callable) -> Callable:
    """Flask answers HEAD with the GET view of a path; send it to the spec's HEAD handler."""
    head_params = set(inspect.signature(head_fn).parameters)

    @functools.wraps(get_fn)
    def dispatch(*args, **kwargs):
        if flask.request.method == "HEAD":
            return head_fn(**{k: v for k, v in kwargs.items() if k in head_params})
        return get_fn(*args, **kwargs)

    return dispatch


class OperationResolver(Resolver):
    """Connexion resolver over the handlers found in :mod:`zot_server.operations`."""

    def __init__(self, handlers: dict[object, Callable] | None = None) -> None:
        super().__init__()
        self.handlers = handlers if handlers is not None else discover_handlers()
        for fn in set(self.handlers.values()):
            # Connexion inspects each handler's signature on every request (inspect.signature,
            # 23 us measured); a __signature__ set once here is returned at once (5 us).
            fn.__signature__ = inspect.signature(fn)
        self.resolved: dict[tuple[str, str], str] = {}  # (METHOD, path) -> handler or "unsupported"
        self.quick: set[str] = set()  # operation ids whose handlers are quick (see handles)

    def lookup(self, method: str, path: str, operation_id: str | None = None) -> Callable | None:
        if operation_id and operation_id in self.handlers:
            return self.handlers[operation_id]
        return self.handlers.get(_key(method, path))

    def resolve(self, operation) -> Resolution:
        method, path = operation.method.upper(), operation.path
        fn = self.lookup(method, path, operation.operation_id)
        quick = getattr(fn, "__zot_quick__", False)
        if fn is None:
            self.resolved[(method, path)] = "unsupported"
            fn = _unsupported(method, path)
        else:
            self.resolved[(method, path)] = f"{fn.__module__}.{fn.__qualname__}"
            fn = guarded(fn)
            if method == "GET":
                head = self.lookup("HEAD", path)
                if head is not None and head is not fn:
                    quick = quick and getattr(head, "__zot_quick__", False)
                    fn = _with_head(fn, guarded(head))
        # Flask endpoints are named after the operation id: keep one per (method, path).
        slug = re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") or "root"
        if path.endswith("/") and path != "/":
            slug += "_slash"
        operation_id = f"{method.lower()}_{slug}"
        if quick:
            self.quick.add(operation_id)
        return Resolution(fn, operation_id)
