"""Docker token authentication: verify a JWT signed by the configured key, read its access.

The token server signs with the private key of ``http.auth.bearer.cert``; ``access`` claims
are ``[{"type": "repository", "name": "<repo>", "actions": ["pull", "push"]}]`` (Docker's
token spec, "JWT payload"). A missing right is answered with a challenge naming the scope.
"""

from __future__ import annotations

from typing import Any

# PyJWT and cryptography are imported where a bearer setup needs them, not with this module:
# `python -X importtime` put them at ~0.1 s of a start-up, and most servers use no bearer tokens.


class BearerError(ValueError):
    pass


def load_public_key(path: str):
    """The verification key from a PEM certificate (as zot expects) or a PEM public key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        raise BearerError("expected a readable certificate file") from None
    try:
        return x509.load_pem_x509_certificate(data).public_key()
    except ValueError:
        pass
    try:
        return load_pem_public_key(data)
    except ValueError:
        raise BearerError("expected a PEM certificate or public key") from None


def _algorithms(key) -> list[str]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ["ES256", "ES384", "ES512"]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ["EdDSA"]
    raise BearerError("expected an RSA, EC or Ed25519 key")


class BearerVerifier:
    def __init__(self, realm: str, service: str, cert_path: str) -> None:
        import jwt

        self._jwt = jwt
        self.realm = realm
        self.service = service
        self.key = load_public_key(cert_path)
        self.algorithms = _algorithms(self.key)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, expiry and audience hold; else BearerError."""
        jwt = self._jwt
        try:
            return jwt.decode(
                token,
                self.key,
                algorithms=self.algorithms,
                audience=self.service or None,
                options={"require": ["exp"], "verify_aud": bool(self.service)},
                leeway=5,
            )
        except jwt.InvalidTokenError as exc:
            raise BearerError(type(exc).__name__) from None

    @staticmethod
    def allows(claims: dict[str, Any], kind: str, name: str, action: str) -> bool:
        for entry in claims.get("access") or []:
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == kind and entry.get("name") in (name, "*"):
                actions = entry.get("actions") or []
                if action in actions or "*" in actions:
                    return True
        return False

    def challenge(self, scope: str, error: str | None = None) -> str:
        value = f'Bearer realm="{self.realm}",service="{self.service}",scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value
