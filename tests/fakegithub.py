"""A fake GitHub (Enterprise Server layout) for tests: REST, GraphQL and git smart HTTP.

GitHub cannot be reached from the tests, so this is the one stand-in: a real HTTP server on
127.0.0.1 backed by real bare git repositories. Objects made through the Git Data API are
real git objects (``git hash-object``/``mktree``/``commit-tree``), refs move with
``git update-ref`` and an old-value check, and git clients clone and push through
``git http-backend``. Status codes and error bodies follow GitHub's.

Standard library only. Standalone use::

    python tests/fakegithub.py --repo OWNER/NAME=PATH_TO_BARE_REPO [--token T] [--port N]

prints the base URL as its first line and serves until killed. Test-only control endpoints
live under ``<base>/_fake/`` (faults, settings, tokens, state, events).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ZERO_SHA = "0" * 40
DOCS = "https://docs.github.com/rest"
ACTIONS_BOT_ID = 41898282
WEB_FLOW = {"login": "web-flow", "id": 19864447, "type": "User"}
FULL_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "metadata": "read",
}
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
ACTIONS_PR_REFUSED = "GitHub Actions is not permitted to create or approve pull requests."


def now_iso() -> str:
    """The current UTC time in GitHub's timestamp format."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_id(*parts: object) -> int:
    """A deterministic positive integer id derived from ``parts``."""
    digest = hashlib.sha1(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 900_000_000 + 100_000


def node_id(prefix: str, *parts: object) -> str:
    """An opaque GraphQL global id in GitHub's new style (``PR_kwDO…``)."""
    raw = hashlib.sha1(":".join(map(str, parts)).encode()).digest()[:12]
    return f"{prefix}_kwDO{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


class ApiError(Exception):
    """An error answer in GitHub's shape; raised anywhere inside a handler."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        doc: str = "",
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message}
        if errors is not None:
            self.body["errors"] = errors
        self.body["documentation_url"] = f"{DOCS}/{doc}" if doc else DOCS
        self.body["status"] = str(status)
        self.headers = headers or {}


def already_exists(repo: Repository, branch: str) -> dict[str, Any]:
    """The error item of GitHub's duplicate-PR 422."""
    return {
        "resource": "PullRequest",
        "code": "custom",
        "message": f"A pull request already exists for {repo.owner}:{branch}.",
    }


def validation_failed(doc: str, *errors: dict[str, Any]) -> ApiError:
    """GitHub's 422 "Validation Failed" with an ``errors`` list."""
    return ApiError(422, "Validation Failed", doc=doc, errors=list(errors))


# --------------------------------------------------------------------------- git plumbing


class GitError(Exception):
    """A git plumbing command failed."""


class GitRepo:
    """Thin wrapper over git plumbing in one bare repository."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> bytes:
        """Run git in the repository and return stdout; raise GitError on failure."""
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        proc = subprocess.run(
            ["git", "-c", "safe.directory=*", *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitError(proc.stderr.decode(errors="replace").strip())
        return proc.stdout

    def ok(self, *args: str) -> bool:
        """Whether a git command exits 0."""
        try:
            self.run(*args)
        except GitError:
            return False
        return True

    def object_type(self, sha: str) -> str | None:
        """``blob``/``tree``/``commit``/``tag`` or None when the object is missing."""
        if not re.fullmatch(r"[0-9a-f]{40}", sha or ""):
            return None
        try:
            return self.run("cat-file", "-t", sha).decode().strip()
        except GitError:
            return None

    def resolve_commit(self, rev: str) -> str | None:
        """The commit sha a revision names, or None."""
        try:
            out = self.run(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
            )
        except GitError:
            return None
        return out.decode().strip() or None

    def read_ref(self, ref: str) -> str | None:
        """The sha a full ref name points to, or None when it does not exist."""
        try:
            out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", ref)
        except GitError:
            return None
        return out.decode().strip() or None

    def list_refs(self, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(refname, sha, type) for every ref under ``prefix``."""
        fmt = "%(refname) %(objectname) %(objecttype)"
        out = self.run("for-each-ref", f"--format={fmt}", prefix).decode()
        refs = []
        for line in out.splitlines():
            name, sha, kind = line.split(" ")
            refs.append((name, sha, kind))
        return refs

    def update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Move ``ref`` to ``new`` only if it still points at ``old`` (None: must not exist)."""
        return self.ok("update-ref", ref, new, old or ZERO_SHA)

    def delete_ref(self, ref: str, old: str) -> bool:
        """Delete ``ref`` only if it still points at ``old``."""
        return self.ok("update-ref", "-d", ref, old)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant``."""
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def hash_blob(self, data: bytes) -> str:
        """Write a blob and return its sha."""
        return self.run("hash-object", "-w", "--stdin", input=data).decode().strip()

    def read_blob(self, sha: str) -> bytes:
        """The content of a blob."""
        return self.run("cat-file", "blob", sha)

    def ls_tree(self, tree: str, *, recursive: bool = False) -> list[dict[str, Any]]:
        """Entries of a tree: mode, type, sha, size (blobs) and path."""
        args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [tree]
        entries = []
        for item in self.run(*args).split(b"\0"):
            if not item:
                continue
            meta, path = item.split(b"\t", 1)
            mode, kind, sha, size = meta.decode().split()
            entries.append(
                {
                    "mode": mode,
                    "type": kind,
                    "sha": sha,
                    "size": None if size == "-" else int(size),
                    "path": path.decode(),
                }
            )
        return entries

    def mktree(self, entries: Iterable[tuple[str, str, str, str]]) -> str:
        """Write a tree from (mode, type, sha, name) entries and return its sha."""
        data = b"".join(
            f"{mode} {kind} {sha}\t{name}".encode() + b"\0" for mode, kind, sha, name in entries
        )
        return self.run("mktree", "-z", input=data).decode().strip()

    def commit_tree(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: dict[str, str],
        committer: dict[str, str],
    ) -> str:
        """Write a commit object and return its sha."""
        env = {
            "GIT_AUTHOR_NAME": author["name"],
            "GIT_AUTHOR_EMAIL": author["email"],
            "GIT_AUTHOR_DATE": author["date"],
            "GIT_COMMITTER_NAME": committer["name"],
            "GIT_COMMITTER_EMAIL": committer["email"],
            "GIT_COMMITTER_DATE": committer["date"],
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, input=message.encode(), env=env).decode().strip()

    def read_commit(self, sha: str) -> dict[str, Any]:
        """Parse a commit object: tree, parents, author, committer, message, gpgsig."""
        raw = self.run("cat-file", "commit", sha).decode(errors="replace")
        header, _, message = raw.partition("\n\n")
        info: dict[str, Any] = {"parents": [], "message": message, "gpgsig": False, "raw": raw}
        for line in header.split("\n"):
            key, _, value = line.partition(" ")
            if key == "tree":
                info["tree"] = value
            elif key == "parent":
                info["parents"].append(value)
            elif key in ("author", "committer"):
                info[key] = parse_ident(value)
            elif key == "gpgsig":
                info["gpgsig"] = True
        return info

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base``, or None on conflicts."""
        try:
            out = self.run("merge-tree", "--write-tree", base, head)
        except GitError:
            return None
        return out.decode().split("\n", 1)[0].strip()


def parse_ident(value: str) -> dict[str, str]:
    """Parse ``Name <email> 1700000000 +0100`` into GitHub's {name, email, date}."""
    m = re.match(r"(.*) <(.*)> (\d+) ([+-]\d{4})$", value)
    if not m:
        return {"name": value, "email": "", "date": now_iso()}
    stamp = datetime.fromtimestamp(int(m.group(3)), timezone.utc)
    return {"name": m.group(1), "email": m.group(2), "date": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}


def git_date(iso: str | None) -> str:
    """GitHub accepts ISO 8601 dates; git wants them too (it parses ISO 8601)."""
    return iso or now_iso()


class TreeNode:
    """A tree being edited: entries loaded lazily from a base tree, subtrees nested."""

    def __init__(self, git: GitRepo, sha: str | None) -> None:
        self.git = git
        self.entries: dict[str, tuple[str, str, str] | TreeNode] = {}
        if sha:
            for entry in git.ls_tree(sha):
                self.entries[entry["path"]] = (entry["mode"], entry["type"], entry["sha"])

    def child(self, name: str) -> TreeNode:
        """The subtree ``name`` as an editable node, created when missing."""
        current = self.entries.get(name)
        if isinstance(current, TreeNode):
            return current
        node = TreeNode(self.git, current[2] if current and current[1] == "tree" else None)
        self.entries[name] = node
        return node

    def set(self, parts: list[str], entry: tuple[str, str, str] | None) -> None:
        """Set (or with None delete) the entry at the path ``parts``."""
        if len(parts) > 1:
            if entry is None and parts[0] not in self.entries:
                return
            self.child(parts[0]).set(parts[1:], entry)
        elif entry is None:
            self.entries.pop(parts[0], None)
        else:
            self.entries[parts[0]] = entry

    def write(self) -> str | None:
        """Write this tree and its edited subtrees; None when it ended up empty."""
        rows = []
        for name, entry in self.entries.items():
            if isinstance(entry, TreeNode):
                sha = entry.write()
                if sha is not None:
                    rows.append(("040000", "tree", sha, name))
            else:
                rows.append((entry[0], entry[1], entry[2], name))
        if not rows:
            return None
        return self.git.mktree(rows)


# --------------------------------------------------------------------------- state


@dataclass
class Token:
    """A token the fake accepts, with the identity and permissions GitHub would give it.

    ``kind`` is ``app`` (GITHUB_TOKEN or an App installation token: errors say
    "integration") or ``user`` (a personal access token). ``permissions`` maps
    ``contents``/``pull_requests``/``issues`` to ``read`` or ``write``. ``repositories``
    limits which repositories it can see (None: all). ``can_create_pull_requests=False``
    answers PR creation with GitHub's Actions-not-permitted 403.
    """

    value: str
    login: str = "github-actions[bot]"
    kind: str = "app"
    permissions: dict[str, str] = field(default_factory=lambda: dict(FULL_PERMISSIONS))
    repositories: list[str] | None = None
    can_create_pull_requests: bool = True
    name: str | None = None
    email: str | None = None

    @property
    def user_id(self) -> int:
        """The numeric id of the identity behind the token."""
        return (
            ACTIONS_BOT_ID if self.login == "github-actions[bot]" else stable_id("user", self.login)
        )

    @property
    def identity(self) -> dict[str, str]:
        """The git author GitHub uses for API commits made with this token."""
        return {
            "name": self.name or self.login,
            "email": self.email or f"{self.user_id}+{self.login}@users.noreply.github.com",
        }

    def can(self, scope: str, level: str) -> bool:
        """Whether the token has ``level`` (read/write) on ``scope``."""
        have = self.permissions.get(scope)
        return have == "write" or (have == "read" and level == "read")

    def sees(self, full_name: str) -> bool:
        """Whether the token can see a repository at all."""
        return self.repositories is None or full_name.lower() in {
            r.lower() for r in self.repositories
        }


@dataclass
class PullRequest:
    """One pull request's stored state; head/base shas are read live from the refs."""

    number: int
    title: str
    body: str | None
    head_ref: str
    base_ref: str
    user: str
    draft: bool
    head_sha: str
    base_sha: str
    created_at: str
    state: str = "open"
    updated_at: str = ""
    closed_at: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    maintainer_can_modify: bool = False
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    auto_merge: dict[str, Any] | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Repository:
    """A repository served by the fake, backed by a bare git repository.

    Settings mirror GitHub's: ``allow_auto_merge`` (off: the auto-merge mutation fails
    like GitHub's), ``private`` (anonymous requests get 404), ``protected_branches``
    (ref updates and pushes to them are refused), ``requires_checks`` (when False, a PR
    is "clean" and enabling auto-merge fails with GitHub's clean-status error),
    ``collaborators``/``teams`` (None: anyone may be requested as reviewer).
    """

    owner: str
    name: str
    path: Path
    private: bool = True
    allow_auto_merge: bool = True
    requires_checks: bool = True
    protected_branches: set[str] = field(default_factory=set)
    collaborators: set[str] | None = None
    teams: set[str] | None = None
    default_branch: str = ""
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    verification: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_authors: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        self.path = Path(self.path).resolve()
        self.git = GitRepo(self.path)
        if not self.default_branch:
            head = self.git.run("symbolic-ref", "--short", "HEAD", check=False).decode().strip()
            self.default_branch = head or "main"

    @property
    def full_name(self) -> str:
        """OWNER/NAME."""
        return f"{self.owner}/{self.name}"

    @property
    def id(self) -> int:
        """The numeric repository id."""
        return stable_id("repo", self.full_name)

    @property
    def node_id(self) -> str:
        """The repository's GraphQL id."""
        return node_id("R", self.full_name)

    def branch_sha(self, branch: str) -> str | None:
        """The commit a branch points to, or None."""
        return self.git.read_ref(f"refs/heads/{branch}")

    def sync_pull(self, pr: PullRequest) -> None:
        """Follow the branches: new head commits, and closing when the head branch is gone."""
        if pr.state != "open":
            return
        head = self.branch_sha(pr.head_ref)
        if head is None:
            pr.state, pr.closed_at = "closed", now_iso()
            return
        pr.head_sha = head
        pr.base_sha = self.branch_sha(pr.base_ref) or pr.base_sha


@dataclass
class Event:
    """One request the fake answered."""

    method: str
    path: str
    query: str
    status: int
    login: str | None


@dataclass
class Faults:
    """Failures to inject; each counter is consumed by the matching request.

    ``ref_update_races``: the next N ref updates (PATCH git/refs) answer 422 "Update is
    not a fast forward"; with ``race_moves_branch`` the branch first gets a real foreign
    commit (``race_files`` written into it), so the client's next try must rebase.
    ``rate_limits``: the next N API requests answer a rate limit of ``rate_limit_kind``
    (``secondary`` 403 with Retry-After, ``primary`` 403 with x-ratelimit-remaining 0,
    ``429``). ``server_errors``: the next N API requests answer ``server_error_status``.
    ``refuse_pull_requests``: the next N PR creations answer the Actions-not-permitted 403.
    ``match``: optional regex; rate limits and server errors only hit matching
    ``METHOD /path`` strings.
    """

    ref_update_races: int = 0
    race_moves_branch: bool = True
    race_files: dict[str, str] = field(default_factory=dict)
    rate_limits: int = 0
    rate_limit_kind: str = "secondary"
    retry_after: int = 1
    server_errors: int = 0
    server_error_status: int = 502
    refuse_pull_requests: int = 0
    match: str | None = None

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from a JSON object (the ``/_fake/faults`` endpoint)."""
        for key, value in values.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown fault {key!r}")
            setattr(self, key, value)

    def take(self, counter: str, request_line: str | None = None) -> bool:
        """Consume one ``counter`` fault if one is pending (and ``match`` fits)."""
        if getattr(self, counter) <= 0:
            return False
        if request_line is not None and self.match and not re.search(self.match, request_line):
            return False
        setattr(self, counter, getattr(self, counter) - 1)
        return True


# --------------------------------------------------------------------------- the fake


class FakeGitHub:
    """The fake GitHub: repositories, tokens, faults, an event log, and the HTTP server.

    Use as a context manager or call :meth:`start`/:meth:`stop`. Inspect state with
    :meth:`pulls`, :meth:`pull`, :meth:`branch_sha`, :meth:`commit_verification`,
    :attr:`events`; inject failures through :attr:`faults`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.repos: dict[str, Repository] = {}
        self.tokens: dict[str, Token] = {}
        self.faults = Faults()
        self.events: list[Event] = []
        self.lock = threading.RLock()
        self.rate_used: dict[str, int] = {}
        self.rate_reset = int(time.time()) + 3600
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._git_root = Path(tempfile.mkdtemp(prefix="fakegithub-"))
        self._hooks = self._git_root / "_hooks"
        self._write_hooks()

    # -- configuration

    def add_repo(self, full_name: str, path: str | os.PathLike[str], **settings: Any) -> Repository:
        """Serve the bare repository at ``path`` as ``OWNER/NAME``; see :class:`Repository`."""
        owner, name = full_name.split("/")
        repo = Repository(owner=owner, name=name, path=Path(path), **settings)
        with self.lock:
            self.repos[full_name.lower()] = repo
            link = self._git_root / owner / f"{name}.git"
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(repo.path, target_is_directory=True)
        return repo

    def add_token(self, value: str, **spec: Any) -> Token:
        """Accept ``value`` as a token; see :class:`Token` for the options."""
        token = Token(value=value, **spec)
        with self.lock:
            self.tokens[value] = token
        return token

    def repo(self, full_name: str) -> Repository:
        """The repository state for OWNER/NAME."""
        return self.repos[full_name.lower()]

    # -- lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (what GITHUB_SERVER_URL would be)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The REST root (what GITHUB_API_URL would be; PyGithub's ``base_url``)."""
        return f"{self.base_url}/api/v3"

    @property
    def token(self) -> str:
        """The first token added (the usual one in tests)."""
        return next(iter(self.tokens))

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint."""
        return f"{self.base_url}/api/graphql"

    def start(self) -> FakeGitHub:
        """Bind and serve on a daemon thread."""
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._git_root, ignore_errors=True)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection helpers for tests

    def pulls(self, full_name: str, state: str = "all") -> list[dict[str, Any]]:
        """PRs as the REST API shows them (``state``: open, closed or all)."""
        repo = self.repo(full_name)
        with self.lock:
            for pr in repo.pulls.values():
                repo.sync_pull(pr)
            return [
                pull_json(self, repo, pr, full=True)
                for pr in repo.pulls.values()
                if state in ("all", pr.state)
            ]

    def pull(self, full_name: str, number: int) -> dict[str, Any]:
        """One PR as the REST API shows it, plus ``comments_list`` with comment bodies."""
        repo = self.repo(full_name)
        with self.lock:
            pr = repo.pulls[number]
            repo.sync_pull(pr)
            data = pull_json(self, repo, pr, full=True)
            data["comments_list"] = [c["body"] for c in pr.comments]
            return data

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points to, or None."""
        return self.repo(full_name).branch_sha(branch)

    def commit_verification(self, full_name: str, sha: str) -> dict[str, Any]:
        """The ``verification`` object GitHub reports for a commit."""
        return verification_for(self.repo(full_name), sha)

    def calls(self, method: str | None = None, pattern: str = "") -> list[Event]:
        """Logged requests, filtered by method and a regex on the path."""
        with self.lock:
            return [
                e
                for e in self.events
                if (method is None or e.method == method) and re.search(pattern, e.path)
            ]

    def state(self) -> dict[str, Any]:
        """A JSON-able dump of repositories, branches and PRs (the ``/_fake/state`` body)."""
        out: dict[str, Any] = {}
        for repo in list(self.repos.values()):
            out[repo.full_name] = {
                "branches": {
                    ref.removeprefix("refs/heads/"): sha
                    for ref, sha, _ in repo.git.list_refs("refs/heads/")
                },
                "pulls": self.pulls(repo.full_name),
                "allow_auto_merge": repo.allow_auto_merge,
            }
        return out

    # -- internals

    def foreign_commit(self, repo: Repository, branch: str) -> str | None:
        """Push a commit by someone else onto ``branch`` (a real race for the client)."""
        old = repo.branch_sha(branch)
        if old is None:
            return None
        tree_sha = repo.git.read_commit(old)["tree"]
        if self.faults.race_files:
            node = TreeNode(repo.git, tree_sha)
            for path, content in self.faults.race_files.items():
                blob = repo.git.hash_blob(content.encode())
                node.set(path.split("/"), ("100644", "blob", blob))
            tree_sha = node.write() or tree_sha
        ident = {"name": "Other Pipeline", "email": "other@example.com", "date": now_iso()}
        sha = repo.git.commit_tree(tree_sha, [old], "Concurrent change\n", ident, ident)
        repo.git.update_ref(f"refs/heads/{branch}", sha, old)
        return sha

    def _write_hooks(self) -> None:
        # Protected branches are enforced on git pushes by a pre-receive hook that the
        # fake passes to `git http-backend` through core.hooksPath, so the user's bare
        # repositories are never modified.
        self._hooks.mkdir(parents=True, exist_ok=True)
        hook = self._hooks / "pre-receive"
        hook.write_text(
            "#!/bin/sh\n"
            "status=0\n"
            "while read old new ref; do\n"
            "  for p in $FAKEGITHUB_PROTECTED; do\n"
            '    if [ "$ref" = "refs/heads/$p" ]; then\n'
            '      echo "error: GH006: Protected branch update failed for $ref." >&2\n'
            '      echo "error: Changes must be made through a pull request." >&2\n'
            "      status=1\n"
            "    fi\n"
            "  done\n"
            "done\n"
            "exit $status\n"
        )
        hook.chmod(0o755)


# --------------------------------------------------------------------------- JSON shapes


def user_json(fake: FakeGitHub, login: str, kind: str | None = None) -> dict[str, Any]:
    """A simple-user object."""
    uid = ACTIONS_BOT_ID if login == "github-actions[bot]" else stable_id("user", login)
    kind = kind or ("Bot" if login.endswith("[bot]") else "User")
    api = f"{fake.api_url}/users/{urllib.parse.quote(login)}"
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("U", login),
        "avatar_url": f"{fake.base_url}/avatars/u/{uid}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{fake.base_url}/{login}",
        "followers_url": f"{api}/followers",
        "repos_url": f"{api}/repos",
        "type": kind,
        "site_admin": False,
    }


def repo_url(fake: FakeGitHub, repo: Repository) -> str:
    """The repository's REST URL."""
    return f"{fake.api_url}/repos/{repo.full_name}"


def repo_json(fake: FakeGitHub, repo: Repository, token: Token | None) -> dict[str, Any]:
    """A full repository object."""
    url = repo_url(fake, repo)
    push = bool(token and token.can("contents", "write"))
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "owner": user_json(fake, repo.owner, "Organization"),
        "html_url": f"{fake.base_url}/{repo.full_name}",
        "description": None,
        "fork": False,
        "url": url,
        "git_url": f"git://{fake.host}:{fake.port}/{repo.full_name}.git",
        "ssh_url": f"git@{fake.host}:{repo.full_name}.git",
        "clone_url": f"{fake.base_url}/{repo.full_name}.git",
        "branches_url": f"{url}/branches{{/branch}}",
        "pulls_url": f"{url}/pulls{{/number}}",
        "git_refs_url": f"{url}/git/refs{{/sha}}",
        "git_commits_url": f"{url}/git/commits{{/sha}}",
        "trees_url": f"{url}/git/trees{{/sha}}",
        "blobs_url": f"{url}/git/blobs{{/sha}}",
        "contents_url": f"{url}/contents/{{+path}}",
        "default_branch": repo.default_branch,
        "archived": False,
        "disabled": False,
        "allow_auto_merge": repo.allow_auto_merge,
        "allow_merge_commit": True,
        "allow_squash_merge": True,
        "allow_rebase_merge": True,
        "delete_branch_on_merge": False,
        "created_at": repo.created_at,
        "updated_at": repo.created_at,
        "pushed_at": now_iso(),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": push,
            "triage": push,
            "pull": True,
        },
    }


def verification_for(repo: Repository, sha: str) -> dict[str, Any]:
    """The verification GitHub reports: signed by GitHub for token-identity API commits."""
    known = repo.verification.get(sha)
    if known is not None:
        return known
    reason = "unknown_key" if repo.git.read_commit(sha)["gpgsig"] else "unsigned"
    return {
        "verified": False,
        "reason": reason,
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit_json(fake: FakeGitHub, repo: Repository, sha: str) -> dict[str, Any]:
    """A Git Data API commit object."""
    info = repo.git.read_commit(sha)
    url = repo_url(fake, repo)
    return {
        "sha": sha,
        "node_id": node_id("C", repo.full_name, sha),
        "url": f"{url}/git/commits/{sha}",
        "html_url": f"{fake.base_url}/{repo.full_name}/commit/{sha}",
        "author": info["author"],
        "committer": info["committer"],
        "tree": {"sha": info["tree"], "url": f"{url}/git/trees/{info['tree']}"},
        "message": info["message"],
        "parents": [
            {
                "sha": p,
                "url": f"{url}/git/commits/{p}",
                "html_url": f"{fake.base_url}/{repo.full_name}/commit/{p}",
            }
            for p in info["parents"]
        ],
        "verification": verification_for(repo, sha),
    }


def repo_commit_json(
    fake: FakeGitHub, repo: Repository, sha: str, *, files: bool = True
) -> dict[str, Any]:
    """A ``/repos/o/r/commits/{sha}`` commit object (with stats and files)."""
    git = git_commit_json(fake, repo, sha)
    url = repo_url(fake, repo)
    login = repo.api_authors.get(sha)
    data: dict[str, Any] = {
        "sha": sha,
        "node_id": git["node_id"],
        "commit": {
            "author": git["author"],
            "committer": git["committer"],
            "message": git["message"],
            "tree": git["tree"],
            "url": git["url"],
            "comment_count": 0,
            "verification": git["verification"],
        },
        "url": f"{url}/commits/{sha}",
        "html_url": git["html_url"],
        "comments_url": f"{url}/commits/{sha}/comments",
        "author": user_json(fake, login) if login else None,
        "committer": (
            user_json(fake, WEB_FLOW["login"])
            if git["verification"]["verified"]
            else (user_json(fake, login) if login else None)
        ),
        "parents": [
            {"sha": p["sha"], "url": f"{url}/commits/{p['sha']}", "html_url": p["html_url"]}
            for p in git["parents"]
        ],
    }
    if files:
        changed = diff_files(repo, git["parents"][0]["sha"] if git["parents"] else None, sha)
        data["files"] = changed
        adds = sum(f["additions"] for f in changed)
        dels = sum(f["deletions"] for f in changed)
        data["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
    return data


def diff_files(repo: Repository, old: str | None, new: str) -> list[dict[str, Any]]:
    """Changed files between two commits (``old`` None: against the empty tree)."""
    empty_tree = repo.git.mktree([])
    base = old or empty_tree
    numstat = repo.git.run("diff-tree", "-r", "--numstat", "-z", "--no-renames", base, new).split(
        b"\0"
    )
    status = repo.git.run(
        "diff-tree", "-r", "--name-status", "-z", "--no-renames", base, new
    ).split(b"\0")
    kinds = {"A": "added", "M": "modified", "D": "removed", "T": "changed"}
    statuses = {}
    for i in range(0, len(status) - 1, 2):
        statuses[status[i + 1].decode()] = kinds.get(status[i].decode()[:1], "modified")
    files = []
    for item in numstat:
        if not item:
            continue
        added, deleted, path = item.decode().split("\t", 2)
        a = 0 if added == "-" else int(added)
        d = 0 if deleted == "-" else int(deleted)
        files.append(
            {
                "filename": path,
                "status": statuses.get(path, "modified"),
                "additions": a,
                "deletions": d,
                "changes": a + d,
            }
        )
    return files


def ref_json(fake: FakeGitHub, repo: Repository, ref: str, sha: str, kind: str) -> dict[str, Any]:
    """A git reference object."""
    url = repo_url(fake, repo)
    plural = {"commit": "commits", "tag": "tags", "tree": "trees", "blob": "blobs"}[kind]
    return {
        "ref": ref,
        "node_id": node_id("REF", repo.full_name, ref),
        "url": f"{url}/git/{ref}",
        "object": {"sha": sha, "type": kind, "url": f"{url}/git/{plural}/{sha}"},
    }


def label_json(fake: FakeGitHub, repo: Repository, name: str) -> dict[str, Any]:
    """A label object (created on first use, as GitHub does)."""
    if name not in repo.labels:
        repo.labels[name] = {
            "id": stable_id("label", repo.full_name, name),
            "node_id": node_id("LA", repo.full_name, name),
            "url": f"{repo_url(fake, repo)}/labels/{urllib.parse.quote(name)}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }
    return repo.labels[name]


def team_json(fake: FakeGitHub, repo: Repository, slug: str) -> dict[str, Any]:
    """A team object in the repository owner's organization."""
    return {
        "id": stable_id("team", repo.owner, slug),
        "node_id": node_id("T", repo.owner, slug),
        "url": f"{fake.api_url}/orgs/{repo.owner}/teams/{slug}",
        "html_url": f"{fake.base_url}/orgs/{repo.owner}/teams/{slug}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "permission": "pull",
        "members_url": f"{fake.api_url}/orgs/{repo.owner}/teams/{slug}/members{{/member}}",
        "repositories_url": f"{fake.api_url}/orgs/{repo.owner}/teams/{slug}/repos",
        "parent": None,
    }


def branch_repo_side(fake: FakeGitHub, repo: Repository, ref: str, sha: str) -> dict[str, Any]:
    """The ``head``/``base`` object of a PR."""
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user_json(fake, repo.owner, "Organization"),
        "repo": repo_json(fake, repo, None),
    }


def auto_merge_json(fake: FakeGitHub, pr: PullRequest) -> dict[str, Any] | None:
    """The REST ``auto_merge`` field."""
    if pr.auto_merge is None:
        return None
    return {
        "enabled_by": user_json(fake, pr.auto_merge["enabled_by"]),
        "merge_method": pr.auto_merge["merge_method"].lower(),
        "commit_title": pr.auto_merge.get("commit_title") or "",
        "commit_message": pr.auto_merge.get("commit_message") or "",
    }


def pull_json(fake: FakeGitHub, repo: Repository, pr: PullRequest, *, full: bool) -> dict[str, Any]:
    """A pull request object (``full``: the single-PR shape with mergeability and counts)."""
    url = repo_url(fake, repo)
    html = f"{fake.base_url}/{repo.full_name}/pull/{pr.number}"
    issue_url = f"{url}/issues/{pr.number}"
    data: dict[str, Any] = {
        "url": f"{url}/pulls/{pr.number}",
        "id": stable_id("pr", repo.full_name, pr.number),
        "node_id": node_id("PR", repo.full_name, pr.number),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "commits_url": f"{url}/pulls/{pr.number}/commits",
        "review_comments_url": f"{url}/pulls/{pr.number}/comments",
        "review_comment_url": f"{url}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": f"{url}/statuses/{pr.head_sha}",
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user_json(fake, pr.user),
        "body": pr.body,
        "labels": [label_json(fake, repo, name) for name in pr.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pr.created_at,
        "updated_at": pr.updated_at or pr.created_at,
        "closed_at": pr.closed_at,
        "merged_at": pr.merged_at,
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": user_json(fake, pr.assignees[0]) if pr.assignees else None,
        "assignees": [user_json(fake, a) for a in pr.assignees],
        "requested_reviewers": [user_json(fake, r) for r in pr.requested_reviewers],
        "requested_teams": [team_json(fake, repo, t) for t in pr.requested_teams],
        "head": branch_repo_side(fake, repo, pr.head_ref, pr.head_sha),
        "base": branch_repo_side(fake, repo, pr.base_ref, pr.base_sha),
        "_links": {
            "self": {"href": f"{url}/pulls/{pr.number}"},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "commits": {"href": f"{url}/pulls/{pr.number}/commits"},
            "statuses": {"href": f"{url}/statuses/{pr.head_sha}"},
        },
        "author_association": "NONE" if pr.user.endswith("[bot]") else "MEMBER",
        "auto_merge": auto_merge_json(fake, pr),
        "draft": pr.draft,
    }
    if full:
        merge_base = merge_base_of(repo, pr)
        commits = (
            len(repo.git.run("rev-list", f"{merge_base}..{pr.head_sha}").split())
            if merge_base
            else 0
        )
        changed = diff_files(repo, merge_base, pr.head_sha) if merge_base else []
        mergeable = (
            None
            if pr.state != "open"
            else repo.git.merge_tree(pr.base_sha, pr.head_sha) is not None
        )
        if mergeable is None:
            mergeable_state = "unknown"
        elif not mergeable:
            mergeable_state = "dirty"
        elif pr.draft:
            mergeable_state = "draft"
        else:
            mergeable_state = "blocked" if repo.requires_checks else "clean"
        data.update(
            {
                "merged": pr.merged_at is not None,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": mergeable_state,
                "merged_by": user_json(fake, pr.merged_by) if pr.merged_by else None,
                "comments": len(pr.comments),
                "review_comments": 0,
                "maintainer_can_modify": pr.maintainer_can_modify,
                "commits": commits,
                "additions": sum(f["additions"] for f in changed),
                "deletions": sum(f["deletions"] for f in changed),
                "changed_files": len(changed),
            }
        )
    return data


def merge_base_of(repo: Repository, pr: PullRequest) -> str | None:
    """The merge base of a PR's base and head commits."""
    try:
        return repo.git.run("merge-base", pr.base_sha, pr.head_sha).decode().strip() or None
    except GitError:
        return None


def issue_json(fake: FakeGitHub, repo: Repository, pr: PullRequest) -> dict[str, Any]:
    """The issue side of a pull request."""
    pull = pull_json(fake, repo, pr, full=False)
    url = repo_url(fake, repo)
    return {
        "url": pull["issue_url"],
        "repository_url": url,
        "labels_url": f"{pull['issue_url']}/labels{{/name}}",
        "comments_url": f"{pull['issue_url']}/comments",
        "html_url": pull["html_url"],
        "id": stable_id("issue", repo.full_name, pr.number),
        "node_id": node_id("I", repo.full_name, pr.number),
        "number": pr.number,
        "title": pr.title,
        "user": pull["user"],
        "labels": pull["labels"],
        "state": pr.state,
        "locked": False,
        "assignee": pull["assignee"],
        "assignees": pull["assignees"],
        "milestone": None,
        "comments": len(pr.comments),
        "created_at": pull["created_at"],
        "updated_at": pull["updated_at"],
        "closed_at": pr.closed_at,
        "author_association": pull["author_association"],
        "draft": pr.draft,
        "pull_request": {
            "url": pull["url"],
            "html_url": pull["html_url"],
            "diff_url": pull["diff_url"],
            "patch_url": pull["patch_url"],
            "merged_at": pr.merged_at,
        },
        "body": pr.body,
    }


# --------------------------------------------------------------------------- REST API


@dataclass
class Request:
    """What a route handler gets."""

    fake: FakeGitHub
    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: Token | None
    repo: Repository
    args: dict[str, str]


Route = tuple[str, re.Pattern[str], Callable[[Request], tuple[int, Any]], str | None, str]
ROUTES: list[Route] = []


def route(
    method: str, pattern: str, *, needs: str | None = None, doc: str = ""
) -> Callable[..., Any]:
    """Register a handler for ``/repos/{owner}/{repo}`` + ``pattern``.

    ``needs`` names the permission a write requires (``contents``, ``pull_requests``,
    ``issues``; ``issues`` is also satisfied by ``pull_requests`` as PRs are issues).
    """

    def register(fn: Callable[[Request], tuple[int, Any]]) -> Callable[[Request], tuple[int, Any]]:
        regex = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)" + pattern + "$")
        ROUTES.append((method, regex, fn, needs, doc))
        return fn

    return register


def body_field(req: Request, key: str, kind: type | tuple[type, ...], doc: str) -> Any:
    """A required body field, or GitHub's 422 "Invalid request" when missing or mistyped."""
    if not isinstance(req.body, dict) or key not in req.body:
        raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.', doc=doc)
    value = req.body[key]
    if not isinstance(value, kind):
        raise ApiError(
            422, f"Invalid request.\n\nFor '{key}', {json.dumps(value)} is not a {kind}.", doc=doc
        )
    return value


def opt(req: Request, key: str, default: Any = None) -> Any:
    """An optional body field."""
    return req.body.get(key, default) if isinstance(req.body, dict) else default


@route("GET", "")
def get_repo(req: Request) -> tuple[int, Any]:
    return 200, repo_json(req.fake, req.repo, req.token)


@route("GET", "/branches")
def list_branches(req: Request) -> tuple[int, Any]:
    url = repo_url(req.fake, req.repo)
    return 200, [
        {
            "name": ref.removeprefix("refs/heads/"),
            "commit": {"sha": sha, "url": f"{url}/commits/{sha}"},
            "protected": ref.removeprefix("refs/heads/") in req.repo.protected_branches,
        }
        for ref, sha, _ in req.repo.git.list_refs("refs/heads/")
    ]


@route("GET", "/branches/(?P<branch>.+)", doc="branches/branches#get-a-branch")
def get_branch(req: Request) -> tuple[int, Any]:
    branch = req.args["branch"]
    sha = req.repo.branch_sha(branch)
    if sha is None:
        raise ApiError(404, "Branch not found", doc="branches/branches#get-a-branch")
    url = repo_url(req.fake, req.repo)
    protected = branch in req.repo.protected_branches
    return 200, {
        "name": branch,
        "commit": repo_commit_json(req.fake, req.repo, sha, files=False),
        "_links": {
            "self": f"{url}/branches/{urllib.parse.quote(branch)}",
            "html": f"{req.fake.base_url}/{req.repo.full_name}/tree/{branch}",
        },
        "protected": protected,
        "protection": {
            "enabled": protected,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/branches/{urllib.parse.quote(branch)}/protection",
    }


# -- refs


def full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


@route("GET", "/git/ref/(?P<ref>.+)", doc="git/refs#get-a-reference")
def get_ref(req: Request) -> tuple[int, Any]:
    ref = full_ref(req.args["ref"])
    for name, sha, kind in req.repo.git.list_refs(ref):
        if name == ref:
            return 200, ref_json(req.fake, req.repo, name, sha, kind)
    raise ApiError(404, "Not Found", doc="git/refs#get-a-reference")


@route("GET", "/git/refs(?:/(?P<ref>.+))?", doc="git/refs#list-matching-references")
def list_refs_legacy(req: Request) -> tuple[int, Any]:
    prefix = full_ref(req.args["ref"]) if req.args.get("ref") else "refs/"
    refs = [r for r in req.repo.git.list_refs("refs/") if r[0].startswith(prefix)]
    exact = [r for r in refs if r[0] == prefix]
    if exact:
        return 200, ref_json(req.fake, req.repo, *exact[0])
    if not refs:
        raise ApiError(404, "Not Found", doc="git/refs#get-a-reference")
    return 200, [ref_json(req.fake, req.repo, *r) for r in refs]


@route("GET", "/git/matching-refs/(?P<ref>.*)", doc="git/refs#list-matching-references")
def matching_refs(req: Request) -> tuple[int, Any]:
    prefix = full_ref(req.args["ref"])
    return 200, [
        ref_json(req.fake, req.repo, *r)
        for r in req.repo.git.list_refs("refs/")
        if r[0].startswith(prefix)
    ]


def check_protected(req: Request, ref: str) -> None:
    if ref.removeprefix("refs/heads/") in req.repo.protected_branches:
        raise ApiError(
            422, f"Protected branch update failed for {ref}.", doc="git/refs#update-a-reference"
        )


@route("POST", "/git/refs", needs="contents", doc="git/refs#create-a-reference")
def create_ref(req: Request) -> tuple[int, Any]:
    doc = "git/refs#create-a-reference"
    ref = body_field(req, "ref", str, doc)
    sha = body_field(req, "sha", str, doc)
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(
            422, "Reference name must start with 'refs/' and have at least two slashes.", doc=doc
        )
    if not req.repo.git.ok("check-ref-format", ref):
        raise ApiError(422, f"{ref} is not a valid ref name.", doc=doc)
    kind = req.repo.git.object_type(sha)
    if kind is None:
        raise ApiError(422, "Object does not exist", doc=doc)
    check_protected(req, ref)
    if not req.repo.git.update_ref(ref, sha, None):
        raise ApiError(422, "Reference already exists", doc=doc)
    return 201, ref_json(req.fake, req.repo, ref, sha, kind)


@route("PATCH", "/git/refs/(?P<ref>.+)", needs="contents", doc="git/refs#update-a-reference")
def update_ref(req: Request) -> tuple[int, Any]:
    doc = "git/refs#update-a-reference"
    ref = full_ref(req.args["ref"])
    sha = body_field(req, "sha", str, doc)
    force = bool(opt(req, "force", False))
    fake, repo = req.fake, req.repo
    if repo.git.read_ref(ref) is None:
        raise ApiError(422, "Reference does not exist", doc=doc)
    kind = repo.git.object_type(sha)
    if kind is None:
        raise ApiError(422, "Object does not exist", doc=doc)
    check_protected(req, ref)
    with fake.lock:
        race = fake.faults.take("ref_update_races")
        if race and fake.faults.race_moves_branch and ref.startswith("refs/heads/"):
            fake.foreign_commit(repo, ref.removeprefix("refs/heads/"))
    if race and not fake.faults.race_moves_branch:
        raise ApiError(422, "Update is not a fast forward", doc=doc)
    old = repo.git.read_ref(ref)
    if old is None:
        raise ApiError(422, "Reference does not exist", doc=doc)
    if not force and kind == "commit" and not repo.git.is_ancestor(old, sha):
        raise ApiError(422, "Update is not a fast forward", doc=doc)
    if not repo.git.update_ref(ref, sha, old):
        # Someone moved the ref between our check and the write: GitHub answers the same.
        raise ApiError(422, "Update is not a fast forward", doc=doc)
    return 200, ref_json(fake, repo, ref, sha, kind)


@route("DELETE", "/git/refs/(?P<ref>.+)", needs="contents", doc="git/refs#delete-a-reference")
def delete_ref(req: Request) -> tuple[int, Any]:
    ref = full_ref(req.args["ref"])
    old = req.repo.git.read_ref(ref)
    check_protected(req, ref)
    if old is None or not req.repo.git.delete_ref(ref, old):
        raise ApiError(422, "Reference does not exist", doc="git/refs#delete-a-reference")
    return 204, None


# -- blobs, trees, commits


@route("POST", "/git/blobs", needs="contents", doc="git/blobs#create-a-blob")
def create_blob(req: Request) -> tuple[int, Any]:
    doc = "git/blobs#create-a-blob"
    content = body_field(req, "content", str, doc)
    encoding = opt(req, "encoding", "utf-8")
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(422, "Invalid base64 content", doc=doc) from exc
    elif encoding in ("utf-8", "utf8"):
        data = content.encode()
    else:
        raise ApiError(422, f"encoding must be one of utf-8 or base64, got {encoding}", doc=doc)
    sha = req.repo.git.hash_blob(data)
    return 201, {"url": f"{repo_url(req.fake, req.repo)}/git/blobs/{sha}", "sha": sha}


@route("GET", "/git/blobs/(?P<sha>[0-9a-fA-F]+)", doc="git/blobs#get-a-blob")
def get_blob(req: Request) -> tuple[int, Any]:
    sha = req.args["sha"].lower()
    if req.repo.git.object_type(sha) != "blob":
        raise ApiError(404, "Not Found", doc="git/blobs#get-a-blob")
    data = req.repo.git.read_blob(sha)
    return 200, {
        "sha": sha,
        "node_id": node_id("B", req.repo.full_name, sha),
        "size": len(data),
        "url": f"{repo_url(req.fake, req.repo)}/git/blobs/{sha}",
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
    }


def tree_json(fake: FakeGitHub, repo: Repository, sha: str, recursive: bool) -> dict[str, Any]:
    url = repo_url(fake, repo)
    entries = []
    for e in repo.git.ls_tree(sha, recursive=recursive):
        item = {"path": e["path"], "mode": e["mode"], "type": e["type"], "sha": e["sha"]}
        if e["type"] == "blob":
            item["size"] = e["size"]
            item["url"] = f"{url}/git/blobs/{e['sha']}"
        elif e["type"] == "tree":
            item["url"] = f"{url}/git/trees/{e['sha']}"
        entries.append(item)
    return {"sha": sha, "url": f"{url}/git/trees/{sha}", "tree": entries, "truncated": False}


TREE_MODES = {
    "100644": "blob",
    "100755": "blob",
    "120000": "blob",
    "040000": "tree",
    "160000": "commit",
}


@route("POST", "/git/trees", needs="contents", doc="git/trees#create-a-tree")
def create_tree(req: Request) -> tuple[int, Any]:
    doc = "git/trees#create-a-tree"
    git = req.repo.git
    entries = body_field(req, "tree", list, doc)
    base_tree = opt(req, "base_tree")
    if base_tree is not None:
        if git.object_type(base_tree) == "commit":
            base_tree = git.read_commit(base_tree)["tree"]
        if git.object_type(base_tree) != "tree":
            raise ApiError(422, "base_tree is not a valid tree oid", doc=doc)
    root = TreeNode(git, base_tree)
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("path"):
            raise ApiError(422, 'Invalid request.\n\n"path" wasn\'t supplied.', doc=doc)
        path, mode = entry["path"], str(entry.get("mode", ""))
        mode = "040000" if mode == "40000" else mode
        kind = entry.get("type") or TREE_MODES.get(mode)
        if mode not in TREE_MODES or kind != TREE_MODES[mode]:
            raise ApiError(
                422, f"Invalid tree info: mode {mode!r} and type {kind!r} for {path}", doc=doc
            )
        if "content" in entry and entry["content"] is not None:
            sha = git.hash_blob(str(entry["content"]).encode())
        elif "sha" in entry:
            sha = entry["sha"]
        else:
            raise ApiError(422, "Must supply either tree.sha or tree.content", doc=doc)
        if sha is not None and kind != "commit" and git.object_type(sha) != kind:
            raise ApiError(422, f"tree.sha {sha} is not a valid {kind}", doc=doc)
        root.set(path.strip("/").split("/"), None if sha is None else (mode, kind, sha))
    sha = root.write() or git.mktree([])
    return 201, tree_json(req.fake, req.repo, sha, recursive=False)


@route("GET", "/git/trees/(?P<sha>[^/]+)", doc="git/trees#get-a-tree")
def get_tree(req: Request) -> tuple[int, Any]:
    sha = req.args["sha"]
    git = req.repo.git
    resolved = sha if git.object_type(sha) else git.resolve_commit(sha)
    if resolved and git.object_type(resolved) == "commit":
        resolved = git.read_commit(resolved)["tree"]
    if not resolved or git.object_type(resolved) != "tree":
        raise ApiError(404, "Not Found", doc="git/trees#get-a-tree")
    recursive = req.query.get("recursive") not in (None, "", "0", "false")
    return 200, tree_json(req.fake, req.repo, resolved, recursive)


@route("POST", "/git/commits", needs="contents", doc="git/commits#create-a-commit")
def create_commit(req: Request) -> tuple[int, Any]:
    doc = "git/commits#create-a-commit"
    git, token = req.repo.git, req.token
    assert token is not None
    message = body_field(req, "message", str, doc)
    tree = body_field(req, "tree", str, doc)
    parents = opt(req, "parents", [])
    if git.object_type(tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist", doc=doc)
    if not isinstance(parents, list) or any(git.object_type(p) != "commit" for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object", doc=doc)
    author_in, committer_in = opt(req, "author"), opt(req, "committer")
    stamp = now_iso()
    default = {**token.identity, "date": stamp}
    author = {**default, **(author_in or {})}
    author["date"] = git_date(author.get("date"))
    if committer_in:
        committer = {**author, **committer_in}
        committer["date"] = git_date(committer.get("date"))
    elif author_in:
        committer = dict(author)
    else:
        committer = {"name": "GitHub", "email": "noreply@github.com", "date": stamp}
    for who in (author, committer):
        if not who.get("name") or not who.get("email"):
            raise ApiError(
                422, "Invalid request.\n\nauthor and committer need name and email.", doc=doc
            )
    sha = git.commit_tree(tree, parents, message, author, committer)
    with req.fake.lock:
        req.repo.api_authors[sha] = token.login
        if author_in is None and committer_in is None and opt(req, "signature") is None:
            # GitHub signs commits it authors on the token's behalf (web-flow key).
            req.repo.verification[sha] = {
                "verified": True,
                "reason": "valid",
                "signature": "-----BEGIN PGP SIGNATURE-----\n\nfake\n-----END PGP SIGNATURE-----\n",
                "payload": git.read_commit(sha)["raw"],
                "verified_at": stamp,
            }
    return 201, git_commit_json(req.fake, req.repo, sha)


@route("GET", "/git/commits/(?P<sha>[0-9a-fA-F]+)", doc="git/commits#get-a-commit-object")
def get_git_commit(req: Request) -> tuple[int, Any]:
    sha = req.args["sha"].lower()
    if req.repo.git.object_type(sha) != "commit":
        raise ApiError(404, "Not Found", doc="git/commits#get-a-commit-object")
    return 200, git_commit_json(req.fake, req.repo, sha)


@route("GET", "/commits", doc="commits/commits#list-commits")
def list_commits(req: Request) -> tuple[int, Any]:
    start = req.query.get("sha") or req.repo.default_branch
    sha = req.repo.git.resolve_commit(start)
    if sha is None:
        raise ApiError(404, "Not Found", doc="commits/commits#list-commits")
    args = ["rev-list", sha]
    if req.query.get("path"):
        args += ["--", req.query["path"]]
    shas = req.repo.git.run(*args).decode().split()
    return 200, [repo_commit_json(req.fake, req.repo, s, files=False) for s in shas]


@route("GET", "/commits/(?P<ref>.+)", doc="commits/commits#get-a-commit")
def get_commit(req: Request) -> tuple[int, Any]:
    sha = req.repo.git.resolve_commit(req.args["ref"])
    if sha is None:
        raise ApiError(
            422, f"No commit found for SHA: {req.args['ref']}", doc="commits/commits#get-a-commit"
        )
    return 200, repo_commit_json(req.fake, req.repo, sha)


@route(
    "GET", "/compare/(?P<base>.+?)\\.\\.\\.(?P<head>.+)", doc="commits/commits#compare-two-commits"
)
def compare(req: Request) -> tuple[int, Any]:
    git = req.repo.git
    base, head = git.resolve_commit(req.args["base"]), git.resolve_commit(req.args["head"])
    if base is None or head is None:
        raise ApiError(404, "Not Found", doc="commits/commits#compare-two-commits")
    merge_base = git.run("merge-base", base, head, check=False).decode().strip()
    ahead = git.run("rev-list", "--reverse", f"{base}..{head}").decode().split()
    behind = git.run("rev-list", f"{head}..{base}").decode().split()
    status = (
        "identical"
        if not ahead and not behind
        else "ahead"
        if not behind
        else "behind"
        if not ahead
        else "diverged"
    )
    url = repo_url(req.fake, req.repo)
    return 200, {
        "url": f"{url}/compare/{req.args['base']}...{req.args['head']}",
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "base_commit": repo_commit_json(req.fake, req.repo, base, files=False),
        "merge_base_commit": (
            repo_commit_json(req.fake, req.repo, merge_base, files=False) if merge_base else None
        ),
        "commits": [repo_commit_json(req.fake, req.repo, s, files=False) for s in ahead],
        "files": diff_files(req.repo, merge_base or None, head),
    }


@route("GET", "/contents(?:/(?P<path>.*))?", doc="repos/contents#get-repository-content")
def get_contents(req: Request) -> tuple[int, Any]:
    doc = "repos/contents#get-repository-content"
    git = req.repo.git
    ref = req.query.get("ref") or req.repo.default_branch
    commit = git.resolve_commit(ref)
    if commit is None:
        raise ApiError(404, f"No commit found for the ref {ref}", doc=doc)
    path = (req.args.get("path") or "").strip("/")
    url = repo_url(req.fake, req.repo)

    def entry(e: dict[str, Any], content: bytes | None = None) -> dict[str, Any]:
        kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[e["type"]]
        if e["mode"] == "120000":
            kind = "symlink"
        item = {
            "type": kind,
            "size": e["size"] or 0,
            "name": e["path"].rsplit("/", 1)[-1],
            "path": e["path"],
            "sha": e["sha"],
            "url": f"{url}/contents/{e['path']}?ref={ref}",
            "git_url": f"{url}/git/{'blobs' if e['type'] == 'blob' else 'trees'}/{e['sha']}",
            "html_url": f"{req.fake.base_url}/{req.repo.full_name}/blob/{ref}/{e['path']}",
            "download_url": None,
        }
        if content is not None:
            item["content"] = base64.encodebytes(content).decode()
            item["encoding"] = "base64"
        return item

    if not path:
        return 200, [entry(e) for e in git.ls_tree(commit)]
    found = [e for e in git.ls_tree(commit, recursive=True) if e["path"] == path]
    if not found:
        raise ApiError(404, "Not Found", doc=doc)
    target = found[0]
    if target["type"] == "tree":
        return 200, [
            entry({**e, "path": f"{path}/{e['path']}"}) for e in git.ls_tree(target["sha"])
        ]
    return 200, entry(target, git.read_blob(target["sha"]))


# -- pull requests


def find_pull(req: Request) -> PullRequest:
    pr = req.repo.pulls.get(int(req.args["number"]))
    if pr is None:
        raise ApiError(404, "Not Found", doc="pulls/pulls#get-a-pull-request")
    req.repo.sync_pull(pr)
    return pr


def parse_head(req: Request, head: str) -> str:
    """The branch of a ``head`` (``owner:branch`` or ``branch``) in this repository."""
    owner, sep, branch = head.rpartition(":")
    if sep and owner.lower() != req.repo.owner.lower():
        raise validation_failed(
            "pulls/pulls#create-a-pull-request",
            {"resource": "PullRequest", "field": "head", "code": "invalid"},
        )
    return branch


@route("GET", "/pulls", doc="pulls/pulls#list-pull-requests")
def list_pulls(req: Request) -> tuple[int, Any]:
    state = req.query.get("state", "open")
    head = req.query.get("head")
    base = req.query.get("base")
    owner, sep, head_branch = (head or "").rpartition(":")
    pulls = []
    for pr in sorted(req.repo.pulls.values(), key=lambda p: p.number, reverse=True):
        req.repo.sync_pull(pr)
        if state != "all" and pr.state != state:
            continue
        # GitHub silently ignores a head filter without the owner: prefix.
        if sep and (owner.lower() != req.repo.owner.lower() or pr.head_ref != head_branch):
            continue
        if base and pr.base_ref != base:
            continue
        pulls.append(pr)
    if req.query.get("direction") == "asc":
        pulls.reverse()
    return 200, [pull_json(req.fake, req.repo, pr, full=False) for pr in pulls]


@route("POST", "/pulls", needs="pull_requests", doc="pulls/pulls#create-a-pull-request")
def create_pull(req: Request) -> tuple[int, Any]:
    doc = "pulls/pulls#create-a-pull-request"
    fake, repo, token = req.fake, req.repo, req.token
    assert token is not None
    if not token.can_create_pull_requests or fake.faults.take("refuse_pull_requests"):
        raise ApiError(403, ACTIONS_PR_REFUSED, doc=doc)
    title = opt(req, "title")
    head = body_field(req, "head", str, doc)
    base = body_field(req, "base", str, doc)
    if not title and opt(req, "issue") is None:
        raise validation_failed(
            doc, {"resource": "PullRequest", "field": "title", "code": "missing_field"}
        )
    head_ref = parse_head(req, head)
    with fake.lock:
        base_sha = repo.branch_sha(base)
        head_sha = repo.branch_sha(head_ref)
        if base_sha is None:
            raise validation_failed(
                doc, {"resource": "PullRequest", "field": "base", "code": "invalid"}
            )
        if head_sha is None:
            raise validation_failed(
                doc, {"resource": "PullRequest", "field": "head", "code": "invalid"}
            )
        for pr in repo.pulls.values():
            repo.sync_pull(pr)
            if pr.state == "open" and pr.head_ref == head_ref and pr.base_ref == base:
                raise validation_failed(doc, already_exists(repo, head_ref))
        if repo.git.is_ancestor(head_sha, base_sha):
            raise validation_failed(
                doc,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head_ref}",
                },
            )
        number = max(repo.pulls, default=0) + 1
        stamp = now_iso()
        pr = PullRequest(
            number=number,
            title=title or "",
            body=opt(req, "body"),
            head_ref=head_ref,
            base_ref=base,
            user=token.login,
            draft=bool(opt(req, "draft", False)),
            head_sha=head_sha,
            base_sha=base_sha,
            created_at=stamp,
            updated_at=stamp,
            maintainer_can_modify=bool(opt(req, "maintainer_can_modify", False)),
        )
        repo.pulls[number] = pr
        return 201, pull_json(fake, repo, pr, full=True)


@route("GET", "/pulls/(?P<number>\\d+)", doc="pulls/pulls#get-a-pull-request")
def get_pull(req: Request) -> tuple[int, Any]:
    return 200, pull_json(req.fake, req.repo, find_pull(req), full=True)


@route(
    "PATCH",
    "/pulls/(?P<number>\\d+)",
    needs="pull_requests",
    doc="pulls/pulls#update-a-pull-request",
)
def update_pull(req: Request) -> tuple[int, Any]:
    doc = "pulls/pulls#update-a-pull-request"
    with req.fake.lock:
        pr = find_pull(req)
        repo = req.repo
        if "base" in (req.body or {}):
            base = req.body["base"]
            if repo.branch_sha(base) is None:
                raise validation_failed(
                    doc, {"resource": "PullRequest", "field": "base", "code": "invalid"}
                )
            if pr.state != "open":
                raise validation_failed(
                    doc,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "Cannot change the base branch of a closed pull request.",
                    },
                )
            pr.base_ref = base
        state = opt(req, "state")
        if state == "closed" and pr.state == "open":
            pr.state, pr.closed_at, pr.auto_merge = "closed", now_iso(), None
        elif state == "open" and pr.state == "closed" and pr.merged_at is None:
            if repo.branch_sha(pr.head_ref) is None:
                raise validation_failed(
                    doc,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "state cannot be changed. The head branch was deleted.",
                    },
                )
            for other in repo.pulls.values():
                if (
                    other is not pr
                    and other.state == "open"
                    and other.head_ref == pr.head_ref
                    and other.base_ref == pr.base_ref
                ):
                    raise validation_failed(doc, already_exists(repo, pr.head_ref))
            pr.state, pr.closed_at = "open", None
        elif state not in (None, "open", "closed"):
            raise validation_failed(
                doc, {"resource": "PullRequest", "field": "state", "code": "invalid"}
            )
        if "title" in (req.body or {}):
            pr.title = req.body["title"]
        if "body" in (req.body or {}):
            pr.body = req.body["body"]
        if "maintainer_can_modify" in (req.body or {}):
            pr.maintainer_can_modify = bool(req.body["maintainer_can_modify"])
        pr.updated_at = now_iso()
        repo.sync_pull(pr)
        return 200, pull_json(req.fake, repo, pr, full=True)


@route("GET", "/pulls/(?P<number>\\d+)/commits", doc="pulls/pulls#list-commits-on-a-pull-request")
def pull_commits(req: Request) -> tuple[int, Any]:
    pr = find_pull(req)
    base = merge_base_of(req.repo, pr) or pr.base_sha
    shas = req.repo.git.run("rev-list", "--reverse", f"{base}..{pr.head_sha}").decode().split()
    return 200, [repo_commit_json(req.fake, req.repo, s, files=False) for s in shas]


@route("GET", "/pulls/(?P<number>\\d+)/files", doc="pulls/pulls#list-pull-requests-files")
def pull_files(req: Request) -> tuple[int, Any]:
    pr = find_pull(req)
    return 200, diff_files(req.repo, merge_base_of(req.repo, pr), pr.head_sha)


@route(
    "PUT", "/pulls/(?P<number>\\d+)/merge", needs="contents", doc="pulls/pulls#merge-a-pull-request"
)
def merge_pull(req: Request) -> tuple[int, Any]:
    doc = "pulls/pulls#merge-a-pull-request"
    fake, repo, token = req.fake, req.repo, req.token
    assert token is not None
    with fake.lock:
        pr = find_pull(req)
        if pr.state != "open":
            raise ApiError(405, "Pull Request is not mergeable", doc=doc)
        expected = opt(req, "sha")
        if expected and expected != pr.head_sha:
            raise ApiError(
                409, "Head branch was modified. Review and try the merge again.", doc=doc
            )
        method = opt(req, "merge_method", "merge")
        tree = repo.git.merge_tree(pr.base_sha, pr.head_sha)
        if tree is None or method not in ("merge", "squash"):
            raise ApiError(405, "Pull Request is not mergeable", doc=doc)
        stamp = now_iso()
        ident = {**token.identity, "date": stamp}
        web = {"name": "GitHub", "email": "noreply@github.com", "date": stamp}
        if method == "merge":
            title = (
                opt(req, "commit_title")
                or f"Merge pull request #{pr.number} from {repo.owner}/{pr.head_ref}"
            )
            message = f"{title}\n\n{opt(req, 'commit_message') or pr.title}\n"
            parents = [pr.base_sha, pr.head_sha]
        else:
            title = opt(req, "commit_title") or f"{pr.title} (#{pr.number})"
            message = f"{title}\n\n{opt(req, 'commit_message') or ''}".rstrip() + "\n"
            parents = [pr.base_sha]
        sha = repo.git.commit_tree(tree, parents, message, ident, web)
        if not repo.git.update_ref(f"refs/heads/{pr.base_ref}", sha, pr.base_sha):
            raise ApiError(
                409, "Base branch was modified. Review and try the merge again.", doc=doc
            )
        repo.verification[sha] = {
            "verified": True,
            "reason": "valid",
            "signature": None,
            "payload": None,
            "verified_at": stamp,
        }
        pr.state, pr.merged_at, pr.closed_at = "closed", stamp, stamp
        pr.merge_commit_sha, pr.merged_by, pr.auto_merge = sha, token.login, None
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


@route(
    "GET",
    "/pulls/(?P<number>\\d+)/requested_reviewers",
    doc="pulls/review-requests#get-all-requested-reviewers-for-a-pull-request",
)
def get_reviewers(req: Request) -> tuple[int, Any]:
    pr = find_pull(req)
    return 200, {
        "users": [user_json(req.fake, u) for u in pr.requested_reviewers],
        "teams": [team_json(req.fake, req.repo, t) for t in pr.requested_teams],
    }


@route(
    "POST",
    "/pulls/(?P<number>\\d+)/requested_reviewers",
    needs="pull_requests",
    doc="pulls/review-requests#request-reviewers-for-a-pull-request",
)
def request_reviewers(req: Request) -> tuple[int, Any]:
    doc = "pulls/review-requests#request-reviewers-for-a-pull-request"
    repo = req.repo
    with req.fake.lock:
        pr = find_pull(req)
        users = opt(req, "reviewers", []) or []
        teams = opt(req, "team_reviewers", []) or []
        if not users and not teams:
            raise ApiError(422, 'Invalid request.\n\nNo subschema in "anyOf" matched.', doc=doc)
        if pr.user in users:
            raise validation_failed(
                doc,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "Review cannot be requested from pull request author.",
                },
            )
        unknown_user = repo.collaborators is not None and any(
            u not in repo.collaborators for u in users
        )
        unknown_team = repo.teams is not None and any(t not in repo.teams for t in teams)
        if unknown_user or unknown_team:
            raise ApiError(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or "
                f"teams you specified is not a collaborator of the {repo.full_name} repository.",
                doc=doc,
            )
        pr.requested_reviewers += [u for u in users if u not in pr.requested_reviewers]
        pr.requested_teams += [t for t in teams if t not in pr.requested_teams]
        pr.updated_at = now_iso()
        return 201, pull_json(req.fake, repo, pr, full=False)


@route(
    "DELETE",
    "/pulls/(?P<number>\\d+)/requested_reviewers",
    needs="pull_requests",
    doc="pulls/review-requests#remove-requested-reviewers-from-a-pull-request",
)
def remove_reviewers(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_pull(req)
        pr.requested_reviewers = [
            u for u in pr.requested_reviewers if u not in (opt(req, "reviewers") or [])
        ]
        pr.requested_teams = [
            t for t in pr.requested_teams if t not in (opt(req, "team_reviewers") or [])
        ]
        return 200, pull_json(req.fake, req.repo, pr, full=False)


# -- issues (a pull request is an issue)


def find_issue(req: Request) -> PullRequest:
    pr = req.repo.pulls.get(int(req.args["number"]))
    if pr is None:
        raise ApiError(404, "Not Found", doc="issues/issues#get-an-issue")
    req.repo.sync_pull(pr)
    return pr


@route("GET", "/issues/(?P<number>\\d+)", doc="issues/issues#get-an-issue")
def get_issue(req: Request) -> tuple[int, Any]:
    return 200, issue_json(req.fake, req.repo, find_issue(req))


@route("PATCH", "/issues/(?P<number>\\d+)", needs="issues", doc="issues/issues#update-an-issue")
def update_issue(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        body = req.body if isinstance(req.body, dict) else {}
        if "title" in body:
            pr.title = body["title"]
        if "body" in body:
            pr.body = body["body"]
        if "labels" in body:
            pr.labels = [
                label_json(req.fake, req.repo, _label_name(x))["name"] for x in body["labels"]
            ]
        if "assignees" in body:
            pr.assignees = list(dict.fromkeys(body["assignees"]))
        if body.get("state") == "closed" and pr.state == "open":
            pr.state, pr.closed_at, pr.auto_merge = "closed", now_iso(), None
        elif body.get("state") == "open" and pr.state == "closed" and pr.merged_at is None:
            pr.state, pr.closed_at = "open", None
        pr.updated_at = now_iso()
        return 200, issue_json(req.fake, req.repo, pr)


def _label_name(item: Any) -> str:
    return item["name"] if isinstance(item, dict) else str(item)


def _labels_from_body(req: Request) -> list[str]:
    doc = "issues/labels#add-labels-to-an-issue"
    body = req.body
    items = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise ApiError(422, 'Invalid request.\n\n"labels" wasn\'t supplied.', doc=doc)
    return [_label_name(x) for x in items]


@route("GET", "/issues/(?P<number>\\d+)/labels", doc="issues/labels#list-labels-for-an-issue")
def list_issue_labels(req: Request) -> tuple[int, Any]:
    pr = find_issue(req)
    return 200, [label_json(req.fake, req.repo, n) for n in pr.labels]


@route(
    "POST",
    "/issues/(?P<number>\\d+)/labels",
    needs="issues",
    doc="issues/labels#add-labels-to-an-issue",
)
def add_labels(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        for name in _labels_from_body(req):
            if name not in pr.labels:
                pr.labels.append(name)
        return 200, [label_json(req.fake, req.repo, n) for n in pr.labels]


@route(
    "PUT",
    "/issues/(?P<number>\\d+)/labels",
    needs="issues",
    doc="issues/labels#set-labels-for-an-issue",
)
def set_labels(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        pr.labels = list(dict.fromkeys(_labels_from_body(req)))
        return 200, [label_json(req.fake, req.repo, n) for n in pr.labels]


@route(
    "DELETE",
    "/issues/(?P<number>\\d+)/labels/(?P<label>.+)",
    needs="issues",
    doc="issues/labels#remove-a-label-from-an-issue",
)
def remove_label(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        if req.args["label"] not in pr.labels:
            raise ApiError(
                404, "Label does not exist", doc="issues/labels#remove-a-label-from-an-issue"
            )
        pr.labels.remove(req.args["label"])
        return 200, [label_json(req.fake, req.repo, n) for n in pr.labels]


@route("GET", "/issues/(?P<number>\\d+)/comments", doc="issues/comments#list-issue-comments")
def list_comments(req: Request) -> tuple[int, Any]:
    return 200, list(find_issue(req).comments)


@route(
    "POST",
    "/issues/(?P<number>\\d+)/comments",
    needs="issues",
    doc="issues/comments#create-an-issue-comment",
)
def create_comment(req: Request) -> tuple[int, Any]:
    doc = "issues/comments#create-an-issue-comment"
    body = body_field(req, "body", str, doc)
    assert req.token is not None
    with req.fake.lock:
        pr = find_issue(req)
        cid = stable_id("comment", req.repo.full_name, pr.number, len(pr.comments), time.time_ns())
        url = repo_url(req.fake, req.repo)
        html = f"{req.fake.base_url}/{req.repo.full_name}"
        stamp = now_iso()
        comment = {
            "id": cid,
            "node_id": node_id("IC", cid),
            "url": f"{url}/issues/comments/{cid}",
            "html_url": f"{html}/pull/{pr.number}#issuecomment-{cid}",
            "issue_url": f"{url}/issues/{pr.number}",
            "body": body,
            "user": user_json(req.fake, req.token.login),
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "NONE",
        }
        pr.comments.append(comment)
        return 201, comment


@route(
    "POST",
    "/issues/(?P<number>\\d+)/assignees",
    needs="issues",
    doc="issues/assignees#add-assignees-to-an-issue",
)
def add_assignees(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        allowed = req.repo.collaborators
        for login in opt(req, "assignees", []) or []:
            # GitHub silently ignores assignees who cannot be assigned.
            if (allowed is None or login in allowed) and login not in pr.assignees:
                pr.assignees.append(login)
        return 201, issue_json(req.fake, req.repo, pr)


@route(
    "DELETE",
    "/issues/(?P<number>\\d+)/assignees",
    needs="issues",
    doc="issues/assignees#remove-assignees-from-an-issue",
)
def remove_assignees(req: Request) -> tuple[int, Any]:
    with req.fake.lock:
        pr = find_issue(req)
        gone = opt(req, "assignees", []) or []
        pr.assignees = [a for a in pr.assignees if a not in gone]
        return 200, issue_json(req.fake, req.repo, pr)


@route("GET", "/labels/(?P<label>.+)", doc="issues/labels#get-a-label")
def get_label(req: Request) -> tuple[int, Any]:
    label = req.repo.labels.get(req.args["label"])
    if label is None:
        raise ApiError(404, "Not Found", doc="issues/labels#get-a-label")
    return 200, label


# --------------------------------------------------------------------------- GraphQL


class GraphQLError(Exception):
    """A GraphQL error (returned inside a 200 answer)."""

    def __init__(self, message: str, kind: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message, self.kind, self.extra = message, kind, extra


GQL_TOKEN = re.compile(
    r"(?P<ws>[\s,\ufeff]+|#[^\n]*)|(?P<spread>\.\.\.)|(?P<punct>[!$&():=@\[\]{|}])"
    r"|(?P<name>[_A-Za-z][_0-9A-Za-z]*)|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r'|(?P<string>"(?:[^"\\\n]|\\.)*")'
)


@dataclass
class GQLField:
    """A parsed field selection."""

    name: str
    alias: str
    args: dict[str, Any]
    selections: list[Any]
    line: int
    column: int


@dataclass
class GQLFragment:
    """An inline fragment (``... on Type { }``) or a resolved fragment spread."""

    on: str | None
    selections: list[Any]


class GQLParser:
    """Recursive-descent parser for the executable subset of GraphQL GitHub clients send."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.text, self.variables = text, variables
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = GQL_TOKEN.match(text, pos)
            if not m:
                raise self.error_at(pos, f'Parse error on "{text[pos]}"')
            if m.lastgroup != "ws":
                self.tokens.append((m.lastgroup or "", m.group(), pos))
            pos = m.end()
        self.i = 0
        self.fragments: dict[str, list[Any]] = {}

    def error_at(self, pos: int, message: str) -> GraphQLError:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return GraphQLError(message, locations=[{"line": line, "column": col}])

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "", len(self.text))

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v, pos = self.peek()
        if (value is not None and v != value) or (kind is not None and k != kind) or k == "eof":
            shown = "end of file" if k == "eof" else f'"{v}"'
            raise self.error_at(pos, f"Parse error on {shown}")
        self.i += 1
        return v

    def document(self) -> tuple[str, list[Any]]:
        """Parse; return the operation type and its selections."""
        operations: list[tuple[str, list[Any]]] = []
        pending_spreads: list[tuple[GQLFragment, str]] = []
        self._pending = pending_spreads
        while self.peek()[0] != "eof":
            if self.peek()[1] == "fragment":
                self.take()
                name = self.take(kind="name")
                self.take("on")
                self.take(kind="name")
                self.fragments[name] = self.selection_set()
                continue
            op = "query"
            if self.peek()[1] in ("query", "mutation", "subscription"):
                op = self.take()
                if self.peek()[0] == "name":
                    self.take()
                if self.peek()[1] == "(":
                    self.variable_definitions()
            operations.append((op, self.selection_set()))
        if not operations:
            raise GraphQLError("No operations provided")
        for frag, name in pending_spreads:
            if name not in self.fragments:
                raise GraphQLError(f"Fragment {name} was used, but not defined")
            frag.selections = self.fragments[name]
        return operations[0]

    def variable_definitions(self) -> None:
        self.take("(")
        while self.peek()[1] != ")":
            self.take("$")
            self.take(kind="name")
            self.take(":")
            self.type_ref()
            if self.peek()[1] == "=":
                self.take()
                self.value(const=True)
        self.take(")")

    def type_ref(self) -> None:
        if self.peek()[1] == "[":
            self.take()
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek()[1] == "!":
            self.take()

    def selection_set(self) -> list[Any]:
        self.take("{")
        selections: list[Any] = []
        while self.peek()[1] != "}":
            if self.peek()[0] == "spread":
                self.take()
                if self.peek()[1] == "on":
                    self.take()
                    on = self.take(kind="name")
                    selections.append(GQLFragment(on, self.selection_set()))
                elif self.peek()[1] == "{":
                    selections.append(GQLFragment(None, self.selection_set()))
                else:
                    frag = GQLFragment(None, [])
                    self._pending.append((frag, self.take(kind="name")))
                    selections.append(frag)
                continue
            selections.append(self.field())
        self.take("}")
        return selections

    def field(self) -> GQLField:
        pos = self.peek()[2]
        name = alias = self.take(kind="name")
        if self.peek()[1] == ":":
            self.take()
            name = self.take(kind="name")
        args: dict[str, Any] = {}
        if self.peek()[1] == "(":
            self.take()
            while self.peek()[1] != ")":
                key = self.take(kind="name")
                self.take(":")
                args[key] = self.value()
            self.take(")")
        while self.peek()[1] == "@":
            self.take()
            self.take(kind="name")
            if self.peek()[1] == "(":
                while self.take() != ")":
                    pass
        selections = self.selection_set() if self.peek()[1] == "{" else []
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return GQLField(name, alias, args, selections, line, column)

    def value(self, const: bool = False) -> Any:
        kind, text, pos = self.peek()
        if text == "$" and not const:
            self.take()
            return self.variables.get(self.take(kind="name"))
        if kind == "number":
            self.take()
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "string":
            self.take()
            return json.loads(text)
        if text == "[":
            self.take()
            items = []
            while self.peek()[1] != "]":
                items.append(self.value(const))
            self.take("]")
            return items
        if text == "{":
            self.take()
            obj = {}
            while self.peek()[1] != "}":
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value(const)
            self.take("}")
            return obj
        if kind == "name":
            self.take()
            return {"true": True, "false": False, "null": None}.get(text, text)
        raise self.error_at(pos, f'Parse error on "{text}"')


# Field name -> type name ("[T]" for lists); what the fake's schema knows.
GQL_SCHEMA: dict[str, dict[str, str]] = {
    "Query": {
        "repository": "Repository",
        "node": "Node",
        "viewer": "User",
        "rateLimit": "RateLimit",
    },
    "Mutation": {
        "enablePullRequestAutoMerge": "EnablePullRequestAutoMergePayload",
        "disablePullRequestAutoMerge": "DisablePullRequestAutoMergePayload",
    },
    "Repository": {
        "id": "ID",
        "name": "String",
        "nameWithOwner": "String",
        "url": "URI",
        "autoMergeAllowed": "Boolean",
        "isPrivate": "Boolean",
        "owner": "User",
        "pullRequest": "PullRequest",
        "pullRequests": "PullRequestConnection",
        "defaultBranchRef": "Ref",
        "ref": "Ref",
        "databaseId": "Int",
    },
    "PullRequest": {
        "id": "ID",
        "number": "Int",
        "title": "String",
        "body": "String",
        "url": "URI",
        "permalink": "URI",
        "state": "PullRequestState",
        "isDraft": "Boolean",
        "closed": "Boolean",
        "merged": "Boolean",
        "headRefName": "String",
        "headRefOid": "GitObjectID",
        "baseRefName": "String",
        "baseRefOid": "GitObjectID",
        "autoMergeRequest": "AutoMergeRequest",
        "viewerCanEnableAutoMerge": "Boolean",
        "viewerCanDisableAutoMerge": "Boolean",
        "repository": "Repository",
        "author": "User",
        "databaseId": "Int",
        "mergeable": "MergeableState",
    },
    "AutoMergeRequest": {
        "mergeMethod": "PullRequestMergeMethod",
        "enabledAt": "DateTime",
        "enabledBy": "User",
        "commitHeadline": "String",
        "commitBody": "String",
        "authorEmail": "String",
        "pullRequest": "PullRequest",
    },
    "User": {
        "login": "String",
        "id": "ID",
        "url": "URI",
        "avatarUrl": "URI",
        "resourcePath": "URI",
        "databaseId": "Int",
    },
    "PullRequestConnection": {
        "nodes": "[PullRequest]",
        "totalCount": "Int",
        "pageInfo": "PageInfo",
    },
    "PageInfo": {"hasNextPage": "Boolean", "endCursor": "String"},
    "Ref": {"name": "String", "prefix": "String", "target": "Commit"},
    "Commit": {"oid": "GitObjectID", "id": "ID"},
    "RateLimit": {
        "limit": "Int",
        "remaining": "Int",
        "resetAt": "DateTime",
        "cost": "Int",
        "used": "Int",
    },
    "EnablePullRequestAutoMergePayload": {
        "clientMutationId": "String",
        "pullRequest": "PullRequest",
        "actor": "User",
    },
    "DisablePullRequestAutoMergePayload": {
        "clientMutationId": "String",
        "pullRequest": "PullRequest",
        "actor": "User",
    },
    "Node": {"id": "ID"},
}


def gql_validate(selections: list[Any], typename: str, path: list[str]) -> list[dict[str, Any]]:
    """GitHub's "Field 'x' doesn't exist on type 'Y'" errors, before anything executes."""
    errors = []
    fields = GQL_SCHEMA.get(typename, {})
    for sel in selections:
        if isinstance(sel, GQLFragment):
            errors += gql_validate(sel.selections, sel.on or typename, path)
            continue
        if sel.name == "__typename":
            continue
        if sel.name not in fields:
            errors.append(
                {
                    "path": [*path, sel.alias],
                    "extensions": {
                        "code": "undefinedField",
                        "typeName": typename,
                        "fieldName": sel.name,
                    },
                    "locations": [{"line": sel.line, "column": sel.column}],
                    "message": f"Field '{sel.name}' doesn't exist on type '{typename}'",
                }
            )
            continue
        child = fields[sel.name].strip("[]")
        if child in GQL_SCHEMA:
            errors += gql_validate(sel.selections, child, [*path, sel.alias])
    return errors


class GraphQL:
    """Executes parsed operations against the fake's state."""

    def __init__(self, fake: FakeGitHub, token: Token) -> None:
        self.fake, self.token = fake, token

    def find_node(self, gid: str) -> tuple[str, Any] | None:
        for repo in self.fake.repos.values():
            if not self.token.sees(repo.full_name):
                continue
            if gid == repo.node_id:
                return "Repository", repo
            for pr in repo.pulls.values():
                if node_id("PR", repo.full_name, pr.number) == gid:
                    return "PullRequest", (repo, pr)
        return None

    def execute(self, op: str, selections: list[Any]) -> dict[str, Any]:
        """Run an operation; return the GraphQL response body."""
        root = "Mutation" if op == "mutation" else "Query"
        errors = gql_validate(selections, root, [])
        if errors:
            return {"errors": errors}
        data: dict[str, Any] = {}
        errors = []
        for sel in selections:
            if isinstance(sel, GQLFragment):
                continue
            try:
                value, kind = self.resolve_root(root, sel)
                data[sel.alias] = self.complete(value, kind, sel, [sel.alias])
            except GraphQLError as exc:
                data[sel.alias] = None
                err: dict[str, Any] = {}
                if exc.kind:
                    err["type"] = exc.kind
                err["path"] = [sel.alias]
                err["locations"] = [{"line": sel.line, "column": sel.column}]
                err["message"] = exc.message
                errors.append(err)
        out: dict[str, Any] = {"data": data}
        if errors:
            out["errors"] = errors
        return out

    def complete(self, value: Any, kind: str, sel: GQLField, path: list[str]) -> Any:
        if value is None:
            return None
        if kind.startswith("["):
            return [self.complete(v, kind[1:-1], sel, path) for v in value]
        if kind not in GQL_SCHEMA or kind == "Node":
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
                kind, value = value
            else:
                return value
        return self.select(value, kind, sel.selections, path)

    def select(self, obj: Any, kind: str, selections: list[Any], path: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for sel in selections:
            if isinstance(sel, GQLFragment):
                if sel.on in (None, kind, "Node"):
                    out.update(self.select(obj, kind, sel.selections, path))
                continue
            if sel.name == "__typename":
                out[sel.alias] = kind
                continue
            value = self.resolve(kind, obj, sel.name, sel.args)
            child = GQL_SCHEMA[kind][sel.name]
            out[sel.alias] = self.complete(value, child, sel, [*path, sel.alias])
        return out

    def resolve_root(self, root: str, sel: GQLField) -> tuple[Any, str]:
        kind = GQL_SCHEMA[root][sel.name]
        if sel.name == "repository":
            full = f"{sel.args.get('owner')}/{sel.args.get('name')}".lower()
            repo = self.fake.repos.get(full)
            if repo is None or not self.token.sees(repo.full_name):
                name = f"{sel.args.get('owner')}/{sel.args.get('name')}"
                raise GraphQLError(
                    f"Could not resolve to a Repository with the name '{name}'.",
                    "NOT_FOUND",
                )
            return repo, kind
        if sel.name == "node":
            found = self.find_node(str(sel.args.get("id")))
            if found is None:
                raise GraphQLError(
                    f"Could not resolve to a node with the global id of '{sel.args.get('id')}'",
                    "NOT_FOUND",
                )
            return found, "Node"
        if sel.name == "viewer":
            return self.token.login, kind
        if sel.name == "rateLimit":
            return {
                "limit": 5000,
                "remaining": 4999,
                "cost": 1,
                "used": 1,
                "resetAt": datetime.fromtimestamp(self.fake.rate_reset, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }, kind
        return self.mutate(sel.name, sel.args.get("input") or {}), kind

    def mutate(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        gid = data.get("pullRequestId")
        found = self.find_node(str(gid))
        if found is None or found[0] != "PullRequest":
            raise GraphQLError(
                f"Could not resolve to a node with the global id of '{gid}'", "NOT_FOUND"
            )
        repo, pr = found[1]
        if not self.token.can("pull_requests", "write") or not self.token.can("contents", "write"):
            raise GraphQLError("Resource not accessible by integration", "FORBIDDEN")
        with self.fake.lock:
            repo.sync_pull(pr)
            if name == "enablePullRequestAutoMerge":
                if not repo.allow_auto_merge:
                    raise GraphQLError(
                        "Auto merge is not allowed for this repository", "UNPROCESSABLE"
                    )
                if pr.state != "open":
                    raise GraphQLError("Pull request is closed", "UNPROCESSABLE")
                if data.get("expectedHeadOid") and data["expectedHeadOid"] != pr.head_sha:
                    raise GraphQLError(
                        "The head commit for this pull request has changed", "UNPROCESSABLE"
                    )
                method = str(data.get("mergeMethod") or "MERGE")
                if method not in ("MERGE", "SQUASH", "REBASE"):
                    raise GraphQLError(
                        "Argument 'mergeMethod' on InputObject 'EnablePullRequestAutoMergeInput' "
                        f"has an invalid value ({method})."
                    )
                if not repo.requires_checks and not pr.draft:
                    raise GraphQLError("Pull request is in clean status", "UNPROCESSABLE")
                pr.auto_merge = {
                    "merge_method": method,
                    "enabled_by": self.token.login,
                    "enabled_at": now_iso(),
                    "commit_title": data.get("commitHeadline"),
                    "commit_message": data.get("commitBody"),
                    "author_email": data.get("authorEmail"),
                }
            else:
                pr.auto_merge = None
        return {
            "clientMutationId": data.get("clientMutationId"),
            "pullRequest": (repo, pr),
            "actor": self.token.login,
        }

    def resolve(self, kind: str, obj: Any, name: str, args: dict[str, Any]) -> Any:
        fake = self.fake
        if kind == "Repository":
            repo: Repository = obj
            if name == "pullRequest":
                pr = repo.pulls.get(int(args.get("number", 0)))
                if pr is None:
                    number = args.get("number")
                    raise GraphQLError(
                        f"Could not resolve to a PullRequest with the number of {number}.",
                        "NOT_FOUND",
                    )
                repo.sync_pull(pr)
                return (repo, pr)
            if name == "pullRequests":
                states = args.get("states") or ["OPEN", "CLOSED", "MERGED"]
                prs = []
                for pr in sorted(repo.pulls.values(), key=lambda p: p.number):
                    repo.sync_pull(pr)
                    state = "MERGED" if pr.merged_at else pr.state.upper()
                    if state not in states:
                        continue
                    if args.get("headRefName") and pr.head_ref != args["headRefName"]:
                        continue
                    if args.get("baseRefName") and pr.base_ref != args["baseRefName"]:
                        continue
                    prs.append((repo, pr))
                first = args.get("first") or args.get("last") or 100
                shown = prs[:first] if args.get("first") or not args.get("last") else prs[-first:]
                return {
                    "nodes": shown,
                    "totalCount": len(prs),
                    "pageInfo": {"hasNextPage": len(prs) > len(shown), "endCursor": None},
                }
            if name in ("defaultBranchRef", "ref"):
                branch = (
                    repo.default_branch
                    if name == "defaultBranchRef"
                    else str(args.get("qualifiedName", "")).removeprefix("refs/heads/")
                )
                sha = repo.branch_sha(branch)
                return (
                    None
                    if sha is None
                    else {
                        "name": branch,
                        "prefix": "refs/heads/",
                        "target": {"oid": sha, "id": node_id("C", repo.full_name, sha)},
                    }
                )
            return {
                "id": repo.node_id,
                "name": repo.name,
                "nameWithOwner": repo.full_name,
                "url": f"{fake.base_url}/{repo.full_name}",
                "autoMergeAllowed": repo.allow_auto_merge,
                "isPrivate": repo.private,
                "owner": repo.owner,
                "databaseId": repo.id,
            }[name]
        if kind == "PullRequest":
            repo, pr = obj
            am = pr.auto_merge
            return {
                "id": node_id("PR", repo.full_name, pr.number),
                "number": pr.number,
                "title": pr.title,
                "body": pr.body or "",
                "url": f"{fake.base_url}/{repo.full_name}/pull/{pr.number}",
                "permalink": f"{fake.base_url}/{repo.full_name}/pull/{pr.number}",
                "state": "MERGED" if pr.merged_at else pr.state.upper(),
                "isDraft": pr.draft,
                "closed": pr.state == "closed",
                "merged": pr.merged_at is not None,
                "headRefName": pr.head_ref,
                "headRefOid": pr.head_sha,
                "baseRefName": pr.base_ref,
                "baseRefOid": pr.base_sha,
                "autoMergeRequest": None if am is None else {**am, "pullRequest": obj},
                "viewerCanEnableAutoMerge": repo.allow_auto_merge
                and pr.state == "open"
                and am is None,
                "viewerCanDisableAutoMerge": am is not None,
                "repository": repo,
                "author": pr.user,
                "databaseId": stable_id("pr", repo.full_name, pr.number),
                "mergeable": "MERGEABLE"
                if repo.git.merge_tree(pr.base_sha, pr.head_sha)
                else "CONFLICTING",
            }[name]
        if kind == "AutoMergeRequest":
            return {
                "mergeMethod": obj["merge_method"],
                "enabledAt": obj["enabled_at"],
                "enabledBy": obj["enabled_by"],
                "commitHeadline": obj.get("commit_title"),
                "commitBody": obj.get("commit_message"),
                "authorEmail": obj.get("author_email"),
                "pullRequest": obj["pullRequest"],
            }[name]
        if kind == "User":
            user = user_json(fake, obj)
            return {
                "login": obj,
                "id": user["node_id"],
                "url": user["html_url"],
                "avatarUrl": user["avatar_url"],
                "resourcePath": f"/{obj}",
                "databaseId": user["id"],
            }[name]
        return obj.get(name) if isinstance(obj, dict) else None


# --------------------------------------------------------------------------- HTTP


def paginate(
    handler: Handler, items: list[Any], query: dict[str, str]
) -> tuple[list[Any], str | None]:
    """Slice a list per ``per_page``/``page`` and build GitHub's Link header."""
    try:
        per_page = max(1, min(100, int(query.get("per_page", 30))))
        page = max(1, int(query.get("page", 1)))
    except ValueError:
        per_page, page = 30, 1
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    if last == 1:
        return chunk, None
    path = urllib.parse.urlsplit(handler.path).path
    base = f"{handler.fake.base_url}{path}"

    def link(n: int, rel: str) -> str:
        params = {**query, "per_page": str(per_page), "page": str(n)}
        return f'<{base}?{urllib.parse.urlencode(params)}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return chunk, ", ".join(links)


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the REST API, GraphQL, git smart HTTP or the control API."""

    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""

    @property
    def fake(self) -> FakeGitHub:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        # The event log replaces stderr access logs; tests stay quiet.
        return

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # -- plumbing

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body leave in one write: split small writes on a keep-alive
        # connection meet delayed ACKs and cost ~40 ms per request.
        self._headers_buffer.append(b"\r\n" + (b"" if self.command == "HEAD" else body))
        self.status = status
        # Logged before the answer leaves, so a client that got it also sees the event.
        split = urllib.parse.urlsplit(self.path)
        event = Event(
            self.command, urllib.parse.unquote(split.path), split.query, status, self.login
        )
        with self.fake.lock:
            self.fake.events.append(event)
        self.flush_headers()

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload, indent=2).encode()
        base = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": self.request_id,
        }
        self.send(status, body, {**base, **(headers or {})})

    def token_from_header(self) -> tuple[str | None, bool]:
        """(token value, whether an Authorization header was present at all)."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None, False
        scheme, _, value = auth.strip().partition(" ")
        value = value.strip()
        if scheme.lower() in ("token", "bearer"):
            return value, True
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "", True
            if password in self.fake.tokens:
                return password, True
            return (user if user in self.fake.tokens else password or user), True
        return "", True

    def rate_headers(self, token: Token | None, resource: str) -> dict[str, str]:
        key = token.value if token else "anonymous"
        with self.fake.lock:
            used = self.fake.rate_used.get(key, 0) + 1
            self.fake.rate_used[key] = used
        limit = 5000 if token else 60
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(self.fake.rate_reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": resource,
        }

    # -- dispatch

    def handle_any(self) -> None:
        self.request_id = ":".join(secrets.token_hex(n).upper() for n in (2, 3, 4, 2))
        self.status = 0
        self.login: str | None = None
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        raw = self.read_body()
        try:
            if path.startswith("/_fake/"):
                self.control(path, raw)
            elif path.startswith("/api/"):
                self.api(path, split.query, raw)
            elif re.match(
                r"/[^/]+/[^/]+?(\.git)?/(info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.*)$",
                path,
            ):
                self.git_http(path, split.query, raw)
            else:
                self.send(404, b"Not Found", {"Content-Type": "text/plain"})
        except ApiError as exc:
            self.send_json(exc.status, exc.body, exc.headers)
        except Exception as exc:  # a bug in the fake must show up as a 500, not a hang
            self.send_json(500, {"message": f"fake github error: {exc!r}", "status": "500"})
            raise

    def control(self, path: str, raw: bytes) -> None:
        fake = self.fake
        data = json.loads(raw) if raw else {}
        if path == "/_fake/faults" and self.command == "POST":
            with fake.lock:
                try:
                    fake.faults.update(data)
                except ValueError as exc:
                    raise ApiError(422, str(exc)) from exc
            self.send_json(200, vars(fake.faults))
        elif path == "/_fake/faults":
            self.send_json(200, vars(fake.faults))
        elif path == "/_fake/tokens" and self.command == "POST":
            value = data.pop("value")
            fake.add_token(value, **data)
            self.send_json(201, {"value": value})
        elif m := re.fullmatch(r"/_fake/repos/([^/]+/[^/]+)/settings", path):
            repo = fake.repo(m.group(1))
            with fake.lock:
                for key, value in data.items():
                    if key not in (
                        "allow_auto_merge",
                        "private",
                        "requires_checks",
                        "protected_branches",
                        "collaborators",
                        "teams",
                        "default_branch",
                    ):
                        raise ApiError(422, f"unknown setting {key!r}")
                    setattr(
                        repo,
                        key,
                        set(value)
                        if key in ("protected_branches", "collaborators", "teams")
                        and value is not None
                        else value,
                    )
            self.send_json(200, {"full_name": repo.full_name})
        elif path == "/_fake/state":
            self.send_json(200, fake.state())
        elif path == "/_fake/events":
            self.send_json(200, [vars(e) for e in fake.events])
        else:
            raise ApiError(404, "Not Found")

    def authenticate(self, *, graphql: bool) -> Token | None:
        value, present = self.token_from_header()
        if not present:
            return None
        token = self.fake.tokens.get(value or "")
        if token is None:
            raise ApiError(401, "Bad credentials", headers=self.rate_headers(None, "core"))
        self.login = token.login
        return token

    def inject_faults(self, path: str) -> None:
        fake = self.fake
        line = f"{self.command} {path}"
        with fake.lock:
            rate_limited = fake.faults.take("rate_limits", line)
            server_error = not rate_limited and fake.faults.take("server_errors", line)
            kind, retry_after, status = (
                fake.faults.rate_limit_kind,
                fake.faults.retry_after,
                fake.faults.server_error_status,
            )
        if rate_limited:
            if kind == "primary":
                reset = int(time.time()) + retry_after
                raise ApiError(
                    403,
                    "API rate limit exceeded for installation ID 12345678. If you reach out to "
                    "GitHub Support for help, please include the request ID "
                    f"{self.request_id} and timestamp {now_iso()}.",
                    doc="overview/rate-limits-for-the-rest-api",
                    headers={
                        "X-RateLimit-Limit": "5000",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(reset),
                        "X-RateLimit-Used": "5000",
                        "X-RateLimit-Resource": "core",
                    },
                )
            raise ApiError(
                429 if kind == "429" else 403,
                SECONDARY_RATE_LIMIT.format(request_id=self.request_id),
                doc="overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                headers={"Retry-After": str(retry_after)},
            )
        if server_error:
            self.send(
                status,
                b'{"message":"Server Error"}',
                {"Content-Type": "application/json", "X-GitHub-Request-Id": self.request_id},
            )
            raise _Answered

    def api(self, path: str, query_string: str, raw: bytes) -> None:
        try:
            self.inject_faults(path)
        except _Answered:
            return
        if path == "/api/graphql":
            self.graphql(raw)
            return
        if not path.startswith("/api/v3/"):
            raise ApiError(404, "Not Found")
        rest = path[len("/api/v3") :].rstrip("/") or "/"
        query = dict(urllib.parse.parse_qsl(query_string))
        token = self.authenticate(graphql=False)
        rate = self.rate_headers(token, "core")
        try:
            if rest == "/user" and self.command == "GET":
                if token is None:
                    raise ApiError(
                        401, "Requires authentication", doc="users/users#get-the-authenticated-user"
                    )
                if token.kind == "app":
                    raise ApiError(
                        403,
                        "Resource not accessible by integration",
                        doc="users/users#get-the-authenticated-user",
                    )
                self.send_json(200, user_json(self.fake, token.login), rate)
                return
            if rest == "/rate_limit":
                self.send_json(
                    200,
                    {
                        "resources": {},
                        "rate": {
                            "limit": 5000,
                            "remaining": 4999,
                            "reset": self.fake.rate_reset,
                            "used": 1,
                        },
                    },
                    rate,
                )
                return
            self.rest(rest, query, raw, token, rate)
        except ApiError as exc:
            exc.headers = {**rate, **exc.headers}
            raise

    def rest(
        self,
        rest: str,
        query: dict[str, str],
        raw: bytes,
        token: Token | None,
        rate: dict[str, str],
    ) -> None:
        for method, regex, fn, needs, doc in ROUTES:
            m = regex.match(rest)
            if not m:
                continue
            if method != self.command and not (method == "GET" and self.command == "HEAD"):
                continue
            repo = self.fake.repos.get(f"{m['owner']}/{m['name']}".lower())
            visible = repo is not None and (token is None or token.sees(repo.full_name))
            if repo is None or not visible or (token is None and repo.private):
                raise ApiError(404, "Not Found", doc=doc or "repos/repos#get-a-repository")
            if needs is not None:
                if token is None:
                    raise ApiError(401, "Requires authentication", doc=doc)
                allowed = token.can(needs, "write") or (
                    needs == "issues" and token.can("pull_requests", "write")
                )
                if not allowed:
                    who = "integration" if token.kind == "app" else "personal access token"
                    raise ApiError(403, f"Resource not accessible by {who}", doc=doc)
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                raise ApiError(400, "Problems parsing JSON", doc=doc) from exc
            args = {
                k: v
                for k, v in m.groupdict().items()
                if v is not None and k not in ("owner", "name")
            }
            req = Request(self.fake, self.command, rest, query, body, token, repo, args)
            status, payload = fn(req)
            headers = dict(rate)
            if isinstance(payload, list) and self.command == "GET":
                payload, link = paginate(self, payload, query)
                if link:
                    headers["Link"] = link
            self.send_json(status, payload, headers)
            return
        raise ApiError(404, "Not Found")

    def graphql(self, raw: bytes) -> None:
        value, present = self.token_from_header()
        token = self.fake.tokens.get(value or "") if present else None
        if token is None:
            if not present:
                raise ApiError(
                    401,
                    "This endpoint requires you to be authenticated.",
                    doc="graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
                )
            raise ApiError(401, "Bad credentials", doc="graphql")
        self.login = token.login
        rate = self.rate_headers(token, "graphql")
        try:
            request = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON", doc="graphql") from exc
        query, variables = request.get("query") or "", request.get("variables") or {}
        try:
            op, selections = GQLParser(query, variables).document()
        except GraphQLError as exc:
            self.send_json(200, {"errors": [{"message": exc.message, **exc.extra}]}, rate)
            return
        self.send_json(200, GraphQL(self.fake, token).execute(op, selections), rate)

    # -- git smart HTTP

    def git_http(self, path: str, query_string: str, raw: bytes) -> None:
        fake = self.fake
        m = re.match(r"/(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?(?P<rest>/.*)$", path)
        assert m is not None
        repo = fake.repos.get(f"{m['owner']}/{m['name']}".lower())
        value, present = self.token_from_header()
        token = fake.tokens.get(value or "") if present else None
        pushing = m["rest"] == "/git-receive-pack" or "service=git-receive-pack" in query_string
        if token is None and (present or pushing or repo is None or repo.private):
            # git only sends credentials after a 401 challenge.
            self.send(
                401,
                b"Unauthorized\n",
                {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"},
            )
            return
        if repo is None or (token is not None and not token.sees(repo.full_name)):
            self.send(404, b"Repository not found.\n", {"Content-Type": "text/plain"})
            return
        if token is not None:
            self.login = token.login
        if pushing and token is not None and not token.can("contents", "write"):
            message = f"Permission to {repo.full_name}.git denied to {token.login}.\n"
            self.send(403, message.encode(), {"Content-Type": "text/plain"})
            return
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(fake._git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.owner}/{repo.name}.git{m['rest']}",
            "QUERY_STRING": query_string,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(raw)),
            "REMOTE_USER": token.login if token else "",
            "REMOTE_ADDR": self.client_address[0],
            "GIT_CONFIG_COUNT": "3",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
            "GIT_CONFIG_KEY_1": "core.hooksPath",
            "GIT_CONFIG_VALUE_1": str(fake._hooks),
            "GIT_CONFIG_KEY_2": "http.receivepack",
            "GIT_CONFIG_VALUE_2": "true" if token else "false",
            "FAKEGITHUB_PROTECTED": " ".join(sorted(repo.protected_branches)),
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            ["git", "http-backend"], input=raw, capture_output=True, env=env, check=False
        )
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, body = proc.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        self.send(status, body, headers)


class _Answered(Exception):
    """A fault already wrote the response."""


# --------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone; print the base URL first, then serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repo", action="append", default=[], metavar="OWNER/NAME=PATH", required=True
    )
    parser.add_argument("--token", action="append", default=[], help="accepted token (repeatable)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--no-auto-merge", action="store_true", help="repositories disallow auto-merge"
    )
    args = parser.parse_args(argv)
    fake = FakeGitHub(port=args.port)
    for spec in args.repo:
        name, _, path = spec.partition("=")
        if not path or "/" not in name:
            parser.error(f"--repo wants OWNER/NAME=PATH, got {spec!r}")
        fake.add_repo(name, path, allow_auto_merge=not args.no_auto_merge)
    for value in args.token or ["fake-token"]:
        fake.add_token(value)
    fake.start()
    print(fake.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
