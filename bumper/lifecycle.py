"""The release lifecycle in git: promotion between environments, the history of an
image, and rollbacks that stick.

The commits bumper makes are the ledger. Every bump carries ``Bumped-Image: NAME:TAG@DIGEST``
(one per image), a promotion ``Promoted-From: PATH`` and a rollback ``Rolled-Back-From:
NAME:TAG@DIGEST``. :func:`history` reads them, and for commits without them the diff, in
one ``git log`` pass. A version that was rolled back stays refused
(:func:`rollback_guard`) until someone deploys it again on purpose (``--force``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.delivery.contract import DeliveryRequest
from bumper.delivery.loopguard import TRAILER_KEY
from bumper.edit.inventory import Found, list_images
from bumper.edit.plan import Plan
from bumper.edit.reference import (
    ReferenceError,
    canonical_name,
    format_reference,
    last_component,
    parse_reference,
    try_parse_reference,
)
from bumper.errors import BumperError
from bumper.git import Git, GitCommandError, git_env
from bumper.pipeline import PlanOptions, ReleaseRequest, Resolved

PROMOTED_FROM = "Promoted-From"
ROLLED_BACK_FROM = "Rolled-Back-From"
# Commit fields, separated by characters that never occur in them.
_RECORD, _FIELD = "\x1e", "\x1f"
_LOG_FORMAT = f"{_RECORD}%H{_FIELD}%aI{_FIELD}%an{_FIELD}%s{_FIELD}%B{_FIELD}"


@dataclass(frozen=True)
class Version:
    """What an image is at: a tag, a digest, or both."""

    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return format_reference("", self.tag, self.digest).lstrip(":") or "-"

    def matches(self, other: Version) -> bool:
        """The same version, as precisely as both say (a tag alone matches any digest)."""
        if self.tag != other.tag:
            return False
        return self.digest is None or other.digest is None or self.digest == other.digest


def _version(reference: str) -> tuple[str, Version] | None:
    ref = try_parse_reference(reference)
    if ref is None:
        return None
    return canonical_name(ref.name), Version(ref.tag, ref.digest)


# --- the ledger: one git log pass ---------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One change of an image's version in the paths: a bump, promotion, rollback, or a
    commit without trailers whose diff changed it."""

    commit: str
    date: str
    author: str
    subject: str
    kind: str  # bump, promotion, rollback, change
    image: str
    old: Version | None
    new: Version | None
    pull_request: int | None = None
    source: str | None = None  # promoted from
    rolled_back: Version | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "subject": self.subject,
            "kind": self.kind,
            "image": self.image,
            "old": None if self.old is None else _version_dict(self.old),
            "new": None if self.new is None else _version_dict(self.new),
            "pull_request": self.pull_request,
            "promoted_from": self.source,
            "rolled_back_from": None if self.rolled_back is None else str(self.rolled_back),
        }


def _version_dict(version: Version) -> dict[str, str | None]:
    return {"tag": version.tag, "digest": version.digest}


@dataclass
class _Commit:
    sha: str
    date: str
    author: str
    subject: str
    body: str
    patch: str = ""
    trailers: dict[str, list[str]] = field(default_factory=dict)


_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(\S.*)$", re.MULTILINE)
_PULL = re.compile(r"\(#(\d+)\)\s*$|^Merge pull request #(\d+)")


def _log(
    git: Git, paths: Sequence[str], *, patches: bool, grep: str | None = None
) -> list[_Commit]:
    """Every commit touching ``paths``, newest first, in one ``git log`` (with its diff)."""
    args = ["log", f"--format={_LOG_FORMAT}", "--no-color", "--no-ext-diff"]
    if patches:
        args += ["-p", "-U3", "--no-renames"]
    if grep is not None:
        args += ["-i", f"--grep={grep}"]
    try:
        out = git.run(*args, "--", *paths)
    except GitCommandError as err:
        raise BumperError(f"cannot read the history: {err.message}") from None
    commits: list[_Commit] = []
    for record in out.split(_RECORD)[1:]:
        fields = record.split(_FIELD, 5)
        if len(fields) < 6:
            continue
        sha, date, author, subject, body, patch = fields
        commit = _Commit(sha, date, author, subject, body, patch)
        for key, value in _TRAILER.findall(body):
            commit.trailers.setdefault(key.lower(), []).append(value.strip())
        commits.append(commit)
    return commits


# A line that names an image's parts in a diff: the key, the value (quotes stripped).
_PART = re.compile(
    r"^(?P<sign>[-+ ])\s*(?:-\s+)?(?P<key>image|repository|name|newName|newTag|tag|digest)"
    r"\s*:\s*[\"']?(?P<value>[^\s\"'#]+)"
)


def _diff_versions(patch: str) -> dict[str, tuple[Version | None, Version | None]]:
    """(old, new) per image from a diff: ``image:`` strings and the tag/digest lines of
    maps whose name stands in the hunk's lines above them."""
    found: dict[str, list[Any]] = {}
    name: str | None = None
    parts: dict[str, dict[str, str]] = {"-": {}, "+": {}}

    def settle() -> None:
        if name is None or not (parts["-"] or parts["+"]):
            return
        entry = found.setdefault(name, [None, None])
        for sign, index in (("-", 0), ("+", 1)):
            if parts[sign]:
                entry[index] = Version(parts[sign].get("tag"), parts[sign].get("digest"))

    for line in patch.splitlines():
        if line.startswith(("@@", "diff ")):
            settle()
            name, parts = None, {"-": {}, "+": {}}
            continue
        match = _PART.match(line)
        if match is None or line.startswith(("---", "+++")):
            continue
        sign, key, value = match.group("sign", "key", "value")
        if key in ("image", "repository", "name", "newName"):
            parsed = _version(value)
            if parsed is None:
                continue
            image, version = parsed
            if version.tag or version.digest:
                entry = found.setdefault(image, [None, None])
                if sign != " ":
                    entry[0 if sign == "-" else 1] = version
            elif key != "name" or name is None:
                settle()
                name, parts = image, {"-": {}, "+": {}}
        elif sign != " " and name is not None:
            parts[sign]["tag" if key in ("tag", "newTag") else "digest"] = value
    settle()
    return {image: (old, new) for image, (old, new) in found.items() if old != new}


def history(
    root: Path, paths: Sequence[str], image: str | None = None, *, env: Any = None
) -> list[Event]:
    """Every bump, promotion, rollback (and other change) of ``image`` (all images when
    None) in ``paths`` of the work tree at ``root``, newest first."""
    import os

    git = Git(root, git_env(env or os.environ))
    wanted = canonical_name(image) if image else None
    events: list[Event] = []
    for commit in _log(git, paths, patches=True):
        diffs = _diff_versions(commit.patch)
        bumped = {}
        for value in commit.trailers.get(TRAILER_KEY.lower(), []):
            parsed = _version(value)
            if parsed is not None:
                bumped[parsed[0]] = parsed[1]
        rolled = {}
        for value in commit.trailers.get(ROLLED_BACK_FROM.lower(), []):
            parsed = _version(value)
            if parsed is not None:
                rolled[parsed[0]] = parsed[1]
        source = (commit.trailers.get(PROMOTED_FROM.lower()) or [None])[0]
        pull = _PULL.search(commit.subject)
        number = int(pull.group(1) or pull.group(2)) if pull else None
        for name in dict.fromkeys([*bumped, *diffs]):
            if wanted is not None and name != wanted:
                continue
            old, new = diffs.get(name, (None, None))
            if name in rolled:
                kind = "rollback"
            elif source is not None and name in bumped:
                kind = "promotion"
            elif name in bumped:
                kind = "bump"
            else:
                kind = "change"
            events.append(
                Event(
                    commit.sha,
                    commit.date,
                    commit.author,
                    commit.subject,
                    kind,
                    name,
                    old,
                    bumped.get(name, new),
                    number,
                    source,
                    rolled.get(name),
                )
            )
    _fill_old(events)
    return events


def _fill_old(events: list[Event]) -> None:
    """An event whose diff did not show the old version takes the next older event's new
    one for the same image."""
    for index, event in enumerate(events):
        if event.old is not None:
            continue
        older = next((e for e in events[index + 1 :] if e.image == event.image), None)
        if older is not None and older.new is not None:
            events[index] = Event(**{**event.__dict__, "old": older.new})


# --- rollbacks that stick -------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A version that was rolled back, and the rollback commit."""

    image: str
    version: Version
    commit: str
    subject: str


def rolled_back(git: Git) -> list[Refusal]:
    """Versions rolled back and not deployed again since (newest rollback first)."""
    refusals: list[Refusal] = []
    if git.head() is None:
        return refusals  # no commit yet: no ledger
    redeployed: dict[str, list[Version]] = {}
    for commit in _log(git, [], patches=False, grep=f"{TRAILER_KEY}:"):
        for value in commit.trailers.get(ROLLED_BACK_FROM.lower(), []):
            parsed = _version(value)
            if parsed is None:
                continue
            image, version = parsed
            if not any(v.matches(version) for v in redeployed.get(image, [])):
                refusals.append(Refusal(image, version, commit.sha, commit.subject))
        if commit.trailers.get(ROLLED_BACK_FROM.lower()):
            continue
        for value in commit.trailers.get(TRAILER_KEY.lower(), []):
            parsed = _version(value)
            if parsed is not None:
                redeployed.setdefault(parsed[0], []).append(parsed[1])
    return refusals


def rollback_guard(force: bool) -> Callable[[Plan, Path], None]:
    """A check for :class:`bumper.pipeline.Bump`: refuse to set a version that was rolled
    back (unless ``force``). One ``git log`` of bumper's own commits per plan."""
    import os

    def guard(plan: Plan, root: Path) -> None:
        if force or not plan.changes:
            return
        try:
            git = Git(root, git_env(os.environ))
            top = git.toplevel()
        except (GitCommandError, OSError, BumperError):
            return  # not a git work tree: there is no ledger to read
        refusals = rolled_back(Git(top, git_env(os.environ)))
        for change in plan.changes:
            wanted = Version(change.new_tag, change.new_digest)
            for refusal in refusals:
                if refusal.image == canonical_name(change.name) and refusal.version.matches(wanted):
                    raise BumperError(
                        f"refusing to deploy {change.new}: it was rolled back in commit "
                        f"{refusal.commit[:12]} ({refusal.subject!r}); pass --force to deploy "
                        "it anyway"
                    )

    return guard


@dataclass(frozen=True)
class Rollback:
    """A rollback worked out from the history: the target to set (``NAME:TAG@DIGEST``),
    the version it goes back to, and the reference rolled back from."""

    target: str
    version: Version
    current: str


def rollback_target(
    root: Path,
    image: str,
    paths: Sequence[str],
    *,
    to: str | None = None,
    steps: int = 1,
    env: Any = None,
) -> Rollback:
    """A rollback of ``image`` in ``paths``: to the version it had before the current one
    (or ``to``, or ``steps`` back), exactly the tag and digest that ran, from the
    history (not the registry)."""
    name = canonical_name(image)
    current = _current(root, paths, image)
    events = history(root, paths, image, env=env)
    refused = [e.rolled_back for e in events if e.rolled_back is not None]
    seen: list[Version] = []
    for event in events:
        version = event.new
        if version is None or version.matches(current):
            continue
        if any(version.matches(r) for r in refused) or any(version == s for s in seen):
            continue
        seen.append(version)
    if to is not None:
        choice = next((v for v in seen if v.tag == to), None)
        if choice is None:
            raise BumperError(f"no earlier version {to} of {image} in the history of "
                              f"{', '.join(paths)}")  # fmt: skip
    elif len(seen) < steps:
        raise BumperError(
            f"no version of {image} {steps} step(s) before {current} in the history of "
            f"{', '.join(paths)}"
        )
    else:
        choice = seen[steps - 1]
    spelled = _spelling(root, paths, name) or image
    target = format_reference(spelled, choice.tag, choice.digest)
    return Rollback(target, choice, format_reference(spelled, current.tag, current.digest))


def _references(root: Path, paths: Sequence[str]) -> list[Found]:
    found, _ = list_images(list(paths) or ["."], root=root)
    return [f for f in found if f.note is None]


def _current(root: Path, paths: Sequence[str], image: str) -> Version:
    """The one version ``image`` is at in ``paths`` (two different ones is an error)."""
    name = canonical_name(image)
    versions = {}
    for ref in _references(root, paths):
        if canonical_name(ref.name) == name:
            versions.setdefault(Version(ref.tag, ref.digest), f"{ref.path}:{ref.line}")
    if not versions:
        raise BumperError(f"no reference to {image} found in {', '.join(paths)}")
    if len(versions) > 1:
        (first, a), (second, b) = list(versions.items())[:2]
        raise BumperError(f"{image} is at {first} in {a} but at {second} in {b}")
    return next(iter(versions))


def _spelling(root: Path, paths: Sequence[str], name: str) -> str | None:
    for ref in _references(root, paths):
        if canonical_name(ref.name) == name:
            return ref.name
    return None


# --- promotion ---------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """What a promotion sets in DST: one target per image, and what to say about it."""

    targets: list[str]
    description: str
    shown: list[str]


def promotion(root: Path, source: str, destination: str, images: Iterable[str] = ()) -> Promotion:
    """The versions ``source`` holds, for the images present in both paths (or those
    named): the digest travels with the tag. Conflicting versions of one image inside
    ``source`` are an error naming both places."""
    held: dict[str, tuple[Version, str, str]] = {}
    for ref in _references(root, [source]):
        name = canonical_name(ref.name)
        version = Version(ref.tag, ref.digest)
        if name in held and held[name][0] != version:
            other, where = held[name][0], held[name][1]
            raise BumperError(
                f"{ref.name} is at {other} in {where} but at {version} in "
                f"{ref.path}:{ref.line}: promote one version"
            )
        held.setdefault(name, (version, f"{ref.path}:{ref.line}", ref.name))
    present = {canonical_name(ref.name) for ref in _references(root, [destination])}
    if images:
        wanted = []
        for image in images:
            try:
                name = canonical_name(parse_reference(image).name)
            except ReferenceError as error:
                raise BumperError(error.message) from None
            if name not in held:
                raise BumperError(f"{image} is not in {source}")
            if name not in present:
                raise BumperError(f"{image} is not in {destination}")
            wanted.append(name)
    else:
        wanted = sorted(name for name in held if name in present)
    if not wanted:
        raise BumperError(f"no image is in both {source} and {destination}")
    targets, shown = [], []
    for name in wanted:
        version, _, spelled = held[name]
        if version.tag is None and version.digest is None:
            raise BumperError(f"{spelled} has no tag or digest in {source}")
        targets.append(format_reference(spelled, version.tag, version.digest))
        shown.append(f"`{last_component(spelled)}` {version}")
    description = f"Promotes {', '.join(shown)} from `{source}` to `{destination}`"
    plain = [text.replace("`", "") for text in shown]
    return Promotion(targets, description, plain)


# --- the requests the front doors run ------------------------------------------------


def promote_request(
    source: str,
    destination: str,
    *,
    images: Sequence[str] = (),
    group: str | None = None,
    delivery: DeliveryRequest | None = None,
    dry_run: bool = False,
    allow_downgrade: bool = False,
    force: bool = False,
) -> ReleaseRequest:
    """The pipeline run of a promotion: what ``source`` holds, read in the tree the
    change is planned in (a checkout, or the clone a delivery makes)."""

    def resolve(root: Path) -> Resolved:
        found = promotion(root, source, destination, images)
        title = f"Promote {', '.join(found.shown)} from {source} to {destination}"
        return Resolved(found.targets, found.description, title, (f"{PROMOTED_FROM}: {source}",))

    return ReleaseRequest(
        targets=[],
        paths=[destination],
        plan=PlanOptions(allow_downgrade=allow_downgrade),
        delivery=delivery,
        dry_run=dry_run,
        group=group or f"promote-{source.strip('/')}-to-{destination.strip('/')}",
        guard=rollback_guard(force),
        resolve=resolve,
    )


def rollback_request(
    image: str,
    paths: Sequence[str],
    *,
    to: str | None = None,
    steps: int = 1,
    delivery: DeliveryRequest | None = None,
    dry_run: bool = False,
) -> ReleaseRequest:
    """The pipeline run of a rollback: the previous version, worked out from the history
    of the tree the change is planned in."""
    folders = list(paths) or ["."]

    def resolve(root: Path) -> Resolved:
        back = rollback_target(root, image, folders, to=to, steps=steps)
        title = f"Roll back {image} to {back.version}"
        description = f"Rolls back `{back.current}` to `{back.target}`"
        return Resolved([back.target], description, title, (f"{ROLLED_BACK_FROM}: {back.current}",))

    return ReleaseRequest(
        targets=[],
        paths=folders,
        plan=PlanOptions(allow_downgrade=True),
        delivery=delivery,
        dry_run=dry_run,
        group=f"rollback-{image}",
        resolve=resolve,
    )
