"""The one YAML loader: alias bombs, recursion, depth, size and bad text are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.model.files import read_text
from runbook.model.yaml_files import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_YAML_BYTES,
    parse_yaml,
)
from tests.builders import alias_bomb

# A backstop only: without the caps these documents take minutes and gigabytes.
pytestmark = pytest.mark.timeout(60)


def reason(text: str) -> str:
    document, error = parse_yaml(text, "f.yml")
    assert error is not None, document
    assert "\n" not in str(error)
    return str(error)


def test_a_billion_laughs_is_refused_before_anything_walks_it() -> None:
    text = f"parameters: {alias_bomb()}\n"
    column = text.index("&l5") + 1  # the first level past the budget: 9**6 strings
    assert reason(text) == (
        f"f.yml:1:{column}: YAML refused: aliases expand to more than {MAX_ALIAS_NODES} nodes"
    )


def test_merge_keys_are_measured_like_aliases() -> None:
    lines = ["a: &a {x: 1}"]
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} {{<<: [{', '.join(['*a'] + [f'*l{level - 1}'] * 8)}]}}")
    text = "\n".join(lines).replace("*l0", "*a") + "\n"
    assert "aliases expand to more than" in reason(text)


def test_reasonable_aliases_still_load() -> None:
    hosts = "\n".join(f"  - {{<<: *defaults, name: web{i}}}" for i in range(2000))
    text = (
        f"defaults: &defaults {{{', '.join(f'k{i}: {i}' for i in range(10))}}}\nhosts:\n{hosts}\n"
    )
    document, error = parse_yaml(text, "f.yml")
    assert error is None
    assert isinstance(document, dict) and document["hosts"][1999]["k9"] == 9


def test_a_recursive_alias_is_refused() -> None:
    assert reason("a: &a [1, *a]\n") == "f.yml:1:4: YAML refused: an alias refers to itself"
    assert "refers to itself" in reason("a: &a {b: {c: *a}}\n")


def test_nesting_is_capped_also_through_aliases() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert f"nested deeper than {MAX_DEPTH} levels" in reason(deep)
    # Far past Python's recursion limit: still one line, no RecursionError.
    assert "nested deeper" in reason("[" * 50_000)
    half = MAX_DEPTH // 2 + 1
    through = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    assert "through aliases" in reason(through)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a: "\\ud800"\n', "lone surrogate"),
        ('a: "x\\0y"\n', "NUL"),
        ("a: !!python/object/apply:os.system [ls]\n", "could not determine a constructor"),
        ("a: 2016-13-45\n", "invalid YAML value"),
    ],
)
def test_strings_and_values_that_are_not_data_are_refused(text: str, expected: str) -> None:
    assert expected in reason(text)


def test_size_is_capped() -> None:
    assert reason("#" * (MAX_YAML_BYTES + 1)) == "f.yml: YAML refused: larger than 4 MiB"


def test_read_text_caps_bytes_and_wants_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_YAML_BYTES + 1))
    with pytest.raises(ValueError, match="larger than 4 MiB"):
        read_text(big)
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ValueError, match=r"not UTF-8 text \(invalid byte at offset 9\)"):
        read_text(latin)
