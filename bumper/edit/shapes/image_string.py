"""``image: NAME[:TAG][@DIGEST]`` strings: workloads of every kind, compose services,
Helm values that hold the whole reference in one string.

A reference written as a one-line block scalar (``image: >-`` then the reference on
the next line) is edited on its line. A value holding a template placeholder
(``{{ .Values.tag }}``, ``${TAG}``) is listed with a note and never edited.
"""

from __future__ import annotations

import re

from bumper.edit.reference import format_reference, try_parse_reference
from bumper.edit.shapes.site import (
    Edit,
    Site,
    Wanted,
    block_line,
    replace_block_line,
    replace_scalar,
)
from bumper.edit.yamltext import Node, Scalar

# Keys whose values may hold the repository's name (the prefilter reads this).
VALUE_KEYS = frozenset({"image"})

PLACEHOLDER = re.compile(r"\{\{|\$\{|\$[A-Za-z_]")


class ImageStringSite(Site):
    """The whole reference in one scalar (after a ``prefix`` such as Argo CD's
    ``alias=``); edits rewrite that scalar only."""

    shape = "image"

    def __init__(
        self,
        scalar: Scalar,
        shape: str,
        holder: Node,
        key: str | int,
        parts: tuple[str, str | None, str | None],
        prefix: str = "",
    ) -> None:
        super().__init__(scalar.start, *parts)
        self.scalar = scalar
        self.shape = shape
        self.holder = holder
        self.key = key
        self.prefix = prefix

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        value = self.prefix + format_reference(wanted.name, wanted.tag, wanted.digest)
        if self.scalar.style in ("|", ">"):
            edit = replace_block_line(text, self.scalar, value)
            assert edit is not None  # checked when the site was made
            return [edit]
        return [replace_scalar(text, self.scalar, value)]

    def scalars(self) -> list[Scalar]:
        return [self.scalar]

    def holders(self) -> list[Node]:
        return [self.holder]

    def reads(self) -> list[tuple[Node, str | int]]:
        return [(self.holder, self.key)]


def _placeholder_parts(value: str) -> tuple[str, str | None, str | None]:
    """Name, tag and digest of a value with a placeholder, as far as the text tells: the
    name when the placeholder is only in the tag or digest, else the whole value."""
    cut = PLACEHOLDER.search(value)
    assert cut is not None
    head = value[: cut.start()]
    for separator in ("@", ":"):
        index = head.rfind(separator)
        if index > head.rfind("/") and index > 0:
            name = head[:index]
            if try_parse_reference(name) is not None:
                rest = value[index + 1 :]
                if separator == "@":
                    return name, None, rest
                tag, _, digest = rest.partition("@")
                return name, tag, digest or None
    return value, None, None


def image_string_site(
    text: str, scalar: Scalar, shape: str, holder: Node, key: str | int
) -> ImageStringSite | None:
    """A site for a scalar that holds a reference (``holder[key]``); None for anything
    else (empty values, text that is no image name)."""
    if scalar.style in ("|", ">"):
        value = scalar.value.strip()
        if try_parse_reference(value) is None:
            return None
        site = ImageStringSite(scalar, shape, holder, key, _parts(value))
        span = block_line(text, scalar)
        if span is None:
            site.problem = "written as a block scalar over several lines; edit it by hand"
        else:
            site.offset = span[0]  # reported on the line that holds it
        return site
    value = scalar.value
    if PLACEHOLDER.search(value):
        site = ImageStringSite(scalar, shape, holder, key, _placeholder_parts(value))
        site.problem = "holds a template placeholder"
        return site
    if try_parse_reference(value) is None:
        return None
    return ImageStringSite(scalar, shape, holder, key, _parts(value))


def _parts(value: str) -> tuple[str, str | None, str | None]:
    ref = try_parse_reference(value)
    assert ref is not None
    return ref.name, ref.tag, ref.digest
