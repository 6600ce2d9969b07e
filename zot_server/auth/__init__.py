"""Authentication and access control as zot's config file defines them.

- :mod:`.htpasswd` bcrypt users, :mod:`.bearer` Docker token auth, :mod:`.policy` zot's
  ``accessControl``, :mod:`.needs` which action a request needs, :mod:`.security` the
  decision, :mod:`.middleware` the ASGI hook. See docs/auth.md.
"""

from .identity import ANONYMOUS, Identity
from .middleware import AuthMiddleware
from .security import Security

__all__ = ["ANONYMOUS", "AuthMiddleware", "Identity", "Security"]
