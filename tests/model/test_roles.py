"""Roles grant permissions, deny by default; principals compare as people, whatever their kind."""

from __future__ import annotations

import pytest

from runbook.errors import IdentityError, ParameterError
from runbook.model.roles import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    allows,
    anonymous_principal,
    parse_role,
    pick_role,
    principal_summary,
)


def test_each_role_grants_its_permissions_and_nothing_else() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.VIEW}
    operator = ROLE_PERMISSIONS[Role.OPERATOR]
    assert {Permission.PLAN, Permission.RUN, Permission.CONFIRM} <= operator
    assert Permission.REVIEW not in operator and Permission.TOKENS not in operator
    reviewer = ROLE_PERMISSIONS[Role.REVIEWER]
    assert Permission.REVIEW in reviewer and Permission.RUN not in reviewer
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission)
    for role in Role:
        principal = Principal("p", role, PrincipalKind.TOKEN)
        for permission in Permission:
            assert allows(principal, permission) == (permission in ROLE_PERMISSIONS[role])


def test_anonymous_only_ever_reads() -> None:
    nobody = anonymous_principal()
    assert [p for p in Permission if allows(nobody, p)] == [Permission.VIEW]
    # Even a misconfigured anonymous principal with a big role does not act.
    bold = Principal("anonymous", Role.ADMIN, PrincipalKind.ANONYMOUS)
    assert [p for p in Permission if allows(bold, p)] == [Permission.VIEW]
    assert principal_summary(bold)["permissions"] == ["view"]


def test_tags_narrow_what_a_principal_acts_on_but_not_what_it_reads() -> None:
    db_team = Principal("dana", Role.OPERATOR, PrincipalKind.OIDC, frozenset({"db"}))
    assert allows(db_team, Permission.RUN, ["db", "critical"])
    assert not allows(db_team, Permission.RUN, ["web"])
    assert allows(db_team, Permission.VIEW, ["web"])


def test_the_same_person_has_one_key_across_identity_kinds() -> None:
    by_token = Principal("alice@example.com", Role.OPERATOR, PrincipalKind.TOKEN)
    by_proxy = Principal("ALICE@example.com ", Role.REVIEWER, PrincipalKind.PROXY)
    by_issuer = Principal("\u0430lice@example.com", Role.REVIEWER, PrincipalKind.OIDC)
    assert by_token.key == by_proxy.key == by_issuer.key
    assert by_proxy.user == "ALICE@example.com"  # kept as given, trimmed


def test_an_unprintable_user_is_refused() -> None:
    with pytest.raises(IdentityError, match="proxy user"):
        Principal("a\u202eb", Role.VIEWER, PrincipalKind.PROXY)


def test_roles_are_parsed_and_picked_in_one_order() -> None:
    assert parse_role(" Operator ") is Role.OPERATOR
    with pytest.raises(ParameterError, match="one of viewer, operator, reviewer, admin"):
        parse_role("root")
    assert pick_role([Role.VIEWER, Role.REVIEWER, Role.OPERATOR]) is Role.OPERATOR
    assert pick_role([]) is None
