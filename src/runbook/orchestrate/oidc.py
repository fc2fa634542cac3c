"""OpenID Connect bearer tokens: checked against the configured issuer's published keys.

The issuer's discovery document (``{issuer}/.well-known/openid-configuration``) names its
JWKS; PyJWT's :class:`jwt.PyJWKClient` fetches and caches the keys. A token must be signed
by one of them with an asymmetric algorithm (never ``none``, never a shared secret), be
issued by the issuer for the audience, and carry an unexpired ``exp``.

The issuer is the operator's configuration, like the store URL, not a caller's input: it is
fetched directly (https, or http on loopback, as the settings require), with a timeout.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any, Final

import jwt

from runbook.errors import CredentialsError, EgressError, ForbiddenError
from runbook.model.roles import Principal, PrincipalKind, Role, pick_role
from runbook.model.settings_service import ServiceSettings

#: Signatures by a key pair only: a symmetric algorithm would let the public key sign.
ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
_TIMEOUT: Final = 10
_MAX_DOCUMENT: Final = 1 << 20


class OidcVerifier:
    """Checks bearer tokens of one issuer; discovers its keys on first use."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._keys: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._keys is None:
                document = _discover(self.settings.oidc_issuer)
                self._keys = jwt.PyJWKClient(str(document["jwks_uri"]), timeout=_TIMEOUT)
            return self._keys

    def principal(self, token: str) -> Principal:
        """The principal a valid token names; CredentialsError for any invalid token."""
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=self.settings.oidc_audience or None,
                issuer=self.settings.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            # The issuer is down: the server's trouble, not the caller's credentials.
            raise EgressError(self.settings.oidc_issuer, str(error), refused=False) from None
        except (jwt.PyJWTError, OSError, ValueError) as error:
            raise CredentialsError(f"the OpenID Connect token is not valid: {error}") from None
        user = claims.get(self.settings.oidc_user_claim)
        if not isinstance(user, str) or not user.strip():
            raise CredentialsError(f"the token has no {self.settings.oidc_user_claim} claim")
        role = self._role(claims.get(self.settings.oidc_role_claim))
        if role is None:
            raise ForbiddenError(user, "no role", "use the service")
        return Principal(user, role, PrincipalKind.OIDC)

    def _role(self, claim: object) -> Role | None:
        values = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
        mapping = self.settings.oidc_roles
        roles: list[Role] = []
        for value in values:
            if not isinstance(value, str):
                continue
            if value in mapping:
                roles.append(mapping[value])
            elif value in {r.value for r in Role}:
                roles.append(Role(value))
        return pick_role(roles)


def _discover(issuer: str) -> dict[str, Any]:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        # The issuer is checked to be https or loopback http by the settings.
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:  # noqa: S310
            document = json.loads(response.read(_MAX_DOCUMENT))
    except (OSError, ValueError) as error:
        raise EgressError(url, f"discovery failed: {error}", refused=False) from None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise EgressError(url, f"does not describe the issuer {issuer}", refused=False)
    if not isinstance(document.get("jwks_uri"), str):
        raise EgressError(url, "names no jwks_uri", refused=False)
    return document
