"""Deliver a bump to git: commit only what changed, push race-safely, never loop.

The bump itself comes in as a callback (:data:`BumpFn`): given the work-tree root, it
plans the edit there and returns a :class:`BumpOutcome` whose ``apply`` writes it. The
callback is a pure function of the files and the target, so when a push is rejected
because the branch moved, delivery fetches the new head, resets to it, calls the
callback again (re-planning, downgrade guard included) and retries with jittered
exponential backoff. It never merges and never force-pushes.

Two front doors: :func:`deliver_checkout` (an existing work tree; commit, and push to
the upstream branch or ``branch``) and :func:`deliver_remote` (``OWNER/NAME`` or a git
URL; a shallow single-branch clone in a temporary directory, removed afterwards).
"""

from __future__ import annotations

import logging
import os
import random
import re
import string
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bumper.delivery.loopguard import TRAILER_KEY
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
    to_url,
)

log = logging.getLogger(__name__)

ACTIONS_BOT = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
DEFAULT_MESSAGE = "chore(deploy): bump {name} to {version}\n\n{changes}"
SKIP_CI_MODES = ("auto", "always", "never")
SKIP_CI = "[skip ci]"
PLACEHOLDERS = (
    "image", "name", "tag", "new_tag", "old_tag", "digest", "version", "files", "changes",
)  # fmt: skip


@dataclass(frozen=True)
class BumpOutcome:
    """What a bump would change in one work tree; nothing is written until ``apply()``.

    ``files`` are absolute or relative to the root the bump was given. ``name``, ``tag``
    and ``digest`` describe the target (for the message and trailer); ``old_tags`` are
    the tags being replaced and ``summaries`` one line per change (the commit body).
    """

    files: Sequence[str | Path]
    apply: Callable[[], object]
    name: str
    tag: str | None = None
    digest: str | None = None
    old_tags: Sequence[str] = ()
    summaries: Sequence[str] = ()

    @property
    def image(self) -> str:
        """``NAME[:TAG][@DIGEST]``: the value of the trailer."""
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


BumpFn = Callable[[Path], BumpOutcome]


@dataclass(frozen=True)
class DeliverOptions:
    """How to commit and push.

    ``message`` is a template with placeholders ``{image}`` (NAME:TAG@DIGEST), ``{name}``,
    ``{tag}``/``{new_tag}``, ``{old_tag}``, ``{digest}``, ``{version}`` (tag, else digest),
    ``{files}`` and ``{changes}`` (one line per change). ``author`` is ``Name <email>``;
    unset, it is the GitHub Actions bot inside Actions and git's configuration elsewhere.
    ``pull_request`` says the commit goes to a pull-request branch, where ``skip_ci="auto"``
    never adds ``[skip ci]`` (a skipped check would block the merge).
    """

    message: str | None = None
    author: str | None = None
    skip_ci: str = "auto"
    pull_request: bool = False
    max_attempts: int = 30
    base_delay: float = 0.1
    max_delay: float = 5.0


@dataclass(frozen=True)
class DeliveryResult:
    """What delivery did. ``remote`` never carries credentials."""

    changed: bool
    commit: str | None
    pushed: bool
    attempts: int
    branch: str | None
    remote: str | None
    files: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        """True when the branch already had the bump: nothing committed, nothing pushed."""
        return not self.changed

    def summary(self) -> str:
        """One line for a person."""
        if not self.changed:
            return "already up to date"
        short = (self.commit or "")[:12]
        if not self.pushed:
            return f"committed {short} on {self.branch or 'HEAD'}"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"pushed {short} to {self.branch} of {self.remote}{tries}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` and Action outputs)."""
        return {
            "changed": self.changed,
            "up_to_date": self.up_to_date,
            "commit": self.commit,
            "pushed": self.pushed,
            "attempts": self.attempts,
            "branch": self.branch,
            "remote": self.remote,
            "files": list(self.files),
        }


def resolve_token(explicit: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The token to use: ``explicit`` (``--token``), else BUMPER_TOKEN, else GITHUB_TOKEN."""
    env = os.environ if env is None else env
    return explicit or env.get("BUMPER_TOKEN") or env.get("GITHUB_TOKEN") or None


def is_slug(repo: str) -> bool:
    """True for ``OWNER/NAME`` (a repository on ``GITHUB_SERVER_URL``), not a URL or path."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", repo) is not None and not repo.startswith(".")


def repository_url(repo: str, env: Mapping[str, str] | None = None) -> str:
    """The clone URL for ``OWNER/NAME`` (on ``GITHUB_SERVER_URL``), a git URL or a path."""
    env = os.environ if env is None else env
    if is_slug(repo):
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        return f"{server}/{repo}"
    return to_url(repo)


def _repo_slug(url: str) -> tuple[str, str] | None:
    """(host, owner/name) of an http(s), ssh or scp-style URL, lower-cased."""
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", url)
    parts = urlsplit(url)
    host, path = (scp.group(1), scp.group(2)) if scp else (parts.hostname, parts.path)
    if not host:
        return None
    path = path.strip("/").removesuffix(".git")
    return host.lower(), path.lower()


def _check_skip_ci_mode(mode: str) -> None:
    if mode not in SKIP_CI_MODES:
        raise BumperError(f"--skip-ci must be one of {', '.join(SKIP_CI_MODES)}, not {mode!r}")


def wants_skip_ci(
    mode: str, url: str, *, pull_request: bool, env: Mapping[str, str] | None = None
) -> bool:
    """Whether the commit subject gets ``[skip ci]``.

    ``always``/``never`` are literal. ``auto`` adds it only to a direct push to the
    repository the workflow runs in (``GITHUB_REPOSITORY`` on ``GITHUB_SERVER_URL``),
    where the push would start the same workflow again; never to a pull-request commit.
    """
    _check_skip_ci_mode(mode)
    if mode != "auto":
        return mode == "always"
    env = os.environ if env is None else env
    current = env.get("GITHUB_REPOSITORY")
    if pull_request or not current:
        return False
    server = urlsplit(env.get("GITHUB_SERVER_URL") or "https://github.com").hostname or ""
    return _repo_slug(url) == (server.lower(), current.lower())


def parse_author(author: str) -> tuple[str, str]:
    """Split ``Name <email>``."""
    match = re.fullmatch(r"\s*([^<>]*?)\s*<([^<>\s]+)>\s*", author)
    if not match or not match.group(1):
        raise BumperError(f"--author must look like 'Name <email>', not {author!r}")
    return match.group(1), match.group(2)


def render_message(template: str | None, outcome: BumpOutcome, files: Sequence[str]) -> str:
    """The commit message from the template (without ``[skip ci]`` and trailer)."""
    template = DEFAULT_MESSAGE if template is None else template
    values = {
        "image": outcome.image,
        "name": outcome.name,
        "tag": outcome.tag or "",
        "new_tag": outcome.tag or "",
        "old_tag": ", ".join(dict.fromkeys(outcome.old_tags)),
        "digest": outcome.digest or "",
        "version": outcome.tag or outcome.digest or "",
        "files": ", ".join(files),
        "changes": "\n".join(outcome.summaries),
    }
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
        unknown = [field for field in fields if field not in values]
        if unknown:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise BumperError(f"unknown placeholder {{{unknown[0]}}} in --message; use {known}")
        text = template.format_map(values)
    except (ValueError, IndexError) as err:
        raise BumperError(f"invalid --message template {template!r}: {err}") from None
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if not lines or not lines[0]:
        raise BumperError("--message gives an empty commit subject")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Target:
    """Where the commit goes, as shown to people (no credentials)."""

    remote: str
    branch: str
    url: str
    token_given: bool
    checkout: bool


def _explain(err: GitCommandError, operation: str, target: _Target) -> BumperError:
    """One actionable line for a failed clone, fetch or push."""
    failure, url, branch = err.failure, target.url, target.branch
    if failure is Failure.PROTECTED:
        message = (
            f"branch '{branch}' of {url} is protected and does not accept direct pushes; "
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
        message = f"branch '{branch}' not found in {url}"
    elif failure is Failure.REPO_NOT_FOUND:
        message = f"repository {url} not found, or the credentials cannot read it"
    elif failure is Failure.REJECTED:
        detail = "; ".join(remote_lines(err.output)) or err.message
        message = f"{url} rejected the push to '{branch}': {detail}"
    else:
        message = f"{err.message} ({operation} {url})"
    return BumperError(message)


def _relative(root: Path, files: Sequence[str | Path]) -> list[str]:
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


def _author_env(git: Git, author: str | None, env: Mapping[str, str]) -> dict[str, str]:
    if author is None and env.get("GITHUB_ACTIONS") == "true":
        author = ACTIONS_BOT
    if author is None:
        if not (git.ok("var", "GIT_AUTHOR_IDENT") and git.ok("var", "GIT_COMMITTER_IDENT")):
            raise BumperError(
                "git has no author identity: set user.name and user.email in git config, "
                "or pass --author 'Name <email>'"
            )
        return {}
    name, email = parse_author(author)
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped,
    half of it random so that racing pipelines spread out."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class _Committer:
    """Turns one bump into one commit in one work tree."""

    def __init__(self, git: Git, bump: BumpFn, options: DeliverOptions, skip_ci: bool,
                 env: Mapping[str, str]) -> None:  # fmt: skip
        self.git = git
        self.bump = bump
        self.options = options
        self.skip_ci = skip_ci
        self.author_env = _author_env(git, options.author, env)

    def commit(self) -> tuple[str | None, list[str]]:
        """Plan, check, apply, commit; (None, []) when there is nothing to change."""
        outcome = self.bump(self.git.root)
        files = _relative(self.git.root, outcome.files)
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
        message = self.git.add_trailer(message, f"{TRAILER_KEY}: {outcome.image}")
        return self.git.commit(files, message, self.author_env), files


def _validate(options: DeliverOptions) -> None:
    """Fail on bad options before touching anything."""
    if options.max_attempts < 1:
        raise BumperError(f"--max-attempts must be at least 1, not {options.max_attempts}")
    _check_skip_ci_mode(options.skip_ci)
    render_message(options.message, BumpOutcome(files=(), apply=lambda: None, name="x"), [])
    if options.author is not None:
        parse_author(options.author)


def _land(committer: _Committer, target: _Target, *, fetch_first: bool) -> DeliveryResult:
    """The race-safe loop: (fetch, reset,) re-plan, commit, push, until it lands."""
    git, options = committer.git, committer.options
    last: GitCommandError | None = None
    for attempt in range(1, options.max_attempts + 1):
        if fetch_first or attempt > 1:
            try:
                head = git.fetch(target.remote, target.branch)
            except GitCommandError as err:
                raise _explain(err, "fetch", target) from None
            if attempt == 1:
                _refuse_local_commits(git, head, target)
            git.reset_keep(head)
        sha, files = committer.commit()
        if sha is None:
            return DeliveryResult(False, None, False, attempt, target.branch, target.url)
        try:
            git.push(target.remote, target.branch)
        except GitCommandError as err:
            # Drop the unpushed commit so the work tree is as before (or at the new head).
            git.reset_keep(f"{sha}~1")
            if err.failure not in (Failure.RACE, Failure.TRANSIENT):
                raise _explain(err, "push", target) from None
            last = err
            if attempt < options.max_attempts:
                delay = backoff(attempt, options.base_delay, options.max_delay)
                log.info(
                    "push to %s rejected (%s), retrying in %.2fs (attempt %d of %d)",
                    target.branch, err.failure.value, delay, attempt + 1, options.max_attempts,
                )  # fmt: skip
                time.sleep(delay)
            continue
        return DeliveryResult(True, sha, True, attempt, target.branch, target.url, tuple(files))
    if last is not None and last.failure is Failure.TRANSIENT:
        raise BumperError(f"gave up after {options.max_attempts} attempts: {last.message}")
    raise BumperError(
        f"gave up after {options.max_attempts} attempts: branch '{target.branch}' of "
        f"{target.url} kept moving under concurrent pushes; raise --max-attempts"
    )


def _refuse_local_commits(git: Git, remote_head: str, target: _Target) -> None:
    """bumper pushes its own commit only: HEAD must be the remote head or behind it."""
    head = git.head()
    if head is None or head == remote_head or git.is_ancestor(head, remote_head):
        return
    ahead = git.count(f"{remote_head}..{head}")
    raise BumperError(
        f"HEAD has {ahead} commit(s) not on {target.remote}/{target.branch}; "
        "bumper pushes only its own commit: push or drop them first"
    )


def _checkout_target(git: Git, branch: str | None) -> tuple[str, str]:
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
    _validate(options)
    try:
        root = Git(Path(path), git_env(env)).toplevel()
    except (GitCommandError, OSError):
        raise BumperError(f"not inside a git work tree: {path}") from None
    if not push:
        git = Git(root, git_env(env))
        sha, files = _Committer(git, bump, options, False, env).commit()
        branch = git.current_branch()
        return DeliveryResult(sha is not None, sha, False, 1, branch, None, tuple(files))
    probe = Git(root, git_env(env))
    remote, branch = _checkout_target(probe, branch)
    push_url = probe.remote_url(remote, push=True)
    urls = sorted(u for u in {probe.remote_url(remote), push_url} if is_http(u))
    credentials = Credentials(token, tuple(urls)) if token and urls else None
    git = Git(root, git_env(env, credentials), credentials.secrets() if credentials else ())
    display = strip_credentials(push_url)
    target = _Target(remote, branch, display, credentials is not None, checkout=True)
    skip = wants_skip_ci(options.skip_ci, display, pull_request=options.pull_request, env=env)
    return _land(_Committer(git, bump, options, skip, env), target, fetch_first=True)


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
    afterwards. ``token`` (see :func:`resolve_token`) reaches git only through
    ``GIT_CONFIG_*`` environment variables, never the URL, a file or a message.
    """
    options = options or DeliverOptions()
    env = os.environ if env is None else env
    _validate(options)
    url = repository_url(repo, env)
    display = strip_credentials(url)
    credentials = Credentials(token, (url,)) if token and is_http(url) else None
    genv = git_env(env, credentials)
    secrets = credentials.secrets() if credentials else ()
    token_given = credentials is not None
    target = _Target("origin", branch or "", display, token_given, checkout=False)
    with tempfile.TemporaryDirectory(prefix="bumper-") as tmp:
        work = Path(tmp) / "repo"
        try:
            clone(Git(Path(tmp), genv, secrets), url, work, branch)
        except GitCommandError as err:
            raise _explain(err, "clone", target) from None
        git = Git(work, genv, secrets)
        branch = branch or git.current_branch()
        if branch is None or git.head() is None:
            raise BumperError(f"{display} has no commits on its default branch")
        target = _Target("origin", branch, display, token_given, checkout=False)
        skip = wants_skip_ci(options.skip_ci, display, pull_request=options.pull_request, env=env)
        return _land(_Committer(git, bump, options, skip, env), target, fetch_first=False)
