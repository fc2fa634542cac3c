"""The ``[service]`` settings: how ``runbook serve`` tells who is calling.

Same sources and rules as :mod:`runbook.model.settings`; read when the service starts, so a
mistake here stops ``runbook serve`` (one line naming the key) and nothing else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from runbook.errors import ConfigError
from runbook.model.roles import Role
from runbook.model.settings import _Inputs, _loading, _origin, _Settings, _where

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ServiceSettings(_Settings):
    """Identity on the service (``[service]``): proxy header, OpenID Connect, anonymous."""

    anonymous: bool = Field(
        default=False,
        description="Let callers without credentials read (as viewers); they never see "
        "the parameters, outputs or logs of runbooks tagged `private`.",
        json_schema_extra=_origin("service.anonymous"),
    )
    proxy_header: str = Field(
        default="",
        description='The header a trusted reverse proxy names the user in (e.g. "X-Forwarded-'
        'User"); empty: no proxy mode. Accepted only from `service.trusted_proxies`.',
        json_schema_extra=_origin("service.proxy_header"),
    )
    trusted_proxies: tuple[IPNetwork, ...] = Field(
        default=(),
        description="The addresses or CIDR networks of the reverse proxies whose "
        "`service.proxy_header` is believed; from any other peer it is ignored.",
        json_schema_extra=_origin("service.trusted_proxies"),
    )
    proxy_role: Role = Field(
        default=Role.VIEWER,
        description="The role of users named by the trusted proxy.",
        json_schema_extra=_origin("service.proxy_role"),
    )
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer whose bearer tokens are accepted (its JWKS is "
        "found through `/.well-known/openid-configuration`); https, or http on loopback. "
        "Empty: none.",
        json_schema_extra=_origin("service.oidc_issuer"),
    )
    oidc_audience: str = Field(
        default="",
        description="The audience (`aud`) OpenID Connect tokens must be issued for.",
        json_schema_extra=_origin("service.oidc_audience"),
    )
    oidc_user_claim: str = Field(
        default="sub",
        description="The claim naming the user of an OpenID Connect token.",
        json_schema_extra=_origin("service.oidc_user_claim"),
    )
    oidc_role_claim: str = Field(
        default="roles",
        description="The claim holding the role (text or list); its values are role names, "
        "or keys of `[service.oidc_roles]` (claim value = role). Several: the first of "
        "admin, operator, reviewer, viewer.",
        json_schema_extra=_origin("service.oidc_role_claim"),
    )
    oidc_roles: dict[str, Role] = Field(
        default={},
        description="`[service.oidc_roles]`: claim value → role, for issuers whose groups "
        "are not named after Runbook's roles.",
        json_schema_extra=_origin("service.oidc_roles"),
    )
    failed_auth_limit: int = Field(
        default=20,
        description="Failed authentications one address may make in a minute; past that its "
        "requests are refused unchecked (429, `Retry-After`) until the minute is over. "
        "0: no limit.",
        json_schema_extra=_origin("service.failed_auth_limit"),
    )

    @field_validator("failed_auth_limit", mode="before")
    @classmethod
    def _limit(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(_where("service.failed_auth_limit"), "must be a whole number >= 0")
        return value

    artifacts: str = Field(
        default="",
        description="Where the executed notebooks, logs and reports of the runs the service "
        "executes are kept for every server and client: a folder (relative to the "
        "repository), or an fsspec URL such as `s3://bucket/prefix`. Empty: the repository's "
        "`runs/` folder (one machine only).",
        json_schema_extra=_origin("service.artifacts"),
    )
    artifacts_endpoint: str = Field(
        default="",
        description="The endpoint of an S3-compatible object store (MinIO, Ceph…) for "
        "`service.artifacts`; empty: AWS. Credentials come from the standard `AWS_*` "
        "variables, never from this file.",
        json_schema_extra=_origin("service.artifacts_endpoint"),
    )
    artifacts_region: str = Field(
        default="",
        description="The region of the `service.artifacts` bucket; empty: the SDK's default.",
        json_schema_extra=_origin("service.artifacts_region"),
    )

    @field_validator("anonymous", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise ConfigError(_where("service.anonymous"), "must be true or false")
        return value

    @field_validator(
        "proxy_header",
        "oidc_issuer",
        "oidc_audience",
        "oidc_user_claim",
        "oidc_role_claim",
        "artifacts",
        "artifacts_endpoint",
        "artifacts_region",
        mode="before",
    )
    @classmethod
    def _text(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str) or "\x00" in value or "\n" in value:
            raise ConfigError(_where(f"service.{info.field_name}"), "must be one line of text")
        return value.strip()

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        loopback = parts.hostname in {"127.0.0.1", "::1", "localhost"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ConfigError(
                _where("service.oidc_issuer"), f"{value!r}: must be https (or http on loopback)"
            )
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, tuple):  # the default
            return value
        where = _where("service.trusted_proxies")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(where, "must be a list of addresses or CIDR networks")
        try:
            return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in value)
        except ValueError as error:
            raise ConfigError(where, str(error)) from None

    @field_validator("proxy_role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        return _role_named(value, "service.proxy_role")

    @field_validator("oidc_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if not isinstance(value, dict):
            raise ConfigError(_where("service.oidc_roles"), "must be a table")
        if all(isinstance(v, Role) for v in value.values()):  # the default, or parsed
            return value
        return {str(k): _role_named(v, f"service.oidc_roles.{k}") for k, v in value.items()}


def _role_named(value: object, key: str) -> Role:
    if isinstance(value, Role):
        return value
    try:
        return Role(value) if isinstance(value, str) else Role("")
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ConfigError(_where(key), f"{value!r} is not a role: one of {known}") from None


def load_service_settings(
    root: Path, table: Mapping[str, Any], environ: Mapping[str, str]
) -> ServiceSettings:
    """The ``[service]`` settings (``table``) of the repository at ``root``."""
    where = str(root / "runbook.toml")
    inputs = _Inputs(root=root, where=where, data={"service": table}, environ=environ)
    with _loading(inputs):
        return ServiceSettings()
