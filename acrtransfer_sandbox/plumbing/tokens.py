"""Tokens the sandbox issues and accepts: JWTs signed with HS256, by the one signer here.

Real Entra ID signs with RS256 and publishes keys; az never verifies access tokens itself, it only reads
claims, so a symmetric key known to the one sandbox process is enough and keeps tokens unforgeable. The registry
front signs its ACR refresh and access tokens with the same signer under a key of its own.
"""
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Optional

TOKEN_LIFETIME_SECONDS = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Compact HS256 JWTs under one key: `claims_of` gives back the claims of a token this signer signed."""

    def __init__(self, key: bytes):
        self._key = key

    def sign(self, claims: dict) -> str:
        header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = _b64url(json.dumps(claims).encode())
        return f"{header}.{payload}.{self._signature(header, payload)}"

    def claims_of(self, token: str) -> Optional[dict]:
        """The token's claims when this signer signed it (expiry is the caller's to judge); None otherwise."""
        try:
            header, payload, signature = token.split(".")
            # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a garbled header).
            if not hmac.compare_digest(signature.encode(), self._signature(header, payload).encode()):
                return None
            claims = json.loads(_b64url_decode(payload))
        except (ValueError, json.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def _signature(self, header: str, payload: str) -> str:
        return _b64url(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())


class TokenIssuer:
    """The cloud's Entra ID tokens (ARM, Key Vault, storage audiences) under the sandbox's signing key."""

    def __init__(self, signing_key: str):
        self._signer = TokenSigner(signing_key.encode())

    def issue(self, *, issuer: str, tenant_id: str, audience: str, app_id: str, object_id: str) -> str:
        now = int(time.time())
        claims = {"aud": audience, "iss": issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_SECONDS,
                  "tid": tenant_id, "oid": object_id, "sub": object_id, "appid": app_id, "azp": app_id,
                  "idtyp": "app", "ver": "1.0", "uti": uuid.uuid4().hex}
        return self._signer.sign(claims)

    def verify(self, token: str) -> Optional[dict]:
        """The token's claims when this sandbox issued it and it has not expired; None otherwise."""
        claims = self._signer.claims_of(token)
        return claims if claims and claims.get("exp", 0) > time.time() else None


def bearer_token(authorization_header: Optional[str]) -> Optional[str]:
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
