"""Mode ``api``: Verified commits through the GitHub Git Data API (``--via api``).

The files are read from a shallow clone of the branch (one request however many
manifests there are; git's own tracking rules apply to the walk). The bump is
committed in that clone exactly as git delivery would (message, trailers, only the
changed files), then replayed through the API: a blob per changed file, a tree on
``base_tree`` with each file's mode kept, a commit with ``parents=[head]`` and no
author or committer (so GitHub signs it: Verified), and a ref update with
``force=false``. When the branch moved (422 "not a fast forward"), the clone is
refreshed to the new head, the bump re-planned there, and the update retried
(:func:`bumper.retry.until_landed`). Nothing is ever forced onto the branch.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from bumper.delivery.contract import (
    BumpFn,
    BumpOutcome,
    DeliverOptions,
    DeliveryRequest,
    DeliveryResult,
    resolve_token,
)
from bumper.delivery.github import (
    GitHubRepo,
    api_errors,
    client,
    explain,
    github_location,
    is_not_fast_forward,
    require_token,
)
from bumper.delivery.messages import parse_author, wants_skip_ci
from bumper.delivery.workspace import Committer, Workspace, validate
from bumper.retry import Race, until_landed

# The clone's commit is only a staging step (its author never reaches GitHub).
STAGING_AUTHOR = "bumper <bumper@localhost>"


@contextmanager
def branch_clone(
    repo: GitHubRepo, branch: str, token: str, env: Mapping[str, str]
) -> Iterator[Workspace]:
    """A shallow clone of one branch of a GitHub repository (the token in a header)."""
    with Workspace.clone(
        repo.clone_url, branch, token=token, env=env, name=repo.slug,
        credential_urls=(repo.web_url,),
    ) as work:  # fmt: skip
        yield work


@dataclass(frozen=True)
class Staged:
    """The bump committed in the clone: what to replay through the API (``sha`` is None
    when there was nothing to change) and what the bump planned."""

    sha: str | None
    tree: str
    message: str
    files: tuple[str, ...]
    outcome: BumpOutcome


def stage(work: Workspace, bump: BumpFn, options: DeliverOptions, *, skip_ci: bool,
          env: Mapping[str, str], pushed: bool = False) -> Staged:  # fmt: skip
    """Plan the bump at the clone's head and commit it there.

    A commit that git will push (``pushed``) gets the real author (``--author``, the
    Actions bot, or git's configuration); one only replayed through the API does not
    need one.
    """
    if not pushed:
        options = replace(options, author=options.author or STAGING_AUTHOR)
    committer = Committer(work.git, bump, options, skip_ci, env)
    sha, files = committer.commit()
    assert committer.outcome is not None
    if sha is None:
        return Staged(None, "", "", (), committer.outcome)
    raw = work.git.run("cat-file", "commit", sha)
    message = raw.partition("\n\n")[2]
    tree = work.git.run("rev-parse", f"{sha}^{{tree}}").strip()
    return Staged(sha, tree, message, tuple(files), committer.outcome)


def replay(repo: Any, work: Workspace, staged: Staged, parent_sha: str,
           author: str | None = None) -> Any:  # fmt: skip
    """Create ``staged`` through the Git Data API on top of ``parent_sha``; return the
    PyGithub GitCommit. Without ``author`` GitHub signs the commit (Verified)."""
    from github import InputGitAuthor, InputGitTreeElement

    assert staged.sha is not None
    elements = []
    for path in staged.files:
        mode, kind, sha = work.git.run("ls-tree", staged.sha, "--", path).split(None, 3)[:3]
        content = base64.b64encode(work.git.blob(sha)).decode("ascii")
        blob = repo.create_git_blob(content, "base64")
        elements.append(InputGitTreeElement(path, mode, kind, sha=blob.sha))
    parent = repo.get_git_commit(parent_sha)
    tree = repo.create_git_tree(elements, parent.tree)
    if author is None:
        return repo.create_git_commit(staged.message, tree, [parent])
    name, email = parse_author(author)
    who = InputGitAuthor(name, email)
    return repo.create_git_commit(staged.message, tree, [parent], author=who, committer=who)


def is_verified(commit: Any) -> bool:
    """Whether GitHub reports the commit as signed and verified."""
    verification = commit.raw_data.get("verification") or {}
    return bool(verification.get("verified"))


def deliver_api(
    bump: BumpFn,
    repo: GitHubRepo,
    *,
    branch: str | None = None,
    token: str | None = None,
    options: DeliverOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> DeliveryResult:
    """Land the bump on ``branch`` (default: the default branch) of ``repo`` as a commit
    made through the Git Data API, retrying when the branch moves under us."""
    options = options or DeliverOptions()
    env = os.environ if env is None else env
    validate(options)
    token = require_token(token)
    github = client(repo, token)
    with api_errors("reading the repository", repo, permission="contents: read"):
        remote = github.get_repo(repo.slug)
        branch = branch or remote.default_branch
    missing = f"branch '{branch}' not found in {repo.slug}"
    with api_errors("reading the branch", repo, permission="contents: read", not_found=missing):
        ref = remote.get_git_ref(f"heads/{branch}")
    skip = wants_skip_ci(options.skip_ci, repo.web_url, pull_request=False, env=env)
    with branch_clone(repo, branch, token, env) as work:
        return _land(remote, ref, repo, work, bump, options, skip, env)


def _land(
    remote: Any,
    ref: Any,
    repo: GitHubRepo,
    work: Workspace,
    bump: BumpFn,
    options: DeliverOptions,
    skip: bool,
    env: Mapping[str, str],
) -> DeliveryResult:
    from github import GithubException
    from requests import RequestException

    branch = work.target.branch

    def attempt(number: int) -> DeliveryResult:
        staged = stage(work, bump, options, skip_ci=skip, env=env)
        if staged.sha is None:
            return DeliveryResult("api", False, "already up to date", branch=branch,
                                  remote=repo.web_url, attempts=number)  # fmt: skip
        with api_errors("creating the commit", repo):
            commit = replay(remote, work, staged, work.head, options.author)
        try:
            ref.edit(commit.sha, force=False)
        except RequestException as err:
            raise explain(err, f"updating branch '{branch}'", repo) from None
        except GithubException as err:
            if not is_not_fast_forward(err):
                raise explain(err, f"updating branch '{branch}'", repo) from None
            raise Race("the branch moved") from None
        verified = is_verified(commit)
        tries = f" after {number} attempts" if number > 1 else ""
        mark = " (verified)" if verified else " (not verified)"
        url = repo.web_url
        return DeliveryResult(
            "api", True, f"pushed {commit.sha[:12]} to {branch} of {url}{tries}{mark}",
            commit=commit.sha, commit_url=f"{url}/commit/{commit.sha}", verified=verified,
            pushed=True, branch=branch, remote=url, attempts=number, files=staged.files,
        )  # fmt: skip

    return until_landed(
        attempt,
        attempts=options.max_attempts,
        what=f"branch '{branch}' of {repo.slug}",
        refresh=work.refresh,
        base_delay=options.base_delay,
        max_delay=options.max_delay,
    )


def api_mode(bump: BumpFn, request: DeliveryRequest, env: Mapping[str, str]) -> DeliveryResult:
    """Mode ``api``: a Verified commit on the branch, made through the GitHub API."""
    location, branch = github_location(request, env, need_branch=request.repo is None)
    token = resolve_token(request.token, env)
    return deliver_api(bump, location, branch=branch, token=token, options=request.options, env=env)
