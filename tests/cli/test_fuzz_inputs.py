"""Fuzzing what a person types or edits by hand: runbook.toml, -p values, -f files, metadata.

Every example must end in exit 0 or one clear error line with a documented code
(:func:`tests.cli.fuzzing.assert_clear`): "internal error" is a bug.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runbook.model.repository import Repository
from runbook.orchestrate.initialize import CONFIG_TEXT
from tests.builders import write_runbook
from tests.cli.fuzzing import (
    FUZZ,
    Cli,
    Deep,
    any_text,
    argv_text,
    assert_clear,
    deep,
    document_text,
    hostile,
    json_text,
    mutated,
)

pytestmark = pytest.mark.slow

TYPED = {
    "s": {"type": "str"},
    "i": {"type": "int", "default": 3},
    "f": {"type": "float"},
    "b": {"type": "bool"},
    "d": {"type": "date"},
    "t": {"type": "datetime"},
    "l": {"type": "list"},
    "c": {"type": "choice", "choices": ["fast", "safe", 3]},
    "pw": {"type": "str", "secret": True},
}


def typed_runbook(repo: Repository) -> None:
    """runbooks/typed.ipynb declaring one parameter of each type, none required."""
    write_runbook(
        repo.runbooks_dir / "typed.ipynb",
        [("code", "s = ''\ni = 3", ["parameters"]), ("code", "print(s)", [])],
        parameters=TYPED,
    )


# --- runbook.toml -------------------------------------------------------------------------

#: Any character but a lone surrogate, which no TOML file can hold.
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_TEXT_CHARACTERS = st.characters(exclude_categories=_SURROGATES)

#: Valid TOML values of every type, so that most examples get past the parser to the code
#: that reads the settings.
toml_literals = st.recursive(
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["true", "false", "inf", "-inf", "nan", "1979-05-27", "07:32:00"]),
        st.text(_TEXT_CHARACTERS, max_size=20).map(json.dumps),
        st.sampled_from(['"90d"', '"-1d"', '"0s"', '"99999999999999999999d"', '"2w"', '"x"']),
        st.sampled_from(['"all"', '"none"', '"tagged"', '"pdf"', '"md"', '"../.."', '"/"']),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3).map(
            lambda table: "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"
        ),
    ),
    max_leaves=6,
)

TOML_VALUES = st.one_of(
    *[toml_literals] * 6,
    hostile.map(json_text),  # JSON: mostly not TOML
    st.sampled_from([60, 65, 999, 1001, 5000]).map(lambda n: "[" * n + "1" + "]" * n),
    st.sampled_from(
        [
            '"\\ud800"',
            '"\\u0000"',
            "1979-05-27T07:32:00Z",
            "1979-13-27",
            "inf",
            "nan",
            "0x_1",
            "{ a = 1 }",
            "[1, 'a']",
            '"""\n',
            "",
            "true",
            '"90d"',
            '"-1d"',
            '"99999999999999999999d"',
            '"0s"',
        ]
    ),
)


_TOML_KEY = re.compile(r"^(?:# )?([a-z_]+) = ")


@st.composite
def toml_files(draw: st.DrawFn, original: str) -> bytes:
    """runbook.toml as ``runbook init`` writes it, with values (mostly valid TOML of any
    type) replaced, commented-out keys set, a table added, or a line of garbage."""
    lines = original.splitlines()
    keys = [i for i, line in enumerate(lines) if _TOML_KEY.match(line)]
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.integers(0, 9))
        if choice < 8:
            index = draw(st.sampled_from(keys))
            key = _TOML_KEY.match(lines[index])
            if key is not None:  # not replaced by garbage already
                lines[index] = f"{key.group(1)} = {draw(TOML_VALUES)}"
        elif choice == 8:
            table = draw(st.sampled_from(["kernel", "catalog", "x"]))
            name = draw(st.sampled_from(["user", "a", "max_parallel"]))
            lines.append(f"[{table}]\n{name} = {draw(TOML_VALUES)}")
        else:
            lines[draw(st.integers(0, len(lines) - 1))] = draw(any_text)
    text = "\n".join(lines) + "\n"
    encoded = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 0:
        encoded = encoded.replace(b"tagged", b"tagg\xe9d")  # not UTF-8
    return encoded


@FUZZ
@given(content=toml_files(CONFIG_TEXT.format(name="ops")))
@example(content=b'[review]\nrequire = "tagg\xe9d"\n')  # not UTF-8
@example(content=b"[review]\ntags = " + b"[" * 5000 + b"]" * 5000 + b"\n")  # RecursionError
@example(content=b'[retention]\nruns = "99999999999999999999d"\n')  # OverflowError
@example(content=b'[retention]\nruns = "999999999d"\n')  # now - ttl: no date
def test_fuzz_runbook_toml(run_cli: Cli, repo: Repository, content: bytes) -> None:
    config = repo.root / "runbook.toml"
    original = config.read_bytes()
    if not (repo.runbooks_dir / "typed.ipynb").exists():
        typed_runbook(repo)
    config.write_bytes(content)
    try:
        for args in (
            ("list", "--json"),
            ("plan", "typed", "-p", "s", "x", "--json"),
            ("workflow", "list"),
            ("gc", "--dry-run"),
        ):
            assert_clear(run_cli(*args))
    finally:
        config.write_bytes(original)


# --- -p values ----------------------------------------------------------------------------

WORKFLOW = """workflows:
  - name: w
    parameters: {x: 1}
    notebooks:
      only: {filename: missing.ipynb, parameters: {x: x}}
"""

PLAYBOOK = """name: pb
version: "1"
parameters: {reason: routine}
inventory: {targets: [{name: web1}]}
steps: [{name: check, shell: "true {{ params.reason }}"}]
"""


@FUZZ
@example(name="b", value="\ud800", other="s", other_value="x")  # lone surrogate: not text
@example(name="l", value="[" * 3000 + "]" * 3000, other="s", other_value="x")  # RecursionError
@given(
    name=st.one_of(st.sampled_from(sorted(TYPED)), argv_text),
    value=argv_text,
    other=st.sampled_from(sorted(TYPED)),
    other_value=argv_text,
)
def test_fuzz_parameter_values(
    run_cli: Cli, repo: Repository, name: str, value: str, other: str, other_value: str
) -> None:
    if not (repo.root / "playbooks" / "pb.yml").exists():
        typed_runbook(repo)
        (repo.root / "workflows" / "w.yml").write_text(WORKFLOW)
        (repo.root / "playbooks" / "pb.yml").write_text(PLAYBOOK)
        assert run_cli("playbook", "import", "playbooks/pb.yml").code == 0
    assert_clear(run_cli("plan", "typed", "-p", name, value, "-p", other, other_value, "--json"))
    assert_clear(run_cli("workflow", "run", "w", "-p", "x", value, "--json"))
    assert_clear(run_cli("playbook", "run", "pb", "-p", "reason", value, "--json"))


# --- -f parameters files ------------------------------------------------------------------

PARAMETERS_FILE: dict[str, Any] = {
    "s": "text",
    "i": 3,
    "f": 1.5,
    "b": True,
    "d": "2026-01-31",
    "t": "2026-01-31T08:00:00+00:00",
    "l": ["a", 1],
    "c": "fast",
    "pw": "env:PW",
}


@FUZZ
@given(content=document_text(PARAMETERS_FILE))
@example(content=b"s: caf\xe9\n")  # not UTF-8
@example(content=b"s: !!timestamp x\n")  # PyYAML's own AttributeError
@example(content=b"s: !!bool x\n")  # PyYAML's own KeyError
@example(content=b"s: !!binary aGVsbG8=\n")  # bytes are not a parameter value
@example(content=b's: "\\ud800"\n')  # lone surrogate
@example(content=b"l: " + b"[" * 3000 + b"]" * 3000 + b"\n")  # RecursionError
def test_fuzz_parameters_files(run_cli: Cli, repo: Repository, content: bytes) -> None:
    typed_runbook(repo)
    (repo.root / "params.yml").write_bytes(content)
    assert_clear(run_cli("plan", "typed", "-f", "params.yml", "--json"))


# --- notebook metadata --------------------------------------------------------------------

METADATA: dict[str, Any] = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python", "version": "3.11"},
    "runbook": {
        "title": "Typed",
        "description": "d",
        "owner": "ops",
        "version": "1.0",
        "tags": ["critical"],
        "idempotent": True,
        "parameters": TYPED,
    },
}


def notebook_text(metadata: Any, cell_metadata: Any = None, source: str = "s = ''") -> str:
    """A one-cell notebook's JSON text."""
    cell: dict[str, Any] = {
        "cell_type": "code",
        "id": "c1",
        "metadata": {"tags": ["parameters"]} if cell_metadata is None else cell_metadata,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }
    return json_text({"cells": [cell], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


@st.composite
def notebooks(draw: st.DrawFn) -> str:
    """A notebook whose metadata (runbook, kernelspec, language_info) is mutated."""
    tags = draw(st.sampled_from([["parameters"], [], ["confirm"]]))
    cell_metadata = draw(st.one_of(hostile, deep())) if draw(st.integers(0, 5)) == 0 else None
    return notebook_text(
        draw(mutated(METADATA)),
        {"tags": tags} if cell_metadata is None else cell_metadata,
        draw(st.sampled_from(["s = ''\ni = 3", "x = [", "s: str = 'a'  # help"])),
    )


def _kernelspec(language: object) -> dict[str, Any]:
    return {**METADATA, "kernelspec": {**METADATA["kernelspec"], "language": language}}


@FUZZ
@given(text=notebooks())
@example(text=notebook_text(_kernelspec(1.0)))  # `show` highlighted with a float
@example(text=notebook_text({"runbook": {"title": "\ud800"}}))  # lone surrogate
@example(text=notebook_text(METADATA, cell_metadata=Deep(900, None)))
@example(text=notebook_text({"x": "DEEP"}).replace('"DEEP"', "[" * 5000 + "]" * 5000))
def test_fuzz_notebook_metadata(run_cli: Cli, repo: Repository, text: str) -> None:
    (repo.runbooks_dir / "typed.ipynb").write_bytes(text.encode("utf-8", "surrogatepass"))
    for args in (
        ("show", "typed"),
        ("show", "typed", "--json"),
        ("list", "--json"),
        ("check", "typed"),
        ("plan", "typed", "--json"),
    ):
        assert_clear(run_cli(*args))
