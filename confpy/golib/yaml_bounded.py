"""Compose YAML within `confpy.limits`: what `yaml.compose` does, bounded and without recursion.

PyYAML's composer recurses once per level (20,000 levels are a RecursionError) and shares
an anchored node among its aliases, so a kilobyte of aliases stands for a billion nodes
the moment anyone walks the tree. This composer reads the parser's events onto a stack
(nesting costs no Python frames) and counts as it goes: every node is one, an alias is as
many nodes and levels as the node it names. Past MAX_DATA_NODES or MAX_DATA_DEPTH, or at
an alias inside the node it names, it stops with DataLimitError before anything is
expanded. libyaml's parser is used where PyYAML has it (ten times faster than PyYAML's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confpy.limits import MAX_DATA_DEPTH, MAX_DATA_NODES


class DataLimitError(Exception):
    """A YAML file goes past a limit of `confpy.limits`; `line` is where it did."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


@dataclass
class _Open:
    """A mapping or list being composed, and what it has cost so far."""

    node: Any
    anchor: str | None
    depth: int
    nodes_before: int
    deepest: int
    items: list[Any] = field(default_factory=list)


def compose_bounded(text: str, loader_class: Any = None) -> Any:
    """The YAML text's one document as PyYAML nodes, or None.

    `loader_class` resolves the scalars' tags (default: PyYAML's safe loader, libyaml's
    where there is one). DataLimitError past a limit; yaml.YAMLError (with its mark) for
    text that is not YAML.
    """
    import yaml

    if loader_class is None:
        loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        return _Composer(loader).document()
    finally:
        loader.dispose()


class _Composer:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.anchors: dict[str, Any] = {}
        self.cost: dict[int, tuple[int, int]] = {}
        """By id of an anchored node: the (nodes, levels) it expands to."""
        self.stack: list[_Open] = []
        self.nodes = 0
        self.root: Any = None

    def document(self) -> Any:
        import yaml

        while True:
            event = self.loader.get_event()
            mark: Any = event.start_mark  # libyaml's marks or PyYAML's: the stubs tell them apart
            if isinstance(event, yaml.StreamEndEvent):
                return self.root
            if isinstance(event, yaml.DocumentStartEvent) and self.root is not None:
                raise yaml.composer.ComposerError(
                    "expected a single document in the stream",
                    self.root.start_mark,
                    "but found another document",
                    mark,
                )
            if isinstance(event, yaml.AliasEvent):
                self.alias(event)
            elif isinstance(event, yaml.NodeEvent):
                self.start(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                self.close(event)

    def start(self, event: Any) -> None:
        """A scalar, or the start of a mapping or list."""
        import yaml

        if event.anchor is not None and (
            event.anchor in self.anchors or any(o.anchor == event.anchor for o in self.stack)
        ):
            raise yaml.composer.ComposerError(
                None, None, f"found duplicate anchor {event.anchor!r}", event.start_mark
            )
        depth = len(self.stack) + 1
        start: Any = event.start_mark
        end: Any = event.end_mark
        self.count(1, depth, start.line + 1)
        tag = event.tag
        if isinstance(event, yaml.ScalarEvent):
            if tag is None or tag == "!":
                tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            scalar = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            self.finish(scalar, event.anchor, depth)
            return
        kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], start, None, flow_style=event.flow_style)
        self.stack.append(_Open(node, event.anchor, depth, self.nodes - 1, depth))

    def close(self, event: Any) -> None:
        import yaml

        done = self.stack.pop()
        node = done.node
        node.end_mark = event.end_mark
        if isinstance(node, yaml.MappingNode):
            node.value = list(zip(done.items[0::2], done.items[1::2], strict=True))
        else:
            node.value = done.items
        if done.anchor is not None:
            self.cost[id(node)] = (self.nodes - done.nodes_before, done.deepest - done.depth + 1)
        self.finish(node, done.anchor, done.deepest)

    def alias(self, event: Any) -> None:
        """An alias costs what its node costs, at this depth; one inside its node is refused."""
        import yaml

        line = event.start_mark.line + 1
        node = self.anchors.get(event.anchor)
        if node is None:
            if any(o.anchor == event.anchor for o in self.stack):
                raise DataLimitError(f"alias *{event.anchor} refers to a node that holds it", line)
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {event.anchor!r}", event.start_mark
            )
        nodes, levels = self.cost.get(id(node), (1, 1))
        depth = len(self.stack) + levels
        self.count(nodes, depth, line, f"alias *{event.anchor}")
        self.finish(node, None, depth)

    def finish(self, node: Any, anchor: str | None, deepest: int) -> None:
        """A complete node (scalar, closed collection or alias) goes to its parent."""
        if anchor is not None:
            self.anchors[anchor] = node
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        parent.items.append(node)
        parent.deepest = max(parent.deepest, deepest)

    def count(self, nodes: int, depth: int, line: int, alias: str = "") -> None:
        """Add `nodes` reaching `depth`; refused past a limit (saying so of an `alias`)."""
        self.nodes += nodes
        expanded = f"{alias} expands to a node " if alias else ""
        if depth > MAX_DATA_DEPTH:
            raise DataLimitError(f"{expanded}nested more than {MAX_DATA_DEPTH} levels deep", line)
        if self.nodes > MAX_DATA_NODES:
            what = f"with {alias} expanded, " if alias else ""
            raise DataLimitError(
                f"{what}more than {MAX_DATA_NODES} keys, values and mappings", line
            )
