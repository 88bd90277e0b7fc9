"""Modes ``commit`` and ``push``: commit only what changed, push race-safely, never loop.

The bump comes in as a callback (:data:`~bumper.delivery.contract.BumpFn`): given the
work-tree root, it plans the edit there and returns an outcome whose ``apply`` writes
it. When a push is rejected because the branch moved, delivery fetches the new head,
resets to it, calls the callback again (re-planning, downgrade guard included) and
retries (:func:`bumper.retry.until_landed`). It never merges and never force-pushes.

Two front doors: :func:`deliver_checkout` (an existing work tree; commit, and push to
the upstream branch or ``branch``) and :func:`deliver_remote` (``OWNER/NAME`` or a git
URL; a shallow single-branch clone in a temporary directory, removed afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bumper.delivery.contract import (
    BumpFn,
    DeliverOptions,
    DeliveryRequest,
    DeliveryResult,
    resolve_token,
)
from bumper.delivery.github import commit_url, repository_url
from bumper.delivery.messages import wants_skip_ci
from bumper.delivery.workspace import (
    Committer,
    Target,
    Workspace,
    checkout_root,
    checkout_target,
    explain,
    validate,
)
from bumper.errors import BumperError
from bumper.git import (
    Credentials,
    Failure,
    Git,
    GitCommandError,
    git_env,
    is_http,
    strip_credentials,
)
from bumper.retry import Race, until_landed


def _land(committer: Committer, work: Workspace, *, fetch_first: bool) -> DeliveryResult:
    """The race-safe loop: (fetch, reset,) re-plan, commit, push, until it lands."""
    git, options, target = committer.git, committer.options, work.target

    def attempt(number: int) -> DeliveryResult:
        if fetch_first or number > 1:
            head = work.fetch()
            if number == 1:
                _refuse_local_commits(git, head, target)
            git.reset_keep(head)
        sha, files = committer.commit()
        if sha is None:
            return DeliveryResult(
                "push", False, "already up to date", branch=target.branch,
                remote=target.url, attempts=number,
            )  # fmt: skip
        try:
            git.push(target.remote, target.branch)
        except GitCommandError as err:
            # Drop the unpushed commit so the work tree is as before (or at the new head).
            git.reset_keep(f"{sha}~1")
            if err.failure is Failure.RACE:
                raise Race("the push was rejected, the branch moved") from None
            if err.failure is Failure.TRANSIENT:
                raise Race(f"the push failed ({err.message})") from None
            raise explain(err, "push", target) from None
        tries = f" after {number} attempts" if number > 1 else ""
        return DeliveryResult(
            "push", True, f"pushed {sha[:12]} to {target.branch} of {target.url}{tries}",
            commit=sha, commit_url=commit_url(target.url, sha), pushed=True,
            branch=target.branch, remote=target.url, attempts=number, files=tuple(files),
        )  # fmt: skip

    return until_landed(
        attempt,
        attempts=options.max_attempts,
        what=f"branch '{target.branch}' of {target.url}",
        base_delay=options.base_delay,
        max_delay=options.max_delay,
    )


def _refuse_local_commits(git: Git, remote_head: str, target: Target) -> None:
    """bumper pushes its own commit only: HEAD must be the remote head or behind it."""
    head = git.head()
    if head is None or head == remote_head or git.is_ancestor(head, remote_head):
        return
    ahead = git.count(f"{remote_head}..{head}")
    raise BumperError(
        f"HEAD has {ahead} commit(s) not on {target.remote}/{target.branch}; "
        "bumper pushes only its own commit: push or drop them first"
    )


def deliver_checkout(
    bump: BumpFn,
    *,
    path: str | Path = ".",
    push: bool = False,
    branch: str | None = None,
    token: str | None = None,
    options: DeliverOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> DeliveryResult:
    """Commit the bump in the work tree containing ``path``; with ``push``, land it on
    the current branch's upstream (or ``branch``) of that remote.

    ``bump`` receives the work-tree root. ``token`` (only when given) is sent to the
    remote's http(s) URLs as a header through the environment; otherwise git's own
    credentials apply. Raises BumperError with one actionable line.
    """
    options = options or DeliverOptions()
    env = os.environ if env is None else env
    validate(options)
    root = checkout_root(path, env)
    if not push:
        git = Git(root, git_env(env))
        sha, files = Committer(git, bump, options, False, env).commit()
        current = git.current_branch()
        if sha is None:
            return DeliveryResult("commit", False, "already up to date", branch=current)
        return DeliveryResult(
            "commit", True, f"committed {sha[:12]} on {current or 'HEAD'}",
            commit=sha, branch=current, files=tuple(files),
        )  # fmt: skip
    probe = Git(root, git_env(env))
    remote, branch = checkout_target(probe, branch)
    push_url = probe.remote_url(remote, push=True)
    urls = sorted(u for u in {probe.remote_url(remote), push_url} if is_http(u))
    credentials = Credentials(token, tuple(urls)) if token and urls else None
    git = Git(root, git_env(env, credentials), credentials.secrets() if credentials else ())
    display = strip_credentials(push_url)
    target = Target(remote, branch, display, display, credentials is not None, checkout=True)
    skip = wants_skip_ci(options.skip_ci, display, pull_request=options.pull_request, env=env)
    work = Workspace(git, target)
    return _land(Committer(git, bump, options, skip, env), work, fetch_first=True)


def deliver_remote(
    bump: BumpFn,
    repo: str,
    *,
    branch: str | None = None,
    token: str | None = None,
    options: DeliverOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> DeliveryResult:
    """Land the bump on ``branch`` (default: the default branch) of ``repo`` without a
    checkout: ``OWNER/NAME`` on ``GITHUB_SERVER_URL``, any git URL, or a local path.

    A shallow single-branch clone goes into a temporary directory that is removed
    afterwards. ``token`` reaches git only through ``GIT_CONFIG_*`` environment
    variables, never the URL, a file or a message.
    """
    options = options or DeliverOptions()
    env = os.environ if env is None else env
    validate(options)
    url = repository_url(repo, env)
    with Workspace.clone(url, branch, token=token, env=env) as work:
        skip = wants_skip_ci(
            options.skip_ci, work.target.url, pull_request=options.pull_request, env=env
        )
        committer = Committer(work.git, bump, options, skip, env)
        return _land(committer, work, fetch_first=False)


def commit_mode(bump: BumpFn, request: DeliveryRequest, env: Mapping[str, str]) -> DeliveryResult:
    """Mode ``commit``: commit in this checkout."""
    return deliver_checkout(bump, path=".", push=False, options=request.options, env=env)


def push_mode(bump: BumpFn, request: DeliveryRequest, env: Mapping[str, str]) -> DeliveryResult:
    """Mode ``push``: push to a branch, from this checkout or a fresh clone (``--repo``)."""
    if request.repo is not None:
        token = resolve_token(request.token, env)
        return deliver_remote(
            bump, request.repo, branch=request.branch, token=token, options=request.options, env=env
        )
    # In a checkout, a GITHUB_TOKEN lying in a developer's shell must not override their
    # git credentials: only an explicit token is used.
    token = request.token or env.get("BUMPER_TOKEN") or None
    return deliver_checkout(
        bump, path=".", push=True, branch=request.branch, token=token,
        options=request.options, env=env,
    )  # fmt: skip
