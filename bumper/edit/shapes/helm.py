"""Helm values maps: ``repository`` + ``tag`` (+ ``registry``, + ``digest``), and the
``registry`` + ``image`` + ``tag`` variant (ingress-nginx style).

The name is ``registry/repository`` when a registry is set. A tag or digest that no
longer describes the image is set to ``""`` (charts test for an empty value); a
missing key that must be written is added after the map's last key.
"""

from __future__ import annotations

from bumper.edit.reference import _split_written_domain, try_parse_reference
from bumper.edit.shapes.site import (
    Edit,
    Site,
    Wanted,
    insert_key,
    present_value,
    replace_scalar,
    retyped,
)
from bumper.edit.yamltext import Document, Mapping, Scalar, scalar_str


class HelmValuesSite(Site):
    shape = "helm"

    def __init__(self, doc: Document, mapping: Mapping, repo_key: str) -> None:
        self.mapping = mapping
        self.repo_key = repo_key
        self.slots: dict[str, Scalar | None] = {}
        self.present: set[str] = set()
        for key in ("registry", repo_key, "tag", "digest"):
            pair = mapping.get_pair(key)
            if pair is not None:
                self.present.add(key)
                self.slots[key] = scalar_str(doc, pair[1])
        self.repo = self.slots[repo_key]
        assert self.repo is not None
        registry = present_value(self.slots.get("registry"))
        name = f"{registry}/{self.repo.value}" if registry else self.repo.value
        super().__init__(
            self.repo.start,
            name,
            present_value(self.slots.get("tag")),
            present_value(self.slots.get("digest")),
        )
        self.requote = retyped(self.slots.get("tag"))
        texts = [s.value for s in self.slots.values() if s is not None]
        if any("{{" in t for t in texts):
            self.problem = "holds a template placeholder"
        elif any(
            key in self.present and self.slots[key] is None for key in ("tag", "digest", "registry")
        ):
            self.problem = "tag, digest or registry is not a plain string"

    def scalars(self) -> list[Scalar]:
        return [scalar for scalar in self.slots.values() if scalar is not None]

    def _set(self, text: str, key: str, value: str) -> Edit:
        scalar = self.slots.get(key)
        if scalar is not None:
            return replace_scalar(text, scalar, value)
        return insert_key(text, self.mapping, key, value)

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        edits: list[Edit] = []
        if wanted.name != self.name:
            registry_scalar = self.slots.get("registry")
            if registry_scalar is not None and present_value(registry_scalar) is not None:
                domain, path = _split_written_domain(wanted.name)
                edits.append(replace_scalar(text, registry_scalar, domain or "docker.io"))
                edits.append(replace_scalar(text, self.repo, path))  # type: ignore[arg-type]
            else:
                edits.append(replace_scalar(text, self.repo, wanted.name))  # type: ignore[arg-type]
        for key, old, new in (
            ("tag", self.tag, wanted.tag),
            ("digest", self.digest, wanted.digest),
        ):
            if old != new or (key == "tag" and self.requote):
                edits.append(self._set(text, key, new or ""))
        return edits


def helm_site(doc: Document, mapping: Mapping) -> HelmValuesSite | None:
    """A site when the map is a Helm image map whose name is a valid repository."""
    if mapping.get_pair("repository") is not None:
        repo_key = "repository"
    elif mapping.get_pair("image") is not None and (
        mapping.get_pair("tag") is not None or mapping.get_pair("digest") is not None
    ):
        repo_key = "image"
    else:
        return None
    repo = scalar_str(doc, mapping.get(repo_key))
    if repo is None:
        return None
    site = HelmValuesSite(doc, mapping, repo_key)
    ref = try_parse_reference(site.name)
    if ref is None or ref.tag or ref.digest:
        return None
    return site
