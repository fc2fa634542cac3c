"""Who is calling the service: the one order in which credentials are tried.

1. ``Authorization: Bearer …``: an API token (``rbk_…``), else an OpenID Connect token when
   an issuer is configured. A bearer that proves nobody is refused; it never falls through
   to a weaker kind.
2. The trusted proxy's user header, only when the peer address is one of
   ``[service] trusted_proxies``; from any other peer the header is ignored, as if absent.
3. Anonymous (a viewer), when ``[service] anonymous`` is on.

Anything else is a :class:`CredentialsError` (HTTP 401).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sqlalchemy import Engine

from runbook.errors import CredentialsError
from runbook.model.api_token import TOKEN_PREFIX
from runbook.model.roles import Principal, PrincipalKind, anonymous_principal
from runbook.model.settings_service import ServiceSettings
from runbook.orchestrate.oidc import OidcVerifier
from runbook.orchestrate.token_cache import TokenCache


@dataclass(frozen=True)
class Credentials:
    """What a request carries that may say who sent it, as the edge read it.

    ``proxy_user`` is the value of the header ``[service] proxy_header`` names, if sent;
    ``peer`` the address the connection came from (None when unknown).
    """

    bearer: str | None = None
    proxy_user: str | None = None
    peer: str | None = None


@dataclass(frozen=True)
class Authenticator:
    """The service's ways of telling who calls: its store, settings and issuer."""

    engine: Engine
    settings: ServiceSettings
    oidc: OidcVerifier | None = None
    tokens: TokenCache = field(init=False)

    def __post_init__(self) -> None:
        # API tokens are read through a short cache (its bound on revocations is documented
        # in runbook.orchestrate.token_cache).
        object.__setattr__(self, "tokens", TokenCache(self.engine))

    @classmethod
    def for_service(cls, engine: Engine, settings: ServiceSettings) -> Authenticator:
        """An authenticator for ``settings`` (with an issuer's verifier when configured)."""
        return cls(engine, settings, OidcVerifier(settings) if settings.oidc_issuer else None)

    def authenticate(self, credentials: Credentials) -> Principal:
        """The principal ``credentials`` prove; CredentialsError when they prove none."""
        if credentials.bearer is not None:
            return self._bearer(credentials.bearer)
        if credentials.proxy_user is not None and self.trusted_peer(credentials.peer):
            return Principal(credentials.proxy_user, self.settings.proxy_role, PrincipalKind.PROXY)
        if self.settings.anonymous:
            return anonymous_principal()
        raise CredentialsError("no credentials: send Authorization: Bearer <token>")

    def _bearer(self, bearer: str) -> Principal:
        if bearer.startswith(TOKEN_PREFIX):
            return self.tokens.principal(bearer)
        if self.oidc is not None:
            return self.oidc.principal(bearer)
        raise CredentialsError("the bearer token is not an API token, and no issuer is set")

    def trusted_peer(self, peer: str | None) -> bool:
        """Whether ``peer`` is one of the trusted proxies (never when proxy mode is off)."""
        if not self.settings.proxy_header or peer is None:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.settings.trusted_proxies)
