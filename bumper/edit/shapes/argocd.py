"""Argo CD Application ``spec.source(s).kustomize.images`` strings:
``[ALIAS=]NAME[:TAG][@DIGEST]``, matched on NAME (the image the alias is replaced with)."""

from __future__ import annotations

from collections.abc import Iterator

from bumper.edit.reference import format_reference, try_parse_reference
from bumper.edit.shapes.site import Edit, Site, Wanted, replace_scalar
from bumper.edit.yamltext import Document, Mapping, Node, Scalar, Sequence, scalar_str

KINDS = ("Application", "ApplicationSet")


class ArgoImageSite(Site):
    shape = "argocd"

    def __init__(self, image: str, scalar: Scalar, alias: str | None) -> None:
        ref = try_parse_reference(image)
        assert ref is not None
        super().__init__(scalar.start, ref.name, ref.tag, ref.digest)
        self.scalar = scalar
        self.alias = alias

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        value = format_reference(wanted.name, wanted.tag, wanted.digest)
        if self.alias is not None:
            value = f"{self.alias}={value}"
        return [replace_scalar(text, self.scalar, value)]

    def scalars(self) -> list[Scalar]:
        return [self.scalar]


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


def find(doc: Document, root: Mapping) -> Iterator[Site]:
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
            for item in images.items:
                scalar = scalar_str(doc, item)
                if scalar is None or "{{" in scalar.value:
                    continue
                alias, sep, image = scalar.value.rpartition("=")
                if try_parse_reference(image) is not None:
                    yield ArgoImageSite(image, scalar, alias if sep else None)
