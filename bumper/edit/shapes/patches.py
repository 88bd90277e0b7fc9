"""Images inside inline kustomize patches: a strategic-merge document or JSON 6902
operations written as a string (``patches: - patch: |-``, ``patchesStrategicMerge: -
|-``, ``patchesJson6902: - patch: |-``; Flux ``spec.patches``; Argo CD
``kustomize.patches``).

The string is parsed as YAML of its own and searched like a file; its edits are mapped
back into the block scalar, line by line, keeping its indentation and every other byte.
A literal block (``|``, ``|-``, ``|+``, with or without an indentation indicator) and a
one-line string without escapes map exactly; anything else (a folded ``>`` block, a
string over several lines) is reported with its place and left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from bumper.edit.shapes.kustomize import FLUX_API, is_kustomization
from bumper.edit.shapes.site import CannotEdit, Edit, Meaning, Site, Wanted
from bumper.edit.yamltext import (
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlError,
    line_end,
    newline_of,
    parse_text,
)

# The strings are sequence items or ``patch:`` values; what they hold is searched.
VALUE_KEYS: frozenset[str] = frozenset()
UNMAPPABLE = "in an inline patch written as {what}: it cannot be edited in place; edit it by hand"


class InlineText:
    """The text a patch string holds, and where each of its characters is in the file."""

    def __init__(self, text: str, scalar: Scalar) -> None:
        self.scalar = scalar
        self.inner = scalar.value
        self.newline = newline_of(text)
        self.problem: str | None = None
        self.indent = 0
        # Offsets in the file where each line of the inner text starts (its indentation
        # included), and one more: where the line after the last one starts.
        self.starts: list[int] = []
        self.flow_base: int | None = None
        inner_lines = self.inner.split("\n")
        self._inner_starts = [0]
        for line in inner_lines[:-1]:
            self._inner_starts.append(self._inner_starts[-1] + len(line) + 1)
        if scalar.style == "|":
            self._map_literal(text, inner_lines)
        elif scalar.style == ">":
            self.problem = UNMAPPABLE.format(what="a folded block (>)")
        else:
            self._map_flow(text)

    def _map_literal(self, text: str, inner_lines: list[str]) -> None:
        outer: list[tuple[int, str]] = []
        position = line_end(text, self.scalar.start)  # past the header (``|-  # note``)
        while position < self.scalar.end:
            stop = line_end(text, position)
            outer.append((position, text[position:stop].rstrip("\r\n")))
            position = stop
        first = next((i for i, line in enumerate(inner_lines) if line.strip()), None)
        if first is None or first >= len(outer):
            self.problem = UNMAPPABLE.format(what="an empty block")
            return
        self.indent = len(outer[first][1]) - len(inner_lines[first])
        for index, line in enumerate(inner_lines):
            if index >= len(outer):
                if line:
                    self.problem = UNMAPPABLE.format(what="a block bumper cannot follow")
                    return
                continue
            written = outer[index][1]
            if line and (written[self.indent :] != line or written[: self.indent].strip()):
                self.problem = UNMAPPABLE.format(what="a block bumper cannot follow")
                return
        self.starts = [start for start, _ in outer] + [position]

    def _map_flow(self, text: str) -> None:
        span = text[self.scalar.start : self.scalar.end]
        style = self.scalar.style
        if "\n" in self.inner or "\r" in span or "\n" in span:
            self.problem = UNMAPPABLE.format(what="a string over several lines")
        elif style == "" and span == self.inner:
            self.flow_base = self.scalar.start
        elif (
            style
            and span == style + self.inner + style
            and not ((style == "'" and "'" in self.inner) or (style == '"' and "\\" in self.inner))
        ):
            self.flow_base = self.scalar.start + 1
        else:
            self.problem = UNMAPPABLE.format(what="a string with escapes")

    def _line_col(self, offset: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self._inner_starts, offset) - 1
        return line, offset - self._inner_starts[line]

    def outer(self, offset: int) -> int:
        """Where the character at ``offset`` of the inner text is in the file."""
        if self.flow_base is not None:
            return self.flow_base + offset
        line, column = self._line_col(offset)
        return self.starts[min(line, len(self.starts) - 1)] + self.indent + column

    def _line_start(self, offset: int) -> int:
        line, _ = self._line_col(offset)
        return self.starts[min(line, len(self.starts) - 1)]

    def _reindent(self, new: str, at_line_start: bool) -> str:
        pad = " " * self.indent
        lines = new.split("\n")
        out = [(pad + lines[0]) if at_line_start and lines[0] else lines[0]]
        out += [(pad + line) if line else line for line in lines[1:]]
        return self.newline.join(out)

    def edit(self, edit: Edit) -> Edit:
        """The file edit that makes the same change to the inner text; CannotEdit when
        the new text could not stand inside this string as it is written."""
        meaning = (Meaning("inner", self.scalar, None, edit),)
        if self.flow_base is not None:
            bad = {"'": "'", '"': '"\\'}.get(self.scalar.style, "#")
            if "\n" in edit.new or any(c in edit.new for c in bad) or ": " in edit.new:
                raise CannotEdit(UNMAPPABLE.format(what="a one-line string"))
            return Edit(self.outer(edit.start), self.outer(edit.end), edit.new, meanings=meaning)
        start_col = self._line_col(edit.start)[1]
        end_col = self._line_col(edit.end)[1]
        whole_lines = start_col == 0 and (end_col == 0 or edit.end == len(self.inner))
        if whole_lines and (edit.start < edit.end or edit.new.endswith("\n")):
            start = self._line_start(edit.start)
            end = self._line_start(edit.end) if end_col == 0 else self.outer(edit.end)
            return Edit(start, end, self._reindent(edit.new, True), meanings=meaning)
        return Edit(
            self.outer(edit.start),
            self.outer(edit.end),
            self._reindent(edit.new, False),
            meanings=meaning,
        )


class PatchSite(Site):
    """A reference inside an inline patch: the inner reference, edited through the text
    that holds it."""

    shape = "patch"

    def __init__(self, inner: Site, text: InlineText, holder: Node, key: str | int) -> None:
        offset = text.outer(inner.offset) if text.problem is None else text.scalar.start
        super().__init__(offset, inner.name, inner.tag, inner.digest)
        self.inner = inner
        self.text = text
        self.holder = holder
        self.key = key
        self.requote = inner.requote
        self.problem = inner.problem or text.problem

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        return [self.text.edit(edit) for edit in self.inner.edits(self.text.inner, wanted)]

    def scalars(self) -> list[Scalar]:
        return [self.text.scalar]

    def holders(self) -> list[Node]:
        return [self.holder]

    def reads(self) -> list[tuple[Node, str | int]]:
        return [(self.holder, self.key)]


def _strings(
    doc: Document, node: Node | None, key: str | None
) -> Iterator[tuple[Scalar, Node, str | int]]:
    """(string, holder, key) of each patch string in a ``patches``-style list: the items
    themselves, or the ``key`` of each item."""
    items = doc.resolve(node)
    if not isinstance(items, Sequence):
        return
    for index, item in enumerate(items.items):
        item = doc.resolve(item)
        if key is None:
            if isinstance(item, Scalar):
                yield item, items, index
        elif isinstance(item, Mapping):
            value = doc.resolve(item.get(key))
            if isinstance(value, Scalar):
                yield value, item, key


def _patch_strings(
    doc: Document, root: Mapping, kind: str | None, api_version: str, filename: str
) -> Iterator[tuple[Scalar, Node, str | int]]:
    if is_kustomization(kind, api_version, filename):
        yield from _strings(doc, root.get("patches"), "patch")
        yield from _strings(doc, root.get("patchesJson6902"), "patch")
        yield from _strings(doc, root.get("patchesStrategicMerge"), None)
        return
    spec = doc.resolve(root.get("spec"))
    if not isinstance(spec, Mapping):
        return
    if kind == "Kustomization" and api_version.startswith(FLUX_API):
        yield from _strings(doc, spec.get("patches"), "patch")
    elif kind in ("Application", "ApplicationSet"):
        specs = [spec]
        template = doc.resolve(spec.get("template"))
        if isinstance(template, Mapping) and isinstance(doc.resolve(template.get("spec")), Mapping):
            specs.append(doc.resolve(template.get("spec")))  # type: ignore[arg-type]
        for app_spec in specs:
            sources = [doc.resolve(app_spec.get("source"))]  # type: ignore[union-attr]
            listed = doc.resolve(app_spec.get("sources"))  # type: ignore[union-attr]
            if isinstance(listed, Sequence):
                sources += [doc.resolve(item) for item in listed.items]
            for source in sources:
                if isinstance(source, Mapping):
                    kustomize = doc.resolve(source.get("kustomize"))
                    if isinstance(kustomize, Mapping):
                        yield from _strings(doc, kustomize.get("patches"), "patch")


def find(
    text: str,
    doc: Document,
    root: Mapping,
    kind: str | None,
    api_version: str,
    filename: str,
) -> Iterator[Site]:
    """References in the inline patches of a kustomization, Flux Kustomization or Argo CD
    Application."""
    from bumper.edit.shapes import find_sites

    for scalar, holder, key in _patch_strings(doc, root, kind, api_version, filename):
        if "\n" not in scalar.value and ":" not in scalar.value:
            continue  # a file name, not a patch
        try:
            documents = parse_text(scalar.value)
        except YamlError:
            continue  # not YAML: kustomize would refuse it before bumper matters
        inline = InlineText(text, scalar)
        for inner in find_sites(scalar.value, documents, ""):
            yield PatchSite(inner, inline, holder, key)
