"""Every place an image lives, one module per manifest shape, registered in ``SHAPES``.

Each shape declares the keys whose values hold an image name (the prefilter reads them,
so a walk can never skip a file a shape would find something in) and where it looks:
in a whole document (kustomize entries, Argo CD Applications, inline patches) or in
each mapping of a generic walk (Helm values maps, JSON patch operations, ``image:``
strings). ``find_sites`` walks each document once, following aliases to each collection
once, and leaves out what never holds a deployable image: env, args, command, labels,
annotations, a Kubernetes object's ``metadata`` and ``status``, ConfigMap and Secret
data, CRDs, and kinds whose ``image`` names a repository to watch rather than one to
run (Flux image automation, Argo CD Image Updater, skaffold).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bumper.edit.shapes import argocd, helm, image_string, json6902, kustomize, patches
from bumper.edit.shapes.site import Edit, Meaning, Site, Wanted
from bumper.edit.yamltext import (
    Alias,
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    effective_pairs,
    merges,
    scalar_str,
)

__all__ = [
    "SHAPES",
    "Edit",
    "Meaning",
    "Shape",
    "Site",
    "Wanted",
    "find_sites",
    "skipped_key",
    "value_keys",
]

# Subtrees whose strings are data, not images the cluster pulls.
SKIP_KEYS = frozenset(
    {"metadata", "annotations", "labels", "env", "envFrom", "environment", "args", "command"}
)
SKIP_KINDS = frozenset(
    {
        "ConfigMap", "Secret", "CustomResourceDefinition",
        # Their image is a repository to watch or a policy, not a reference to run.
        "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "ImageUpdater",
    }
)  # fmt: skip
# apiVersion prefixes of tool configuration whose images carry no tag by design.
SKIP_API_PREFIXES = ("skaffold/",)


@dataclass(frozen=True)
class Found:
    """What a shape needs to know about the document it searches."""

    text: str
    doc: Document
    filename: str
    kind: str | None
    api_version: str
    shape: str  # how a generic ``image:`` string is labelled: workload, compose or image


@dataclass(frozen=True)
class Shape:
    """A manifest shape: the keys whose values hold an image name, and where it looks.

    ``in_document(found, root)`` searches a whole document; ``in_mapping(found, mapping,
    keys, parent_key)`` is called, in ``SHAPES`` order, for each mapping of the generic
    walk that has one of its ``triggers`` keys, and a scalar one shape reports is not
    reported again by a later one.
    """

    name: str
    value_keys: frozenset[str]
    triggers: frozenset[str] = frozenset()
    #: text a file must hold for ``value_keys`` to matter (JSON patches: ``/image``)
    requires: str | None = None
    in_document: Callable[[Found, Mapping], Iterator[Site]] | None = None
    in_mapping: Callable[[Found, Mapping, dict[str, Node], str | None], Iterator[Site]] | None = (
        None
    )


def _kustomize(found: Found, root: Mapping) -> Iterator[Site]:
    return kustomize.find(found.doc, root, found.kind, found.api_version, found.filename)


def _argocd(found: Found, root: Mapping) -> Iterator[Site]:
    if found.kind in argocd.KINDS:
        yield from argocd.find(found.text, found.doc, root)


def _patches(found: Found, root: Mapping) -> Iterator[Site]:
    return patches.find(found.text, found.doc, root, found.kind, found.api_version, found.filename)


def _helm(
    found: Found, mapping: Mapping, keys: dict[str, Node], parent_key: str | None
) -> Iterator[Site]:
    if "repository" in keys or ("image" in keys and ("tag" in keys or "digest" in keys)):
        site = helm.helm_site(found.doc, mapping, parent_key)
        if site is not None:
            yield site


def _json6902(
    found: Found, mapping: Mapping, keys: dict[str, Node], parent_key: str | None
) -> Iterator[Site]:
    if "op" in keys and "path" in keys and "value" in keys:
        site = json6902.operation_site(found.text, found.doc, mapping)
        if site is not None:
            yield site


def _image_string(
    found: Found, mapping: Mapping, keys: dict[str, Node], parent_key: str | None
) -> Iterator[Site]:
    node = keys.get("image")
    if "registry" in keys:
        return  # a name relative to the map's registry: a Helm map's part, not a reference
    scalar = found.doc.resolve(node) if node is not None else None
    if isinstance(scalar, Scalar):
        site = image_string.image_string_site(found.text, scalar, found.shape, mapping, "image")
        if site is not None:
            if isinstance(node, Alias):
                site.offset = node.start  # the reference is where the alias reads it
            yield site


SHAPES: tuple[Shape, ...] = (
    Shape("kustomize", kustomize.VALUE_KEYS, in_document=_kustomize),
    Shape("argocd", argocd.VALUE_KEYS, in_document=_argocd),
    Shape("patch", patches.VALUE_KEYS, in_document=_patches),
    Shape("helm", helm.VALUE_KEYS, frozenset({"repository", "image"}), in_mapping=_helm),
    Shape(
        "json6902",
        json6902.VALUE_KEYS,
        frozenset({"op"}),
        requires=json6902.REQUIRES,
        in_mapping=_json6902,
    ),
    Shape("image", image_string.VALUE_KEYS, frozenset({"image"}), in_mapping=_image_string),
)
# The walk calls the mapping shapes only for mappings with one of these keys.
_MAPPING_SHAPES = tuple(shape for shape in SHAPES if shape.in_mapping is not None)
_TRIGGERS = frozenset().union(*(shape.triggers for shape in _MAPPING_SHAPES))


def value_keys(text: str | bytes | None = None) -> frozenset[str]:
    """Every key whose value a shape reads an image name from (for the prefilter); with
    ``text``, only those of shapes whose required text it holds."""
    keys: set[str] = set()
    for shape in SHAPES:
        needed = shape.requires
        if needed is not None and text is not None:
            present = (needed.encode() if isinstance(text, bytes) else needed) in text
            if not present:
                continue
        keys |= shape.value_keys
    return frozenset(keys)


def skipped_key(key: str) -> bool:
    """Subtrees that hold data, not images: env, args, labels, annotations (also the
    ``podAnnotations``/``commonLabels`` spellings of Helm values and kustomize)."""
    return key in SKIP_KEYS or key.endswith(("Annotations", "Labels"))


def _kind(doc: Document, mapping: Mapping) -> tuple[str | None, str]:
    kind = scalar_str(doc, mapping.get("kind"))
    api = scalar_str(doc, mapping.get("apiVersion"))
    return (kind.value if kind else None), (api.value if api else "")


def never_edited(kind: str | None, api_version: str) -> bool:
    """True for documents bumper leaves alone whatever they hold."""
    return kind in SKIP_KINDS or api_version.startswith(SKIP_API_PREFIXES)


def _image_shape(doc: Document, root: Node | None) -> str:
    if isinstance(root, Mapping):
        if root.get("kind") is not None:
            return "workload"
        if isinstance(doc.resolve(root.get("services")), Mapping):
            return "compose"
    return "image"


def _walk(found: Found, root: Node, claimed: set[tuple[int, int]]) -> Iterator[Site]:
    doc = found.doc
    object_root = isinstance(root, Mapping) and found.kind is not None
    # (node, the key it is the value of). A node is reached once through the tree and
    # again through each alias to it: anchored nodes are remembered, so each collection
    # is searched once (an alias bomb costs no more than its text).
    stack: list[tuple[Node, str | None]] = [(root, None)]
    visited: set[int] = set()
    while stack:
        node, parent_key = stack.pop()
        kind = type(node)
        if kind is Alias:
            node = node.target  # type: ignore[union-attr]
            kind = type(node)
            if id(node) in visited:
                continue
        if kind is Sequence:
            if node.anchor is not None:  # type: ignore[union-attr]
                visited.add(id(node))
            for item in reversed(node.items):  # type: ignore[union-attr]
                if type(item) is not Scalar:
                    stack.append((item, parent_key))
            continue
        if kind is not Mapping:
            continue
        mapping: Mapping = node  # type: ignore[assignment]
        if mapping.anchor is not None:
            visited.add(id(mapping))
        # One pass over the keys; most mappings hold no image and cost only this.
        keys: dict[str, Node] = {}
        children: list[tuple[Node, str | None]] = []
        for key, value in mapping.pairs:
            if type(key) is Scalar:
                name = key.value
                keys[name] = value
                # A Kubernetes object's status reports what runs; it is never edited.
                status = object_root and mapping is root and name == "status"
                if type(value) is not Scalar and not skipped_key(name) and not status:
                    children.append((value, name))
        if "kind" in keys and never_edited(*_kind(doc, mapping)):
            continue
        if "<<" in keys and merges(mapping):
            keys = {name: entry[1] for name, entry in effective_pairs(doc, mapping).items()}
        if not _TRIGGERS.isdisjoint(keys):
            for shape in _MAPPING_SHAPES:
                if not shape.triggers.isdisjoint(keys):
                    for site in shape.in_mapping(found, mapping, keys, parent_key):  # type: ignore[misc]
                        yield from _claim(site, claimed)
        stack.extend(reversed(children))


def _claim(site: Site, claimed: set[tuple[int, int]]) -> Iterator[Site]:
    """Report each reference once: a site whose values another site already reports in
    the same collection is another shape's view of it (a Helm map read as an ``image:``
    string) and is dropped. A reference elsewhere that reads the same values
    (``image: *ref`` in a second container, a map merging a base) is its own: its edits
    are the same edits, made once."""
    scalars = site.scalars()
    holders = [id(holder) for holder in site.holders()]
    if scalars and all(any((h, id(s)) in claimed for h in holders) for s in scalars):
        return
    claimed.update((h, id(s)) for h in holders for s in scalars)
    yield site


def find_sites(text: str, documents: list[Document], filename: str) -> Iterator[Site]:
    """Every image reference in a parsed file, in document order."""
    for doc in documents:
        root = doc.root
        if root is None or isinstance(root, Scalar):
            continue
        kind, api_version = _kind(doc, root) if isinstance(root, Mapping) else (None, "")
        if never_edited(kind, api_version):
            continue
        found = Found(text, doc, filename, kind, api_version, _image_shape(doc, root))
        claimed: set[tuple[int, int]] = set()
        if isinstance(root, Mapping):
            for shape in SHAPES:
                if shape.in_document is not None:
                    for site in shape.in_document(found, root):
                        yield from _claim(site, claimed)
        yield from _walk(found, root, claimed)
