"""Who reads an anchored value: every place the loaded data holds it.

An alias (``*name``) or a merge key (``<<: *base``) makes one value appear in several
places of the loaded data, and editing it changes all of them. A place under ``env``,
``args``, a label, an annotation or ConfigMap data, another image's reference, or any
place that is not a reference to the image (``replicaCount: *tag``), means the edit
would change data bumper promises never to touch: the reference is skipped with a
reason naming that place. Only a place under a key that names an image part
(``x-app: &app …``, ``appVersion: *tag``) may change with the references that read the
same value.

Only documents with aliases need this, and only for values an edit would change.
Paths are followed, not expanded: an alias bomb costs no more than its text, and a
value read from more than ``MAX_READS`` places is simply not edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bumper.edit.yamltext import Alias, Document, Mapping, Node, Scalar, Sequence

MAX_READS = 256

Key = str | int
Path = tuple[Key, ...]


class TooManyReads(Exception):
    """A value read from more places than bumper follows."""


@dataclass(frozen=True)
class Read:
    """One place a value is read: ``holder[key]``, reached from the root by ``path``;
    ``where`` is the offset of the alias that brings it there (None: its own place)."""

    holder: Node
    key: Key
    path: Path
    where: int | None


class Readers:
    """Where the nodes of a file's documents sit, and which aliases and merges read them."""

    def __init__(self, documents: list[Document]) -> None:
        self.parent: dict[int, tuple[Node, Key]] = {}
        self.aliases: dict[int, list[Alias]] = {}
        self.merged_into: dict[int, list[tuple[Mapping, Alias]]] = {}
        self.roots: dict[int, Document] = {}
        self._paths: dict[int, list[tuple[Path, int | None]]] = {}
        for doc in documents:
            if doc.root is not None:
                self.roots[id(doc.root)] = doc
                self._index(doc.root)

    def _index(self, root: Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, Mapping):
                for key, value in node.pairs:
                    if not isinstance(key, Scalar):
                        continue
                    if key.value == "<<" and key.style == "":
                        self._index_merge(node, value)
                        continue
                    self._link(node, key.value, value)
                    stack.append(value)
            elif isinstance(node, Sequence):
                for index, item in enumerate(node.items):
                    self._link(node, index, item)
                    stack.append(item)

    def _link(self, container: Node, key: Key, value: Node) -> None:
        self.parent[id(value)] = (container, key)
        if isinstance(value, Alias):
            self.aliases.setdefault(id(value.target), []).append(value)

    def _index_merge(self, mapping: Mapping, value: Node) -> None:
        sources = value.items if isinstance(value, Sequence) else [value]
        for source in sources:
            if isinstance(source, Alias):
                self.merged_into.setdefault(id(source.target), []).append((mapping, source))

    def paths(self, node: Node) -> list[tuple[Path, int | None]]:
        """Every path from a document root to ``node`` as the loaded data has it."""
        cached = self._paths.get(id(node))
        if cached is not None:
            return cached
        found: list[tuple[Path, int | None]] = []
        if id(node) in self.roots:
            found.append(((), None))
        own = self.parent.get(id(node))
        if own is not None:
            container, key = own
            found += [((*path, key), where) for path, where in self.paths(container)]
        for alias in self.aliases.get(id(node), []):
            container, key = self.parent[id(alias)]
            found += [((*path, key), alias.start) for path, _ in self.paths(container)]
        if len(found) > MAX_READS:
            raise TooManyReads
        self._paths[id(node)] = found
        return found

    def reads_of_key(self, holder: Node, key: Key, depth: int = 0) -> list[Read]:
        """Every place ``holder[key]`` is read: where ``holder`` is, and every map that
        merges ``holder`` without a ``key`` of its own."""
        reads = [Read(holder, key, (*path, key), where) for path, where in self.paths(holder)]
        if isinstance(holder, Mapping) and isinstance(key, str) and depth < 32:
            for mapping, alias in self.merged_into.get(id(holder), []):
                if mapping.get_pair(key) is None:
                    for read in self.reads_of_key(mapping, key, depth + 1):
                        reads.append(Read(read.holder, key, read.path, read.where or alias.start))
        if len(reads) > MAX_READS:
            raise TooManyReads
        return reads

    def reads_of_value(self, node: Node) -> list[Read]:
        """Every place a value node is read: its own place and each alias to it."""
        reads: list[Read] = []
        own = self.parent.get(id(node))
        if own is not None:
            reads += self.reads_of_key(*own)
        for alias in self.aliases.get(id(node), []):
            container, key = self.parent[id(alias)]
            reads += [
                Read(r.holder, r.key, r.path, r.where or alias.start)
                for r in self.reads_of_key(container, key)
            ]
        if len(reads) > MAX_READS:
            raise TooManyReads
        return reads


def render_path(path: Path) -> str:
    """``spec.containers[0].env[1].value``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "the document"


# Words of a key that says its value is (part of) an image reference, and words that
# say it is not (``imagePullPolicy``, ``apiVersion``).
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
NAMING_WORDS = frozenset(
    {"image", "images", "img", "tag", "tags", "version", "ver", "digest", "sha", "repository",
     "repo", "registry", "release"}
)  # fmt: skip
NOT_NAMING_WORDS = frozenset({"policy", "secret", "secrets", "api", "pull"})


def names_image_part(key: Key) -> bool:
    """True for a key whose name says its value is (part of) an image reference, so an
    anchored value there may change with the references that alias it: ``x-`` extension
    keys (compose), ``appVersion``, ``imageTag``, ``ver``; not ``imagePullPolicy``,
    ``replicaCount`` or a list item."""
    if not isinstance(key, str):
        return False
    if key.startswith("x-"):
        return True
    words = {word.lower() for word in _WORDS.findall(key)}
    return bool(words & NAMING_WORDS) and not words & NOT_NAMING_WORDS
