"""Helm values maps: ``repository`` + ``tag`` (+ ``registry``, + ``digest``), and the
``registry`` + ``image`` + ``tag`` variant (ingress-nginx style).

The name is ``registry/repository`` when a registry is set. A tag or digest that no
longer describes the image is set to ``""`` (charts test for an empty value); a
missing key that must be written is added after the map's last key. Merge keys
(``<<: *base``) are followed: a value lives where its effective definition is, and a
key added goes into the map itself, never into a base other maps merge.

A map is taken for an image map only when it clearly is one (what real charts do:
bitnami, prometheus-community, grafana, ingress-nginx, istio): it sits under a key
naming an image (``image``, ``thanosImage``, ``images``), or all its keys are image
keys, or it has a ``tag``/``digest`` key and is small. Anything else with a
``repository`` (a custom resource's ``spec``, a git config, a 500-key settings map) is
left alone, with a note when its name is the image being bumped.
"""

from __future__ import annotations

from bumper.edit.reference import split_written_domain, try_parse_reference
from bumper.edit.shapes.site import (
    Edit,
    Site,
    Wanted,
    insert_key,
    present_value,
    replace_scalar,
    report_offset,
    retyped,
)
from bumper.edit.yamltext import Document, Mapping, Node, Scalar, effective_pairs, scalar_str

# Keys an image map holds besides its name, tag and digest.
IMAGE_MAP_KEYS = frozenset(
    {
        "registry", "repository", "image", "tag", "digest", "sha", "pullPolicy",
        "imagePullPolicy", "pullSecrets", "imagePullSecrets", "debug", "distroless",
        "chroot", "digestChroot", "flavor", "variant", "enabled",
    }
)  # fmt: skip
# A map with a tag key but under a key that does not name an image is taken for an image
# map up to this size; istio's global settings (hub, tag, image, … 500 keys) are not one.
MAX_LOOSE_KEYS = 12
# Keys whose values may hold the repository's name (the prefilter reads this).
VALUE_KEYS = frozenset({"repository", "image", "registry"})


def image_like(key: str | None) -> bool:
    """True for a key that names an image or images (``image``, ``thanosImage``)."""
    return key is not None and "image" in key.lower()


def not_an_image_map(keys: dict[str, object], parent_key: str | None) -> str | None:
    """Why a map with a repository is not clearly a Helm image map, or None when it is."""
    if image_like(parent_key) or set(keys) <= IMAGE_MAP_KEYS:
        return None
    if ("tag" in keys or "digest" in keys) and len(keys) <= MAX_LOOSE_KEYS:
        return None
    where = f"under '{parent_key}'" if parent_key else "at the top"
    tagged = "" if ("tag" in keys or "digest" in keys) else ", no tag key"
    return (
        f"not clearly a Helm image map ({len(keys)} keys{tagged}, {where}): left alone; "
        "edit it by hand"
    )


class HelmValuesSite(Site):
    shape = "helm"

    def __init__(
        self,
        doc: Document,
        mapping: Mapping,
        repo_key: str,
        pairs: dict[str, tuple[Scalar, Node, Mapping]],
    ) -> None:
        self.mapping = mapping
        self.repo_key = repo_key
        self.slots: dict[str, Scalar | None] = {}
        self.owners: dict[str, Mapping] = {}
        written: dict[str, Node] = {}
        for key in ("registry", repo_key, "tag", "digest"):
            if key in pairs:
                _, value, owner = pairs[key]
                self.slots[key] = scalar_str(doc, value)
                self.owners[key] = owner
                written[key] = value
        self.repo = self.slots[repo_key]
        assert self.repo is not None
        registry = present_value(self.slots.get("registry"))
        name = f"{registry}/{self.repo.value}" if registry else self.repo.value
        # Reported where the map itself writes its tag (else digest, else name): a map
        # that takes them from a merged base is reported where it starts.
        mine = {key: node for key, node in written.items() if self.owners[key] is mapping}
        super().__init__(
            report_offset(
                mine.get("tag"), mine.get("digest"), mine.get(repo_key), default=mapping.start
            ),
            name,
            present_value(self.slots.get("tag")),
            present_value(self.slots.get("digest")),
        )
        self.requote = retyped(self.slots.get("tag"))
        texts = [s.value for s in self.slots.values() if s is not None]
        if any("{{" in t for t in texts):
            self.problem = "holds a template placeholder"
        elif any(key in self.slots and self.slots[key] is None for key in self.slots):
            self.problem = "tag, digest or registry is not a plain string"
        # Set when the map is not clearly an image map: reported, never edited or listed.
        self.doubtful = False

    def scalars(self) -> list[Scalar]:
        return [scalar for scalar in self.slots.values() if scalar is not None]

    def holders(self) -> list[Node]:
        return [self.mapping]

    def reads(self) -> list[tuple[Node, str | int]]:
        """(holder, key) of every value the reference reads, absent keys included (adding
        one changes the reference); merged values are read in the merging map."""
        return [(self.mapping, key) for key in ("registry", self.repo_key, "tag", "digest")]

    def _set(self, text: str, key: str, value: str, *, own: bool = False) -> Edit:
        scalar = self.slots.get(key)
        if scalar is not None and not (own and self.owners[key] is not self.mapping):
            return replace_scalar(text, scalar, value)
        return insert_key(text, self.mapping, key, value)

    def override_edits(self, text: str, wanted: Wanted) -> list[Edit] | None:
        """Edits that write the new values into this map itself, overriding what it
        merges (``<<: *base``) instead of changing the base other maps read too; None
        when no value it would change comes from a merged map."""
        merged = [key for key, owner in self.owners.items() if owner is not self.mapping]
        if wanted.name != self.name or not {"tag", "digest"} & set(merged):
            return None
        return self._edits(text, wanted, own=True)

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        return self._edits(text, wanted, own=False)

    def _edits(self, text: str, wanted: Wanted, *, own: bool) -> list[Edit]:
        edits: list[Edit] = []
        if wanted.name != self.name:
            registry_scalar = self.slots.get("registry")
            if registry_scalar is not None and present_value(registry_scalar) is not None:
                domain, path = split_written_domain(wanted.name)
                edits.append(replace_scalar(text, registry_scalar, domain or "docker.io"))
                edits.append(replace_scalar(text, self.repo, path))  # type: ignore[arg-type]
            else:
                edits.append(replace_scalar(text, self.repo, wanted.name))  # type: ignore[arg-type]
        for key, old, new in (
            ("tag", self.tag, wanted.tag),
            ("digest", self.digest, wanted.digest),
        ):
            if old != new or (key == "tag" and self.requote):
                edits.append(self._set(text, key, new or "", own=own))
        return edits


def helm_site(doc: Document, mapping: Mapping, parent_key: str | None) -> HelmValuesSite | None:
    """A site when the map has an image name (``repository``, or ``image`` with a
    ``tag``/``digest``); ``doubtful`` when it is not clearly an image map."""
    pairs = effective_pairs(doc, mapping)
    if "repository" in pairs:
        repo_key = "repository"
    elif "image" in pairs and ("tag" in pairs or "digest" in pairs):
        repo_key = "image"
    else:
        return None
    repo = scalar_str(doc, pairs[repo_key][1])
    if repo is None or repo.is_null:
        return None
    site = HelmValuesSite(doc, mapping, repo_key, pairs)
    ref = try_parse_reference(site.name)
    if ref is None or ref.tag or ref.digest:
        return None
    reason = not_an_image_map(pairs, parent_key)
    if reason is not None:
        site.problem = reason
        site.doubtful = True
    return site
