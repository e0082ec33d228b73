"""Parsing a user's YAML or JSON document (an MCIS request, a policy, an RTT file) safely: every
way it can be malformed or hostile is one DocumentError with a one-line reason, never a stack
trace: syntax errors, nesting deeper than the parser's recursion, numbers too long to convert,
and YAML alias bombs (a few lines that expand to millions of nodes)."""

from __future__ import annotations

import json
from typing import Any

import yaml

MAX_NODES = 100_000
"""Nodes a YAML document may hold once its aliases are expanded."""


class DocumentError(ValueError):
    """The document cannot be read; the message says why in one line."""


def parse_document(text: str, as_json: bool = False) -> Any:
    """The data of a YAML (or, with `as_json`, JSON) document; None for an empty YAML one."""
    try:
        return json.loads(text) if as_json else _load_yaml(text)
    except DocumentError:
        raise
    except RecursionError:
        raise DocumentError("it is nested too deeply") from None
    except (yaml.YAMLError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise DocumentError(_one_line(exc)) from None


def _one_line(exc: Exception) -> str:
    """`found unexpected end of stream (line 3, column 1)`: what the parser says, and where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        context = f"{exc.context}, " if exc.context and exc.problem.startswith("but") else ""
        return f"{context}{exc.problem}{where}"
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _load_yaml(text: str) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise DocumentError(
                f"it expands to more than {MAX_NODES} values (aliases repeated too often)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document holds with every alias expanded (each node object counted
    once, iteratively: a deep document cannot exhaust the stack here). DocumentError for an
    alias inside itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_NODES:
                return sizes[id(node)]
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise DocumentError("an alias refers to the value that holds it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack += [(c, False) for c in children if id(c) not in sizes]
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
