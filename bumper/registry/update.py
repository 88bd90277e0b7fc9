"""``bumper update``: move each reference to the newest tag its policy allows.

Two steps, kept apart so delivery can re-run the second on a fresh clone:

1. ``decide_updates`` asks the registries (tags of each repository once, digests when
   pinning, all concurrently) and returns ``Move``s — a target and the files of the
   references that move to it — plus a ``Note`` for every reference that stays, saying
   why.
2. ``plan_moves`` plans every move with the engine, all or nothing: each image is
   planned on the text the previous ones produced (in a scratch copy of the files), and
   ``UpdatePlan.apply`` writes the final bytes of every changed file at once, after
   checking that none changed since it was read.

The engine edits every reference to an image in the files it is given, so references to
one image in one file that want different outcomes (one moves, one stays) cannot both be
honoured: that is reported as a ``conflict`` and the image is left alone in that file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.edit.inventory import Found, list_images
from bumper.edit.plan import Plan, Problem, plan_images
from bumper.edit.reference import canonical_name, format_reference
from bumper.edit.target import Target
from bumper.edit.versions import is_downgrade, parse_semver
from bumper.errors import BumperError
from bumper.registry.client import RegistryClient, RegistryError
from bumper.registry.flux import FluxPolicy, load_flux_index
from bumper.registry.markers import FluxMarker, Marker, find_markers
from bumper.registry.policy import TagPolicy, make_policy

UP_TO_DATE = "up-to-date"
SKIPPED = "skipped"
NO_MATCH = "no-match"
CONFLICT = "conflict"


@dataclass(frozen=True)
class Note:
    """A reference that stays as it is: ``status`` is up-to-date, skipped, no-match,
    conflict, or a registry failure (missing, unauthorized, unreachable, error)."""

    found: Found
    status: str
    message: str

    @property
    def failed(self) -> bool:
        """True for registry failures: the newest tag is unknown."""
        return self.status not in (UP_TO_DATE, SKIPPED, NO_MATCH, CONFLICT)

    def to_dict(self) -> dict[str, Any]:
        f = self.found
        return {
            "file": f.path,
            "line": f.line,
            "name": f.name,
            "current": format_reference(f.name, f.tag, f.digest),
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Move:
    """Set ``target`` in ``paths``: the files holding ``references``, which all move there."""

    target: Target
    paths: tuple[str, ...]
    references: tuple[Found, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": str(self.target),
            "files": list(self.paths),
            "from": sorted({format_reference(f.name, f.tag, f.digest) for f in self.references}),
            "reason": self.reason,
        }


@dataclass
class UpdateDecision:
    """What the registries say: the moves to make and why everything else stays."""

    moves: list[Move]
    notes: list[Note]
    problems: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> list[Note]:
        return [note for note in self.notes if note.failed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "updates": [move.to_dict() for move in self.moves],
            "notes": [note.to_dict() for note in self.notes],
            "warnings": [problem.to_dict() for problem in self.problems],
        }


@dataclass(frozen=True)
class _Want:
    """The policy one reference follows (None: it is left alone, see ``note``)."""

    found: Found
    policy: TagPolicy | None
    pin: bool
    source: str
    note: str | None = None


def _inventory(paths: Sequence[str], root: Path | None) -> tuple[list[Found], list[Problem]]:
    if root is None:
        return list_images(paths or ["."])
    # list_images reads paths as given: read inside the clone, report paths as given.
    prefix = str(root).rstrip("/") + "/"
    found, problems = list_images([str(root / p) for p in paths or ["."]])

    def inside(text: str) -> str:
        return text[len(prefix) :] if text.startswith(prefix) else text

    return (
        [
            Found(inside(f.path), f.line, f.column, f.shape, f.name, f.tag, f.digest, f.note)
            for f in found
        ],
        [Problem(inside(p.path), p.line, p.column, p.message, p.explicit) for p in problems],
    )


def _wants(
    found: list[Found],
    paths: Sequence[str],
    root: Path | None,
    policy: TagPolicy | None,
    pin_digest: bool,
) -> list[_Want]:
    markers = find_markers(found, root)
    flux_index = None
    if any(isinstance(m, FluxMarker) for m in markers.values()):
        flux_index = load_flux_index(paths or ["."], root)
    wants: list[_Want] = []
    for item in found:
        marker = markers.get(item)
        if item.note:
            wants.append(_Want(item, None, False, "", item.note))
        elif isinstance(marker, Marker) and marker.skip:
            wants.append(_Want(item, None, False, "", f"marked skip at {marker.location}"))
        elif item.tag is None and item.digest is not None:
            wants.append(_Want(item, None, False, "", "pinned by digest only: no tag to order"))
        elif isinstance(marker, Marker):
            assert marker.policy is not None
            pin = pin_digest if marker.pin_digest is None else marker.pin_digest
            wants.append(_Want(item, marker.policy, pin, f"marker at {marker.location}"))
        elif isinstance(marker, FluxMarker):
            assert flux_index is not None
            resolved = flux_index.resolve(marker.namespace, marker.name)
            wants.append(_flux_want(item, resolved, pin_digest, marker))
        elif policy is not None:
            wants.append(_Want(item, policy, pin_digest, "--policy"))
        elif item.tag is not None and parse_semver(item.tag) is not None:
            wants.append(_Want(item, make_policy("semver"), pin_digest, "default"))
        else:
            what = f"{item.tag} is not a semantic version" if item.tag else "no tag (pulls latest)"
            wants.append(
                _Want(item, None, False, "", f"{what}; give --policy or a # bumper: marker")
            )
    return wants


def _flux_want(
    item: Found, resolved: FluxPolicy | str, pin_digest: bool, marker: FluxMarker
) -> _Want:
    if isinstance(resolved, str):
        return _Want(item, None, False, "", resolved)
    if canonical_name(resolved.image) != canonical_name(item.name):
        return _Want(
            item,
            None,
            False,
            "",
            f"Flux ImagePolicy {marker.namespace}/{marker.name} scans {resolved.image}, "
            f"not {item.name}",
        )
    return _Want(item, resolved.policy, pin_digest, f"Flux ImagePolicy at {marker.location}")


def _gather(client: RegistryClient, keys: list[Any], call: Any) -> dict[Any, Any | RegistryError]:
    """``{key: call(key)}`` concurrently, a RegistryError standing for a failed call."""

    def one(key: Any) -> Any:
        try:
            return call(key)
        except RegistryError as error:
            return error

    return dict(zip(keys, client.map(one, keys), strict=True))


def decide_updates(
    paths: Sequence[str] = (".",),
    *,
    client: RegistryClient,
    images: Iterable[str] = (),
    policy: TagPolicy | None = None,
    pin_digest: bool = False,
    allow_missing: bool = False,
    root: Path | None = None,
) -> UpdateDecision:
    """Work out, for every reference under ``paths`` (or those of ``images``), the tag its
    policy picks: a ``# bumper:`` marker, else a Flux ``$imagepolicy`` marker, else
    ``policy``, else ``semver`` for references whose tag is a semantic version.

    ``pin_digest`` adds the registry's digest to every target; a reference already
    pinned by digest stays pinned. Raises BumperError when one of ``images`` has no
    reference (unless ``allow_missing``) and UsageError for a malformed marker.
    """
    paths = list(paths) or ["."]
    found, problems = _inventory(paths, root)
    wanted = {canonical_name(name): name for name in images}
    if wanted:
        present = {canonical_name(f.name) for f in found}
        absent = [name for key, name in wanted.items() if key not in present]
        if absent and not allow_missing:
            raise BumperError(
                f"no reference to {absent[0]} found in {', '.join(paths)} "
                "(check the name, or pass --allow-missing)",
                warnings=tuple(f"{p} (file skipped)" for p in problems),
            )
        found = [f for f in found if canonical_name(f.name) in wanted]
    wants = _wants(found, paths, root, policy, pin_digest)
    notes: list[Note] = [Note(w.found, SKIPPED, w.note) for w in wants if w.note is not None]
    active = [w for w in wants if w.policy is not None]

    repositories = sorted({canonical_name(w.found.name) for w in active})
    tags = _gather(client, repositories, client.list_tags)
    chosen: list[tuple[_Want, str, str]] = []  # (want, tag to hold, reason)
    for want in active:
        listed = tags[canonical_name(want.found.name)]
        if isinstance(listed, RegistryError):
            notes.append(Note(want.found, listed.status, listed.message))
            continue
        assert want.policy is not None
        selection = want.policy.select(listed, want.found.tag)
        if selection.tag is not None:
            chosen.append((want, selection.tag, f"{selection.reason} ({want.source})"))
        elif want.pin:
            # Up to date by tag; the pin may still be missing or stale.
            assert want.found.tag is not None
            chosen.append((want, want.found.tag, selection.reason))
        else:
            status = UP_TO_DATE if selection.up_to_date else NO_MATCH
            notes.append(Note(want.found, status, selection.reason))

    # A reference pinned by digest stays pinned when its tag moves.
    pins = sorted(
        {(canonical_name(w.found.name), tag) for w, tag, _ in chosen if w.pin or w.found.digest}
    )
    digests = _gather(client, pins, lambda key: client.digest(*key))
    targets: list[tuple[Found, Target, str]] = []
    for want, tag, reason in chosen:
        item = want.found
        digest = None
        if want.pin or item.digest:
            answer = digests[(canonical_name(item.name), tag)]
            if isinstance(answer, RegistryError):
                notes.append(Note(item, answer.status, answer.message))
                continue
            digest = answer
        if tag == item.tag and digest == item.digest:
            notes.append(Note(item, UP_TO_DATE, reason))
            continue
        if tag == item.tag:
            reason = f"pin {tag} to the digest the registry serves"
        targets.append((item, Target(match=item.name, tag=tag, digest=digest), reason))
    moves, conflicts, tangled = _group(targets, found)
    # In a file where an image's references conflict, the conflict is their one note.
    notes = [n for n in notes if (n.found.path, canonical_name(n.found.name)) not in tangled]
    notes.extend(conflicts)
    notes.sort(key=lambda n: (n.found.path, n.found.line, n.found.column))
    return UpdateDecision(moves, notes, problems)


def _result(target: Target) -> tuple[str, str | None, str | None]:
    return canonical_name(target.match), target.tag, target.digest


def _group(
    targets: list[tuple[Found, Target, str]], found: list[Found]
) -> tuple[list[Move], list[Note], set[tuple[str, str]]]:
    """One move per (image, target); an image whose references in one file want
    different outcomes is left alone in that file (returned as (file, image) pairs)."""
    moving = {item: target for item, target, _ in targets}
    conflicts: list[Note] = []
    bad_files: set[tuple[str, str]] = set()
    by_file: dict[tuple[str, str], list[Found]] = {}
    for item in found:
        by_file.setdefault((item.path, canonical_name(item.name)), []).append(item)
    for key, items in by_file.items():
        movers = [moving[i] for i in items if i in moving]
        if not movers:
            continue
        outcomes = {_result(t) for t in movers}
        target = movers[0]
        stayers = [i for i in items if i not in moving]
        clash = [i for i in stayers if not _engine_leaves(i, target)]
        if len(outcomes) > 1 or clash:
            bad_files.add(key)
            lines = ", ".join(str(i.line) for i in items)
            for i in items:
                conflicts.append(
                    Note(
                        i,
                        CONFLICT,
                        f"references to {i.name} in {i.path} (lines {lines}) want different "
                        "tags; bumper edits them together: give them one policy, or move "
                        "one to another file",
                    )
                )
    groups: dict[tuple[str, str | None, str | None], list[tuple[Found, Target, str]]] = {}
    for item, target, reason in targets:
        if (item.path, canonical_name(item.name)) in bad_files:
            continue
        groups.setdefault(_result(target), []).append((item, target, reason))
    moves = []
    for entries in groups.values():
        items = tuple(item for item, _, _ in entries)
        paths = tuple(dict.fromkeys(item.path for item in items))
        moves.append(Move(entries[0][1], paths, items, entries[0][2]))
    moves.sort(key=lambda m: (canonical_name(m.target.match), m.target.tag or ""))
    return moves, conflicts, bad_files


def _engine_leaves(item: Found, target: Target) -> bool:
    """True when planning ``target`` leaves ``item`` as it is: it already holds the target,
    the engine refuses to touch it (a note), or it is a semver downgrade the engine skips."""
    if item.note:
        return True
    if item.tag == target.tag and item.digest == target.digest:
        return True
    return is_downgrade(item.tag, target.tag)


# -- applying -----------------------------------------------------------------------------


def plan_moves(
    moves: Sequence[Move], *, root: Path | None = None, allow_downgrade: bool = False
) -> Plan:
    """Plan every move as one change, all or nothing: each image set only in the files
    holding the references that move (paths read inside ``root`` when given, a clone)."""
    paths = sorted({path for move in moves for path in move.paths})
    if not moves:
        return Plan([], [], [])
    return plan_images(
        [move.target for move in moves],
        paths,
        allow_downgrade=allow_downgrade,
        allow_missing=True,
        root=root,
        scope=[set(move.paths) for move in moves],
    )
