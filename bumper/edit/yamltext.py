"""YAML as text with positions: parse to light nodes that know their spans.

We never let a YAML emitter write a user's file. The parser tells us *where* each
value is (code-point offsets into the decoded text); edits are spliced into the
original text. Aliases are kept as alias nodes and never expanded, so an
alias-heavy document costs no more than its text.

libyaml (ruamel's C parser) is ~4x faster than ruamel's Python composer, but it
rejects a ``:`` inside a plain scalar in a flow collection (``{image: a/b:1.0}``),
which YAML 1.2 allows; a file the C parser refuses is parsed again with ruamel's
pure-Python parser, and only its verdict counts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bumper.errors import BumperError


class YamlError(BumperError):
    """The text is not YAML we can work with; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class Scalar:
    """A scalar value with its span (the text between start and end, quotes included)."""

    __slots__ = ("anchor", "end", "flow", "start", "style", "tag", "value")

    def __init__(
        self,
        value: str,
        style: str,
        start: int,
        end: int,
        anchor: str | None,
        tag: str | None,
        flow: bool = False,
    ) -> None:
        self.value = value
        self.style = style  # "" plain, "'" single, '"' double, "|" literal, ">" folded
        self.start = start
        self.end = end
        self.anchor = anchor
        self.tag = tag
        self.flow = flow  # inside a flow collection ({...} or [...])

    @property
    def is_null(self) -> bool:
        return self.style == "" and self.value in ("", "~", "null", "Null", "NULL")

    def __repr__(self) -> str:
        return f"Scalar({self.value!r}@{self.start})"


class Alias:
    """A ``*name`` reference to the node ``target`` it names, never expanded while walking.

    ``target`` is the most recent definition of the anchor *before* the alias, as YAML
    says: a name may be anchored again later in the same document.
    """

    __slots__ = ("anchor", "end", "start", "target")

    def __init__(self, anchor: str, start: int, end: int, target: Node) -> None:
        self.anchor = anchor
        self.start = start
        self.end = end
        self.target = target


class Mapping:
    """A mapping: ``pairs`` in document order, ``flow`` for ``{...}`` style."""

    __slots__ = ("anchor", "end", "flow", "pairs", "start", "tag")

    def __init__(self, flow: bool, start: int, anchor: str | None, tag: str | None) -> None:
        self.pairs: list[tuple[Node, Node]] = []
        self.flow = flow
        self.start = start
        self.end = start
        self.anchor = anchor
        self.tag = tag

    def get(self, key: str) -> Node | None:
        for k, v in self.pairs:
            if isinstance(k, Scalar) and k.value == key:
                return v
        return None

    def get_pair(self, key: str) -> tuple[Scalar, Node] | None:
        for k, v in self.pairs:
            if isinstance(k, Scalar) and k.value == key:
                return k, v
        return None


class Sequence:
    """A sequence: ``items`` in document order, ``flow`` for ``[...]`` style."""

    __slots__ = ("anchor", "end", "flow", "items", "start", "tag")

    def __init__(self, flow: bool, start: int, anchor: str | None, tag: str | None) -> None:
        self.items: list[Node] = []
        self.flow = flow
        self.start = start
        self.end = start
        self.anchor = anchor
        self.tag = tag


Node = Scalar | Alias | Mapping | Sequence


@dataclass
class Document:
    """One YAML document of a stream; ``aliases`` lists its ``*name`` nodes in order."""

    root: Node | None
    aliases: list[Alias] = field(default_factory=list)

    def resolve(self, node: Node | None) -> Node | None:
        """Follow an alias to the node it names (one step: an anchor never names an alias)."""
        if isinstance(node, Alias):
            return node.target
        return node


def effective_pairs(doc: Document, mapping: Mapping) -> dict[str, tuple[Scalar, Node, Mapping]]:
    """The mapping's keys as YAML merge keys make them: key text → (key, value, the mapping
    that holds the pair). Its own pairs win over merged ones (``<<: *base``), and of
    several merged maps (``<<: [*a, *b]``) the earlier wins."""
    result: dict[str, tuple[Scalar, Node, Mapping]] = {}
    merged: list[Node] = []
    for key, value in mapping.pairs:
        if not isinstance(key, Scalar):
            continue
        if key.value == "<<" and key.style == "":
            merged.append(value)
        elif key.value not in result:
            result[key.value] = (key, value, mapping)
    for node in merged:
        node = doc.resolve(node)
        sources = node.items if isinstance(node, Sequence) else [node]
        for source in sources:
            source = doc.resolve(source)
            if isinstance(source, Mapping):
                for name, entry in effective_pairs(doc, source).items():
                    result.setdefault(name, entry)
    return result


def merges(mapping: Mapping) -> bool:
    """True when the mapping has a merge key (``<<``)."""
    return any(
        isinstance(k, Scalar) and k.value == "<<" and k.style == "" for k, _ in mapping.pairs
    )


def scalar_str(doc: Document, node: Node | None) -> Scalar | None:
    """The node as a string-valued scalar (through an alias), else None."""
    node = doc.resolve(node)
    if isinstance(node, Scalar) and node.style not in ("|", ">"):
        return node
    return None


_PROPERTY = re.compile(r"[&!][^\s]*(?:[ \t\r\n]+(?:#[^\r\n]*)?)*")


def _value_start(text: str, start: int, count: int) -> int:
    """Skip a node's own ``&anchor``/``!tag`` properties (``count`` of them) and the
    blanks and comment lines after them: the parser's start mark points at them. Only its
    own: ``- !!map`` followed by ``&k name: …`` on the next line starts at ``&k``, the
    first key's anchor."""
    for _ in range(count):
        match = _PROPERTY.match(text, start)
        if match is None:
            break
        start = match.end()
    return start


def _stream_end() -> type:
    from ruamel.yaml.events import StreamEndEvent

    return StreamEndEvent


def _event_kinds() -> dict[type, int]:
    from ruamel.yaml import events

    return {
        events.ScalarEvent: 0,
        events.MappingStartEvent: 1,
        events.SequenceStartEvent: 2,
        events.MappingEndEvent: 3,
        events.SequenceEndEvent: 3,
        events.AliasEvent: 4,
        events.DocumentStartEvent: 5,
        events.DocumentEndEvent: 6,
    }


# The node kind each standard tag needs (0 scalar, 1 mapping, 2 sequence): every loader
# refuses ``key: !!seq`` over an empty value or ``!!str`` on a mapping, so bumper does too.
_STANDARD = "tag:yaml.org,2002:"
_TAG_KINDS = {
    **{_STANDARD + name: 0 for name in ("str", "int", "float", "bool", "null", "binary",
                                        "timestamp", "merge", "value")},
    **{_STANDARD + name: 1 for name in ("map", "set")},
    **{_STANDARD + name: 2 for name in ("seq", "omap", "pairs")},
}  # fmt: skip
_KIND_NAMES = ("a scalar", "a mapping", "a sequence")


def _check_tag(tag: str, kind: int, text: str, start: int) -> None:
    """Refuse a standard tag on a node of another kind (``!!seq`` on a scalar)."""
    wanted = _TAG_KINDS.get(tag, kind)
    if wanted != kind:
        line, column = line_column(text, start)
        short = "!!" + tag[len(_STANDARD) :]
        raise YamlError(
            f"{short} needs {_KIND_NAMES[wanted]}, not {_KIND_NAMES[kind]}", line, column
        )


def _check_merges(values: list[Node], text: str) -> None:
    """Refuse a merge key (``<<``) whose value is not a mapping, an alias to one, or a
    sequence of those: every loader does (PyYAML, ruamel, go-yaml)."""
    for value in values:
        items = value.items if isinstance(value, Sequence) else [value]
        for item in items:
            target = item.target if isinstance(item, Alias) else item
            if not isinstance(target, Mapping):
                line, column = line_column(text, item.start)
                raise YamlError(
                    "a merge key (<<) needs a mapping, an alias to one, or a list of them",
                    line,
                    column,
                )


def _compose(
    next_event: Callable[[], Any], text: str, restore: str | None = None, fallback: bool = False
) -> list[Document]:
    """Build light nodes from parser events, refusing duplicate keys as we go.

    ``restore`` is the colon stand-in of a lenient parse, turned back into ':'.
    ``fallback``: the events come from ruamel's pure parser, which places an empty value
    elsewhere than libyaml does; it is moved to libyaml's place, so both parsers give
    the same edits. This
    loop runs once per event of every candidate file: it is written for speed (the
    innermost open collection is kept in locals, the rest on a stack).
    """
    kinds = _event_kinds()
    stream_end = _stream_end()
    documents: list[Document] = []
    stack: list[tuple[Mapping | Sequence | None, Node | None, set[str] | None]] = []
    parent: Mapping | Sequence | None = None  # innermost open collection
    pending: Node | None = None  # its key waiting for a value (mappings)
    keys: set[str] | None = None  # its keys so far (mappings)
    in_flow = False
    doc = Document(root=None)
    anchors: dict[str, Node] = {}
    merge_values: list[Node] = []  # checked when their document ends (lists fill later)
    while True:
        event = next_event()
        event_type = type(event)
        if event_type is stream_end:
            return documents
        kind = kinds.get(event_type, -1)
        node: Node
        if kind == 0:
            anchor, tag = event.anchor, event.tag
            start = event.start_mark.index
            end = event.end_mark.index
            if anchor or tag:
                if tag:
                    _check_tag(tag, 0, text, start)
                # An empty value after properties (``tag: &t``) ends where they end;
                # the skip must not carry its start onto the next line.
                start = _value_start(text, start, (anchor is not None) + (tag is not None))
                if start > end:
                    start = end
            value = event.value
            if restore is not None:
                value = value.replace(restore, ":")
            elif (
                fallback and not value and not event.style and pending is not None
                and not (anchor or tag)
            ):  # fmt: skip
                start = end = _empty_value_offset(text, start, pending, in_flow)
            node = Scalar(value, event.style or "", start, end, anchor, tag, in_flow)
            if anchor:
                anchors[anchor] = node
        elif kind == 1 or kind == 2:
            anchor, tag = event.anchor, event.tag
            start = event.start_mark.index
            if anchor or tag:
                if tag:
                    _check_tag(tag, kind, text, start)
                start = _value_start(text, start, (anchor is not None) + (tag is not None))
            flow = bool(event.flow_style)
            node = (
                Mapping(flow, start, anchor, tag)
                if kind == 1
                else Sequence(flow, start, anchor, tag)
            )
            if anchor:
                anchors[anchor] = node
        elif kind == 3:
            assert parent is not None
            parent.end = event.end_mark.index if parent.flow else content_end(parent)
            parent, pending, keys = stack.pop()
            in_flow = parent is not None and parent.flow
            continue
        elif kind == 4:
            start = event.start_mark.index
            target = anchors.get(event.anchor)
            if target is None or _open(target, parent, stack):
                line, column = line_column(text, start)
                problem = "is not defined before it" if target is None else "is inside its anchor"
                raise YamlError(f"alias *{event.anchor} {problem}", line, column)
            node = Alias(event.anchor, start, event.end_mark.index, target)
            doc.aliases.append(node)
        elif kind == 5:
            doc = Document(root=None)
            anchors = {}
            continue
        elif kind == 6:
            if merge_values:
                _check_merges(merge_values, text)
                merge_values = []
            documents.append(doc)
            continue
        else:
            continue
        if parent is None:
            doc.root = node
        elif keys is None:
            parent.items.append(node)  # type: ignore[union-attr]
        elif pending is None:
            if type(node) is Scalar and node.value != "<<":
                # Plain ``1`` (a number) and quoted ``"1"`` (a string) are two keys.
                value = node.value
                typed = (
                    "\0" + value
                    if not node.style
                    and value[:1] in _MAYBE_NON_STRING
                    and _NON_STRING_PLAIN.match(value)
                    else value
                )
                if typed in keys:
                    line, column = line_column(text, node.start)
                    raise YamlError(f'duplicate key "{node.value}"', line, column)
                keys.add(typed)
            pending = node
        else:
            if type(pending) is Scalar and pending.value == "<<" and not pending.style:
                merge_values.append(node)
            parent.pairs.append((pending, node))  # type: ignore[union-attr]
            pending = None
        if kind == 1 or kind == 2:
            stack.append((parent, pending, keys))
            parent = node  # type: ignore[assignment]
            pending = None
            keys = set() if kind == 1 else None
            in_flow = parent.flow  # type: ignore[union-attr]


# Blanks and comments between a key and its ':' (an explicit ``? key`` may have both).
_TO_VALUE_INDICATOR = re.compile(r"(?:[ \t\r\n]|#[^\r\n]*)*:")
_BLANKS = re.compile(r"(?:[ \t\r\n]|#[^\r\n]*)*")


def _empty_value_offset(text: str, offset: int, key: Node, in_flow: bool) -> int:
    """Where libyaml puts an empty mapping value: just past the ':' in block style, at
    the next token in flow style (ruamel's pure parser does the opposite)."""
    if in_flow:
        return _BLANKS.match(text, offset).end()  # type: ignore[union-attr]
    match = _TO_VALUE_INDICATOR.match(text, content_end(key))
    return match.end() if match is not None and match.end() <= offset else offset


def _open(node: Node, parent: Node | None, stack: list[tuple[Any, Any, Any]]) -> bool:
    """True when ``node`` is a collection still being read: an alias to it would make the
    document contain itself (a recursive structure no manifest needs)."""
    if not isinstance(node, (Mapping, Sequence)):
        return False
    return node is parent or any(entry[0] is node for entry in stack)


def content_end(node: Node) -> int:
    """Offset just past the last character of the node's own text (a block collection's
    end event sits past its trailing lines).

    Children close before their parent, so their ``end`` is already their content end.
    """
    if isinstance(node, Mapping) and not node.flow:
        if not node.pairs:
            return node.start
        key, value = node.pairs[-1]
        return max(key.end, value.end)
    if isinstance(node, Sequence) and not node.flow:
        return node.items[-1].end if node.items else node.start
    return node.end


def _parse_c(text: str, source_text: str, restore: str | None) -> list[Document]:
    from ruamel.yaml.cyaml import CParser

    parser = CParser(text)
    try:
        return _compose(parser.get_event, source_text, restore)
    finally:
        parser.dispose()


def _parse_python(text: str, source: str) -> list[Document]:
    import ruamel.yaml

    # "safe", not "rt": the round-trip scanner's comment tracking refuses valid YAML
    # that libyaml reads (a comment after a key whose value is on the next line).
    events = iter(ruamel.yaml.YAML(typ="safe", pure=True).parse(text))
    return _compose(events.__next__, source, fallback=True)


# libyaml rejects a ':' inside a plain scalar in a flow collection ({image: a/b:1.0}),
# which YAML 1.2 reads as part of the scalar unless it follows a JSON-like node
# ("key":1, [a]:b). Swapping such colons for a stand-in of the same length keeps every
# offset and lets libyaml parse the text; the stand-in is turned back into ':' in values.
_COLON_STAND_IN = "\ue000"
_INNER_COLON = re.compile(r"(?<=[^\s\"'\]}]):(?=[^\s,\[\]{}])")


def _lenient_text(text: str) -> str | None:
    if "{" not in text and "[" not in text:
        return None
    if _COLON_STAND_IN in text or "\\ue000" in text.lower():
        return None
    return _INNER_COLON.sub(_COLON_STAND_IN, text)


# A line that starts a document. It can never be inside a scalar (YAML forbids a
# document marker at the start of a line in content), so the stream can be cut there.
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)


_HEAD = re.compile(r"(?:[ \t]*(?:[%#][^\r\n]*)?(?:\r\n|\r|\n))*")


# Above this many documents that may hold the image, the whole stream is parsed at once.
MAX_PIECES = 4


def parse_documents_matching(
    text: str, wanted: Callable[[str, int, int], bool]
) -> tuple[list[Document], list[int] | None]:
    """Parse only the documents for which ``wanted(text, begin, end)`` is true; also
    their places in the stream (None when the whole stream was parsed; else the rest is
    unchecked).

    A bundle of a hundred documents where one names the image costs one parse. Each
    kept document is parsed on its own, behind a blank stand-in for the text before it
    (as many line breaks, padded with spaces), so offsets, lines and columns stay those
    of the whole file. If a kept document does not parse alone, the whole stream is parsed.
    """
    starts = [m.start() for m in _DOCUMENT_START.finditer(text)]
    if starts and _HEAD.fullmatch(text, 0, starts[0]):
        # Directives (``%YAML 1.2``), comments and blank lines before the first marker
        # belong to the first document: they are no document of their own.
        starts[0] = 0
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    if len(starts) < 3:
        return parse_text(text), None
    bounds = [*starts, len(text)]
    kept = [
        (index, begin, end)
        for index, (begin, end) in enumerate(itertools.pairwise(bounds))
        if wanted(text, begin, end)
    ]
    if len(kept) > MAX_PIECES:
        # Each piece costs the length of the text before it: many are dearer than one parse.
        return parse_text(text), None
    documents: list[Document] = []
    indices: list[int] = []
    for index, begin, end in kept:
        prefix = text[:begin]
        breaks = "".join(m.group() for m in LINE_BREAK.finditer(prefix))
        piece = " " * (begin - len(breaks)) + breaks + text[begin:end]
        try:
            parsed = parse_text(piece, source=text)
        except YamlError:
            parsed = []
        if len(parsed) != 1:  # a bare document after "..." in the piece, or an error
            return parse_text(text), None
        documents.extend(parsed)
        indices.append(index)
    if len(indices) == len(bounds) - 1:
        return documents, None
    return documents, indices


def parse_text(text: str, source: str | None = None) -> list[Document]:
    """Parse a YAML stream to documents; raise YamlError with 1-based line and column.

    ``source`` is the file's text when ``text`` is a stand-in of the same length.
    """
    source = text if source is None else source
    lenient = _lenient_text(text)
    attempts = [(lenient, _COLON_STAND_IN)] if lenient is not None else []
    attempts.append((text, None))
    for candidate, restore in attempts:
        try:
            return _parse_c(candidate, source, restore)
        except YamlError:
            raise
        except Exception:
            pass  # libyaml is stricter than YAML 1.2 in places: try the next way.
    try:
        return _parse_python(text, source)
    except YamlError:
        raise
    except Exception as error:
        raise _yaml_error(error, source) from None


# Characters YAML allows in a stream (c-printable): anything else is refused by the reader.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _yaml_error(error: Exception, text: str) -> YamlError:
    """One located error: positions come from offsets (counted as people count lines),
    never from the parser's own line count, which differs for CR and NEL line breaks."""
    position = getattr(error, "position", None)
    if isinstance(position, int):  # the reader refused a character
        bad = _NOT_PRINTABLE.search(text)
        offset = bad.start() if bad else min(position, len(text))
        char = text[offset] if offset < len(text) else ""
        what = f"character U+{ord(char):04X}" if char else "a character"
        line, column = line_column(text, offset)
        return YamlError(f"invalid YAML: {what} is not allowed in YAML text", line, column)
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if mark is not None:
        index = getattr(mark, "index", None)
        if isinstance(index, int) and 0 <= index <= len(text):
            line, column = line_column(text, index)
        else:
            line, column = mark.line + 1, mark.column + 1
        return YamlError(f"invalid YAML: {message}", line, column)
    return YamlError(f"invalid YAML: {message}", 1, 1)


# What people and editors count as line breaks: LF, CRLF, and a lone CR (classic Mac).
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a code-point offset (LF, CRLF and CR end lines)."""
    return LineIndex(text).locate(offset)


def line_start(text: str, offset: int) -> int:
    """Offset of the first character of the line holding ``offset``."""
    if offset and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1  # the LF of a CRLF belongs to the line the CR ends
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def line_end(text: str, offset: int) -> int:
    """Offset just past the line break that ends the line holding ``offset`` (or the end)."""
    match = LINE_BREAK.search(text, offset)
    return len(text) if match is None else match.end()


def newline_of(text: str) -> str:
    """The file's line break (the first one it uses; LF for a one-line file)."""
    match = LINE_BREAK.search(text)
    return match.group() if match else "\n"


class LineIndex:
    """Offsets → 1-based (line, column), for reporting many positions in one file."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def locate(self, offset: int) -> tuple[int, int]:
        import bisect

        if self._starts is None:
            self._starts = [0, *(m.end() for m in LINE_BREAK.finditer(self._text))]
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1


# Plain scalars that YAML 1.1 (Kubernetes' go-yaml, PyYAML) or 1.2 reads as something
# other than a string: such a value is written quoted so it stays a string.
_NON_STRING_PLAIN = re.compile(
    r"""(?x)^(?:
        ~|null|Null|NULL
      | y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | [-+]?(?:0|[1-9][0-9_]*)
      | [-+]?0[0-7_]+ | 0o[0-7]+ | [-+]?0x[0-9a-fA-F_]+ | [-+]?0b[01_]+
      | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
      | [-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
      | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*)?
      | = | <<
    )$"""
)
# First characters of the plain scalars _NON_STRING_PLAIN can match.
_MAYBE_NON_STRING = frozenset("~nNyYtTfFoO0123456789+-.=<")
