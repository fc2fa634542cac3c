"""Who may do what on the service: permissions, the roles that grant them, and principals.

Deny by default: a principal may do what its role grants and nothing else. A principal may
be narrowed to runbooks carrying one of some tags; outside them it may only read (and
never what :mod:`runbook.model.redaction` hides). The API checks every route against
:func:`allows`; the rules live here so every edge reads the same table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from runbook.errors import ParameterError
from runbook.model.identity import check_identity, identity_key
from runbook.model.review import IdentityKind


class Permission(StrEnum):
    """One thing a caller may ask the service to do."""

    #: Read runbooks, plans and runs.
    VIEW = "view"
    #: Read the audit log and check its chain.
    AUDIT = "audit"
    #: Bind a runbook to values: a plan.
    PLAN = "plan"
    #: Start, cancel and interrupt runs.
    RUN = "run"
    #: Decide a run's confirm and manual gates.
    CONFIRM = "confirm"
    #: Record a verdict on a plan, or a standing approval.
    REVIEW = "review"
    #: Create, list and revoke API tokens.
    TOKENS = "tokens"
    #: Import playbooks and other definitions into the store.
    IMPORT = "import"
    #: Read and change the service's settings.
    SETTINGS = "settings"
    #: Remove what is past its retention (``runbook gc``).
    GC = "gc"
    #: Start, use and stop one's own editing sessions, and one's autosaves.
    EDIT = "edit"


class Role(StrEnum):
    """A set of permissions given to a principal."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class PrincipalKind(StrEnum):
    """How the service established who a principal is."""

    TOKEN = "token"  # noqa: S105 - the name of an identity kind, not a secret
    OIDC = "oidc"
    PROXY = "proxy"
    ANONYMOUS = "anonymous"


_READ: Final = frozenset({Permission.VIEW})

#: Role → what it grants. A reviewer cannot run and an operator cannot review: the person
#: who plans is never the one whose role approves, whatever the identity kind.
ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.VIEWER: _READ,
    Role.OPERATOR: _READ
    | {Permission.AUDIT, Permission.PLAN, Permission.RUN, Permission.CONFIRM, Permission.EDIT},
    Role.REVIEWER: _READ | {Permission.AUDIT, Permission.REVIEW},
    Role.ADMIN: frozenset(Permission),
}

#: A principal's kind → the identity kind its reviews are recorded with (an anonymous caller
#: may not review; were it ever allowed to, its verdict would count as merely claimed).
_IDENTITY_KINDS: Final = {
    PrincipalKind.TOKEN: IdentityKind.TOKEN,
    PrincipalKind.OIDC: IdentityKind.OIDC,
    PrincipalKind.PROXY: IdentityKind.PROXY,
}

#: The user name every anonymous caller is recorded as.
ANONYMOUS_USER: Final = "anonymous"


#: Which role a principal holding several gets (an issuer's groups may map to many).
ROLE_PRECEDENCE: Final = (Role.ADMIN, Role.OPERATOR, Role.REVIEWER, Role.VIEWER)


def pick_role(roles: Iterable[Role]) -> Role | None:
    """The first of :data:`ROLE_PRECEDENCE` among ``roles``; None when there is none."""
    held = set(roles)
    return next((role for role in ROLE_PRECEDENCE if role in held), None)


def parse_role(value: str, where: str = "role") -> Role:
    """The role named ``value``; ParameterError naming the known roles otherwise."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ParameterError(where, f"{value!r} is not a role: one of {known}") from None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (as given, checked), its role, and how it was established.

    ``tags``, when given, narrows the role to runbooks carrying one of them.
    """

    user: str
    role: Role
    kind: PrincipalKind
    tags: frozenset[str] | None = field(default=None)

    def __post_init__(self) -> None:
        # Frozen: the checked (trimmed) form replaces what was given, once, here.
        object.__setattr__(self, "user", check_identity(self.user, f"{self.kind.value} user"))

    @property
    def key(self) -> str:
        """The user as compared (:func:`runbook.model.identity.identity_key`): the same
        person holds one key whether a token, a proxy or an issuer named them."""
        return identity_key(self.user)

    @property
    def identity_kind(self) -> IdentityKind:
        """How a verdict or approval this principal gives is recorded as established."""
        return _IDENTITY_KINDS.get(self.kind, IdentityKind.CLAIMED)

    @property
    def anonymous(self) -> bool:
        """Whether nobody identified themselves."""
        return self.kind is PrincipalKind.ANONYMOUS


def anonymous_principal() -> Principal:
    """The principal of a caller without credentials, when anonymous access is on."""
    return Principal(ANONYMOUS_USER, Role.VIEWER, PrincipalKind.ANONYMOUS)


def allows(
    principal: Principal, permission: Permission, runbook_tags: Iterable[str] | None = None
) -> bool:
    """Whether ``principal`` may do ``permission`` (on a runbook with ``runbook_tags``).

    Anonymous callers only ever read. A principal narrowed by tags keeps its read
    permission everywhere but acts only on runbooks with one of its tags.
    """
    if principal.anonymous and permission is not Permission.VIEW:
        return False
    if permission not in ROLE_PERMISSIONS[principal.role]:
        return False
    if principal.tags is None or runbook_tags is None or permission is Permission.VIEW:
        return True
    return bool(principal.tags & set(runbook_tags))


def principal_summary(principal: Principal) -> dict[str, object]:
    """The JSON form of a principal, with the permissions its role grants."""
    return {
        "user": principal.user,
        "role": principal.role.value,
        "kind": principal.kind.value,
        "tags": sorted(principal.tags) if principal.tags is not None else None,
        "permissions": sorted(
            p.value
            for p in ROLE_PERMISSIONS[principal.role]
            if not principal.anonymous or p is Permission.VIEW
        ),
    }
