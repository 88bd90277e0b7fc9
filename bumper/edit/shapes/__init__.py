"""Every place an image lives, one module per manifest shape.

``find_sites`` walks each document once, never expanding aliases: path-bound shapes
(kustomize entries, Argo CD Applications) look where their kind keeps images; then a
generic walk finds ``image:`` strings and Helm values maps anywhere else, leaving out
what never holds a deployable image (env, args, annotations, ConfigMap data, CRDs).
"""

from __future__ import annotations

from collections.abc import Iterator

from bumper.edit.shapes import argocd, kustomize
from bumper.edit.shapes.helm import helm_site
from bumper.edit.shapes.image_string import image_string_site
from bumper.edit.shapes.site import Edit, Site, Wanted
from bumper.edit.yamltext import Document, Mapping, Node, Scalar, Sequence, scalar_str

__all__ = ["Edit", "Site", "Wanted", "find_sites"]

# Subtrees whose strings are data, not images the cluster pulls.
SKIP_KEYS = frozenset(
    {"metadata", "annotations", "labels", "env", "envFrom", "environment", "args", "command"}
)
SKIP_KINDS = frozenset({"ConfigMap", "Secret", "CustomResourceDefinition"})


def _kind(doc: Document, mapping: Mapping) -> tuple[str | None, str]:
    kind = scalar_str(doc, mapping.get("kind"))
    api = scalar_str(doc, mapping.get("apiVersion"))
    return (kind.value if kind else None), (api.value if api else "")


def _skipped(key: str) -> bool:
    """Subtrees that hold data, not images: env, args, labels, annotations (also the
    ``podAnnotations``/``commonLabels`` spellings of Helm values and kustomize)."""
    return key in SKIP_KEYS or key.endswith(("Annotations", "Labels"))


def _image_scalar(doc: Document, node: Node) -> Scalar | None:
    """The scalar behind an ``image:`` key (through an alias), block scalars included."""
    resolved = doc.resolve(node)
    return resolved if isinstance(resolved, Scalar) else None


def _image_shape(doc: Document, root: Node | None) -> str:
    if isinstance(root, Mapping):
        if root.get("kind") is not None:
            return "workload"
        if isinstance(doc.resolve(root.get("services")), Mapping):
            return "compose"
    return "image"


def _walk(doc: Document, root: Node, shape: str, seen: set[int]) -> Iterator[Site]:
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if type(node) is Sequence:
            stack.extend(reversed(node.items))
            continue
        if type(node) is not Mapping:
            continue
        # One pass over the keys; most mappings hold no image and cost only this.
        keys: dict[str, Node] = {}
        children: list[Node] = []
        for key, value in node.pairs:
            if type(key) is Scalar:
                keys[key.value] = value
                if type(value) in (Mapping, Sequence) and not _skipped(key.value):
                    children.append(value)
        if "kind" in keys and _kind(doc, node)[0] in SKIP_KINDS:
            continue
        claimed: Scalar | None = None
        if "repository" in keys or ("image" in keys and ("tag" in keys or "digest" in keys)):
            helm = helm_site(doc, node)
            if helm is not None:
                claimed = helm.repo
                yield helm
        if "image" in keys:
            scalar = _image_scalar(doc, keys["image"])
            if scalar is not None and scalar is not claimed and id(scalar) not in seen:
                site = image_string_site(scalar, shape)
                if site is not None:
                    seen.add(id(scalar))
                    yield site
        stack.extend(reversed(children))


def find_sites(documents: list[Document], filename: str) -> Iterator[Site]:
    """Every image reference in a parsed file, in document order."""
    for doc in documents:
        root = doc.root
        if root is None or isinstance(root, Scalar):
            continue
        seen: set[int] = set()
        if isinstance(root, Mapping):
            kind, api_version = _kind(doc, root)
            if kind in SKIP_KINDS:
                continue
            yield from kustomize.find(doc, root, kind, api_version, filename)
            if kind in argocd.KINDS:
                yield from argocd.find(doc, root)
        yield from _walk(doc, root, _image_shape(doc, root), seen)
