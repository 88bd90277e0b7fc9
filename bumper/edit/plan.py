"""The Plan: every edit a bump makes, worked out before anything is written.

``plan_set_image`` is pure (it reads files and writes nothing); ``Plan.apply`` writes
the changed files atomically, all of them or, when the plan holds an error, none.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bumper.edit.anchors import (
    MAX_READS,
    Key,
    Read,
    Readers,
    TooManyReads,
    names_image_part,
    render_path,
)
from bumper.edit.confirm import Mismatch, confirm_intended
from bumper.edit.files import (
    FileError,
    Source,
    TextFile,
    collect_sources,
    decode,
    read_regular,
    write_all_atomic,
)
from bumper.edit.nonmanifest import config_by_content, refusal
from bumper.edit.overlays import builds_from
from bumper.edit.patch import unified_diff
from bumper.edit.prefilter import Prefilter
from bumper.edit.reference import canonical_name, format_reference, try_parse_reference
from bumper.edit.shapes import Edit, Meaning, Site, Wanted, find_sites, skipped_key
from bumper.edit.shapes.kustomize import KustomizeEntrySite
from bumper.edit.shapes.site import CannotEdit, splice
from bumper.edit.target import Target, parse_target
from bumper.edit.versions import is_downgrade
from bumper.edit.yamltext import (
    Document,
    LineIndex,
    Node,
    Scalar,
    YamlError,
    parse_documents_matching,
    parse_text,
)
from bumper.errors import BumperError


def with_file(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON form: the path is called ``file`` (the documented contract), and comes first."""
    rest = {key: value for key, value in fields.items() if key != "path"}
    return {"file": fields["path"], **rest}


@dataclass(frozen=True)
class Change:
    """One reference that the bump rewrites."""

    path: str
    line: int
    column: int
    shape: str
    name: str
    old: str
    new: str
    old_tag: str | None
    new_tag: str | None
    old_digest: str | None
    new_digest: str | None

    def to_dict(self) -> dict[str, Any]:
        return with_file(self.__dict__)


@dataclass(frozen=True)
class Skip:
    """A reference to the image that the bump leaves alone, and why."""

    path: str
    line: int
    column: int
    shape: str
    name: str
    current: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return with_file(self.__dict__)


@dataclass(frozen=True)
class Problem:
    """A file that could not be read or parsed (an error when named, else a warning)."""

    path: str
    line: int
    column: int
    message: str
    explicit: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class FilePlan:
    """The planned result for one file: original and updated text."""

    source: Source
    original_bytes: bytes
    text: TextFile
    updated: str
    changes: list[Change] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    unchanged: int = 0
    #: references found per target image (canonical name): changed, skipped or unchanged
    matched: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.updated != self.text.text

    def new_bytes(self) -> bytes:
        return self.text.encode(self.updated)


@dataclass
class Plan:
    """What a bump will do; nothing is written until ``apply``. A grouped bump sets
    several images (``targets``) in one plan."""

    targets: list[Target]
    files: list[FilePlan]
    problems: list[Problem]
    #: lines for people: a rename found already made, set on the new name instead
    notes: list[str] = field(default_factory=list)

    @property
    def target(self) -> Target:
        """The (first) image the plan sets."""
        return self.targets[0]

    @property
    def changes(self) -> list[Change]:
        return [change for plan in self.files for change in plan.changes]

    @property
    def skips(self) -> list[Skip]:
        return [skip for plan in self.files for skip in plan.skips]

    @property
    def matched(self) -> int:
        """References to the image found: changed, skipped or already at the target."""
        return sum(len(p.changes) + len(p.skips) + p.unchanged for p in self.files)

    @property
    def changed(self) -> bool:
        return any(plan.changed for plan in self.files)

    @property
    def changed_files(self) -> list[Path]:
        return [plan.source.path for plan in self.files if plan.changed]

    def diff(self) -> str:
        """A unified diff of every changed file (paths as the user named them)."""
        chunks: list[str] = []
        for plan in self.files:
            if not plan.changed:
                continue
            name = plan.source.display
            # A byte-order mark is the file's first character to git: the patch keeps it.
            bom = "\ufeff" if plan.text.bom else ""
            for line in unified_diff(
                _git_lines(bom + plan.text.text),
                _git_lines(bom + plan.updated),
                fromfile=f"a/{name.lstrip('/')}",
                tofile=f"b/{name.lstrip('/')}",
            ):
                if not line.endswith("\n"):
                    line += "\n\\ No newline at end of file\n"
                chunks.append(line)
        return "".join(chunks)

    def apply(self) -> list[Path]:
        """Write every changed file atomically, all or none; StaleFile (nothing written)
        when a file changed on disk since planning: plan again and retry."""
        changed = [plan for plan in self.files if plan.changed]
        try:
            write_all_atomic(
                [(p.source.path.resolve(), p.original_bytes, p.new_bytes()) for p in changed]
            )
        except OSError as error:
            where = error.filename or "a manifest folder"
            raise BumperError(
                f"cannot write in {where}: {error.strerror}; nothing written"
            ) from None
        return [plan.source.path for plan in changed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": ", ".join(str(target) for target in self.targets),
            "images": [str(target) for target in self.targets],
            "changed": self.changed,
            "changes": [c.to_dict() for c in self.changes],
            "skipped": [s.to_dict() for s in self.skips],
            "warnings": [p.to_dict() for p in self.problems if not p.explicit],
            "notes": list(self.notes),
            "files": [plan.source.display for plan in self.files if plan.changed],
        }


def _git_lines(text: str) -> list[str]:
    """Lines as git cuts them: at LF only (CR, NEL, U+2028 stay inside a line), so the
    diff is a patch ``git apply`` accepts."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def wanted_for(site: Site, target: Target) -> Wanted:
    """The reference a matching site should hold: stale tag/digest dropped, the user's
    spelling of the name kept unless renaming."""
    name = target.new_name if target.new_name is not None else site.name
    if target.new_name is not None and canonical_name(target.new_name) == canonical_name(site.name):
        name = site.name
    tag, digest = site.tag, site.digest
    if target.tag is not None and target.digest is not None:
        tag, digest = target.tag, target.digest
    elif target.tag is not None:
        digest = digest if tag == target.tag else None
        tag = target.tag
    elif target.digest is not None:
        tag = tag if digest == target.digest else None
        digest = target.digest
    return Wanted(name, tag, digest)


def _describe(w: Wanted) -> str:
    return format_reference(w.name, w.tag, w.digest)


@dataclass
class ParsedFile:
    """A manifest read and parsed, ready for shapes to search. ``indices``: the places in
    the stream of the documents parsed, when a walk parsed only those that can hold the
    image (None: all of them)."""

    source: Source
    data: bytes
    text: TextFile
    documents: list[Document]
    indices: list[int] | None = None

    def sites(self) -> list[Site]:
        """Every reference in the file, in the order of their places."""
        found = find_sites(self.text.text, self.documents, self.source.path.name)
        return sorted(found, key=lambda site: site.offset)


def read_manifest(
    source: Source, prefilter: Prefilter | None = None
) -> ParsedFile | Problem | None:
    """Read and parse one file; None when ``prefilter`` says it cannot hold the image
    (then only the documents that may hold it are parsed) or when a walk found CI
    configuration (named explicitly, that is an error)."""
    if source.template:
        return Problem(source.display, 1, 1, "a Helm chart template: never edited", False)
    if source.skip is not None:
        return Problem(source.display, 1, 1, source.skip, False)
    try:
        data = read_regular(source.path)
    except OSError as error:
        if not source.explicit and isinstance(error, (FileNotFoundError, IsADirectoryError)):
            return None  # tracked by git but deleted, or a submodule: nothing to read
        return Problem(source.display, 1, 1, f"cannot read: {error.strerror}", source.explicit)
    if prefilter is not None and not prefilter.file_may_hold(data):
        return None
    try:
        text_file = decode(data, source.display)
        text = text_file.text
        if source.path.suffix == ".json":
            # Tabs indent JSON but not YAML; spaces have the same length, so offsets hold.
            text = text.replace("\t", " ")
        indices = None
        if prefilter is None:
            documents = parse_text(text)
        else:
            documents, indices = parse_documents_matching(text, prefilter.text_may_hold)
    except (YamlError, FileError) as error:
        return Problem(source.display, error.line, error.column, error.message, source.explicit)
    config = config_by_content(documents)
    if config is not None:
        if source.explicit:
            return Problem(source.display, 1, 1, refusal(config), True)
        return None
    return ParsedFile(source, data, text_file, documents, indices)


@dataclass
class _Decision:
    """What the planner makes of one reference: its edits, or why it is left alone."""

    site: Site
    wanted: Wanted
    edits: list[Edit]
    reason: str | None
    unchanged: bool
    #: the map overrides a merged base instead of editing it (tried once)
    overridden: bool = False
    #: pairs (map id, key) other references must remove in this change, since they
    #: alias an anchor in a pair this one removes; and the reason to give if not
    removes_with: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def editing(self) -> bool:
        return self.reason is None and bool(self.edits)


SHARED_CONFLICT = "shares an anchored value with another reference that gets another value"


class _FilePlanner:
    """Plans one file: which references change, which are skipped and why, and the
    edits, each made once however many references read it.

    Each reference is decided on its own first; then references that share values are
    settled together: two that would write one value differently are both left alone,
    and an edit that would also change a reference left alone (or already at the
    target) is not made. Only then are the edits spliced in.
    """

    def __init__(
        self,
        parsed: ParsedFile,
        target: Target,
        allow_downgrade: bool,
        overlays: Mapping[str, str | None] | None = None,
    ) -> None:
        self.parsed = parsed
        self.target = target
        self.allow_downgrade = allow_downgrade
        self.overlays = overlays or {}
        self.text = parsed.text.text
        self.plan = FilePlan(parsed.source, parsed.data, parsed.text, self.text)
        self.lines = LineIndex(self.text)
        self.edits: list[Edit] = []
        self.readers: Readers | None = None
        self._places: dict[int, set[tuple[int, Key]] | None] = {}

    def run(self) -> FilePlan | Problem | None:
        canonical = self.target.canonical
        sites = self.parsed.sites()
        mine = [s for s in sites if canonical_name(s.name) == canonical]
        if not mine:
            return None
        # Every place a reference to this image reads a value from: an edit of a value
        # also read anywhere else would change that place too.
        self.reads = {(id(holder), key) for s in mine for holder, key in s.reads()}
        self.others = {
            (id(holder), key): s.name for s in sites if s not in mine for holder, key in s.reads()
        }
        if any(doc.aliases for doc in self.parsed.documents):
            self.readers = Readers(self.parsed.documents)
        if canonical in self.overlays:
            # Entries matching a base renamed in this change (bumper.edit.overlays).
            held = self.overlays[canonical]
            for site in mine:
                if (
                    isinstance(site, KustomizeEntrySite)
                    and canonical_name(site.matches) == canonical
                ):
                    site.follow_base = held is None
                    site.problem = site.problem or held
        decisions = [self.decide(site) for site in mine]
        if self.readers is not None or len(decisions) > 1:
            self.settle(decisions)
        planned: set[Edit] = set()
        for decision in decisions:
            self.record(decision, planned)
        if self.parsed.indices is not None and (self.edits or self.plan.skips):
            # A walk parsed only the documents naming the image: before the file is
            # rewritten (or a reference in it reported) the rest must parse too, as when
            # the file is named.
            try:
                parse_text(self.text)
            except YamlError as error:
                source = self.parsed.source
                return Problem(source.display, error.line, error.column, error.message, False)
        if self.edits:
            self.plan.updated = splice(self.text, self.edits)
            if any(edit.structural for edit in self.edits):
                self.confirm()
        return self.plan

    def decide(self, site: Site) -> _Decision:
        """The reference on its own: its edits, or the reason it is left alone."""
        wanted = wanted_for(site, self.target)
        reason = site.problem
        if (
            reason is None
            and wanted != site.current
            and not self.allow_downgrade
            and is_downgrade(site.tag, wanted.tag)
        ):
            reason = f"downgrade {site.tag} → {wanted.tag} (use --allow-downgrade)"
        unchanged = wanted == site.current and not site.requote
        edits: list[Edit] = []
        if reason is None and not unchanged:
            try:
                edits = site.edits(self.text, wanted)
            except CannotEdit as error:
                reason = error.message
        removes_with: list[tuple[int, str, str]] = []
        if reason is None and edits:
            reason = _own_overlap(site, edits) or self.shared(edits, removes_with)
            if reason is not None and hasattr(site, "override_edits"):
                # A merged base others read is left alone: the map overrides it instead.
                override = site.override_edits(self.text, wanted)
                if override and not (_own_overlap(site, override) or self.shared(override)):
                    return _Decision(site, wanted, override, None, False, overridden=True)
        return _Decision(site, wanted, edits, reason, unchanged, removes_with=removes_with)

    def settle(self, decisions: list[_Decision]) -> None:
        """Leave alone every reference whose edits clash with another's, or would change
        a reference that is left alone or already right; repeated until nothing moves
        (a reference left alone may in turn hold back another's edit)."""
        readers: dict[tuple[int, Key], list[_Decision]] = {}
        if self.readers is not None:
            for decision in decisions:
                for holder, key in decision.site.reads():
                    readers.setdefault((id(holder), key), []).append(decision)
        moved = True
        while moved:
            moved = False
            clashes = self.clashes(decisions, readers)
            for decision in decisions:
                reason = clashes.get(id(decision))
                if reason is None:
                    continue
                moved = True
                override = None
                site = decision.site
                if reason == SHARED_CONFLICT and not decision.overridden:
                    override = getattr(site, "override_edits", lambda *_: None)(
                        self.text, decision.wanted
                    )
                if override and not (_own_overlap(site, override) or self.shared(override)):
                    decision.edits, decision.overridden = override, True
                    decision.removes_with = []
                else:
                    decision.reason = reason

    def clashes(
        self, decisions: list[_Decision], readers: dict[tuple[int, Key], list[_Decision]]
    ) -> dict[int, str]:
        """Why each editing decision (by id) cannot be made alongside the others: two
        different edits of the same text, or an edit of a value another reference reads
        that this one does not plan too."""
        editing = [d for d in decisions if d.editing]
        found: dict[int, str] = {}
        # Different edits of the same text (or insertions at one point): a sweep in order.
        spans = sorted(
            ((e.start, e.end, n, e) for n, d in enumerate(editing) for e in d.edits),
            key=lambda span: (span[0], span[1]),
        )
        open_spans: list[tuple[int, int, int, Edit]] = []
        for span in spans:
            open_spans = [o for o in open_spans if o[1] > span[0] or o[1] == o[0] == span[0]]
            for other in open_spans:
                if other[2] != span[2] and other[3] != span[3] and _overlap(other[3], span[3]):
                    found[id(editing[other[2]])] = found[id(editing[span[2]])] = SHARED_CONFLICT
            open_spans.append(span)
        if self.readers is None:
            return found
        removed = {
            (id(m.node), m.key.value)
            for d in editing
            for e in d.edits
            for m in e.meanings
            if m.action == "remove"
        }
        for decision in editing:
            kept = [
                why for holder, key, why in decision.removes_with if (holder, key) not in removed
            ]
            if kept and id(decision) not in found:
                found[id(decision)] = kept[0]
        for decision in editing:
            if id(decision) in found:
                continue
            for edit in decision.edits:
                reason = self._changes_another(decision, edit, readers)
                if reason is not None:
                    found[id(decision)] = reason
                    break
        return found

    def _changes_another(
        self, decision: _Decision, edit: Edit, readers: dict[tuple[int, Key], list[_Decision]]
    ) -> str | None:
        for place in self.places(edit):
            for other in readers.get(place, []):
                if other is decision:
                    continue
                if other.editing:
                    if edit in other.edits or place in _own_inserts(other):
                        # The same edit, or a key the other adds to its own map (which
                        # overrides a merged one).
                        continue
                    return SHARED_CONFLICT
                line = self.lines.locate(other.site.offset)[0]
                state = "already at the target" if other.unchanged else "left alone"
                return f"shares an anchored value with the reference at line {line}, {state}"
        return None

    def places(self, edit: Edit) -> set[tuple[int, Key]]:
        """Every (collection, key) whose loaded value the edit changes."""
        cached = self._places.get(id(edit))
        if cached is not None:
            return cached
        assert self.readers is not None
        found: set[tuple[int, Key]] = set()
        for meaning in edit.meanings:
            try:
                reads = self._reads(meaning)
            except TooManyReads:
                continue  # refused in shared()
            found |= {(id(read.holder), read.key) for read in reads}
        self._places[id(edit)] = found
        return found

    def _reads(self, meaning: Meaning) -> list[Read]:
        assert self.readers is not None
        if meaning.action in ("set", "inner"):
            return self.readers.reads_of_value(meaning.node)
        key = meaning.key if meaning.action == "insert" else meaning.key.value
        return self.readers.reads_of_key(meaning.node, key)

    def record(self, decision: _Decision, planned: set[Edit]) -> None:
        site, wanted = decision.site, decision.wanted
        source = self.parsed.source
        line, column = self.lines.locate(site.offset)
        current = _describe(site.current)
        if decision.reason is not None:
            self.plan.skips.append(
                Skip(source.display, line, column, site.shape, site.name, current, decision.reason)
            )
            return
        if decision.unchanged:
            self.plan.unchanged += 1
            return
        for edit in decision.edits:
            if edit not in planned:
                planned.add(edit)
                self.edits.append(edit)
        self.plan.changes.append(
            Change(
                source.display,
                line,
                column,
                site.shape,
                site.name,
                current,
                _describe(wanted),
                site.tag,
                wanted.tag,
                site.digest,
                wanted.digest,
            )
        )

    def shared(
        self, edits: list[Edit], removes_with: list[tuple[int, str, str]] | None = None
    ) -> str | None:
        """A reason to leave the reference alone when a value it would change is also read
        somewhere that is not a reference to this image (through an alias or merge key),
        or when a pair it removes holds an anchor read elsewhere. With ``removes_with``,
        an anchor read only as another reference's value (``newTag: *a``) is no reason
        yet: the pair is added there, for :meth:`clashes` to check that the other
        reference removes it in the same change."""
        if self.readers is None:
            return None
        for edit in edits:
            for meaning in edit.meanings:
                try:
                    reads = self._reads(meaning)
                except TooManyReads:
                    return f"its value is read from more than {MAX_READS} places through aliases"
                for read in reads:
                    if (id(read.holder), read.key) in self.reads:
                        continue
                    if _never_edited_path(read.path) or self.other_reference(read):
                        return self.describe(read)
                    if meaning.action == "set" and self.defines(read, meaning.node):
                        continue  # an anchor's definition, or an alias under an image key
                    return self.describe(read)
                if meaning.action == "remove":
                    reason = self.anchored_pair(meaning, removes_with)
                    if reason is not None:
                        return reason
        return None

    def defines(self, read: Read, node: Node) -> bool:
        """True for a place that may change with the references reading its value: a
        key naming an image part (``x-app: &app``, ``appVersion: *tag``), or the
        anchor's own place when its value is itself a reference to this image
        (``- &app ghcr.io/acme/app:1``)."""
        if names_image_part(read.key):
            return True
        if read.where is None and isinstance(node, Scalar):
            ref = try_parse_reference(node.value)
            return ref is not None and canonical_name(ref.name) == self.target.canonical
        return False

    def anchored_pair(
        self, meaning: Meaning, removes_with: list[tuple[int, str, str]] | None
    ) -> str | None:
        """Why a pair cannot be removed: its key or value is an anchor read elsewhere
        (the alias would be left naming nothing), unless the alias is the value of a
        pair a reference to this image reads, and may remove too (see :meth:`shared`)."""
        assert self.readers is not None
        mapping, key = meaning.node, meaning.key
        value = next(v for k, v in mapping.pairs if k is key)
        for node in (key, value):
            for alias in self.readers.aliases.get(id(node), []):
                line = self.lines.locate(alias.start)[0]
                reason = (
                    f"its {key.value} would be removed, but its anchor &{node.anchor} is "
                    f"read again at line {line}"
                )
                holder, at = self.readers.parent[id(alias)]
                if (
                    removes_with is None
                    or node is key
                    or not isinstance(at, str)
                    or (id(holder), at) not in self.reads
                ):
                    return reason
                removes_with.append((id(holder), at, reason))
        return None

    def other_reference(self, read: Read) -> bool:
        key = (id(read.holder), read.key)
        return key in self.others and key not in self.reads

    def describe(self, read: Read) -> str:
        where = f" (line {self.lines.locate(read.where)[0]})" if read.where is not None else ""
        place = render_path(read.path)
        if _never_edited_path(read.path):
            return f"its value is also read at {place}{where}, which bumper never edits"
        other = self.others.get((id(read.holder), read.key))
        if other is not None:
            return f"its value is shared through an anchor with {other}"
        return (
            f"its value is also read at {place}{where}, which is not a reference to "
            f"{self.target.match}"
        )

    def confirm(self) -> None:
        """Re-read the edited text: it must parse, load to the same data except the
        intended values, and hold exactly the wanted references (Renovate's
        replace-then-re-extract, and more)."""
        plan, display = self.plan, self.parsed.source.display
        try:
            documents = parse_text(plan.updated)
        except YamlError as error:
            raise BumperError(
                f"{display}: internal error, the edit would break the file "
                f"({error.message} at line {error.line}); nothing written"
            ) from None
        indices = self.parsed.indices
        edited = documents if indices is None else [documents[i] for i in indices]
        try:
            confirm_intended(self.parsed.documents, edited, self.edits)
        except Mismatch as error:
            raise BumperError(
                f"{display}: internal error, the edit would change other data ({error}); "
                "nothing written"
            ) from None
        sites = find_sites(plan.updated, documents, self.parsed.source.path.name)
        new_target = self.target.new_name or self.target.match
        expected = {c.new for c in plan.changes}
        found = {
            _describe(s.current)
            for s in sites
            if canonical_name(s.name) == canonical_name(new_target)
        }
        if not expected <= found:
            raise BumperError(
                f"{display}: internal error, the edited file does not hold "
                f"{sorted(expected - found)[0]}; nothing written"
            )


def _own_inserts(decision: _Decision) -> set[tuple[int, Key]]:
    """(map, key) of every key the decision adds to a map."""
    return {(id(m.node), m.key) for e in decision.edits for m in e.meanings if m.action == "insert"}


def _overlap(edit: Edit, other: Edit) -> bool:
    """Two different edits that touch the same text (or insert at one point)."""
    same_point = edit.start == edit.end == other.start == other.end
    return same_point or (edit.start < other.end and other.start < edit.end)


def _own_overlap(site: Site, edits: list[Edit]) -> str | None:
    """Why a reference's own edits cannot all be made: two of its parts are one
    anchored value that would get two values (``tag: &a x`` and ``digest: *a``)."""
    shared = [s for i, s in enumerate(site.scalars()) if any(s is t for t in site.scalars()[:i])]
    for edit in edits:
        if any(m.action == "set" and any(m.node is s for s in shared) for m in edit.meanings):
            return "two of its parts are one anchored value; edit it by hand"
    for i, edit in enumerate(edits):
        # Its own insertions at one point are ordered, not clashing.
        later = edits[i + 1 :]
        if any(edit.start < o.end and o.start < edit.end and edit != o for o in later):
            return "two of its parts are one anchored value; edit it by hand"
    return None


def _never_edited_path(path: tuple[str | int, ...]) -> bool:
    """True for a place bumper never edits: under env, args, labels, annotations, a
    Kubernetes object's metadata or status."""
    if path[:1] == ("status",):
        return True
    return any(isinstance(key, str) and skipped_key(key) for key in path)


def _plan_file(
    source: Source,
    targets: Sequence[Target],
    allow_downgrade: bool,
    prefilter: AnyOf,
    scope: Scope | None = None,
    overlays: Mapping[str, str | None] | None = None,
) -> FilePlan | Problem | None:
    """Plan one file; None when it holds no reference to any target. Several targets are
    planned in turn, each on the text the previous ones left (with ``scope``, each only
    in the files it names for that target). ``overlays``: for renamed images (canonical
    names), None when this kustomization's entries rename their ``name`` with their
    base, else the reason they are left alone."""
    overlays = overlays or {}
    if scope is not None:
        targets = [t for t, files in zip(targets, scope, strict=True) if source.display in files]
        if not targets:
            return None
    # Named files are always parsed whole: one that is broken must fail the run.
    parsed = read_manifest(source, None if source.explicit else prefilter)
    if not isinstance(parsed, ParsedFile):
        return parsed
    if len(targets) == 1:
        result = _FilePlanner(parsed, targets[0], allow_downgrade, overlays).run()
        if isinstance(result, FilePlan):
            result.matched = {targets[0].canonical: _count(result)}
        return result
    combined = FilePlan(source, parsed.data, parsed.text, parsed.text.text)
    for target in targets:
        result = _FilePlanner(parsed, target, allow_downgrade, overlays).run()
        if isinstance(result, Problem):
            return result
        if result is None:
            continue
        combined.changes += result.changes
        combined.skips += result.skips
        combined.unchanged += result.unchanged
        combined.matched[target.canonical] = _count(result)
        if result.changed:
            combined.updated = result.updated
            text = replace(parsed.text, text=result.updated)
            documents = parse_text(result.updated)
            parsed = replace(parsed, text=text, documents=documents, indices=None)
    return combined if combined.matched else None


def _count(plan: FilePlan) -> int:
    return len(plan.changes) + len(plan.skips) + plan.unchanged


# Below this many files a second process costs more than it saves; the work per file is
# independent, so above it the files are planned in one process per core.
PARALLEL_MIN_FILES = 800


# Where each target may be set: for each target (in order), the files (as displayed) it
# may edit.
Scope = Sequence[Collection[str]]


class AnyOf:
    """The prefilters of several images: a file is read when it may hold any of them."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.filters = [Prefilter(target.match) for target in targets]

    def file_may_hold(self, data: bytes) -> bool:
        return any(f.file_may_hold(data) for f in self.filters)

    def text_may_hold(self, text: str, begin: int = 0, end: int | None = None) -> bool:
        return any(f.text_may_hold(text, begin, end) for f in self.filters)


def _plan_chunk(
    sources: Sequence[Source],
    targets: Sequence[Target],
    allow_downgrade: bool,
    scope: Scope | None = None,
) -> list[FilePlan | Problem | None]:
    prefilter = AnyOf(targets)
    return [_plan_file(s, targets, allow_downgrade, prefilter, scope) for s in sources]


def _plan_many(
    sources: Sequence[Source],
    targets: Sequence[Target],
    allow_downgrade: bool,
    scope: Scope | None = None,
) -> list[FilePlan | Problem | None]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if len(sources) < PARALLEL_MIN_FILES or (cores or 1) < 2 or sys.platform != "linux":
        return _plan_chunk(sources, targets, allow_downgrade, scope)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    workers = min(cores or 1, 8)
    size = -(-len(sources) // (workers * 4))
    chunks = [sources[i : i + size] for i in range(0, len(sources), size)]
    try:
        # fork: the workers inherit the imported modules, so they start in milliseconds.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_die_with_parent
        ) as pool:
            try:
                results = pool.map(
                    _plan_chunk,
                    chunks,
                    [targets] * len(chunks),
                    [allow_downgrade] * len(chunks),
                    [scope] * len(chunks),
                )
                return [result for chunk in results for result in chunk]
            except KeyboardInterrupt:
                # Stopped: the chunks not started are dropped, not waited for.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except (OSError, BrokenProcessPool):
        # No /dev/shm for the pool's locks (some containers), or a worker was killed:
        # the same work in this process.
        return _plan_chunk(sources, targets, allow_downgrade, scope)


def _die_with_parent() -> None:
    """A planning worker ends when the process that started it does, however it ends
    (killed, or stopped while waiting for its workers): no orphan is ever left."""
    import ctypes
    import signal

    # The default action: a worker never runs bumper's own SIGTERM handling.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the line above took effect
        os._exit(1)


def _follow_renamed_bases(
    files: list[FilePlan],
    targets: Sequence[Target],
    allow_downgrade: bool,
    scope: Scope | None,
) -> list[FilePlan]:
    """Plan again the kustomizations whose ``images`` entries name a renamed image and
    that build from a file holding the new name once this change is made (renamed now,
    or by an earlier run: a rerun decides as the first run did): their entries follow
    the base, or, when part of what they build from keeps the old name (a skipped
    reference, a remote base), are left alone with that reason (see
    ``bumper.edit.overlays``)."""
    new_names = {
        t.canonical: canonical_name(t.new_name)
        for t in targets
        if t.new_name is not None and canonical_name(t.new_name) != t.canonical
    }
    renamed: dict[str, set[Path]] = {}
    kept: dict[str, dict[Path, str]] = {}  # old names still read there (skipped references)
    for plan in files:
        where = plan.source.path.resolve()
        for change in plan.changes:
            if canonical_name(change.name) in new_names:
                renamed.setdefault(canonical_name(change.name), set()).add(where)
        for skip in plan.skips:
            if canonical_name(skip.name) in new_names and skip.shape != "kustomize":
                kept.setdefault(canonical_name(skip.name), {})[where] = f"{skip.path}:{skip.line}"
    holders = _Holders()
    result: list[FilePlan] = []
    for plan in files:
        entries = {canonical_name(c.name) for c in plan.changes if c.shape == "kustomize"}
        rules: dict[str, str | None] = {}
        if entries & set(new_names):
            own = plan.source.path.resolve()
            sources, remote = builds_from(plan.source.path, plan.text.text)
            for name in entries & set(new_names):
                renamed_now = renamed.get(name, set()) - {own}
                if not renamed_now & sources and not any(
                    holders.holds(path, new_names[name]) for path in sources - {own}
                ):
                    continue
                left = [
                    place for path, place in kept.get(name, {}).items() if path in sources | {own}
                ]
                if left or remote:
                    rest = left[0] if left else "a remote base"
                    rules[name] = (
                        "renamed in only part of what this kustomization builds from (the old "
                        f"name stays at {rest}): either name would leave part unmatched; "
                        "edit it by hand"
                    )
                else:
                    rules[name] = None
        if not rules:
            result.append(plan)
            continue
        again = _plan_file(plan.source, targets, allow_downgrade, AnyOf(targets), scope, rules)
        assert isinstance(again, FilePlan)
        result.append(again)
    return result


class _Holders:
    """Whether a file already holds a reference to an image (each file read once per image)."""

    def __init__(self) -> None:
        self.known: dict[tuple[Path, str], bool] = {}
        self.prefilters: dict[str, Prefilter] = {}

    def holds(self, path: Path, canonical: str) -> bool:
        if (path, canonical) not in self.known:
            if canonical not in self.prefilters:
                self.prefilters[canonical] = Prefilter(canonical)
            parsed = read_manifest(Source(path, str(path), False), self.prefilters[canonical])
            sites = parsed.sites() if isinstance(parsed, ParsedFile) else []
            self.known[path, canonical] = any(canonical_name(s.name) == canonical for s in sites)
        return self.known[path, canonical]


def _same_image(targets: Sequence[Target], scope: Scope | None) -> tuple[Target, Target] | None:
    """Two targets for one repository in overlapping files (each names the other), if any."""
    places = list(scope) if scope is not None else [None] * len(targets)
    seen: dict[str, tuple[Target, Collection[str] | None]] = {}
    for target, files in zip(targets, places, strict=True):
        if target.canonical in seen:
            other, other_files = seen[target.canonical]
            if files is None or other_files is None or set(files) & set(other_files):
                return other, target
        seen[target.canonical] = (target, files)
    return None


def _plan_sources(
    sources: Sequence[Source],
    targets: Sequence[Target],
    allow_downgrade: bool,
    scope: Scope | None,
) -> tuple[list[FilePlan], list[Problem]]:
    files: list[FilePlan] = []
    problems: list[Problem] = []
    for result in _plan_many(sources, targets, allow_downgrade, scope):
        if isinstance(result, Problem):
            problems.append(result)
        elif result is not None:
            files.append(result)
    if any(target.new_name is not None for target in targets):
        files = _follow_renamed_bases(files, targets, allow_downgrade, scope)
    return files, problems


def _on_new_name(target: Target) -> Target:
    """The bump a rename becomes once no reference to its old name is left."""
    return Target(target.written_name, target.tag, target.digest)


def _missing(targets: Sequence[Target], files: Sequence[FilePlan]) -> list[Target]:
    """The targets no file holds a reference to."""
    return [t for t in targets if not any(f.matched.get(t.canonical) for f in files)]


def plan_set_image(
    target: str | Target,
    paths: Iterable[str | Path] = (".",),
    *,
    allow_downgrade: bool = False,
    allow_missing: bool = False,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
) -> Plan:
    """Plan setting ``target`` (``NAME:TAG``, ``NAME@DIGEST``, ``OLD=NEW:TAG`` …) in every
    manifest under ``paths``.

    Raises BumperError (one line naming file, line and cause) when the target is invalid,
    a file named in ``paths`` cannot be parsed, or nothing references the image and
    ``allow_missing`` is false. Files that fail to parse during a directory walk become
    ``plan.problems`` (warnings). With ``root``, paths are taken inside that folder
    (a clone) and reported as given.
    """
    return plan_images(
        [target],
        paths,
        allow_downgrade=allow_downgrade,
        allow_missing=allow_missing,
        include=include,
        exclude=exclude,
        root=root,
    )


def plan_images(
    targets: Sequence[str | Target],
    paths: Iterable[str | Path] = (".",),
    *,
    allow_downgrade: bool = False,
    allow_missing: bool = False,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
    scope: Scope | None = None,
) -> Plan:
    """Plan setting several images together (a grouped bump): one plan, all or nothing.

    Like :func:`plan_set_image` for each target in turn, each on the text the previous
    ones left; every target must find a reference (unless ``allow_missing``), and two
    targets for one repository are refused. ``scope`` limits each target to some of
    the files (for each target, the displayed paths it may edit): one image may then be
    set to different versions in different files.
    """
    parsed = [parse_target(t) if isinstance(t, str) else t for t in targets]
    if not parsed:
        raise BumperError("no image to set")
    clash = _same_image(parsed, scope)
    if clash:
        raise BumperError(f"{clash[0]} and {clash[1]} set the same image; give it once")
    path_list = [str(p) for p in paths] or ["."]
    sources = collect_sources(path_list, include, exclude, root)
    files, problems = _plan_sources(sources, parsed, allow_downgrade, scope)
    missing = _missing(parsed, files)
    notes: list[str] = []
    made = [t for t in missing if t.new_name is not None]
    if made:
        # A rename already made (a rerun, or the next release with the same OLD=NEW)
        # finds only the new name: set that, as `set-image NEW:TAG` would, so a rerun
        # is a no-op and the next release still lands.
        on_new = [_on_new_name(t) if t in made else t for t in parsed]
        if not _same_image(on_new, scope):
            new_files, new_problems = _plan_sources(sources, on_new, allow_downgrade, scope)
            still = _missing(on_new, new_files)
            found = [t for t, n in zip(parsed, on_new, strict=True) if t in made and n not in still]
            if found:
                files, problems = new_files, new_problems
                missing = [t for t, n in zip(parsed, on_new, strict=True) if n in still]
                notes = [
                    f"{t.match}: no reference left, already renamed to {t.new_name}" for t in found
                ]
    errors = [p for p in problems if p.explicit]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BumperError(f"{errors[0]}{more}; nothing written")
    plan = Plan(parsed, files, problems, notes)
    if missing and not allow_missing:
        where = ", ".join(path_list)
        written = "; nothing written" if len(parsed) > 1 else ""
        raise BumperError(
            f"no reference to {missing[0].match} found in {where} "
            f"(check the name, or pass --allow-missing){written}",
            warnings=tuple(f"{p} (file skipped)" for p in problems),
        )
    return plan
