"""Defer imports the server never uses while it runs (start-up to the first 200 under 1 s).

Connexion and openapi-core import ``requests``, ``httpx`` and ``starlette.testclient`` when
they are imported, for features this server never calls: remote ``$ref`` resolution, remote
token introspection, the test client. Measured with ``python -X importtime`` on this machine,
the three cost ~0.17 s of the ~0.8 s it takes to import the server.

Each becomes a stand-in module until something asks it for a name: then the real module is
imported, takes its place in ``sys.modules``, and answers (through the stand-in too, for
modules that imported it before). ``TestClient`` is answered without loading: a class that
makes the real one when it is called. (``importlib.util.LazyLoader`` does not do this: the
next ``import`` statement of the module reads its ``__spec__`` and so loads it.)
Only the ``zot-server`` command installs this; importing :mod:`zot_server` changes nothing.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

DEFERRED = ("requests", "httpx", "starlette.testclient")
# Classes answered without loading their module; calling one loads it and makes the real one.
# (openapi-spec-validator's pydantic-settings class is not among them: openapi-schema-validator
# loads pydantic-settings anyway.)
DEFERRED_CLASSES = {"starlette.testclient": "TestClient"}
_stand_ins: dict[str, types.ModuleType] = {}


def _load(name: str) -> types.ModuleType:
    stand_in = _stand_ins[name]
    if sys.modules.get(name) is stand_in:
        del sys.modules[name]
    try:
        return importlib.import_module(name)
    except BaseException:
        sys.modules.setdefault(name, stand_in)
        raise


def _deferred_class(module: str, name: str) -> type:
    """Stands for class ``name`` of ``module``; calling it makes an instance of the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return getattr(_load(module), name)(*args, **kwargs)

    doc = f"Stand-in for {module}.{name} (zot_server.lazyimports); calling it loads the module."
    return type(name, (), {"__new__": __new__, "__module__": module, "__doc__": doc})


def _find(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where ``name`` would load from, without importing its parent package (whose
    ``__init__`` may import ``name`` itself: openapi-spec-validator's does)."""
    parent, _, _ = name.rpartition(".")
    try:
        if not parent:
            return importlib.util.find_spec(name)
        outer = _find(parent)
        if outer is None or outer.submodule_search_locations is None:
            return None
        return importlib.machinery.PathFinder.find_spec(name, outer.submodule_search_locations)
    except (ImportError, ValueError):
        return None


def _stand_in(name: str) -> None:
    if name in sys.modules:
        return
    spec = _find(name)
    if spec is None:
        return
    module = types.ModuleType(name, "stand-in until first use (zot_server.lazyimports)")
    module.__spec__ = spec  # the import system reads it for every `import name`
    module.__loader__ = spec.loader
    package = spec.submodule_search_locations is not None
    deferred = DEFERRED_CLASSES.get(name)
    stand_in_class = _deferred_class(name, deferred) if deferred else None

    def __getattr__(attr: str) -> Any:
        if attr == deferred:
            return stand_in_class
        if attr == "__path__" and not package:  # `from name import x` asks
            raise AttributeError(attr)
        return getattr(_load(name), attr)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    _stand_ins[name] = module
    sys.modules[name] = module


def install() -> None:
    """Before connexion and openapi-core are imported; harmless once they are."""
    for name in DEFERRED:
        _stand_in(name)
