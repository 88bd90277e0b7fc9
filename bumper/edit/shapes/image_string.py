"""``image: NAME[:TAG][@DIGEST]`` strings: workloads of every kind, compose services,
Helm values that hold the whole reference in one string."""

from __future__ import annotations

from bumper.edit.reference import format_reference, try_parse_reference
from bumper.edit.shapes.site import Edit, Site, Wanted, replace_scalar
from bumper.edit.yamltext import Scalar


class ImageStringSite(Site):
    """The whole reference in one scalar; edits rewrite that scalar only."""

    shape = "image"

    def __init__(self, scalar: Scalar, shape: str) -> None:
        ref = try_parse_reference(scalar.value)
        assert ref is not None
        super().__init__(scalar.start, ref.name, ref.tag, ref.digest)
        self.scalar = scalar
        self.shape = shape

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        value = format_reference(wanted.name, wanted.tag, wanted.digest)
        return [replace_scalar(text, self.scalar, value)]

    def scalars(self) -> list[Scalar]:
        return [self.scalar]


def image_string_site(scalar: Scalar, shape: str) -> ImageStringSite | None:
    """A site for a scalar that holds a valid reference; None for anything else
    (``${IMAGE}``, templates, empty values). A reference written as a block scalar
    (``image: >-``) is reported but left alone."""
    if scalar.style in ("|", ">"):
        text = scalar.value.strip()
        if try_parse_reference(text) is None:
            return None
        site = ImageStringSite(
            Scalar(text, scalar.style, scalar.start, scalar.end, None, None), shape
        )
        site.problem = "written as a block scalar (|, >); edit it by hand or make it one line"
        return site
    if "{{" in scalar.value or try_parse_reference(scalar.value) is None:
        return None
    return ImageStringSite(scalar, shape)
