"""Lean Flask views for handlers that take nothing but path parameters.

Connexion registers each operation as a Flask view (``FlaskOperation``) that, on every request,
builds a decorator chain, a URI parser and a request wrapper, then collects every parameter the
spec declares, only to pass the handler its path parameters (cProfile: ~20 % of a manifest
HEAD's CPU). Every handler here takes only path parameters (query values and headers are read
from ``flask.request``, and openapi-core has validated them by then), so once Connexion has
registered the routes, each such view is swapped for one that calls the handler with Flask's
own ``view_args``. Routing stays Connexion's (the Starlette router and the Flask rules it
made from the spec); a handler that asks for anything else keeps Connexion's view.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import flask
from connexion.apps.flask import FlaskOperation


def _lean(operation: FlaskOperation, arguments: set[str]) -> Callable | None:
    fn = operation._fn
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name not in arguments:
            return None  # wants a query value, a body, **kwargs...: Connexion's view stays
        names.append(p.name)

    @functools.wraps(fn)
    def view(**view_args: str):
        return fn(**{name: view_args[name] for name in names if name in view_args})

    return view


def install(app: flask.Flask) -> list[str]:
    """Swap Connexion's views for lean ones where the handler allows; the endpoints swapped."""
    swapped = []
    for rule in app.url_map.iter_rules():
        operation = app.view_functions.get(rule.endpoint)
        if not isinstance(operation, FlaskOperation):
            continue
        view = _lean(operation, set(rule.arguments))
        if view is not None:
            app.view_functions[rule.endpoint] = view
            swapped.append(rule.endpoint)
    return swapped
