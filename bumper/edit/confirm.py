"""After splicing: the edited file must load to the same data except the intended values.

Renovate re-extracts after replacing; bumper goes further for every structural edit (a
key added or removed, a quote style changed, an inline patch rewritten): the original
and the edited text are both parsed and walked side by side. Every scalar must hold
the same value in the same style, every mapping the same keys, every sequence the same
items, except exactly what the edits meant (each :class:`~bumper.edit.shapes.Meaning`).
A block scalar cut short, a key landing in the wrong map or an alias now naming another
anchor all fail here, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable

from bumper.edit.scalars import reads_as_non_string
from bumper.edit.shapes import Edit
from bumper.edit.yamltext import Alias, Document, Mapping, Node, Scalar, Sequence


class Mismatch(Exception):
    """The edited data differs from the intended data; the message says where."""


def _splice(text: str, edits: list[Edit]) -> str:
    parts: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end, e.order)):
        parts += [text[position : edit.start], edit.new]
        position = edit.end
    return "".join(parts) + text[position:]


class Intent:
    """What the edits mean, keyed by the original nodes they touch."""

    def __init__(self, edits: Iterable[Edit]) -> None:
        self.values: dict[int, str] = {}
        self.inserted: dict[int, dict[str, str]] = {}
        self.removed: dict[int, set[str]] = {}
        inner: dict[int, tuple[Scalar, list[Edit]]] = {}
        for edit in edits:
            for meaning in edit.meanings:
                node_id = id(meaning.node)
                if meaning.action == "set":
                    self.values[node_id] = meaning.value or ""
                elif meaning.action == "insert":
                    self.inserted.setdefault(node_id, {})[meaning.key] = meaning.value or ""
                elif meaning.action == "remove":
                    self.removed.setdefault(node_id, set()).add(meaning.key.value)
                elif meaning.action == "inner":
                    scalar = meaning.node
                    assert isinstance(scalar, Scalar)
                    inner.setdefault(node_id, (scalar, []))[1].append(meaning.key)
        for node_id, (scalar, inner_edits) in inner.items():
            self.values[node_id] = _splice(scalar.value, inner_edits)


def _resolve(node: Node | None) -> Node | None:
    return node.target if isinstance(node, Alias) else node


def _where(node: Node) -> str:
    return f"offset {getattr(node, 'start', 0)}"


class _Comparison:
    def __init__(self, intent: Intent) -> None:
        self.intent = intent
        self.done: set[tuple[int, int]] = set()

    def node(self, old: Node | None, new: Node | None) -> None:
        old, new = _resolve(old), _resolve(new)
        if old is None or new is None:
            if old is not new:
                raise Mismatch("a value appeared or vanished")
            return
        pair = (id(old), id(new))
        if pair in self.done:
            return  # a node read again through an alias: compared once
        self.done.add(pair)
        if isinstance(old, Scalar):
            self.scalar(old, new)
        elif isinstance(old, Mapping):
            self.mapping(old, new)
        elif isinstance(old, Sequence):
            if not isinstance(new, Sequence) or len(old.items) != len(new.items):
                raise Mismatch(f"the sequence at {_where(old)} changed")
            for left, right in zip(old.items, new.items, strict=True):
                self.node(left, right)

    def scalar(self, old: Scalar, new: Node) -> None:
        if not isinstance(new, Scalar):
            raise Mismatch(f"the value at {_where(old)} is no longer a scalar")
        wanted = self.intent.values.get(id(old))
        if wanted is None:
            if (old.value, old.style, old.tag) != (new.value, new.style, new.tag):
                raise Mismatch(f"the value {old.value!r} at {_where(old)} changed")
            return
        if new.value != wanted:
            raise Mismatch(f"the value at {_where(old)} is {new.value!r}, not {wanted!r}")
        if new.style == "" and new.tag is None and reads_as_non_string(wanted):
            raise Mismatch(f"the value {wanted!r} at {_where(old)} would not load as a string")

    def mapping(self, old: Mapping, new: Node) -> None:
        if not isinstance(new, Mapping):
            raise Mismatch(f"the mapping at {_where(old)} is no longer a mapping")
        removed = self.intent.removed.get(id(old), set())
        inserted = self.intent.inserted.get(id(old), {})
        before = _pairs(old)
        after = _pairs(new)
        expected = {key for key in before if key not in removed} | set(inserted)
        if expected != set(after):
            raise Mismatch(f"the keys of the mapping at {_where(old)} changed")
        for key, value in after.items():
            if key in inserted:
                scalar = _resolve(value)
                if not isinstance(scalar, Scalar) or scalar.value != inserted[key]:
                    raise Mismatch(f"the key {key!r} added at {_where(old)} holds another value")
                if scalar.style == "" and reads_as_non_string(inserted[key]):
                    raise Mismatch(f"the key {key!r} added at {_where(old)} is not a string")
            else:
                self.node(before[key], value)


def _pairs(mapping: Mapping) -> dict[object, Node]:
    """Pairs by key: a scalar key by its text (by text and style when a plain and a quoted
    key share a text), any other key by its place (such keys are never edited)."""
    pairs: dict[object, Node] = {}
    for index, (key, value) in enumerate(mapping.pairs):
        key = _resolve(key)  # type: ignore[assignment]
        if isinstance(key, Scalar):
            name: object = key.value
            pairs[name if name not in pairs else (key.style, key.value)] = value
        else:
            pairs[("#", index)] = value
    return pairs


def confirm_intended(old: list[Document], new: list[Document], edits: Iterable[Edit]) -> None:
    """Raise :class:`Mismatch` unless ``new`` is ``old`` with exactly the edits' meaning."""
    if len(old) != len(new):
        raise Mismatch("the number of documents changed")
    comparison = _Comparison(Intent(edits))
    for left, right in zip(old, new, strict=True):
        comparison.node(left.root, right.root)
