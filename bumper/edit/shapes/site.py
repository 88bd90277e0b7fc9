"""What every shape yields: a Site (one image reference in a file) that can rewrite itself.

A site knows the reference as the file spells it (name, tag, digest) and how to turn a
wanted (name, tag, digest) into text edits. Edits are spans of the decoded text.
"""

from __future__ import annotations

from dataclasses import dataclass

from bumper.edit.yamltext import Mapping, Scalar, content_end, needs_quotes, render_scalar


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


@dataclass(frozen=True)
class Wanted:
    """The reference a site should hold after the bump; None means absent."""

    name: str
    tag: str | None
    digest: str | None


class Site:
    """One image reference in a file. Subclasses say where its parts live."""

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


def _render(scalar: Scalar, value: str) -> str:
    style = scalar.style
    if style == "" and scalar.flow and ":" in value and ":" not in scalar.value:
        # A new ':' in a plain scalar inside {…}/[…] is valid YAML 1.2, but libyaml-based
        # readers (PyYAML, older yq) reject it: quote it.
        style = '"'
    return render_scalar(value, style)


def replace_scalar(text: str, scalar: Scalar, value: str) -> Edit:
    """Write ``value`` over a scalar, keeping its quote style (plain values YAML would
    read as non-strings get double quotes)."""
    rendered = _render(scalar, value)
    if scalar.start == scalar.end:
        # An empty value (``tag:``, ``tag: &t``): the new text needs a space before it.
        before = text[scalar.start - 1] if scalar.start else " "
        prefix = "" if before in " \t" else " "
        return Edit(scalar.start, scalar.end, prefix + rendered)
    span = text[scalar.start : scalar.end]
    if scalar.style == "":
        exact = span == scalar.value and rendered == value
    else:
        exact = len(span) >= 2 and span[0] == span[-1] == scalar.style == rendered[0]
    return Edit(scalar.start, scalar.end, rendered, structural=not exact)


def render_pair(mapping: Mapping, key: str, value: str) -> str:
    """``key: value`` in the style of the mapping's keys (JSON stays JSON)."""
    first = mapping.pairs[0][0] if mapping.pairs else None
    style = first.style if isinstance(first, Scalar) and first.style in ("'", '"') else ""
    if style:
        return f"{render_scalar(key, style)}: {render_scalar(value, style)}"
    return f"{key}: {render_scalar(value, '')}"


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _line_end(text: str, offset: int) -> int:
    """Offset just past the newline that ends the line holding ``offset`` (or text end)."""
    newline = text.find("\n", offset)
    return len(text) if newline == -1 else newline + 1


def insert_key(
    text: str, mapping: Mapping, key: str, value: str, after: Scalar | None = None
) -> Edit:
    """Add ``key: value`` after the pair whose key is ``after`` (default: the last pair),
    at the indentation of the mapping's keys; in a flow mapping, before the closing brace."""
    rendered = render_pair(mapping, key, value)
    pairs = mapping.pairs
    index = len(pairs) - 1
    if after is not None:
        index = next(i for i, (k, _) in enumerate(pairs) if k is after)
    anchor_key, anchor_value = pairs[index]
    end = max(content_end(anchor_value), anchor_key.end)
    if mapping.flow:
        return Edit(end, end, f", {rendered}", order=1)
    first_key = pairs[0][0]
    indent = " " * (first_key.start - _line_start(text, first_key.start))
    # After the line of the pair's last character: a block scalar's span runs on over
    # its trailing line breaks, and a comment on that line stays with its pair.
    last = len(text[:end].rstrip())
    line_end = _line_end(text, max(last - 1, 0))
    if line_end == len(text) and not text.endswith("\n"):
        newline = "\r\n" if "\r\n" in text else "\n"
        return Edit(line_end, line_end, f"{newline}{indent}{rendered}", order=1)
    newline = "\r\n" if text[line_end - 2 : line_end] == "\r\n" else "\n"
    return Edit(line_end, line_end, f"{indent}{rendered}{newline}", order=1)


def remove_key(text: str, mapping: Mapping, key: Scalar) -> Edit:
    """Remove one ``key: value`` pair, taking its whole line(s) in block style."""
    pairs = mapping.pairs
    index = next(i for i, (k, _) in enumerate(pairs) if k is key)
    value_end = content_end(pairs[index][1])
    if mapping.flow:
        if index > 0:
            return Edit(content_end(pairs[index - 1][1]), value_end, "")
        if len(pairs) > 1:
            return Edit(key.start, pairs[1][0].start, "")
        return Edit(key.start, value_end, "")
    line_start = _line_start(text, key.start)
    if text[line_start : key.start].strip() == "":
        line_end = _line_end(text, value_end)
        if line_end == len(text) and not text.endswith("\n") and line_start > 0:
            # Last line of a file without a final newline: keep it without one.
            before = line_start - (2 if text[line_start - 2 : line_start] == "\r\n" else 1)
            return Edit(before, line_end, "")
        return Edit(line_start, line_end, "")
    # The key shares its line with a sequence dash (``- digest: …``): the next key moves up.
    if index + 1 < len(pairs):
        return Edit(key.start, pairs[index + 1][0].start, "")
    return Edit(key.start, value_end, "")
