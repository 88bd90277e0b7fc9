"""The delivery contract: what every mode is given and what every mode answers.

A mode lands a change in git: ``commit`` (this checkout), ``push`` (a branch, from a
checkout or a fresh clone), ``api`` (a Verified commit made through the GitHub API) and
``pull-request``. Each is a function ``(bump, request, env) -> DeliveryResult``
registered in :mod:`bumper.delivery.modes`; :func:`mode_of` is the one place that picks
a mode from a request. ``bump`` is the change as a pure function of a
work tree (:data:`BumpFn`): delivery calls it on whatever the target holds now, and
again after every race.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.errors import UsageError

SKIP_CI_MODES = ("auto", "always", "never")
VIA = ("api", "git")
MERGE_METHODS = ("merge", "squash", "rebase")


@dataclass(frozen=True)
class ChangeRow:
    """One reference a bump changes, for commit bodies, pull requests and summaries."""

    path: str
    line: int
    name: str
    old: str
    new: str
    old_tag: str | None = None


@dataclass(frozen=True)
class BumpOutcome:
    """What a bump would change in one work tree; nothing is written until ``apply()``.

    ``files`` are absolute or relative to the root the bump was given. ``name``, ``tag``
    and ``digest`` describe the target (for messages); ``images`` are every
    ``NAME:TAG@DIGEST`` it sets (one ``Bumped-Image`` trailer each; default the target);
    ``trailers`` are more ``Key: value`` lines (a promotion's source, a rollback's).
    ``old_tags`` are the tags being replaced and ``summaries`` one line per change (the
    commit body); ``rows`` and ``diff`` describe the change to reviewers; ``skipped``
    counts references left alone (a newer version already there, say).
    """

    files: Sequence[str | Path]
    apply: Callable[[], object]
    name: str
    tag: str | None = None
    digest: str | None = None
    old_tags: Sequence[str] = ()
    summaries: Sequence[str] = ()
    rows: Sequence[ChangeRow] = ()
    diff: str = ""
    skipped: int = 0
    images: Sequence[str] = ()
    trailers: Sequence[str] = ()
    description: str = ""
    #: what ``{version}`` says for several images (``app:1.2, worker:1.3``)
    version: str = ""
    #: the default pull-request title and commit subject (a promotion, a rollback)
    title: str = ""

    @property
    def image(self) -> str:
        """``NAME[:TAG][@DIGEST]``: the value of the trailer."""
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"

    @property
    def all_images(self) -> list[str]:
        """Every image the change sets (the ``Bumped-Image`` trailers)."""
        return list(self.images) or [self.image]


BumpFn = Callable[[Path], BumpOutcome]


@dataclass(frozen=True)
class DeliverOptions:
    """How to commit and retry.

    ``message`` is a template (see :mod:`bumper.delivery.messages`); ``author`` is ``Name
    <email>`` (unset: the GitHub Actions bot inside Actions, git's configuration
    elsewhere); ``signoff`` adds a ``Signed-off-by`` trailer. ``pull_request`` says the
    commit goes to a pull-request branch, where ``skip_ci="auto"`` never adds ``[skip
    ci]`` (a skipped check would block the merge).
    """

    message: str | None = None
    author: str | None = None
    committer: str | None = None
    signoff: bool = False
    skip_ci: str = "auto"
    pull_request: bool = False
    max_attempts: int = 30
    base_delay: float = 0.1
    max_delay: float = 5.0


@dataclass(frozen=True)
class PullRequestOptions:
    """What the pull request looks like. ``branch``, ``title`` and ``body`` are
    templates; ``via`` is ``api`` (Verified commits) or ``git``."""

    base: str | None = None
    branch: str | None = None
    title: str | None = None
    body: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    milestone: str | None = None
    draft: bool = False
    auto_merge: str | None = None
    delete_branch: bool = False
    force: bool = False
    via: str = "api"


@dataclass(frozen=True)
class DeliveryRequest:
    """Everything the user said about delivery (all optional: files only by default)."""

    commit: bool = False
    push: bool = False
    repo: str | None = None
    branch: str | None = None
    #: ``git`` or ``api``; None: ``api`` in pull-request mode, else ``git``.
    via: str | None = None
    token: str | None = field(default=None, repr=False)
    options: DeliverOptions = field(default_factory=DeliverOptions)
    pull_request: PullRequestOptions | None = None

    @property
    def delivers(self) -> bool:
        return self.commit or self.push or self.repo is not None or self.pull_request is not None


@dataclass(frozen=True)
class PullRequestInfo:
    """The pull request a delivery opened, updated, closed or left alone."""

    operation: str  # created, updated, closed or none
    branch: str
    base: str
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery did, the same shape for every mode. ``remote`` and ``url`` never
    carry credentials; ``changed`` is true when a commit landed or a pull request was
    created or updated."""

    mode: str
    changed: bool
    message: str
    commit: str | None = None
    commit_url: str | None = None
    verified: bool | None = None
    pushed: bool = False
    branch: str | None = None
    remote: str | None = None
    attempts: int = 1
    files: tuple[str, ...] = ()
    pull_request: PullRequestInfo | None = None
    warnings: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        """True when the target already had the bump: nothing committed, nothing pushed."""
        return not self.changed

    def summary(self) -> str:
        """One line for a person (and one per warning)."""
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--output json``, the Action's ``metadata``): one flat object
        whatever the mode; the pull request's fields are there in pull-request mode."""
        document: dict[str, Any] = {
            "mode": "push" if self.mode == "api" else self.mode,
            "via": "api" if self.mode == "api" or self.verified is not None else "git",
            "summary": self.message,
            "changed": self.changed,
            "up_to_date": self.up_to_date,
            "commit": self.commit,
            "commit_url": self.commit_url,
            "verified": self.verified,
            "pushed": self.pushed,
            "branch": self.branch,
            "remote": self.remote,
            "attempts": self.attempts,
            "files": list(self.files),
            "warnings": list(self.warnings),
        }
        pr = self.pull_request
        if pr is not None:
            document |= {
                "operation": pr.operation,
                "number": pr.number,
                "url": pr.url,
                "head_sha": pr.head_sha,
                "base": pr.base,
                "reason": pr.reason,
            }
        return document


#: A delivery mode (registered in :mod:`bumper.delivery.modes`).
Deliver = Callable[[Any, DeliveryRequest, Mapping[str, str]], DeliveryResult]


def mode_of(request: DeliveryRequest) -> str | None:
    """The mode a request asks for (None: write the files only)."""
    if request.pull_request is not None:
        return "pull-request"
    if request.via == "api":
        return "api"
    if request.push or request.repo is not None:
        return "push"
    return "commit" if request.commit else None


def resolve_token(explicit: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The token to use: ``explicit`` (``--token``), else BUMPER_TOKEN, else GITHUB_TOKEN."""
    env = os.environ if env is None else env
    return explicit or env.get("BUMPER_TOKEN") or env.get("GITHUB_TOKEN") or None


# Options that mean something only in pull-request mode / only when delivering.
PR_ONLY = {
    "base": "--base",
    "title": "--title",
    "body": "--body",
    "pr_labels": "--label",
    "reviewers": "--reviewer",
    "team_reviewers": "--team-reviewer",
    "assignees": "--assignee",
    "milestone": "--milestone",
    "draft": "--draft",
    "auto_merge": "--auto-merge",
    "delete_branch": "--delete-branch",
}
DELIVERY_ONLY = {
    "branch": "--branch",
    "via": "--via",
    "message": "--message",
    "author": "--author",
    "committer": "--committer",
    "signoff": "--signoff",
    "token": "--token",
}


def check_combination(given: Mapping[str, Any], delivers: bool, pull_request: bool) -> None:
    """Refuse options that would be silently ignored (a usage error, exit 2). ``given``
    maps option names to what the user gave."""
    via = given.get("via")
    if via not in (None, *VIA):
        raise UsageError(f"--via must be git or api, not {via!r}")
    if not delivers:
        flags = [flag for key, flag in {**DELIVERY_ONLY, **PR_ONLY}.items() if given.get(key)]
        if flags:
            raise UsageError(
                f"{flags[0]} applies when the bump is delivered "
                "(--commit, --push, --repo or --pull-request)"
            )
    if not pull_request:
        flags = [flag for key, flag in PR_ONLY.items() if given.get(key)]
        if flags:
            raise UsageError(f"{flags[0]} applies to pull-request mode only (--pull-request)")
    if via == "api" and not (pull_request or given.get("push") or given.get("repo")):
        raise UsageError("--via api makes the commit on GitHub: use it with --push or --repo")
