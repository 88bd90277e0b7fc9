"""What every shape yields: a Site (one image reference in a file) that can rewrite itself.

A site knows the reference as the file spells it (name, tag, digest) and how to turn a
wanted (name, tag, digest) into text edits. Edits are spans of the decoded text; each
also says what it means for the data (a scalar set, a key added or removed), so the
edited file can be checked to load to the same data except the intended values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bumper.edit.scalars import needs_quotes, render_scalar
from bumper.edit.yamltext import (
    Mapping,
    Node,
    Scalar,
    Sequence,
    content_end,
    line_end,
    line_start,
    newline_of,
)
from bumper.errors import BumperError


class CannotEdit(BumperError):
    """A site found that its edit cannot be written safely: the reference is skipped
    with this message as the reason."""


@dataclass(frozen=True)
class Meaning:
    """What an edit does to the data: ``set`` a scalar's value, ``insert`` a key into a
    mapping, ``remove`` one (``node`` is the scalar or the mapping; ``key`` the key's
    text, or the key scalar being removed), or make an ``inner`` edit (``key``) to the
    text a string holds (an inline patch)."""

    action: str
    node: Node
    value: str | None = None
    key: Any = None


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``new``; an insertion has start == end.

    ``structural`` edits (keys added or removed, a scalar whose span is not plainly its
    text) are confirmed by parsing the result again; a same-style scalar rewrite over a
    span checked to hold exactly that scalar cannot change the document's structure.
    """

    start: int
    end: int
    new: str
    structural: bool = True
    # At one offset, a value written into an empty scalar (0) goes before an added key (1).
    order: int = 0
    meanings: tuple[Meaning, ...] = ()


@dataclass(frozen=True)
class Wanted:
    """The reference a site should hold after the bump; None means absent."""

    name: str
    tag: str | None
    digest: str | None


class Site:
    """One image reference in a file. Subclasses say where its parts live.

    ``offset`` is where the reference is reported (``file:line``) by ``images`` and by
    ``set-image`` alike: where its tag is written, else its digest, else its name (the
    line a bump changes).
    """

    shape = "image"

    def __init__(self, offset: int, name: str, tag: str | None, digest: str | None) -> None:
        self.offset = offset
        self.name = name
        self.tag = tag
        self.digest = digest
        self.problem: str | None = None  # set when the site must not be edited (templates…)
        # A plain tag that YAML reads as a number (``tag: 1.20`` is 1.2) is not the tag
        # string yet: it is rewritten quoted even when its text already matches.
        self.requote = False

    @property
    def current(self) -> Wanted:
        return Wanted(self.name, self.tag, self.digest)

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        """Text edits that make this site hold ``wanted``."""
        raise NotImplementedError

    def scalars(self) -> list[Scalar]:
        """The scalars this reference is read from (and written to)."""
        raise NotImplementedError

    def holders(self) -> list[Node]:
        """The collections this reference lives in (its mapping, or the sequence holding
        its string)."""
        raise NotImplementedError

    def reads(self) -> list[tuple[Node, str | int]]:
        """(collection, key or index) of every value the reference reads: a value also
        read from anywhere else would change there too."""
        raise NotImplementedError


def splice(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (insertions at one offset keep their order)."""
    ordered = sorted(
        enumerate(edits), key=lambda item: (item[1].start, item[1].end, item[1].order, item[0])
    )
    parts: list[str] = []
    position = 0
    for _, edit in ordered:
        if edit.start < position:
            raise AssertionError(f"overlapping edits at offset {edit.start}")
        parts.append(text[position : edit.start])
        parts.append(edit.new)
        position = edit.end
    parts.append(text[position:])
    return "".join(parts)


def report_offset(*candidates: Node | None, default: int) -> int:
    """The offset of the first value present (tag, digest, name …), else ``default``.
    Given as written: a value that is an alias is reported where the alias reads it,
    not at its anchor."""
    for node in candidates:
        if node is not None:
            return node.start
    return default


def present_value(scalar: Scalar | None) -> str | None:
    """A map's value as a reference part: None when missing, null or empty."""
    if scalar is None or scalar.is_null or scalar.value == "":
        return None
    return scalar.value


def retyped(scalar: Scalar | None) -> bool:
    """True for a plain scalar whose text YAML would not read as a string."""
    return (
        scalar is not None
        and scalar.style == ""
        and not scalar.is_null
        and needs_quotes(scalar.value)
    )


def replace_scalar(text: str, scalar: Scalar, value: str) -> Edit:
    """Write ``value`` over a scalar, keeping its quote style (plain values YAML would
    read as non-strings get double quotes)."""
    # A ':' that the value already had plain inside {…} stays plain (the file is YAML 1.2);
    # a new one is quoted for libyaml-based readers.
    flow = scalar.flow and ":" not in scalar.value
    rendered = render_scalar(value, scalar.style, flow=flow)
    meaning = (Meaning("set", scalar, value),)
    if scalar.start == scalar.end:
        # An empty value (``tag:``, ``tag: &t``): the new text needs a space before it.
        before = text[scalar.start - 1] if scalar.start else " "
        prefix = "" if before in " \t" else " "
        return Edit(scalar.start, scalar.end, prefix + rendered, meanings=meaning)
    span = text[scalar.start : scalar.end]
    if scalar.style == "":
        exact = span == scalar.value and rendered == value
    else:
        exact = len(span) >= 2 and span[0] == span[-1] == scalar.style == rendered[0]
    return Edit(scalar.start, scalar.end, rendered, structural=not exact, meanings=meaning)


def render_pair(mapping: Mapping, key: str, value: str) -> str:
    """``key: value`` in the style of the mapping's keys (JSON stays JSON)."""
    first = mapping.pairs[0][0] if mapping.pairs else None
    style = first.style if isinstance(first, Scalar) and first.style in ("'", '"') else ""
    if style:
        return f"{render_scalar(key, style)}: {render_scalar(value, style)}"
    return f"{key}: {render_scalar(value, '', flow=mapping.flow)}"


def _break_before(text: str, offset: int) -> str:
    """The line break that ends just before ``offset`` ("" when there is none)."""
    if text[offset - 2 : offset] == "\r\n":
        return "\r\n"
    return text[offset - 1] if offset and text[offset - 1] in "\r\n" else ""


def insert_key(
    text: str, mapping: Mapping, key: str, value: str, after: Scalar | None = None
) -> Edit:
    """Add ``key: value`` after the pair whose key is ``after`` (default: the last pair),
    at the indentation of the mapping's keys; in a flow mapping, before the closing brace."""
    rendered = render_pair(mapping, key, value)
    meaning = (Meaning("insert", mapping, value, key),)
    pairs = mapping.pairs
    index = len(pairs) - 1
    if after is not None:
        index = next(i for i, (k, _) in enumerate(pairs) if k is after)
    anchor_key, anchor_value = pairs[index]
    end = max(content_end(anchor_value), anchor_key.end)
    if mapping.flow:
        return Edit(end, end, f", {rendered}", order=1, meanings=meaning)
    # A block mapping starts at its first key (properties included): its column is the
    # indentation of every key, even when that first key carries an anchor (``- &n name:``).
    indent = " " * (mapping.start - line_start(text, mapping.start))
    # A block scalar's span runs on over every line that belongs to it (keep-chomped
    # blank lines, whitespace lines indented deeper): the key goes after its content.
    # Any other value ends on a line whose rest (a comment) stays with its pair.
    block = _last_block_scalar(anchor_value)
    if block is not None and block.end == end and _break_before(text, end):
        position = block_content_end(text, block)
    else:
        position = line_end(text, end)
    newline = _break_before(text, position)
    if not newline:
        # The last line of a file without a final newline: it stays without one.
        return Edit(
            position, position, f"{newline_of(text)}{indent}{rendered}", order=1, meanings=meaning
        )
    return Edit(position, position, f"{indent}{rendered}{newline}", order=1, meanings=meaning)


def _last_block_scalar(node: Node) -> Scalar | None:
    """The block scalar a value's text ends with, if it ends with one."""
    while True:
        if isinstance(node, Scalar):
            return node if node.style in ("|", ">") else None
        if isinstance(node, Mapping) and node.pairs and not node.flow:
            node = node.pairs[-1][1]
        elif isinstance(node, Sequence) and node.items and not node.flow:
            node = node.items[-1]
        else:
            return None


_BLOCK_HEADER = re.compile(r"[|>]([1-9]?)([+-]?)([1-9]?)")


def block_content_end(text: str, scalar: Scalar) -> int:
    """Where a line can be added after a block scalar without touching its value: after
    its last content line, whitespace lines indented deeper than the block included;
    after all its lines when it keeps trailing blank lines (``|+``) or sets its
    indentation explicitly (``|2``: blank lines cannot be told from content then)."""
    header = _BLOCK_HEADER.match(text, scalar.start)
    if header is None or header.group(2) == "+" or header.group(1) or header.group(3):
        return scalar.end
    position = line_end(text, scalar.start)
    indent: int | None = None
    last = position
    while position < scalar.end:
        stop = line_end(text, position)
        line = text[position:stop].rstrip("\r\n")
        width = len(line) - len(line.lstrip(" "))
        if line.strip():
            indent = width if indent is None else indent
            last = stop
        elif indent is not None and width > indent:
            last = stop
        position = stop
    return last


# What may stand before a key on its line: the explicit-key indicator and the key's
# own properties (``? &k !!str digest``).
_KEY_PREFIX = re.compile(r"(?:\?[ \t]+)?(?:[&!][^\s]*[ \t]+)*$")


def pair_start(text: str, key: Scalar) -> int:
    """Where a ``key: value`` pair starts: at a ``?`` indicator or the key's anchor or
    tag before it on its line, else at the key itself."""
    first = line_start(text, key.start)
    head = text[first : key.start]
    match = _KEY_PREFIX.search(head.lstrip(" \t-"))
    if match is None or not match.group():
        return key.start
    return key.start - len(match.group())


def remove_key(text: str, mapping: Mapping, key: Scalar) -> Edit:
    """Remove one ``key: value`` pair (with its ``?`` indicator and key properties),
    taking its whole line(s) in block style."""
    meaning = (Meaning("remove", mapping, None, key),)
    pairs = mapping.pairs
    index = next(i for i, (k, _) in enumerate(pairs) if k is key)
    value_end = content_end(pairs[index][1])
    start = pair_start(text, key)
    if mapping.flow:
        if index > 0:
            return Edit(content_end(pairs[index - 1][1]), value_end, "", meanings=meaning)
        if len(pairs) > 1:
            return Edit(start, pair_start(text, pairs[1][0]), "", meanings=meaning)
        return Edit(start, value_end, "", meanings=meaning)
    first = line_start(text, key.start)
    if text[first:start].strip() == "":
        last = line_end(text, value_end)
        if not _break_before(text, last) and first > 0:
            # Last line of a file without a final newline: keep it without one.
            before = first - len(_break_before(text, first))
            return Edit(before, last, "", meanings=meaning)
        return Edit(first, last, "", meanings=meaning)
    # The key shares its line with a sequence dash (``- digest: …``): the next key moves up.
    if index + 1 < len(pairs):
        return Edit(start, pair_start(text, pairs[index + 1][0]), "", meanings=meaning)
    return Edit(start, value_end, "", meanings=meaning)


def block_line(text: str, scalar: Scalar) -> tuple[int, int] | None:
    """The span of the one line of text a block scalar (``|``, ``>-`` …) holds, when it
    holds exactly one and that line is its whole value (trailing line break aside):
    such a value can be rewritten in place, like a plain scalar."""
    value = scalar.value.rstrip("\r\n")
    if not value or value != value.strip() or any(c in value for c in "\r\n"):
        return None
    body = line_end(text, scalar.start)  # past the header line (``|-  # comment``)
    found: tuple[int, int] | None = None
    position = body
    while position < scalar.end:
        stop = line_end(text, position)
        line = text[position:stop].rstrip("\r\n")
        stripped = line.strip()
        if stripped:
            if found is not None or stripped != value:
                return None
            first = position + len(line) - len(line.lstrip())
            found = (first, first + len(stripped))
        position = stop
    return found


def replace_block_line(text: str, scalar: Scalar, value: str) -> Edit | None:
    """Rewrite the one line of a block scalar (see :func:`block_line`); None when the
    block is not one line of text or ``value`` could not stand there as it is."""
    span = block_line(text, scalar)
    if span is None or not value or value != value.strip() or any(c in value for c in "\r\n"):
        return None
    old_line = text[span[0] : span[1]]
    new_value = scalar.value.replace(old_line, value, 1)
    meaning = (Meaning("set", scalar, new_value),)
    return Edit(span[0], span[1], value, structural=False, meanings=meaning)
