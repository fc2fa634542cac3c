"""The one way Runbook reads YAML: safe tags, a byte cap, a nesting cap and an alias budget.

Every YAML document Runbook reads goes through :func:`parse_yaml` (workflows, playbooks,
inventory files, ``-f`` parameters files, ``-p`` values, the catalog), files read with
:func:`runbook.model.files.read_text`. ``yaml.safe_load``
alone refuses code-running tags but not a *billion laughs*: nine nested levels of nine
aliases are 500 bytes that load in a blink (aliases share one object) and then expand to
387 million values in the first code that walks them — validation, ``json.dumps`` into a
run record. So the composed node graph is measured before anything is built: how many
nodes the document has once every alias is expanded, and how deep it nests. The walk is
linear in the *unexpanded* graph (sizes are memoised per node), so measuring a bomb is as
cheap as reading it.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runbook.errors import SpecError
from runbook.model.files import MAX_TEXT_BYTES

#: Largest YAML document read, in bytes (as :func:`runbook.model.files.read_text` reads
#: files). A workflows file or playbook is a few kilobytes; an inventory file of ten
#: thousand hosts is about one megabyte.
MAX_YAML_BYTES: Final = MAX_TEXT_BYTES

#: Most nodes a document may gain by expanding its aliases. Merging a 10-key ``defaults``
#: into two thousand hosts (``<<: *defaults``) adds about 42,000.
MAX_ALIAS_NODES: Final = 100_000

#: Deepest nesting of collections, counted through aliases. Runbook's own documents nest
#: fewer than ten levels; past a few hundred, Python's recursion limit breaks the code that
#: walks the value (validation, JSON, the injected parameters cell).
MAX_DEPTH: Final = 64


class YamlLimitError(yaml.MarkedYAMLError):
    """A document over one of the caps (nesting, alias expansion, odd characters)."""


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops composing past :data:`MAX_DEPTH` levels.

    The pure-Python loader on purpose: its composer is the one whose depth can be bounded
    here (libyaml's recursive C composer cannot, and would crash the process instead).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlLimitError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_timestamp(loader: _Loader, node: Node) -> object:
    # PyYAML's own crashes (AttributeError) on an explicit `!!timestamp` that is no date.
    if not isinstance(node, ScalarNode) or not loader.timestamp_regexp.match(node.value):
        raise yaml.constructor.ConstructorError(
            None, None, "not a timestamp (expected e.g. 2026-01-31)", node.start_mark
        )
    return loader.construct_yaml_timestamp(node)


def _construct_bool(loader: _Loader, node: Node) -> object:
    # PyYAML's own raises KeyError on an explicit `!!bool` that is no boolean.
    if not isinstance(node, ScalarNode) or node.value.lower() not in loader.bool_values:
        raise yaml.constructor.ConstructorError(
            None, None, "not a boolean (expected true or false)", node.start_mark
        )
    return loader.construct_yaml_bool(node)


def _refuse_tag(loader: _Loader, node: Node) -> object:
    # Bytes, sets and ordered pairs are not plain data: nothing downstream (validation,
    # JSON for the store, the injected cell) expects them.
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not accepted (plain data only)",
        node.start_mark,
    )


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


def parse_yaml(text: str, where: str) -> tuple[object, SpecError | None]:
    """``text`` parsed as YAML, or a SpecError placed at ``where`` (``:line:column`` if known).

    Tags such as ``!!python/object/apply`` are refused by the safe loader, never executed;
    so are documents over :data:`MAX_YAML_BYTES`, nested deeper than :data:`MAX_DEPTH`,
    expanding by more than :data:`MAX_ALIAS_NODES` nodes through aliases, with a recursive
    alias, or with a string that is not valid text (a lone surrogate, a NUL). Never raises.
    """
    try:
        return load_yaml(text), None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = error.problem or error.context or "malformed"
        verdict = "YAML refused" if isinstance(error, YamlLimitError) else "invalid YAML"
        return None, SpecError(place, f"{verdict}: {problem}")
    except yaml.YAMLError as error:
        return None, SpecError(where, f"invalid YAML: {' '.join(str(error).split())}")
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        # PyYAML builds dates itself: `2016-13-45` raises ValueError from datetime.
        return None, SpecError(where, f"invalid YAML value: {error}")


def load_yaml(text: str) -> object:
    """``text`` parsed under the caps of :func:`parse_yaml`, raising what it reports.

    Raises ``yaml.YAMLError`` (:class:`YamlLimitError` for a cap), or ValueError, TypeError,
    OverflowError or RecursionError for a value PyYAML cannot build.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlLimitError(None, None, f"larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def compose_yaml(text: str) -> Node | None:
    """The node graph of ``text`` without building any value, or None if it does not parse.

    Composing is linear in the text whatever its aliases do (an alias is a second reference
    to one node), so a refused document can still be looked into, e.g. for the names it
    declares. Nesting stays capped.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        return None
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
    except yaml.YAMLError:
        return None
    try:
        return loader.get_single_node()
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    finally:
        loader.dispose()


def _measure(root: Node) -> None:
    """Refuse a node graph whose expansion is too large or too deep, or that holds bad text.

    Iterative and memoised per node: an alias is a second reference to the same node, so its
    expanded size is computed once however often it is used.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            depths[key] = 1 + max((depths[id(child)] for child in children), default=0)
            if depths[key] > MAX_DEPTH:
                reason = f"nested deeper than {MAX_DEPTH} levels (through aliases)"
                raise YamlLimitError(None, None, reason, node.start_mark)
            # Every node below is measured, so len(sizes) bounds their distinct count: past
            # this, the aliases below alone exceed the budget. Stops at the first such node.
            if sizes[key] - len(sizes) > MAX_ALIAS_NODES:
                raise _too_many(node)
            continue
        if key in sizes:
            continue
        if isinstance(node, ScalarNode):
            _check_text(node)
            sizes[key], depths[key] = 1, 0
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YamlLimitError(None, None, "an alias refers to itself", child.start_mark)
            if id(child) not in sizes:
                stack.append((child, False))
    if sizes[id(root)] - len(sizes) > MAX_ALIAS_NODES:
        raise _too_many(root)


def _too_many(node: Node) -> YamlLimitError:
    reason = f"aliases expand to more than {MAX_ALIAS_NODES} nodes"
    return YamlLimitError(None, None, reason, node.start_mark)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_text(node: ScalarNode) -> None:
    value: str = node.value
    if "\x00" in value:
        raise YamlLimitError(None, None, "a string holds a NUL character", node.start_mark)
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise YamlLimitError(
            None, None, "a string holds a lone surrogate (not Unicode text)", node.start_mark
        )


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether plain data nests collections deeper than ``limit`` (iteratively measured).

    For JSON read elsewhere (inventory files, commands and servers), held to the YAML cap:
    ``json.loads`` accepts nearly a thousand levels, which code walking the value later
    (templates, deep copies, the run record) cannot.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        if children and depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
