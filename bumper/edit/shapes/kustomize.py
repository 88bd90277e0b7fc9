"""kustomize ``images:`` entries (``name``/``newName``/``newTag``/``digest``).

Found at the root of a Kustomization or Component (or of a ``kustomization.yaml``
without a kind) and under ``spec.images`` of a Flux Kustomization, which uses the
same entries. An entry is matched on ``newName`` when present, else on ``name``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bumper.edit.reference import try_parse_reference
from bumper.edit.shapes.site import (
    Edit,
    Meaning,
    Site,
    Wanted,
    insert_key,
    pair_start,
    present_value,
    remove_key,
    render_pair,
    replace_scalar,
    report_offset,
    retyped,
)
from bumper.edit.yamltext import (
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    content_end,
    scalar_str,
)

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Keys whose values may hold the repository's name (the prefilter reads this).
VALUE_KEYS = frozenset({"name", "newName"})
FLUX_API = "kustomize.toolkit.fluxcd.io/"


class KustomizeEntrySite(Site):
    shape = "kustomize"

    def __init__(self, doc: Document, entry: Mapping, name: Scalar) -> None:
        self.entry = entry
        self.keys: dict[str, tuple[Scalar, Scalar | None]] = {}
        written: dict[str, Node] = {}
        for key, value in entry.pairs:
            if isinstance(key, Scalar):
                self.keys[key.value] = (key, scalar_str(doc, value))
                written[key.value] = value
        self.name_key = self.keys["name"][0]
        new_name = self.value_of("newName")
        matched = new_name if new_name is not None else name.value
        offset = report_offset(
            *(written.get(k) for k in ("newTag", "digest", "newName")), default=entry.start
        )
        super().__init__(offset, matched, self.value_of("newTag"), self.value_of("digest"))
        # Set when the image the entry matches is renamed in the same change: its name
        # follows (see bumper.edit.overlays).
        self.follow_base = False
        tag_pair = self.keys.get("newTag")
        self.requote = retyped(tag_pair[1] if tag_pair else None)
        if any("{{" in (self.value_of(k) or "") for k in ("name", "newName", "newTag", "digest")):
            self.problem = "holds a template placeholder"
        elif any(pair[1] is None for pair in self.keys.values() if pair[0].value != "name"):
            self.problem = "newName, newTag or digest is not a plain string"

    @property
    def matches(self) -> str:
        """The image name the entry matches in what it builds from (its ``name``)."""
        return self.keys["name"][1].value  # type: ignore[union-attr]

    def value_of(self, key: str) -> str | None:
        pair = self.keys.get(key)
        return present_value(pair[1]) if pair else None

    def edits(self, text: str, wanted: Wanted) -> list[Edit]:
        edits: list[Edit] = []
        if wanted.name != self.name and self.follow_base:
            edits.append(replace_scalar(text, self.keys["name"][1], wanted.name))  # type: ignore[arg-type]
            if self.value_of("newName") is not None:
                edits.append(self._set(text, "newName", wanted.name))
        elif wanted.name != self.name:
            edits.append(self._set(text, "newName", wanted.name, after=self.name_key))
        old = {"newTag": self.tag, "digest": self.digest}
        new = {"newTag": wanted.tag, "digest": wanted.digest}
        differ = [key for key in old if old[key] != new[key]]
        if self.requote and "newTag" not in differ:
            differ.append("newTag")
        stale = [key for key in differ if new[key] is None and key in self.keys]
        missing = [key for key in differ if new[key] is not None and key not in self.keys]
        for key in differ:
            value = new[key]
            if value is not None and key in self.keys:
                edits.append(self._set(text, key, value))
        # The stale key goes and the missing one is added after the entry's last key.
        # When the stale key *is* the last key, that is the same as rewriting its line
        # (``digest: …`` becomes ``newTag: …``), which also keeps the diff to one line.
        last_key = self.entry.pairs[-1][0]
        if stale and missing and self.keys[stale[-1]][0] is last_key:
            key_node, value_node = self.entry.get_pair(stale.pop())  # type: ignore[misc]
            added = missing.pop(0)
            rendered = render_pair(self.entry, added, new[added] or "")
            meanings = (
                Meaning("remove", self.entry, None, key_node),
                Meaning("insert", self.entry, new[added], added),
            )
            start = pair_start(text, key_node)
            edits.append(Edit(start, content_end(value_node), rendered, meanings=meanings))
        edits.extend(remove_key(text, self.entry, self.keys[key][0]) for key in stale)
        kept = [k for k, _ in self.entry.pairs if not (isinstance(k, Scalar) and k.value in stale)]
        for key in missing:
            edits.append(self._set(text, key, new[key] or "", after=kept[-1]))  # type: ignore[arg-type]
        return edits

    def scalars(self) -> list[Scalar]:
        return [value for _, value in self.keys.values() if value is not None]

    def holders(self) -> list[Node]:
        return [self.entry]

    def reads(self) -> list[tuple[Node, str | int]]:
        # Absent keys too: adding one changes the entry.
        return [(self.entry, key) for key in ("name", "newName", "newTag", "digest")]

    def _set(self, text: str, key: str, value: str, after: Scalar | None = None) -> Edit:
        pair = self.keys.get(key)
        if pair is not None and pair[1] is not None:
            return replace_scalar(text, pair[1], value)
        return insert_key(text, self.entry, key, value, after=after)


def _entries(doc: Document, images: object) -> Iterator[Site]:
    images = doc.resolve(images)  # type: ignore[arg-type]
    if not isinstance(images, Sequence):
        return
    for item in images.items:
        entry = doc.resolve(item)
        if not isinstance(entry, Mapping):
            continue
        name = scalar_str(doc, entry.get("name"))
        if name is None:
            continue
        site = KustomizeEntrySite(doc, entry, name)
        if try_parse_reference(site.name) is None:
            continue
        yield site


def is_kustomization(kind: str | None, api_version: str, filename: str) -> bool:
    """A kustomize Kustomization or Component (not Flux's), or a kind-less kustomization file."""
    if kind in ("Kustomization", "Component"):
        return not api_version.startswith(FLUX_API)
    return kind is None and filename in KUSTOMIZATION_FILES


def find(
    doc: Document, root: Mapping, kind: str | None, api_version: str, filename: str
) -> Iterator[Site]:
    """Entries of a kustomization, or of a Flux Kustomization's ``spec.images``."""
    if is_kustomization(kind, api_version, filename):
        yield from _entries(doc, root.get("images"))
    elif kind == "Kustomization" and api_version.startswith(FLUX_API):
        spec = doc.resolve(root.get("spec"))
        if isinstance(spec, Mapping):
            yield from _entries(doc, spec.get("images"))
