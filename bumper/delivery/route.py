"""Where a bump goes after planning: the files only, a local commit, a push, a remote
repository, a Verified commit through the GitHub API, or a pull request. The CLI and the
Action fill a ``DeliveryRequest`` and call ``run``; each path lives in its own module
(deliver.py for git, apicommit.py for API commits, pullrequest.py for pull requests).
Only light imports here: the CLI imports this module at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumper.delivery.bump import Bump
from bumper.errors import BumperError, UsageError

if TYPE_CHECKING:
    from bumper.delivery.github import GitHubRepo
    from bumper.delivery.gitpush import DeliverOptions


@dataclass(frozen=True)
class DeliveryRequest:
    """Everything the user said about delivery (all optional: files only by default)."""

    commit: bool = False
    push: bool = False
    repo: str | None = None
    branch: str | None = None
    base: str | None = None
    #: ``git`` or ``api``; None: ``api`` in pull-request mode, else ``git``.
    via: str | None = None
    pull_request: bool = False
    message: str | None = None
    author: str | None = None
    skip_ci: str = "auto"
    token: str | None = field(default=None, repr=False)
    max_attempts: int = 30
    title: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: str | None = None
    force: bool = False

    @property
    def delivers(self) -> bool:
        return self.commit or self.push or self.repo is not None or self.pull_request


@dataclass
class DeliveryReport:
    """What delivery did, in a shape the CLI and the Action render."""

    mode: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def run(
    bump: Bump, request: DeliveryRequest, env: Mapping[str, str] | None = None
) -> DeliveryReport:
    """Deliver ``bump`` as ``request`` says; raise BumperError with one clear line."""
    env = os.environ if env is None else env
    check_combination(request)
    from bumper.delivery.gitpush import (
        DeliverOptions,
        deliver_checkout,
        deliver_remote,
        resolve_token,
    )

    options = DeliverOptions(
        message=request.message,
        author=request.author,
        skip_ci=request.skip_ci,
        max_attempts=request.max_attempts,
        pull_request=request.pull_request,
    )
    if request.pull_request:
        return _pull_request(bump, request, options, env)
    if request.via == "api":
        return _api_commit(bump, request, options, env)
    if request.repo is not None:
        result = deliver_remote(
            bump,
            request.repo,
            branch=request.branch,
            token=resolve_token(request.token, env),
            options=options,
            env=env,
        )
        mode = "push"
    else:
        # In a checkout, a GITHUB_TOKEN lying in a developer's shell must not override
        # their git credentials: only an explicit token is used.
        token = request.token or env.get("BUMPER_TOKEN") or None
        result = deliver_checkout(
            bump,
            path=".",
            push=request.push,
            branch=request.branch,
            token=token,
            options=options,
            env=env,
        )
        mode = "push" if request.push else "commit"
    return DeliveryReport(mode, result.summary(), result.to_dict())


_PR_ONLY = {
    "base": "--base",
    "title": "--title",
    "labels": "--label",
    "reviewers": "--reviewer",
    "team_reviewers": "--team-reviewer",
    "assignees": "--assignee",
    "draft": "--draft",
    "auto_merge": "--auto-merge",
    "force": "--force",
}


# Options that mean something only when the bump is delivered to git.
_DELIVERY_ONLY = {
    "branch": "--branch",
    "via": "--via",
    "message": "--message",
    "author": "--author",
    "token": "--token",
}


def check_combination(request: DeliveryRequest) -> None:
    """Refuse options that would be silently ignored (a usage error, exit 2)."""
    if request.via not in (None, "git", "api"):
        raise UsageError(f"--via must be git or api, not {request.via!r}")
    if not request.delivers:
        given = [
            flag for key, flag in {**_DELIVERY_ONLY, **_PR_ONLY}.items() if getattr(request, key)
        ]
        if given:
            raise UsageError(
                f"{given[0]} applies when the bump is delivered "
                "(--commit, --push, --repo or --pull-request)"
            )
    if not request.pull_request:
        given = [flag for key, flag in _PR_ONLY.items() if getattr(request, key)]
        if given:
            raise UsageError(f"{given[0]} applies to pull-request mode only (--pull-request)")
    if request.via == "api" and not (request.pull_request or request.push or request.repo):
        raise UsageError("--via api makes the commit on GitHub: use it with --push or --repo")


def _github_location(
    bump: Bump, request: DeliveryRequest, env: Mapping[str, str], *, need_branch: bool
) -> tuple[GitHubRepo, str | None]:
    """The GitHub repository (``--repo``, else the checkout's remote) and, for a checkout
    with ``need_branch``, the branch its upstream names. Paths given relative to the
    current directory of a checkout are made relative to its root: the bump is planned
    in a fresh clone of the remote branch, never in the local files."""
    from bumper.delivery.github import github_repo

    if request.repo is not None:
        return github_repo(request.repo, env), request.branch
    from bumper.delivery.gitpush import _checkout_target
    from bumper.git import Git, GitCommandError, git_env

    try:
        git = Git(Path("."), git_env(env))
        root = git.toplevel()
    except (GitCommandError, OSError):
        raise BumperError(
            "not inside a git work tree: pass --repo OWNER/NAME, or run in a checkout"
        ) from None
    git = Git(root, git_env(env))
    if need_branch:
        remote, branch = _checkout_target(git, request.branch)
    else:
        remotes = git.remotes()
        remote = "origin" if "origin" in remotes else (remotes[0] if len(remotes) == 1 else "")
        if not remote:
            raise BumperError("the checkout has no single GitHub remote; pass --repo OWNER/NAME")
        branch = request.branch
    location = github_repo(git.remote_url(remote), env)
    if not bump.relative_to_root:
        cwd = Path.cwd()
        bump.paths = [os.path.relpath(os.path.abspath(cwd / p), root) for p in bump.paths]
        bump.relative_to_root = True
    return location, branch


def _pull_request(
    bump: Bump, request: DeliveryRequest, options: DeliverOptions, env: Mapping[str, str]
) -> DeliveryReport:
    from bumper.delivery.gitpush import resolve_token
    from bumper.delivery.pullrequest import PullRequestOptions, deliver_pull_request

    location, template = _github_location(bump, request, env, need_branch=False)
    pr = PullRequestOptions(
        base=request.base,
        branch=template,
        title=request.title,
        labels=request.labels,
        reviewers=request.reviewers,
        team_reviewers=request.team_reviewers,
        assignees=request.assignees,
        draft=request.draft,
        auto_merge=request.auto_merge,
        force=request.force,
        via=request.via or "api",
    )
    token = resolve_token(request.token, env)
    result = deliver_pull_request(bump, location, token=token, options=options, pr=pr, env=env)
    return DeliveryReport("pull-request", result.summary(), result.to_dict())


def _api_commit(
    bump: Bump, request: DeliveryRequest, options: DeliverOptions, env: Mapping[str, str]
) -> DeliveryReport:
    from bumper.delivery.apicommit import deliver_api
    from bumper.delivery.gitpush import resolve_token

    location, branch = _github_location(bump, request, env, need_branch=request.repo is None)
    token = resolve_token(request.token, env)
    result = deliver_api(bump, location, branch=branch, token=token, options=options, env=env)
    return DeliveryReport("push", result.summary(), result.to_dict())
