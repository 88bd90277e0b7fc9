"""Where a build comes from: commit, version tags and source URL, from GitHub Actions or git."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bumper.edit.versions import parse_semver
from bumper.errors import BumperError
from bumper.git import git_env, run_git

if TYPE_CHECKING:
    import semver

_VERSION_TAG = re.compile(r"^v(\d+\.\d+\.\d+\S*)$")


@dataclass(frozen=True)
class SourceContext:
    """What the image is built from; any field may be unknown (None / empty)."""

    commit: str | None = None
    #: git tags on ``commit`` (or the tag in ``GITHUB_REF``), without ``refs/tags/``.
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: web URL of the repository, never with credentials.
    source: str | None = None
    #: ISO 8601 UTC time the build is dated at.
    created: str | None = None


def version_from_tags(tags: tuple[str, ...] | list[str]) -> str | None:
    """Return ``X.Y.Z…`` from the highest ``vX.Y.Z…`` tag, or None when there is none.

    Tags are ordered by the semver parser the downgrade guard uses (bumper.edit.versions).
    """
    parsed: list[tuple[semver.Version, str]] = []
    other: list[str] = []
    for tag in tags:
        match = _VERSION_TAG.match(tag)
        if not match:
            continue
        version = parse_semver(tag)
        if version is None:
            # v1.2.3.4 is no semver but still a version: used only when nothing else is.
            other.append(match.group(1))
        else:
            parsed.append((version, match.group(1)))
    if parsed:
        return max(parsed)[1]
    return max(other, default=None)


def source_context(
    path: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
) -> SourceContext:
    """Describe the commit being built: from the GitHub Actions event when running there,
    else from the git repository containing ``path``.

    In a ``pull_request`` run the commit is the PR head, not the merge commit Actions checks out.
    """
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        return _actions_context(path, env)
    return _git_context(path, env)


def _actions_context(path: str | os.PathLike[str], env: Mapping[str, str]) -> SourceContext:
    commit = env.get("GITHUB_SHA") or None
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BumperError(f"cannot read the GitHub event file {event_path}: {exc}") from exc
        head = (event.get("pull_request") or {}).get("head") or {}
        commit = head.get("sha") or commit
    ref = env.get("GITHUB_REF", "")
    tags = (ref.removeprefix("refs/tags/"),) if ref.startswith("refs/tags/") else ()
    source = None
    if env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        source = f"{server}/{env['GITHUB_REPOSITORY']}"
    created = _created(env, _git(path, "show", "-s", "--format=%ct", commit) if commit else None)
    return SourceContext(commit=commit, tags=tags, source=source, created=created)


def _git_context(path: str | os.PathLike[str], env: Mapping[str, str]) -> SourceContext:
    commit = _git(path, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    if commit is None:
        return SourceContext(created=_created(env, None))
    tag_text = _git(path, "tag", "--points-at", commit) or ""
    remote = _git(path, "remote", "get-url", "origin")
    return SourceContext(
        commit=commit,
        tags=tuple(tag_text.split()),
        source=web_url(remote) if remote else None,
        created=_created(env, _git(path, "show", "-s", "--format=%ct", commit)),
    )


def _created(env: Mapping[str, str], commit_time: str | None) -> str:
    # Dating the image at its commit (or SOURCE_DATE_EPOCH), not "now", keeps a rebuild of
    # the same commit identical, so pushing the same tag again yields the same digest.
    stamp = env.get("SOURCE_DATE_EPOCH") or commit_time
    moment = (
        datetime.fromtimestamp(int(stamp), tz=timezone.utc)
        if stamp and stamp.isdigit()
        else datetime.now(tz=timezone.utc)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def web_url(remote: str) -> str | None:
    """Turn a git remote URL into the repository's https URL, dropping any credentials.

    ``git@github.com:acme/app.git`` and ``https://user:token@github.com/acme/app`` both give
    ``https://github.com/acme/app``; a local path gives None.
    """
    remote = remote.strip()
    scp = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)([^\\]+?)(?:\.git)?/?$", remote)
    if scp and not re.match(r"^[A-Za-z]:", remote):
        return f"https://{scp.group(1)}/{scp.group(2)}"
    url = re.match(
        r"^(?:https?|ssh|git)://(?:[^@/]*@)?([^/:]+)(?::\d+)?/(.+?)(?:\.git)?/?$", remote
    )
    if url:
        return f"https://{url.group(1)}/{url.group(2)}"
    return None


def _git(path: str | os.PathLike[str], *args: str) -> str | None:
    """Run git in ``path``; None when git is missing or the command fails (not a repo):
    where the build comes from is best effort, the labels are then left out."""
    try:
        done = run_git(
            ["-C", os.fspath(path), *args],
            capture_output=True,
            text=True,
            check=False,
            env=git_env(os.environ),
        )
    except BumperError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None
