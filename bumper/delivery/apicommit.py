"""Verified commits through the GitHub Git Data API (``--via api``).

The files are read from a shallow clone of the branch (one request however many
manifests there are; git's own tracking rules apply to the walk). The bump is
committed in that clone exactly as git delivery would (message, trailer, only the
changed files), then replayed through the API: a blob per changed file, a tree on
``base_tree`` with each file's mode kept, a commit with ``parents=[head]`` and no
author or committer (so GitHub signs it: Verified), and a ref update with
``force=false``. When the branch moved (422 "not a fast forward"), the clone is
refreshed to the new head, the bump re-planned there, and the update retried with
jittered backoff. Nothing is ever forced onto the branch.
"""

from __future__ import annotations

import base64
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bumper.delivery.github import (
    GitHubRepo,
    api_errors,
    client,
    explain,
    is_not_fast_forward,
    require_token,
)
from bumper.delivery.gitpush import (
    BumpFn,
    DeliverOptions,
    DeliveryResult,
    _Committer,
    _validate,
    backoff,
    parse_author,
    wants_skip_ci,
)
from bumper.errors import BumperError
from bumper.git import Credentials, Failure, Git, GitCommandError, clone, git_env, run_git

log = logging.getLogger(__name__)

# The clone's commit is only a staging step (its author never reaches GitHub).
STAGING_AUTHOR = "bumper <bumper@localhost>"


class BranchClone:
    """A shallow, single-branch clone of one branch, kept at that branch's newest head.

    The token reaches git only through ``GIT_CONFIG_*`` variables (see bumper.git).
    """

    def __init__(self, repo: GitHubRepo, branch: str, token: str, env: Mapping[str, str],
                 where: Path) -> None:  # fmt: skip
        credentials = Credentials(token, (repo.clone_url, repo.web_url))
        self.repo = repo
        self.branch = branch
        self.env = git_env(env, credentials)
        self.secrets = credentials.secrets()
        self.git = Git(where / "repo", self.env, self.secrets)
        try:
            clone(Git(where, self.env, self.secrets), repo.clone_url, self.git.root, branch)
        except GitCommandError as err:
            raise _clone_error(err, repo, branch) from None
        head = self.git.head()
        if head is None:
            raise BumperError(f"branch '{branch}' of {repo.slug} has no commits")
        self.head = head

    def refresh(self) -> str:
        """Fetch the branch's current head and reset the work tree to it; return it."""
        try:
            self.head = self.git.fetch("origin", self.branch)
        except GitCommandError as err:
            raise _clone_error(err, self.repo, self.branch) from None
        self.git.run("reset", "--quiet", "--hard", self.head)
        return self.head

    def blob(self, sha: str) -> bytes:
        """A blob's exact bytes (no newline translation)."""
        done = run_git(
            ["cat-file", "blob", sha],
            cwd=self.git.root, env=self.env, capture_output=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BumperError(
                f"git cat-file {sha} failed in the clone: "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout


def _clone_error(err: GitCommandError, repo: GitHubRepo, branch: str) -> BumperError:
    if err.failure is Failure.BRANCH_NOT_FOUND:
        return BumperError(f"branch '{branch}' not found in {repo.slug}")
    if err.failure is Failure.AUTH:
        return BumperError(f"authentication failed for {repo.clone_url}: the token was rejected")
    if err.failure in (Failure.REPO_NOT_FOUND, Failure.CANNOT_WRITE):
        return BumperError(f"repository {repo.slug} not found, or the token cannot read it")
    return BumperError(f"{err.message} (cloning {repo.clone_url})")


@dataclass(frozen=True)
class Staged:
    """The bump committed in the clone: what to replay through the API."""

    sha: str
    tree: str
    message: str
    files: tuple[str, ...]


def stage(clone: BranchClone, bump: BumpFn, options: DeliverOptions, *, skip_ci: bool,
          env: Mapping[str, str], pushed: bool = False) -> Staged | None:  # fmt: skip
    """Plan the bump at the clone's head and commit it there; None when nothing changes.

    A commit that git will push (``pushed``) gets the real author (``--author``, the
    Actions bot, or git's configuration); one only replayed through the API does not
    need one.
    """
    if not pushed:
        options = replace(options, author=options.author or STAGING_AUTHOR)
    sha, files = _Committer(clone.git, bump, options, skip_ci, env).commit()
    if sha is None:
        return None
    raw = clone.git.run("cat-file", "commit", sha)
    message = raw.partition("\n\n")[2]
    tree = clone.git.run("rev-parse", f"{sha}^{{tree}}").strip()
    return Staged(sha, tree, message, tuple(files))


def replay(repo: Any, clone: BranchClone, staged: Staged, parent_sha: str,
           author: str | None = None) -> Any:  # fmt: skip
    """Create ``staged`` through the Git Data API on top of ``parent_sha``; return the
    PyGithub GitCommit. Without ``author`` GitHub signs the commit (Verified)."""
    from github import InputGitAuthor, InputGitTreeElement

    elements = []
    for path in staged.files:
        mode, kind, sha = clone.git.run("ls-tree", staged.sha, "--", path).split(None, 3)[:3]
        content = base64.b64encode(clone.blob(sha)).decode("ascii")
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


@dataclass(frozen=True)
class ApiDeliveryResult(DeliveryResult):
    """A delivery through the API: also says whether GitHub verified the commit."""

    verified: bool = False

    def summary(self) -> str:
        """One line for a person."""
        text = super().summary()
        if self.changed:
            text += " (verified)" if self.verified else " (not verified)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**super().to_dict(), "via": "api", "verified": self.verified}


def deliver_api(
    bump: BumpFn,
    repo: GitHubRepo,
    *,
    branch: str | None = None,
    token: str | None = None,
    options: DeliverOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> ApiDeliveryResult:
    """Land the bump on ``branch`` (default: the default branch) of ``repo`` as a commit
    made through the Git Data API, retrying when the branch moves under us."""
    options = options or DeliverOptions()
    env = os.environ if env is None else env
    _validate(options)
    token = require_token(token)
    github = client(repo, token)
    with api_errors("reading the repository", repo, permission="contents: read"):
        remote = github.get_repo(repo.slug)
        branch = branch or remote.default_branch
    missing = f"branch '{branch}' not found in {repo.slug}"
    with api_errors("reading the branch", repo, permission="contents: read", not_found=missing):
        ref = remote.get_git_ref(f"heads/{branch}")
    skip = wants_skip_ci(options.skip_ci, repo.web_url, pull_request=False, env=env)
    with tempfile.TemporaryDirectory(prefix="bumper-") as tmp:
        work = BranchClone(repo, branch, token, env, Path(tmp))
        return _land(remote, ref, work, bump, options, skip, env)


def _land(remote: Any, ref: Any, work: BranchClone, bump: BumpFn, options: DeliverOptions,
          skip: bool, env: Mapping[str, str]) -> ApiDeliveryResult:  # fmt: skip
    from github import GithubException
    from requests import RequestException

    repo, branch = work.repo, work.branch
    for attempt in range(1, options.max_attempts + 1):
        staged = stage(work, bump, options, skip_ci=skip, env=env)
        if staged is None:
            return ApiDeliveryResult(False, None, False, attempt, branch, repo.web_url)
        with api_errors("creating the commit", repo):
            commit = replay(remote, work, staged, work.head, options.author)
        try:
            ref.edit(commit.sha, force=False)
        except RequestException as err:
            raise explain(err, f"updating branch '{branch}'", repo) from None
        except GithubException as err:
            if not is_not_fast_forward(err):
                raise explain(err, f"updating branch '{branch}'", repo) from None
            if attempt < options.max_attempts:
                delay = backoff(attempt, options.base_delay, options.max_delay)
                log.info("branch %s moved, re-planning in %.2fs (attempt %d of %d)",
                         branch, delay, attempt + 1, options.max_attempts)  # fmt: skip
                time.sleep(delay)
            work.refresh()
            continue
        return ApiDeliveryResult(
            True, commit.sha, True, attempt, branch, repo.web_url, staged.files,
            verified=is_verified(commit),
        )  # fmt: skip
    raise BumperError(
        f"gave up after {options.max_attempts} attempts: branch '{branch}' of {repo.slug} "
        "kept moving under concurrent updates; raise --max-attempts"
    )
