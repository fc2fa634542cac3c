"""Shared pieces of the CLI fuzz tests: hostile values, mutated documents, and the verdict.

The verdict is the README's promise: a command exits 0, or with a documented code and one
clear line; never "internal error", never a traceback. ``RUNBOOK_FUZZ_EXAMPLES`` raises the
example count of every fuzz test (e.g. 5000 for a long local run); the default keeps the
suite fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from tests.conftest import Result

Cli = Callable[..., Result]

EXAMPLES = int(os.environ.get("RUNBOOK_FUZZ_EXAMPLES", "200"))

#: Exit codes the README documents.
DOCUMENTED = frozenset({0, 1, 2, 3, 4, 130})

# The run_cli fixture and its repository are shared by the examples of one test on
# purpose: each example rewrites the input it fuzzes. No deadline: the machine is loaded.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: Any code point, lone surrogates included (Python's text can hold them; UTF-8 cannot).
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=40)
#: What a command line can carry: no NUL; undecodable bytes arrive as lone surrogates
#: (surrogateescape), so those are drawn often.
argv_text = st.one_of(
    st.text(st.characters(exclude_categories=(), exclude_characters="\x00"), max_size=40),
    st.text(st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1, max_size=4),
    st.sampled_from(["", "-", "--", "-1", "1e400", "nan", "inf", "2016-13-45", "[", "{a: 1}"]),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(),
    any_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True)
class Deep:
    """Lists and mappings nested ``depth`` levels around ``leaf``, written out by
    :func:`json_text`. Kept folded: hypothesis prints the examples it reports, and a real
    value 20,000 levels deep would break its printer."""

    depth: int
    leaf: Any

    def opening(self) -> str:
        return "".join("[" if level % 2 else '{"k":' for level in reversed(range(self.depth)))

    def closing(self) -> str:
        return "".join("]" if level % 2 else "}" for level in range(self.depth))


@st.composite
def deep(draw: st.DrawFn) -> Deep:
    """A list or mapping nested from a few levels to far past Python's recursion limit."""
    depth = draw(st.sampled_from([3, 60, 65, 200, 999, 1001, 3000, 20_000]))
    return Deep(depth, draw(scalars))


hostile = st.one_of(json_values, deep())


@st.composite
def mutated(draw: st.DrawFn, base: Any, values: st.SearchStrategy[Any] = hostile) -> Any:
    """``base`` with one to three places replaced by a hostile value, or a key added."""
    document = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        document = _mutate_once(draw, document, values)
    return document


def _mutate_once(draw: st.DrawFn, node: Any, values: st.SearchStrategy[Any]) -> Any:
    if isinstance(node, dict) and node and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(node)))
        if draw(st.integers(0, 5)) == 0:
            node[draw(any_text)] = draw(values)
        else:
            node[key] = _mutate_once(draw, node[key], values)
        return node
    if isinstance(node, list) and node and draw(st.integers(0, 3)):
        index = draw(st.integers(0, len(node) - 1))
        node[index] = _mutate_once(draw, node[index], values)
        return node
    if draw(st.integers(0, 2)) == 0:
        return _swapped(node)
    return draw(values)


def _swapped(node: Any) -> Any:
    """The same content in another shape: the type confusion validators forget."""
    if isinstance(node, dict):
        return list(node.values()) or [None]
    if isinstance(node, list):
        return {str(i): v for i, v in enumerate(node)} or {"0": None}
    if isinstance(node, str):
        return [node]
    return {"value": node}


def json_text(value: Any) -> str:
    """``value`` as JSON text, however deep (``json.dumps`` stops at its recursion limit).

    NaN and infinities are written as Python's ``json`` writes them (NaN, Infinity).
    """
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            parts.append(item.text)
        elif isinstance(item, Deep):
            stack.extend([_Raw(item.closing()), item.leaf, _Raw(item.opening())])
        elif isinstance(item, list):
            stack.append(_Raw("]"))
            for index, element in reversed(list(enumerate(item))):
                stack.append(element)
                if index:
                    stack.append(_Raw(","))
            stack.append(_Raw("["))
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            for index, (key, element) in reversed(list(enumerate(item.items()))):
                stack.append(element)
                stack.append(_Raw(json.dumps(str(key)) + ":"))
                if index:
                    stack.append(_Raw(","))
            stack.append(_Raw("{"))
        else:
            parts.append(json.dumps(item))
    return "".join(parts)


class _Raw:
    def __init__(self, text: str) -> None:
        self.text = text


def yaml_text(document: Any) -> str:
    """``document`` as YAML text, the way a person would write it (``\\u`` escapes and all)."""
    try:
        return yaml.safe_dump(document, allow_unicode=False, sort_keys=False)
    except (yaml.YAMLError, RecursionError):
        return json_text(document)  # JSON is YAML; deep values defeat the emitter


#: Short YAML that has broken parsers: aliases, merges, tags, dates, odd scalars.
TRICKY_YAML = [
    "a: &a [*a]",
    "[" * 5000,
    "a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]",
    "<<: {a: 1}",
    "? [a]\n: b",
    "!!python/object/apply:os.getcwd []",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "a: 2016-13-45",
    "a: 2016-01-01 25:00:00",
    "a: 1e400",
    "a: .nan",
    "a: 0x_",
    "a: !!timestamp x",
    'a: "\\ud800"',
    'a: "\\0"',
    "--- 1\n--- 2",
    "\ufeffa: 1",
    "a: 1\na: 2",
    "%YAML 9.9\n--- a",
    "a: !!float x",
    "a: *nope",
]


def document_text(base: Any) -> st.SearchStrategy[bytes]:
    """Bytes of a YAML file: ``base`` mutated, tricky YAML, or any text or bytes at all."""
    return st.one_of(
        mutated(base).map(lambda d: yaml_text(d).encode("utf-8", "surrogatepass")),
        mutated(base).map(lambda d: yaml_text(d).encode("utf-8", "surrogatepass")),
        st.sampled_from(TRICKY_YAML).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.text(any_char, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
    )


def assert_clear(result: Result) -> None:
    """Exit 0, or a documented code with a clear error; never internal, never a traceback.

    A clear error is one ``runbook: error: …`` line on stderr (its last line), or for the
    ``validate`` commands the errors listed on stdout and nothing on stderr.
    """
    shown = f"exit {result.code}\nstdout: {result.out[-2000:]}\nstderr: {result.err[-2000:]}"
    event(f"exit {result.code}")  # --hypothesis-show-statistics: how deep examples get
    assert result.code in DOCUMENTED, shown
    assert "internal error" not in result.err, shown
    assert "Traceback" not in result.err and "Traceback" not in result.out, shown
    if result.code == 0:
        return
    lines = result.err.splitlines()
    if lines:
        assert lines[-1].startswith("runbook: error: "), shown
        assert len(lines[-1]) > len("runbook: error: "), shown
    else:
        assert result.out.strip(), shown
