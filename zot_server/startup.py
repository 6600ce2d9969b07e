"""Start-up work done once per spec instead of once per start: Connexion's meta-schema check.

Connexion checks the spec against the Swagger/OpenAPI meta-schema in every ``add_api``: 0.39 s of
a 0.55 s ``create_app`` (cProfile), paid by every server start and every test server. The
effective spec changes only with the swagger file, the corrections or Connexion itself, so a
check that passed is remembered under the storage root, keyed by a digest of the spec and of
Connexion's version; any other spec is checked exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

from connexion.spec import Specification


def _marker(spec: dict, root: str) -> str:
    digest = hashlib.sha256(version("connexion").encode())
    digest.update(json.dumps(spec, sort_keys=True).encode())
    return os.path.join(root, ".zot-server", "spec-checked", digest.hexdigest())


@contextmanager
def spec_checked_once(spec: dict, root: str) -> Iterator[None]:
    """Around ``add_api``: skip Connexion's check for a spec that passed it before."""
    marker = _marker(spec, root)
    if not os.path.exists(marker):
        yield  # checked by Connexion; an invalid spec raises and leaves no marker
        try:
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w") as f:
                f.write("checked by connexion.spec.Specification._validate_spec\n")
        except OSError:  # a read-only root: check again at the next start
            pass
        return
    original = Specification.__dict__["_validate_spec"]
    Specification._validate_spec = classmethod(lambda cls, spec: None)
    try:
        yield
    finally:
        Specification._validate_spec = original
