"""Values typed on the command line: ``-p NAME VALUE`` for workflows and playbooks."""

from __future__ import annotations

import datetime as dt

import yaml

from runbook.errors import UsageError
from runbook.model.yaml_files import YamlLimitError, load_yaml


def typed_value(name: str, raw: str) -> object:
    """``raw`` read as YAML (``3`` a number, ``[a, b]`` a list), else the text itself.

    YAML 1.1 reads yes/no/on/off as booleans: a region called "no" must stay text. Dates
    stay text too: they are not JSON, and a parameter typed date parses the text. A value
    over the YAML caps (an alias bomb, too deep) is refused, not taken as text.
    """
    try:
        value = load_yaml(raw)
    except YamlLimitError as error:
        raise UsageError(f"-p {name}: YAML refused: {error.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return raw
    if isinstance(value, dict):
        raise UsageError(f"-p {name} {raw!r}: a mapping is not a parameter value")
    if (
        value is None
        or isinstance(value, dt.date)
        or (isinstance(value, bool) and raw.lower() not in ("true", "false"))
    ):
        return raw
    return value
