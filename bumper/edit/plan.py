"""The Plan: every edit a bump makes, worked out before anything is written.

``plan_set_image`` is pure (it reads files and writes nothing); ``Plan.apply`` writes
the changed files atomically, all of them or, when the plan holds an error, none.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.edit.files import FileError, Source, TextFile, collect_sources, decode, write_all_atomic
from bumper.edit.prefilter import Prefilter
from bumper.edit.reference import canonical_name, format_reference
from bumper.edit.shapes import Edit, Site, Wanted, find_sites
from bumper.edit.target import Target, parse_target
from bumper.edit.versions import is_downgrade
from bumper.edit.yamltext import (
    Document,
    LineIndex,
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

    @property
    def changed(self) -> bool:
        return self.updated != self.text.text

    def new_bytes(self) -> bytes:
        return self.text.encode(self.updated)


@dataclass
class Plan:
    """What a bump will do; nothing is written until ``apply``."""

    target: Target
    files: list[FilePlan]
    problems: list[Problem]

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
            for line in difflib.unified_diff(
                plan.text.text.splitlines(keepends=True),
                plan.updated.splitlines(keepends=True),
                fromfile=f"a/{name.lstrip('/')}",
                tofile=f"b/{name.lstrip('/')}",
            ):
                if not line.endswith("\n"):
                    line += "\n\\ No newline at end of file\n"
                chunks.append(line)
        return "".join(chunks)

    def apply(self) -> list[Path]:
        """Write every changed file atomically; refuse if a file changed since planning."""
        changed = [plan for plan in self.files if plan.changed]
        for plan in changed:
            if plan.source.path.read_bytes() != plan.original_bytes:
                raise BumperError(
                    f"{plan.source.display}: changed on disk while planning; nothing written"
                )
        try:
            write_all_atomic([(p.source.path.resolve(), p.new_bytes()) for p in changed])
        except OSError as error:
            where = error.filename or "a manifest folder"
            raise BumperError(
                f"cannot write in {where}: {error.strerror}; nothing written"
            ) from None
        return [plan.source.path for plan in changed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": str(self.target),
            "changed": self.changed,
            "changes": [c.to_dict() for c in self.changes],
            "skipped": [s.to_dict() for s in self.skips],
            "warnings": [p.to_dict() for p in self.problems if not p.explicit],
            "files": [plan.source.display for plan in self.files if plan.changed],
        }


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


def splice(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (insertions at one offset keep their order)."""
    ordered = sorted(
        enumerate(edits), key=lambda item: (item[1].start, item[1].end, item[1].order, item[0])
    )
    parts: list[str] = []
    position = 0
    for _, edit in ordered:
        if edit.start < position:
            raise AssertionError(f"overlapping edits at offset {edit.start}")
        parts.append(text[position : edit.start])
        parts.append(edit.new)
        position = edit.end
    parts.append(text[position:])
    return "".join(parts)


def _describe(w: Wanted) -> str:
    return format_reference(w.name, w.tag, w.digest)


@dataclass
class ParsedFile:
    """A manifest read and parsed, ready for shapes to search."""

    source: Source
    data: bytes
    text: TextFile
    documents: list[Document]


def read_manifest(
    source: Source, prefilter: Prefilter | None = None
) -> ParsedFile | Problem | None:
    """Read and parse one file; None when ``prefilter`` says it cannot hold the image
    (then only the documents that may hold it are parsed)."""
    if source.template:
        return Problem(source.display, 1, 1, "a Helm chart template: never edited", False)
    try:
        with open(source.path, "rb") as handle:
            data = handle.read()
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
        if prefilter is None:
            documents = parse_text(text)
        else:
            documents = parse_documents_matching(text, prefilter.text_may_hold)
    except (YamlError, FileError) as error:
        return Problem(source.display, error.line, error.column, error.message, source.explicit)
    return ParsedFile(source, data, text_file, documents)


def _plan_file(
    source: Source, target: Target, allow_downgrade: bool, prefilter: Prefilter
) -> FilePlan | Problem | None:
    """Plan one file; None when it holds no reference to the target."""
    # Named files are always parsed: one that is broken must fail the run.
    parsed = read_manifest(source, None if source.explicit else prefilter)
    if not isinstance(parsed, ParsedFile):
        return parsed
    data, text_file, documents = parsed.data, parsed.text, parsed.documents
    text = text_file.text
    plan = FilePlan(source, data, text_file, text)
    lines = LineIndex(text)
    edits: dict[tuple[int, int, int], Edit] = {}
    canonical = target.canonical
    sites = sorted(find_sites(documents, source.path.name), key=lambda s: s.offset)
    # Which repositories read each anchored scalar: such a value may be shared.
    readers: dict[int, set[str]] = {}
    if any(doc.anchors for doc in documents):
        for site in sites:
            for scalar in site.scalars():
                if scalar.anchor:
                    readers.setdefault(id(scalar), set()).add(canonical_name(site.name))
    for site in sites:
        if canonical_name(site.name) != canonical:
            continue
        line, column = lines.locate(site.offset)
        current = _describe(site.current)
        wanted = wanted_for(site, target)
        reason = site.problem
        if (
            reason is None
            and wanted != site.current
            and not allow_downgrade
            and is_downgrade(site.tag, wanted.tag)
        ):
            reason = f"downgrade {site.tag} → {wanted.tag} (use --allow-downgrade)"
        unchanged = wanted == site.current and not site.requote
        site_edits = [] if reason or unchanged else site.edits(text, wanted)
        reason = reason or _shared_with_other(site, site_edits, readers, canonical)
        if site_edits and any(
            (e.start, e.end, e.order) in edits and edits[(e.start, e.end, e.order)] != e
            for e in site_edits
        ):
            reason = "shares an anchored value with another reference that gets another value"
        if reason is not None:
            plan.skips.append(
                Skip(source.display, line, column, site.shape, site.name, current, reason)
            )
            continue
        if unchanged:
            plan.unchanged += 1
            continue
        # An edit already planned through the same anchored value is made once.
        edits.update(((e.start, e.end, e.order), e) for e in site_edits)
        replaced = [e for e in site_edits if e.start < e.end] or site_edits
        first = min(replaced, key=lambda e: e.start)
        line, column = lines.locate(first.start if first.start < first.end else site.offset)
        plan.changes.append(
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
    if edits:
        plan.updated = splice(text, edits.values())
        if any(edit.structural for edit in edits.values()):
            _confirm(plan, target)
    if not plan.changes and not plan.skips and not plan.unchanged:
        return None
    return plan


def _shared_with_other(
    site: Site, edits: list[Edit], readers: dict[int, set[str]], canonical: str
) -> str | None:
    """A reason to leave the site alone when a value it would change is also read,
    through an anchor, by a reference to another image: that one would change too."""
    for scalar in site.scalars():
        others = readers.get(id(scalar), set()) - {canonical}
        touched = any(
            (e.start < scalar.end and e.end > scalar.start) or e.start == scalar.start == e.end
            for e in edits
        )
        if others and touched:
            return f"its value is shared through an anchor with {sorted(others)[0]}"
    return None


def _confirm(plan: FilePlan, target: Target) -> None:
    """Re-read the edited text: it must parse and hold exactly the wanted references
    (Renovate's replace-then-re-extract)."""
    try:
        documents = parse_text(plan.updated)
    except YamlError as error:
        raise BumperError(
            f"{plan.source.display}: internal error, the edit would break the file "
            f"({error.message} at line {error.line}); nothing written"
        ) from None
    sites = find_sites(documents, plan.source.path.name)
    new_target = target.new_name or target.match
    expected = {c.new for c in plan.changes}
    found = {
        _describe(s.current) for s in sites if canonical_name(s.name) == canonical_name(new_target)
    }
    if not expected <= found:
        raise BumperError(
            f"{plan.source.display}: internal error, the edited file does not hold "
            f"{sorted(expected - found)[0]}; nothing written"
        )


# Below this many files a second process costs more than it saves; the work per file is
# independent, so above it the files are planned in one process per core.
PARALLEL_MIN_FILES = 800


def _plan_chunk(
    sources: Sequence[Source], target: Target, allow_downgrade: bool
) -> list[FilePlan | Problem | None]:
    prefilter = Prefilter(target.match)
    return [_plan_file(source, target, allow_downgrade, prefilter) for source in sources]


def _plan_many(
    sources: Sequence[Source], target: Target, allow_downgrade: bool
) -> list[FilePlan | Problem | None]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if len(sources) < PARALLEL_MIN_FILES or (cores or 1) < 2 or sys.platform != "linux":
        return _plan_chunk(sources, target, allow_downgrade)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    workers = min(cores or 1, 8)
    size = -(-len(sources) // (workers * 4))
    chunks = [sources[i : i + size] for i in range(0, len(sources), size)]
    try:
        # fork: the workers inherit the imported modules, so they start in milliseconds.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = pool.map(
                _plan_chunk, chunks, [target] * len(chunks), [allow_downgrade] * len(chunks)
            )
            return [result for chunk in results for result in chunk]
    except (OSError, BrokenProcessPool):
        # No /dev/shm for the pool's locks (some containers), or a worker was killed:
        # the same work in this process.
        return _plan_chunk(sources, target, allow_downgrade)


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
    parsed = parse_target(target) if isinstance(target, str) else target
    path_list = [str(p) for p in paths] or ["."]
    sources = collect_sources(path_list, include, exclude, root)
    files: list[FilePlan] = []
    problems: list[Problem] = []
    for result in _plan_many(sources, parsed, allow_downgrade):
        if isinstance(result, Problem):
            problems.append(result)
        elif result is not None:
            files.append(result)
    errors = [p for p in problems if p.explicit]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BumperError(f"{errors[0]}{more}; nothing written")
    plan = Plan(parsed, files, problems)
    if plan.matched == 0 and not allow_missing:
        where = ", ".join(path_list)
        raise BumperError(
            f"no reference to {parsed.match} found in {where} "
            "(check the name, or pass --allow-missing)",
            warnings=tuple(f"{p} (file skipped)" for p in problems),
        )
    return plan
