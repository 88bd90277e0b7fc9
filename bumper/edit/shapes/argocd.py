"""Argo CD Application ``spec.source(s).kustomize.images`` strings:
``[ALIAS=]NAME[:TAG][@DIGEST]``, matched on NAME (the image the alias is replaced with).

Real repositories also write an entry as a block scalar (``- >-`` with the text on the
next line): it is found and edited on its line like a plain one.
"""

from __future__ import annotations

from collections.abc import Iterator

from bumper.edit.reference import try_parse_reference
from bumper.edit.shapes.image_string import ImageStringSite
from bumper.edit.shapes.site import Site, block_line
from bumper.edit.yamltext import Document, Mapping, Node, Scalar, Sequence

KINDS = ("Application", "ApplicationSet")
# Keys whose values may hold the repository's name: the entries are sequence items.
VALUE_KEYS: frozenset[str] = frozenset()


class ArgoImageSite(ImageStringSite):
    """One entry: ``[ALIAS=]`` kept, the reference after it rewritten."""

    def __init__(
        self, image: str, scalar: Scalar, alias: str | None, holder: Sequence, index: int
    ) -> None:
        ref = try_parse_reference(image)
        assert ref is not None
        prefix = f"{alias}=" if alias is not None else ""
        super().__init__(scalar, "argocd", holder, index, (ref.name, ref.tag, ref.digest), prefix)


def _sources(doc: Document, spec: Node | None) -> Iterator[Mapping]:
    spec = doc.resolve(spec)
    if not isinstance(spec, Mapping):
        return
    source = doc.resolve(spec.get("source"))
    if isinstance(source, Mapping):
        yield source
    sources = doc.resolve(spec.get("sources"))
    if isinstance(sources, Sequence):
        for item in sources.items:
            item = doc.resolve(item)
            if isinstance(item, Mapping):
                yield item


def find(text: str, doc: Document, root: Mapping) -> Iterator[Site]:
    """Sites in an Application (or an ApplicationSet's template)."""
    spec = doc.resolve(root.get("spec"))
    if not isinstance(spec, Mapping):
        return
    specs: list[Node | None] = [spec]
    template = doc.resolve(spec.get("template"))
    if isinstance(template, Mapping):
        specs.append(template.get("spec"))
    for app_spec in specs:
        for source in _sources(doc, app_spec):
            kustomize = doc.resolve(source.get("kustomize"))
            if not isinstance(kustomize, Mapping):
                continue
            images = doc.resolve(kustomize.get("images"))
            if not isinstance(images, Sequence):
                continue
            for index, item in enumerate(images.items):
                scalar = doc.resolve(item)
                if not isinstance(scalar, Scalar) or "{{" in scalar.value:
                    continue
                block = scalar.style in ("|", ">")
                value = scalar.value.strip() if block else scalar.value
                alias, sep, image = value.rpartition("=")
                if try_parse_reference(image) is None:
                    continue
                site = ArgoImageSite(image, scalar, alias if sep else None, images, index)
                span = block_line(text, scalar) if block else None
                if block and span is None:
                    site.problem = "written as a block scalar over several lines; edit it by hand"
                elif span is not None:
                    site.offset = span[0]  # reported on the line that holds it
                yield site
