"""Reading catalog documents into a :class:`~runbook.model.catalog.catalog.Catalog`.

Every problem is a SpecError at ``FILE: dotted.path`` (``catalog/checkout.yml:
procedures[2].parameters.host``); all of them are collected, in document order, so
``runbook catalog validate`` lists every one at once. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from runbook.errors import SpecError
from runbook.model.catalog.catalog import (
    MODES,
    POLICIES,
    Catalog,
    ErrorCode,
    Matcher,
    Mode,
    Policy,
    Procedure,
    Service,
    check_name,
)
from runbook.model.catalog.mapping import scan_mapping

_SERVICE_KEYS = {"name", "owner", "team", "tier", "tags", "links", "labels"}
_CODE_KEYS = {"code", "title", "severity", "description", "user_sees", "check_first"}
_RULE_KEYS = {
    "name",
    "code",
    "code_pattern",
    "for",
    "mode",
    "match",
    "runbook",
    "parameters",
    "policy",
    "where",
}


def parse_catalog_files(files: Sequence[tuple[str, str]]) -> tuple[Catalog, list[SpecError]]:
    """The catalog of ``(file name, text)`` documents, and every error found."""
    from runbook.model.yaml_files import parse_yaml

    documents: list[tuple[str, dict[str, Any]]] = []
    errors: list[SpecError] = []
    for name, text in files:
        document, error = parse_yaml(text, name)
        if error is not None:
            errors.append(error)
        elif document is None:
            continue  # an empty file adds nothing
        elif not isinstance(document, dict):
            errors.append(
                SpecError(
                    name, "a catalog file is a mapping of services, error_codes and procedures"
                )
            )
        else:
            documents.append((name, document))
    catalog, more = build_catalog(documents)
    return catalog, errors + more


def build_catalog(
    documents: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[Catalog, list[SpecError]]:
    """The catalog of parsed documents, and every error found."""
    errors: list[SpecError] = []
    services: dict[str, Service] = {}
    codes: dict[str, ErrorCode] = {}
    procedures: list[Procedure] = []
    names: dict[str, str] = {}
    for file, document in documents:
        for key in sorted(set(document) - {"services", "error_codes", "procedures"}):
            errors.append(
                SpecError(f"{file}: {key}", "unknown key (services, error_codes, procedures)")
            )
        for where, item in _items(document, "services", file, errors):
            _collect(errors, _service, item, services, "service", where)
        for where, item in _items(document, "error_codes", file, errors):
            _collect(errors, _code, item, codes, "error code", where)
        for where, item in _items(document, "procedures", file, errors):
            try:
                rule = _procedure(item, where)
            except SpecError as error:
                errors.append(error)
                continue
            if rule.name in names:
                errors.append(
                    SpecError(
                        f"{where}.name",
                        f"procedure {rule.name!r} is already defined at {names[rule.name]}",
                    )
                )
                continue
            names[rule.name] = where
            procedures.append(rule)
    for rule in procedures:
        if rule.scope_kind == "service" and rule.scope_name not in services:
            errors.append(
                SpecError(f"{rule.where}.for", f"no service {rule.scope_name!r} in the catalog")
            )
    return Catalog(services, codes, tuple(procedures)), errors


def _items(
    document: Mapping[str, Any], key: str, file: str, errors: list[SpecError]
) -> list[tuple[str, dict[str, Any]]]:
    listed = document.get(key, [])
    if not isinstance(listed, list):
        errors.append(SpecError(f"{file}: {key}", "must be a list"))
        return []
    found = []
    for index, item in enumerate(listed):
        where = f"{file}: {key}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("where"), str) and file == "store":
            where = item["where"]
        if not isinstance(item, dict):
            errors.append(SpecError(where, "must be a mapping"))
        else:
            found.append((where, item))
    return found


def _collect(
    errors: list[SpecError],
    build: Callable[[Mapping[str, Any], str], Service | ErrorCode],
    data: Mapping[str, Any],
    into: dict[str, Any],
    what: str,
    where: str,
) -> None:
    try:
        item = build(data, where)
    except SpecError as error:
        errors.append(error)
        return
    key = item.name if isinstance(item, Service) else item.code
    if key in into:
        errors.append(SpecError(where, f"{what} {key!r} is defined twice"))
    else:
        into[key] = item


def _unknown(item: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(item) - allowed)
    if extra:
        raise SpecError(
            f"{where}.{extra[0]}", f"unknown key (expected {', '.join(sorted(allowed))})"
        )


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(f"{where}.{key}", "must be text")
    return str(value)


def _text_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(where, "must be a mapping of names to text")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or isinstance(item, bool | dict | list) or item is None:
            raise SpecError(f"{where}.{key}", "must be text")
        out[key] = str(item)
    return out


def _service(item: Mapping[str, Any], where: str) -> Service:
    _unknown(item, _SERVICE_KEYS, where)
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise SpecError(f"{where}.tags", "must be a list of names")
    return Service(
        name=check_name(item.get("name"), f"{where}.name"),
        owner=_text(item, "owner", where),
        team=_text(item, "team", where),
        tier=_text(item, "tier", where),
        tags=tuple(tags),
        links=_text_map(item.get("links"), f"{where}.links"),
        labels=_text_map(item.get("labels"), f"{where}.labels"),
    )


def _code(item: Mapping[str, Any], where: str) -> ErrorCode:
    _unknown(item, _CODE_KEYS, where)
    code = check_name(item.get("code"), f"{where}.code", "code", code=True)
    fields = {key: _text(item, key, where) for key in _CODE_KEYS - {"code"}}
    return ErrorCode(code=code, **fields)


def _procedure(item: Mapping[str, Any], where: str) -> Procedure:
    _unknown(item, _RULE_KEYS, where)
    name = check_name(item.get("name"), f"{where}.name")
    code, pattern = item.get("code"), item.get("code_pattern")
    if (code is None) == (pattern is None):
        raise SpecError(where, "a procedure names one of code (exact) or code_pattern (a regex)")
    if code is not None:
        check_name(code, f"{where}.code", "code", code=True)
    if pattern is not None:
        _regex(pattern, f"{where}.code_pattern")
    scope = item.get("for", "*")
    if not isinstance(scope, str) or not (
        scope == "*" or re.fullmatch(r"(service|tag):[A-Za-z0-9][A-Za-z0-9_.-]*", scope)
    ):
        raise SpecError(f"{where}.for", f"expected '*', service:NAME or tag:NAME, not {scope!r}")
    mode = item.get("mode", "override")
    if mode not in MODES:
        raise SpecError(f"{where}.mode", f"{mode!r} is not one of {', '.join(MODES)}")
    if scope == "*" and mode != "override":
        raise SpecError(f"{where}.mode", "a platform procedure has nothing to extend or suppress")
    policy = item.get("policy", "manual")
    if policy not in POLICIES:
        raise SpecError(f"{where}.policy", f"{policy!r} is not one of {', '.join(POLICIES)}")
    runbook = item.get("runbook")
    if mode == "suppress":
        if runbook is not None or item.get("parameters"):
            raise SpecError(f"{where}.runbook", "a suppressing procedure runs nothing")
    elif not isinstance(runbook, str) or not runbook.strip():
        raise SpecError(f"{where}.runbook", "name the runbook that answers this code")
    parameters = _text_map(item.get("parameters"), f"{where}.parameters")
    for key, value in parameters.items():
        if not key.isidentifier():
            raise SpecError(f"{where}.parameters.{key}", "a parameter name is an identifier")
        problems = scan_mapping(value)
        if problems:
            raise SpecError(f"{where}.parameters.{key}", problems[0])
    return Procedure(
        name=name,
        scope=scope,
        code=code,
        code_pattern=pattern,
        mode=cast(Mode, mode),
        matchers=_matchers(item.get("match"), f"{where}.match"),
        runbook=runbook,
        parameters=parameters,
        policy=cast(Policy, policy),
        where=where,
    )


def _matchers(value: object, where: str) -> tuple[Matcher, ...]:
    found = []
    for label, spec in _text_map(value, where).items():
        if spec.startswith("~"):
            _regex(spec[1:], f"{where}.{label}")
            found.append(Matcher(label, spec[1:], regex=True))
        else:
            found.append(Matcher(label, spec))
    return tuple(found)


def _regex(value: object, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise SpecError(where, "must be a regular expression")
    try:
        re.compile(value)
    except re.error as error:
        raise SpecError(where, f"not a regular expression: {error}") from None
