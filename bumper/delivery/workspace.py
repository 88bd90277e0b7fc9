"""The work tree a delivery commits in: the user's checkout, or a fresh shallow clone of
one branch in a temporary folder, and the one place git failures become messages.

A token reaches git only through ``GIT_CONFIG_*`` variables (an ``http.extraheader``
keyed on the URLs it is for), never the URL, ``.git/config``, a file or a message; every
line git prints is scrubbed of it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bumper.delivery.contract import BumpFn, BumpOutcome, DeliverOptions
from bumper.delivery.loopguard import TRAILER_KEY
from bumper.delivery.messages import SKIP_CI, check_skip_ci_mode, parse_author, render_message
from bumper.errors import BumperError
from bumper.git import (
    Credentials,
    Failure,
    Git,
    GitCommandError,
    clone,
    git_env,
    is_http,
    remote_lines,
    strip_credentials,
)

ACTIONS_BOT = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"


@dataclass(frozen=True)
class Target:
    """Where commits go, as shown to people (no credentials): ``name`` is how messages
    call the repository (its URL, or ``OWNER/NAME`` on GitHub)."""

    remote: str
    branch: str
    url: str
    name: str
    token_given: bool
    checkout: bool


def explain(err: GitCommandError, operation: str, target: Target) -> BumperError:
    """One actionable line for a failed clone, fetch or push."""
    failure, url, branch, name = err.failure, target.url, target.branch, target.name
    if failure is Failure.PROTECTED:
        message = (
            f"branch '{branch}' of {name} is protected and does not accept direct pushes; "
            "use pull-request mode (--pull-request)"
        )
    elif failure is Failure.CANNOT_WRITE and operation == "push":
        message = (
            f"the credentials cannot write to {url}: a GitHub token needs 'contents: write' "
            "permission, and a read-only token or deploy key cannot push"
        )
    elif failure is Failure.CANNOT_WRITE:
        message = f"access to {url} was denied (HTTP 403): the token cannot read it"
    elif failure is Failure.AUTH:
        if target.token_given:
            hint = "the token was rejected"
        elif target.checkout:
            hint = "check the checkout's git credentials, or pass --token"
        else:
            hint = "no token given; pass --token or set GITHUB_TOKEN or BUMPER_TOKEN"
        message = f"authentication failed for {url}: {hint}"
    elif failure is Failure.BRANCH_NOT_FOUND:
        message = f"branch '{branch}' not found in {name}"
    elif failure is Failure.REPO_NOT_FOUND:
        message = f"repository {name} not found, or the credentials cannot read it"
    elif failure is Failure.UNREACHABLE:
        message = f"cannot reach {url}: {err.cause or err.message}"
    elif failure is Failure.REJECTED:
        detail = "; ".join(remote_lines(err.output)) or err.message
        message = f"{url} rejected the push to '{branch}': {detail}"
    else:
        message = f"{err.message} ({operation} {url})"
    return BumperError(message)


class Workspace:
    """One work tree and where its commits go."""

    def __init__(self, git: Git, target: Target) -> None:
        self.git = git
        self.target = target
        head = git.head()
        self.head = head or ""

    @classmethod
    @contextmanager
    def clone(
        cls,
        url: str,
        branch: str | None,
        *,
        token: str | None,
        env: Mapping[str, str],
        name: str | None = None,
        credential_urls: Sequence[str] = (),
        history: str = "commits",
    ) -> Iterator[Workspace]:
        """A single-branch clone of ``branch`` (default: the default branch) in a
        temporary folder, removed afterwards. By default it has every commit but only the
        head's files (bumper's ledger of rollbacks is in the commit messages);
        ``history="full"`` brings every file of every commit, ``"none"`` the head only."""
        display = strip_credentials(url)
        urls = tuple(u for u in (url, *credential_urls) if is_http(u))
        credentials = Credentials(token, urls) if token and urls else None
        genv = git_env(env, credentials)
        secrets = credentials.secrets() if credentials else ()
        target = Target("origin", branch or "", display, name or display, bool(credentials), False)
        with tempfile.TemporaryDirectory(prefix="bumper-") as tmp:
            work = Path(tmp) / "repo"
            try:
                clone(Git(Path(tmp), genv, secrets), url, work, branch, history)
            except GitCommandError as err:
                raise explain(err, "clone", target) from None
            git = Git(work, genv, secrets)
            branch = branch or git.current_branch()
            if branch is None or git.head() is None:
                where = f"branch '{branch}' of {target.name}" if branch else target.name
                raise BumperError(f"{where} has no commits")
            target = Target("origin", branch, display, target.name, bool(credentials), False)
            yield cls(git, target)

    def fetch(self) -> str:
        """The branch's current head on the remote (fetched into its tracking ref)."""
        try:
            return self.git.fetch(self.target.remote, self.target.branch)
        except GitCommandError as err:
            raise explain(err, "fetch", self.target) from None

    def refresh(self) -> str:
        """Fetch the branch and reset the work tree to its new head; return the head."""
        self.head = self.fetch()
        self.git.run("reset", "--quiet", "--hard", self.head)
        return self.head

    def push(self, ref: str, *, lease: str | None = None) -> None:
        """Push HEAD to ``ref`` of the remote; with ``lease``, forced only over exactly
        that commit ("" for a branch that must not exist yet)."""
        args = ["push", "--porcelain", "--quiet"]
        if lease is not None:
            args.append(f"--force-with-lease={ref}:{lease}")
        self.git.run(*args, self.target.remote, f"HEAD:{ref}")


def checkout_target(git: Git, branch: str | None) -> tuple[str, str]:
    """(remote, branch) to push to: the upstream of the current branch, or ``branch``."""
    current = git.current_branch()
    remote = git.config(f"branch.{current}.remote") if current else None
    merge = git.config(f"branch.{current}.merge") if current else None
    if branch is None:
        if not (remote and remote != "." and merge and merge.startswith("refs/heads/")):
            where = f"branch '{current}'" if current else "a detached HEAD"
            raise BumperError(f"{where} has no upstream branch to push to; pass --branch")
        branch = merge[len("refs/heads/") :]
    if not remote or remote == ".":
        remotes = git.remotes()
        if "origin" in remotes:
            remote = "origin"
        elif len(remotes) == 1:
            remote = remotes[0]
        else:
            raise BumperError("no single git remote to push to; set the branch's upstream")
    return remote, branch


def checkout_root(path: str | Path, env: Mapping[str, str]) -> Path:
    """The root of the git work tree holding ``path``, or a clear error."""
    try:
        return Git(Path(path), git_env(env)).toplevel()
    except (GitCommandError, OSError):
        raise BumperError(f"not inside a git work tree: {path}") from None


def relative_paths(root: Path, files: Sequence[str | Path]) -> list[str]:
    """Root-relative POSIX paths of the changed files (symlinks resolved: git commits
    the file that is written)."""
    real_root = root.resolve()
    paths: list[str] = []
    for file in files:
        full = (root / file).resolve()
        try:
            paths.append(full.relative_to(real_root).as_posix())
        except ValueError:
            raise BumperError(f"{file}: outside the repository at {root}") from None
    return sorted(dict.fromkeys(paths))


def _check_clean(git: Git, files: list[str]) -> None:
    """Refuse before writing when a file to commit is untracked or has local changes."""
    untracked = sorted(set(files) - git.tracked(files))
    if untracked:
        raise BumperError(f"{untracked[0]}: not tracked by git; add and commit it first")
    dirty = sorted(git.dirty(files))
    if dirty:
        more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise BumperError(
            f"{dirty[0]}{more}: has uncommitted changes; commit or stash them before bumping"
        )


def identity_env(git: Git, options: DeliverOptions, env: Mapping[str, str]) -> dict[str, str]:
    """Author and committer for the commit: ``--author``/``--committer``, else the Actions
    bot inside Actions, else git's own configuration (which must then exist)."""
    author = options.author
    if author is None and env.get("GITHUB_ACTIONS") == "true":
        author = ACTIONS_BOT
    committer = options.committer or author
    if author is None:
        if not (git.ok("var", "GIT_AUTHOR_IDENT") and git.ok("var", "GIT_COMMITTER_IDENT")):
            raise BumperError(
                "git has no author identity: set user.name and user.email in git config, "
                "or pass --author 'Name <email>'"
            )
        return {}
    name, email = parse_author(author)
    result = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    assert committer is not None
    name, email = parse_author(committer, "--committer")
    result |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    return result


def validate(options: DeliverOptions) -> None:
    """Fail on bad commit options before touching anything."""
    if options.max_attempts < 1:
        raise BumperError(f"--max-attempts must be at least 1, not {options.max_attempts}")
    check_skip_ci_mode(options.skip_ci)
    render_message(options.message, BumpOutcome(files=(), apply=lambda: None, name="x"), [])
    if options.author is not None:
        parse_author(options.author)
    if options.committer is not None:
        parse_author(options.committer, "--committer")


class Committer:
    """Turns one bump into one commit in one work tree."""

    def __init__(self, git: Git, bump: BumpFn, options: DeliverOptions, skip_ci: bool,
                 env: Mapping[str, str]) -> None:  # fmt: skip
        self.git = git
        self.bump = bump
        self.options = options
        self.skip_ci = skip_ci
        self.identity = identity_env(git, options, env)
        self.outcome: BumpOutcome | None = None

    def commit(self) -> tuple[str | None, list[str]]:
        """Plan, check, apply, commit; (None, []) when there is nothing to change.
        ``outcome`` keeps what the bump planned (for titles and descriptions)."""
        outcome = self.outcome = self.bump(self.git.root)
        files = relative_paths(self.git.root, outcome.files)
        if not files:
            return None, []
        _check_clean(self.git, files)
        outcome.apply()
        # Commit what really differs: a bump that rewrote a file to the same bytes is no change.
        files = sorted(self.git.dirty(files))
        if not files:
            return None, []
        message = render_message(self.options.message, outcome, files)
        if self.skip_ci and SKIP_CI not in message.partition("\n")[0]:
            subject, newline, body = message.partition("\n")
            message = f"{subject} {SKIP_CI}{newline}{body}"
        trailers = [f"{TRAILER_KEY}: {image}" for image in outcome.all_images]
        trailers += list(outcome.trailers)
        if self.options.signoff:
            name = self.identity.get("GIT_COMMITTER_NAME") or self.git.config("user.name")
            email = self.identity.get("GIT_COMMITTER_EMAIL") or self.git.config("user.email")
            trailers.append(f"Signed-off-by: {name} <{email}>")
        message = self.git.add_trailers(message, trailers)
        return self.git.commit(files, message, self.identity), files
