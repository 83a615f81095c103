"""Reading YAML configuration files into plain data.

Every way a file can fail to be a configuration (missing, unreadable, not UTF-8, not YAML,
a key written twice) is a :class:`streams.errors.ConfigError` naming the file.
"""

from __future__ import annotations

from collections.abc import Hashable

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from streams.errors import ConfigError


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error.

    PyYAML keeps the last of duplicate keys silently; in a configuration that hides
    the first value (two ``threshold_s`` lines in one queue) from whoever reads the file.
    """

    def compose_document(self) -> Node | None:
        """The document's node graph, refused if its aliases would expand it beyond
        :data:`MAX_VALUES` values or make it contain itself (an "alias bomb" of a few hundred
        bytes otherwise takes minutes and gigabytes to read)."""
        node: Node | None = super().compose_document()
        if node is not None:
            _expanded_size(node, {}, set())
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` may legitimately repeat keys it merges
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


MAX_VALUES = 100_000
"""Most values a configuration document may hold once its aliases are expanded."""


def _expanded_size(node: Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    if id(node) in open_nodes:
        raise yaml.composer.ComposerError(
            None, None, "found an alias that refers to a node containing it", node.start_mark
        )
    size = 1
    if isinstance(node, SequenceNode | MappingNode):
        open_nodes.add(id(node))
        children: list[Node] = (
            list(node.value)
            if isinstance(node, SequenceNode)
            else [part for pair in node.value for part in pair]
        )
        for child in children:
            size += _expanded_size(child, sizes, open_nodes)
            if size > MAX_VALUES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"found aliases expanding to more than {MAX_VALUES:,} values",
                    node.start_mark,
                )
        open_nodes.discard(id(node))
    sizes[id(node)] = size
    return size


def read(source: str, named_by: str | None = None) -> object:
    """The YAML document in the file ``source``; an empty file reads as None.

    ``named_by`` (e.g. ``FLOORWATCH_CONFIG``) is mentioned when the file does not exist, so
    that a stale variable is easy to spot.
    """
    try:
        with open(source, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        named = f" (named by {named_by})" if named_by else ""
        raise ConfigError(source, "", f"no such configuration file{named}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(source, "", f"expected UTF-8 text, byte {error.start} is not") from None
    except OSError as error:
        raise ConfigError(source, "", f"cannot read the file: {error.strerror}") from None
    return parse(text, source)


def parse(text: str, source: str) -> object:
    """The YAML document in ``text``, read from ``source``; an empty text reads as None."""
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "not valid YAML"
        raise ConfigError(source, "", f"invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(source, "", f"invalid YAML: {error}") from None
