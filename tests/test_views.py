"""``zot_server/views.py``: which Connexion views are swapped for lean ones, and what they pass."""

from __future__ import annotations

from connexion.apps.flask import FlaskOperation

from zot_server import views


def _operation(fn) -> FlaskOperation:
    return FlaskOperation(fn, jsonifier=None, operation_id="op", pythonic_params=False)


def test_a_handler_of_path_parameters_gets_exactly_them():
    def handler(name, reference):
        return (name, reference)

    view = views._lean(_operation(handler), {"name", "reference"})
    assert view is not None
    assert view(name="a/b", reference="latest") == ("a/b", "latest")


def test_a_handler_wanting_more_keeps_connexions_view():
    def wants_query(name, n):
        return name

    def wants_anything(name, **kwargs):
        return name

    assert views._lean(_operation(wants_query), {"name"}) is None
    assert views._lean(_operation(wants_anything), {"name"}) is None


def test_every_registry_view_is_lean(tmp_path):
    from zot_server.app import create_app
    from zot_server.registry import Settings

    app = create_app(Settings(root=str(tmp_path), gc_interval=0)).app
    left = [e for e, v in app.view_functions.items() if isinstance(v, FlaskOperation)]
    assert left == []  # no handler of this API takes anything but path parameters
    assert "/.head_v2_name_manifests_reference" in app.extensions["zot.lean_views"]
