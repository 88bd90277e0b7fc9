"""Which files a kustomization builds from, for renames that span a base and an overlay.

An overlay's ``images:`` entry matches the images of what it builds from by ``name``.
When one change renames an image both in a base (a Deployment, or the base's own
entry) and in an overlay's entry, adding ``newName`` to the overlay entry is not
enough: its ``name`` no longer matches the renamed base, so the entry silently stops
applying (its tag or digest is lost in the render). Such an entry follows its base: its
``name`` is renamed too. An entry whose base is not renamed in the change (a base
outside the paths) keeps its ``name`` and gets ``newName``. When only part of what it
builds from is renamed (a reference bumper skipped, a remote base next to a local one),
no ``name`` matches everything: the entry is left alone, with that reason.
"""

from __future__ import annotations

from pathlib import Path

from bumper.edit.files import FileError, decode, read_regular
from bumper.edit.shapes.kustomize import KUSTOMIZATION_FILES
from bumper.edit.yamltext import Mapping, Scalar, Sequence, YamlError, parse_text

# The fields that name what a kustomization builds from.
SOURCE_FIELDS = ("resources", "bases", "components")
# Folders followed at most this deep (a base of a base of …).
MAX_DEPTH = 16


def _entries(text: str) -> list[str]:
    """The strings a kustomization lists under ``resources``, ``bases`` and ``components``."""
    try:
        documents = parse_text(text)
    except YamlError:
        return []
    found: list[str] = []
    for doc in documents:
        root = doc.root
        if not isinstance(root, Mapping):
            continue
        for field in SOURCE_FIELDS:
            items = doc.resolve(root.get(field))
            if isinstance(items, Sequence):
                for item in items.items:
                    item = doc.resolve(item)
                    if isinstance(item, Scalar) and item.value:
                        found.append(item.value)
    return found


def _kustomization_in(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def builds_from(kustomization: Path, text: str) -> tuple[set[Path], bool]:
    """Every local file (resolved) the kustomization at ``kustomization`` builds from,
    through folders that hold a kustomization of their own (a folder or file that cannot
    be read is left out), and whether it also builds from a remote base."""
    files: set[Path] = set()
    remote = False
    seen: set[Path] = set()
    pending = [(kustomization.resolve(), text, 0)]
    while pending:
        path, body, depth = pending.pop()
        if path in seen or depth > MAX_DEPTH:
            continue
        seen.add(path)
        for entry in _entries(body):
            if "://" in entry or entry.startswith(("git@", "github.com/")):
                remote = True
                continue
            target = (path.parent / entry).resolve()
            if target.is_file():
                files.add(target)
            elif target.is_dir():
                inner = _kustomization_in(target)
                if inner is None:
                    continue
                files.add(inner.resolve())
                try:
                    inner_text = decode(read_regular(inner), str(inner)).text
                except (OSError, FileError):
                    continue
                pending.append((inner.resolve(), inner_text, depth + 1))
    return files, remote
