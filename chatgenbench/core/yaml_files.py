"""The one way ChatGenBench reads YAML that a user supplies: bounded before anything is built.

A deployment file, a submission's ``meta.yaml``, a key map or adapter options may come from anyone.
``yaml.safe_load`` builds no objects, but it follows aliases: 513 bytes of nested aliases (the
"billion laughs": ``a: &a [x, x, ...]``, ``b: &b [*a, *a, ...]``, nine levels) make a value of
10**9 items, which is cheap to load (the aliases share) and drives past 4 GB whatever walks it (a
check, a copy, an error message's ``repr``). :func:`read_yaml_file` and :func:`parse_yaml` refuse,
while composing and before any value is built:

- a file over ``max_bytes`` (the caller's limit; :data:`DEFAULT_MAX_BYTES` otherwise);
- more than :data:`MAX_ALIASES` aliases;
- a document that, with every alias expanded, holds more than :data:`MAX_NODES` nodes or
  :data:`MAX_EXPANDED_CHARS` characters of scalars;
- nesting deeper than :data:`MAX_DEPTH`;
- a scalar longer than :data:`MAX_STRING_CHARS` characters;

and turn every way the parser fails (a syntax error, bad UTF-8, an integer past Python's digit
limit) into the caller's :class:`chatgenbench.core.errors.ChatGenBenchError` subclass, one line
naming the file. No message shows more of a value than :func:`bounded_repr` gives (80
characters).
"""

from __future__ import annotations

import os
import reprlib
from pathlib import Path
from typing import Any

import yaml

from chatgenbench.core.errors import ChatGenBenchError, YamlFileError

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_NODES = 10_000
MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_STRING_CHARS = 16 * 1024
MAX_EXPANDED_CHARS = 1024 * 1024
#: The most characters of a value that a message shows.
SHOWN_VALUE_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, SHOWN_VALUE_CHARS, SHOWN_VALUE_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 8
_REPR.maxlong = 40


def bounded_repr(value: Any, limit: int = SHOWN_VALUE_CHARS) -> str:
    """Return a ``repr`` of ``value`` of at most ``limit`` characters, made without walking all
    of it (a list of 10**9 items, an integer of 10,000 digits or a deep nesting cost no more than
    a short one).

    >>> bounded_repr(list(range(100)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    >>> len(bounded_repr("x" * 10_000))
    80
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # a value's own __repr__ may fail; the message about it must not
        text = f"<a {type(value).__name__}>"
    return bounded_text(text, limit)


def bounded_text(text: str, limit: int = SHOWN_VALUE_CHARS) -> str:
    """Return ``text`` on one line (runs of white space as one space), cut to ``limit``
    characters (the last three then ``...``).

    >>> bounded_text("a  b" + "c" * 100, 10)
    'a bcccc...'
    """
    text = " ".join(text[: limit * 4 + 16].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class YamlLimitExceeded(yaml.YAMLError):
    """Raised while composing, when a document passes one of the limits (caught by the readers)."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that counts while it composes: aliases, depth, scalar lengths, and the
    nodes and characters the document would have with every alias expanded."""

    limits: dict[str, int] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        # (nodes, characters) of each composed node with its aliases expanded, by id
        self._sizes: dict[int, tuple[int, int]] = {}

    def fetch_flow_collection_start(self, token_class: type) -> None:
        # refused by the scanner already: each open '[' or '{' on one line may start a key, and
        # the scanner looks ahead over all of them (slow for thousands, before the composer)
        if self.flow_level >= self.limits["depth"]:
            raise YamlLimitExceeded(f"nested deeper than {self.limits['depth']} levels")
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        if alias:
            self._aliases += 1
            if self._aliases > self.limits["aliases"]:
                raise YamlLimitExceeded(f"more than {self.limits['aliases']} aliases (*name)")
        self._depth += 1
        if self._depth > self.limits["depth"]:
            raise YamlLimitExceeded(f"nested deeper than {self.limits['depth']} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if not alias:
            self._sizes[id(node)] = self._size_of(node)
        elif id(node) not in self._sizes:  # an alias inside the value it names: a cycle
            raise YamlLimitExceeded("an alias (*name) inside the value it names (a cycle)")
        return node

    def _size_of(self, node: yaml.Node) -> tuple[int, int]:
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > self.limits["string"]:
                raise YamlLimitExceeded(
                    f"a value of {len(node.value)} characters, over the "
                    f"{self.limits['string']}-character limit"
                )
            return 1, len(node.value)
        children = node.value
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        nodes, chars = 1, 0
        for child in children:
            child_nodes, child_chars = self._sizes.get(id(child), (1, 0))
            nodes, chars = nodes + child_nodes, chars + child_chars
        if nodes > self.limits["nodes"]:
            raise YamlLimitExceeded(
                f"over {self.limits['nodes']} values once its aliases are expanded "
                "(nested aliases, as in the 'billion laughs')"
            )
        if chars > self.limits["chars"]:
            raise YamlLimitExceeded(
                f"over {self.limits['chars']} characters once its aliases are expanded"
            )
        return nodes, chars


def parse_yaml(
    text: str,
    *,
    source: str = "YAML text",
    error: type[ChatGenBenchError] = YamlFileError,
    max_nodes: int = MAX_NODES,
    max_aliases: int = MAX_ALIASES,
    max_depth: int = MAX_DEPTH,
    max_string_chars: int = MAX_STRING_CHARS,
    max_expanded_chars: int = MAX_EXPANDED_CHARS,
) -> Any:
    """Parse one YAML document (the safe subset: no objects) within the limits of this module.

    ``source`` names the text in messages. Raises ``error`` (a
    :class:`chatgenbench.core.errors.ChatGenBenchError` subclass) for text that is not YAML or
    passes a limit; the message is one line, its parser detail bounded.
    """
    loader_class = type(
        "BoundedLoader",
        (_BoundedLoader,),
        {
            "limits": {
                "nodes": max_nodes,
                "aliases": max_aliases,
                "depth": max_depth,
                "string": max_string_chars,
                "chars": max_expanded_chars,
            }
        },
    )
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except YamlLimitExceeded as refused:
        raise error(f"{source}: refused: {refused}") from None  # the reason says what to change
    except (yaml.YAMLError, ValueError, RecursionError, MemoryError) as failed:
        # YAMLError: bad syntax; ValueError: an integer past Python's digit limit, a bad date;
        # RecursionError/MemoryError: a document the limits above did not foresee
        detail = bounded_text(f"{type(failed).__name__}: {failed}", 200)
        raise error(f"{source}: not readable YAML ({detail})") from None
    finally:
        loader.dispose()


def read_yaml_file(
    path: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    error: type[ChatGenBenchError] = YamlFileError,
    **limits: int,
) -> Any:
    """Read the YAML (or JSON) file at ``path`` within ``max_bytes`` and the limits of
    :func:`parse_yaml` (``limits`` may change them: ``max_nodes=...``).

    Raises ``error`` naming the file for one too large, not UTF-8 or not YAML, or past a limit;
    :class:`FileNotFoundError` (an ``OSError``) when it cannot be opened.
    """
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = path.stat().st_size
        raise error(f"{path}: {size} bytes, over the {max_bytes}-byte limit")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as failed:
        raise error(f"{path}: not UTF-8 text (byte {failed.start})") from None
    return parse_yaml(text, source=str(path), error=error, **limits)
