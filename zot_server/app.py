"""Build the ASGI application: Connexion routes the effective spec to the handler modules."""

from __future__ import annotations

import json
import logging

import connexion
import flask
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from starlette.exceptions import HTTPException

from .auth import AuthMiddleware, Security
from .bridge import install as install_bridge
from .contract.middleware import ContractMiddleware, setup_from_settings
from .errors import RegistryError
from .registry import Registry, Settings
from .resolver import OperationResolver
from .spec import effective_spec
from .startup import spec_checked_once
from .views import install as install_lean_views
from .wsgi import BodyPassthrough

log = logging.getLogger("zot_server")

# Connexion's own request/response validators are left out: openapi-core validates against
# the same effective spec (zot_server.contract), and two validators would disagree.
MIDDLEWARES = [
    ServerErrorMiddleware,
    ExceptionMiddleware,
    RoutingMiddleware,
    AuthMiddleware,  # bound to this server's Security in create_app
    ContractMiddleware,
    LifespanMiddleware,
    ContextMiddleware,
]

_STATUS_CODES = {
    404: "NOT_FOUND",
    405: "UNSUPPORTED",  # the spec's code for a method an endpoint does not take
    415: "UNSUPPORTED_MEDIA_TYPE",
    413: "PAYLOAD_TOO_LARGE",
}


def _oci(exc: RegistryError) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=exc.status,
        body=exc.body(),
        content_type="application/json",
        headers={"Docker-Distribution-API-Version": "registry/2.0", **exc.headers},
    )


def _http_error(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
    code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "UNKNOWN")
    detail = {"method": request.method, "path": request.url.path[:300]}
    headers = {}
    if exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return _oci(
        RegistryError(
            code,
            str(exc.detail)[:300] or None,
            detail=detail,
            status=exc.status_code,
            headers=headers,
        )
    )


def _server_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _oci(RegistryError("UNKNOWN", "internal server error", status=500))


def create_app(settings: Settings | None = None) -> connexion.FlaskApp:
    settings = settings or Settings()
    spec, _ = effective_spec(settings.swagger)
    registry = Registry.from_settings(settings)
    resolver = OperationResolver()

    registry.security = Security.from_settings(settings, registry.storage)
    middlewares = [
        AuthMiddleware.bind(registry.security) if m is AuthMiddleware else m for m in MIDDLEWARES
    ]
    app = connexion.FlaskApp(__name__, middlewares=middlewares)
    contract = setup_from_settings(spec, settings)
    with spec_checked_once(spec, settings.root):  # zot_server/startup.py
        app.add_api(spec, resolver=resolver, resolver_error=501, contract=contract)
    app.add_wsgi_middleware(BodyPassthrough)
    app.add_error_handler(HTTPException, _http_error)
    app.add_error_handler(Exception, _server_error)

    flask_app: flask.Flask = app.app
    flask_app.extensions["zot"] = registry
    flask_app.extensions["zot.spec"] = spec
    flask_app.extensions["zot.resolver"] = resolver
    # "/v2//etc/x" must be NAME_INVALID, not a 308 to another repository (tests/test_hostile.py).
    flask_app.url_map.merge_slashes = False

    # Connexion builds its middleware (and registers the Flask routes) at the first request;
    # build it now so a broken spec or resolver fails at start-up, not on every request.
    app.middleware.app, app.middleware.middleware_stack = app.middleware._build_middleware_stack()
    # In place of a2wsgi: fewer thread hand-offs (zot_server/bridge.py). The resolver knows the
    # quick read handlers once the stack is built; they run on the event loop where storage
    # reads are local.
    inline = frozenset(resolver.quick) if registry.storage.local_reads else frozenset()
    install_bridge(app, inline)
    flask_app.extensions["zot.lean_views"] = install_lean_views(flask_app)  # zot_server/views.py

    @flask_app.get("/swagger.json")
    def swagger_json() -> flask.Response:
        return flask.Response(json.dumps(spec), content_type="application/json")

    @flask_app.get("/openapi.json")
    def openapi_json() -> flask.Response:
        return flask.Response(
            json.dumps(contract.contract.openapi), content_type="application/json"
        )

    return app
