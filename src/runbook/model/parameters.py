"""Declared parameters: their types and value coercion (inference: :mod:`parameter_inference`).

Bound values are kept in JSON form (str, int, float, bool, None and lists of those; dates
and datetimes as ISO strings) so a plan stores, hashes and injects exactly what was checked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runbook.errors import MetadataError, ParameterError, UsageError
from runbook.model.files import read_failure, read_text
from runbook.model.yaml_files import parse_yaml
from runbook.typing import JsonScalar, JsonValue

PARAMETER_TYPES: Final = ("str", "int", "float", "bool", "date", "datetime", "list", "choice")
SECRET_SCHEMES: Final = ("env", "file", "secret")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_SPEC_KEYS = frozenset({"type", "default", "required", "help", "secret", "choices"})


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter of a runbook."""

    name: str
    type: str = "str"
    default: JsonValue = None
    required: bool = False
    help: str = ""
    secret: bool = False
    choices: tuple[JsonScalar, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``metadata.runbook.parameters`` entry for this parameter."""
        entry: dict[str, Any] = {"type": self.type}
        if self.default is not None:
            entry["default"] = self.default
        if self.required:
            entry["required"] = True
        if self.help:
            entry["help"] = self.help
        if self.secret:
            entry["secret"] = True
        if self.choices:
            entry["choices"] = list(self.choices)
        return entry


def check_name(name: object, where: str = "") -> str:
    """Return ``name`` if it can be a parameter name, else raise ParameterError.

    A name must be a plain identifier and not a Python keyword: papermill interpolates names
    into code unchecked, so a crafted name would inject a statement.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ParameterError(
            str(name),
            "not a valid name (letters, digits and _, "
            "not starting with a digit, not a Python keyword)",
            where,
        )
    return name


def parse_specs(raw: object, where: str) -> dict[str, ParameterSpec]:
    """Validate a ``metadata.runbook.parameters`` mapping into specs.

    Errors name the offending path, e.g. ``…parameters.port.type: unknown type 'integer'``.
    """
    if not isinstance(raw, Mapping):
        raise MetadataError(where, "must be a mapping of parameter name to its declaration")
    specs: dict[str, ParameterSpec] = {}
    for name, entry in raw.items():
        path = f"{where}.{name}"
        try:
            check_name(name)
        except ParameterError as error:
            raise MetadataError(path, error.reason) from None
        specs[name] = _parse_spec(name, entry, path)
    return specs


def _parse_spec(name: str, entry: object, path: str) -> ParameterSpec:
    if not isinstance(entry, Mapping):
        raise MetadataError(path, "must be a mapping with at least a 'type'")
    unknown = sorted(set(entry) - _SPEC_KEYS)
    if unknown:
        raise MetadataError(
            f"{path}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(_SPEC_KEYS))})"
        )
    kind = entry.get("type", "str")
    if kind not in PARAMETER_TYPES:
        raise MetadataError(
            f"{path}.type", f"unknown type {kind!r} (one of {', '.join(PARAMETER_TYPES)})"
        )
    for flag in ("required", "secret"):
        if not isinstance(entry.get(flag, False), bool):
            raise MetadataError(f"{path}.{flag}", "must be true or false")
    help_text = entry.get("help", "")
    if not isinstance(help_text, str):
        raise MetadataError(f"{path}.help", "must be text")
    choices = entry.get("choices", [])
    if not isinstance(choices, list) or not all(is_scalar(c) for c in choices):
        raise MetadataError(f"{path}.choices", "must be a list of plain values")
    if kind == "choice" and not choices:
        raise MetadataError(f"{path}.choices", "a 'choice' parameter needs a non-empty list")
    spec = ParameterSpec(
        name=name,
        type=kind,
        required=entry.get("required", False),
        help=help_text,
        secret=entry.get("secret", False),
        choices=tuple(choices),
    )
    if entry.get("default") is None:
        return spec
    try:
        default = coerce(spec, entry["default"])
    except ParameterError as error:
        raise MetadataError(f"{path}.default", error.reason) from None
    return dataclasses.replace(spec, default=default)


def is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def coerce(spec: ParameterSpec, raw: object, where: str = "") -> JsonValue:
    """Check ``raw`` against ``spec`` and return it in JSON form.

    ``raw`` may be text from a command line or an already typed value from YAML. Raises
    ParameterError naming the parameter, what was wrong and what is expected.
    """
    check_text(spec.name, raw, where)
    try:
        return _COERCERS[spec.type](spec, raw)
    except (ValueError, TypeError, RecursionError) as error:
        if isinstance(error, ParameterError):
            raise
        shown = _shorten(repr(raw))
        raise ParameterError(
            spec.name, f"{shown} is not a valid {spec.type}: {error}", where
        ) from None


def check_text(name: str, value: object, where: str = "") -> None:
    """Refuse a value holding a string that is not storable text: a NUL or a lone surrogate.

    A lone surrogate is what Python makes of bytes on a command line that are not UTF-8;
    neither it nor NUL can be written to a notebook, the store or the audit log, so they are
    refused here, where the parameter is named, not deep in a write.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ParameterError(name, "a NUL character is not text", where)
            if any("\ud800" <= char <= "\udfff" for char in item):
                raise ParameterError(
                    name, "not valid text (a lone surrogate: bytes that are not UTF-8?)", where
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_str(spec: ParameterSpec, raw: object) -> str:
    if isinstance(raw, str):
        return str(raw)  # a plain str, not a subclass such as CommandLineText
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, bool | int | float):
        return str(raw)
    raise TypeError("expected text")


def _to_int(spec: ParameterSpec, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError("expected a whole number")
    return raw if isinstance(raw, int) else int(raw.strip(), 10)


def _to_float(spec: ParameterSpec, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TypeError("expected a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _to_bool(spec: ParameterSpec, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError("expected true/false, yes/no, on/off or 1/0")


def _to_date(spec: ParameterSpec, raw: object) -> str:
    if isinstance(raw, dt.datetime):
        raise TypeError("expected a date without a time")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, str):
        return dt.date.fromisoformat(raw.strip()).isoformat()
    raise TypeError("expected an ISO date such as 2026-01-31")


def _to_datetime(spec: ParameterSpec, raw: object) -> str:
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    if isinstance(raw, str):
        return dt.datetime.fromisoformat(raw.strip()).isoformat()
    raise TypeError("expected an ISO datetime such as 2026-01-31T08:00:00+00:00")


def _to_list(spec: ParameterSpec, raw: object) -> list[JsonValue]:
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            raw = json.loads(text)
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(raw, list | tuple):
        raise TypeError("expected a list (YAML/JSON list or comma-separated text)")
    items: list[JsonValue] = []
    for item in raw:
        if isinstance(item, dt.date):
            item = item.isoformat()
        if not is_scalar(item) or (isinstance(item, float) and not math.isfinite(item)):
            raise TypeError("list items must be plain text, numbers or booleans")
        items.append(item)
    return items


def _to_choice(spec: ParameterSpec, raw: object) -> JsonScalar:
    for choice in spec.choices:
        if raw == choice or (isinstance(raw, str) and raw == str(choice)):
            return choice
    allowed = ", ".join(str(c) for c in spec.choices)
    raise ParameterError(spec.name, f"{_shorten(repr(raw))} is not one of: {allowed}")


def _to_any(spec: ParameterSpec, raw: object) -> JsonValue:
    # An inferred parameter with no type (its default is computed): the value as given,
    # already in JSON form (see option_values.untyped_value).
    if isinstance(raw, str):
        return str(raw)
    if is_scalar(raw) or isinstance(raw, list | dict):
        return raw  # type: ignore[return-value]
    raise TypeError("expected plain text, a number, a boolean, a list or a mapping")


_COERCERS: Final[dict[str, Callable[[ParameterSpec, object], JsonValue]]] = {
    "any": _to_any,
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "list": _to_list,
    "choice": _to_choice,
}


def check_secret_reference(spec: ParameterSpec, raw: object, where: str = "") -> str:
    """Return a secret parameter's reference (``env:VAR``, ``file:PATH``, ``secret:NAME``).

    A secret's *value* must never be handed to a plan: it would be stored and injected in
    clear. Anything that is not a reference is refused.
    """
    check_text(spec.name, raw, where)
    if isinstance(raw, str):
        scheme, _, rest = raw.partition(":")
        if scheme in SECRET_SCHEMES and rest and "\x00" not in rest:
            return str(raw)
    raise ParameterError(
        spec.name,
        "is secret: pass a reference (env:VAR, file:PATH or secret:NAME), never the value "
        "itself; it is resolved when the plan runs",
        where,
    )


def default_secret_reference(spec: ParameterSpec) -> str:
    """The reference used for a secret parameter given no value: ``secret:<name>``."""
    return f"secret:{spec.name}"


def read_parameters_file(path: Path) -> dict[str, object]:
    """The mapping of parameter names to values in YAML (or JSON) file ``path``.

    Read through the one capped YAML loader; every problem is a UsageError naming the file.
    """
    try:
        text = read_text(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read parameters file: {read_failure(error)}") from None
    data, problem = parse_yaml(text, str(path))
    if problem is not None:
        raise UsageError(str(problem))
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise UsageError(f"{path}: must be a mapping of parameter names to values")
    return data
