"""JSON 6902 patch operations that set a container's image: ``{op: replace, path:
/spec/template/spec/containers/0/image, value: NAME:TAG}`` (kustomize and Flux
``patchesJson6902``, and inline ``patches``)."""

from __future__ import annotations

from bumper.edit.shapes.image_string import ImageStringSite, image_string_site
from bumper.edit.yamltext import Document, Mapping, Scalar, scalar_str

# Keys whose values may hold the repository's name (the prefilter reads this), in files
# that hold REQUIRES (an env var's ``value:`` does not make a file worth parsing).
VALUE_KEYS = frozenset({"value"})
REQUIRES = "/image"
SETTING_OPS = frozenset({"add", "replace"})


def operation_site(text: str, doc: Document, operation: Mapping) -> ImageStringSite | None:
    """A site for an operation that adds or replaces an ``…/image`` path with a string."""
    op = scalar_str(doc, operation.get("op"))
    path = scalar_str(doc, operation.get("path"))
    if op is None or op.value not in SETTING_OPS or path is None:
        return None
    if path.value.rsplit("/", 1)[-1] != "image":
        return None
    value = doc.resolve(operation.get("value"))
    if not isinstance(value, Scalar):
        return None
    return image_string_site(text, value, "patch", operation, "value")
