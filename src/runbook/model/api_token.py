"""API tokens: random secrets shown once, kept only as their sha256, scoped to a role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from runbook.errors import ParameterError
from runbook.model.roles import Role

#: Every secret starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX: Final = "rbk_"  # noqa: S105 - a prefix, not a secret
_SECRET_BYTES: Final = 32
_ID_BYTES: Final = 6
_TAG_MAX: Final = 64


@dataclass(frozen=True)
class ApiToken:
    """A token as stored: never its secret, only the secret's sha256 (``secret_sha256``)."""

    id: str
    user: str
    role: Role
    secret_sha256: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    #: When given, the role acts only on runbooks carrying one of these tags.
    tags: frozenset[str] | None = None

    def usable(self, now: datetime) -> bool:
        """Whether the token may still authenticate at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``, as listings show it."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.usable(now) else "expired"


def check_token_tags(tags: Iterable[str], where: str) -> frozenset[str] | None:
    """The tags a token is narrowed to (None for none given); ParameterError naming ``where``
    for one that is empty or holds white space or a comma."""
    checked = set()
    for tag in tags:
        text = tag.strip()
        if not text or len(text) > _TAG_MAX or any(c.isspace() or c == "," for c in text):
            raise ParameterError(
                where, f"{tag!r} is not a tag (1-{_TAG_MAX} characters, no space or comma)"
            )
        checked.add(text)
    return frozenset(checked) or None


def new_secret() -> str:
    """A fresh secret: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def new_token_id() -> str:
    """A fresh token id (not secret: it names the token in listings and revocations)."""
    return "tok-" + secrets.token_hex(_ID_BYTES)


def secret_digest(secret: str) -> str:
    """The sha256 (hex) a secret is stored and looked up as."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(token: ApiToken, secret: str) -> bool:
    """Whether ``secret`` is the token's, compared in constant time."""
    return hmac.compare_digest(token.secret_sha256, secret_digest(secret))
