"""Thin wrappers over the git command line, and a classifier for what servers answer.

Every call runs ``git`` in a subprocess with an English locale (so messages can be
classified) and no terminal prompts (so a missing credential fails instead of hanging).
A token reaches git only through ``GIT_CONFIG_*`` environment variables and is scrubbed
from every piece of git output this module hands back.
"""

from __future__ import annotations

import base64
import enum
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bumper.errors import BumperError


class Failure(enum.Enum):
    """Why a git command talking to a server failed."""

    RACE = "race"  # the branch moved under us: fetch, re-plan, retry
    TRANSIENT = "transient"  # network or server hiccup: retry
    PROTECTED = "protected"
    CANNOT_WRITE = "cannot-write"
    AUTH = "auth"
    BRANCH_NOT_FOUND = "branch-not-found"
    REPO_NOT_FOUND = "repo-not-found"
    REJECTED = "rejected"  # a server hook or policy said no, for another reason
    UNREACHABLE = "unreachable"  # no answer at all: DNS, refused, TLS; not worth retrying
    UNKNOWN = "unknown"


# First match wins, so the specific wordings come before the generic ones
# ("[remote rejected] ... (protected branch hook declined)" is PROTECTED, not REJECTED).
_PATTERNS: tuple[tuple[Failure, re.Pattern[str]], ...] = tuple(
    (failure, re.compile(pattern, re.IGNORECASE))
    for failure, pattern in (
        (Failure.PROTECTED, r"GH006|GH013|protected branch|must be made through a pull request"),
        (Failure.PROTECTED, r"TF402455|must use a pull request|repository rule violation"),
        (Failure.CANNOT_WRITE, r"Permission to \S+ denied|returned error: 403|HTTP 403"),
        (Failure.CANNOT_WRITE, r"marked as read.only|does not have write access"),
        (Failure.CANNOT_WRITE, r"not allowed to push code|write access to repository not granted"),
        (Failure.AUTH, r"Authentication failed|returned error: 401|HTTP Basic: Access denied"),
        (Failure.AUTH, r"could not read (Username|Password)|Invalid username or password"),
        (Failure.AUTH, r"Permission denied \(publickey"),
        (Failure.BRANCH_NOT_FOUND, r"Remote branch .* not found|couldn't find remote ref"),
        (Failure.REPO_NOT_FOUND, r"Repository not found|repository '.*' not found"),
        (Failure.REPO_NOT_FOUND, r"returned error: 404|does not appear to be a git repository"),
        (Failure.UNREACHABLE, r"Could not resolve (host|proxy)|Failed to connect to"),
        (Failure.UNREACHABLE, r"Connection refused|Couldn't connect to server|No route to host"),
        (
            Failure.UNREACHABLE,
            r"SSL certificate problem|SSL_connect|gnutls_handshake|TLS (?:connection|handshake)",
        ),
        (Failure.RACE, r"\[rejected\]|non-fast-forward|fetch first|Updates were rejected because"),
        (Failure.RACE, r"failed to update ref|cannot lock ref|incorrect old value"),
        (Failure.TRANSIENT, r"RPC failed|remote end hung up|early EOF|Connection reset"),
        (Failure.TRANSIENT, r"returned error: 5\d\d|timed out"),
        (Failure.REJECTED, r"\[remote rejected\]|hook declined"),
    )
)


def classify(output: str) -> Failure:
    """Classify the output of a failed clone, fetch or push, whichever server wrote it."""
    for failure, pattern in _PATTERNS:
        if pattern.search(output):
            return failure
    return Failure.UNKNOWN


# The cause of an unreachable server, in plain words.
_CAUSES = (
    (
        re.compile(r"Could not resolve (?:host|proxy):? ?(\S*)", re.I),
        "the name {0} does not resolve",
    ),
    (re.compile(r"timed out", re.I), "the connection timed out"),
    (re.compile(r"Connection refused|Couldn't connect to server", re.I), "connection refused"),
    (re.compile(r"No route to host", re.I), "no route to the host"),
    (re.compile(r"SSL certificate problem: ([^\n]+)", re.I), "TLS certificate problem: {0}"),
    (re.compile(r"SSL|TLS|gnutls", re.I), "the TLS handshake failed"),
)


def unreachable_cause(output: str) -> str | None:
    """Why a server did not answer (DNS, refused, timeout, TLS), in plain words."""
    for pattern, words in _CAUSES:
        match = pattern.search(output)
        if match:
            return words.format(*(g.strip("'") for g in match.groups()))
    return None


def remote_lines(output: str) -> list[str]:
    """The server's own words (``remote: ...`` lines), without the prefix and blank lines."""
    lines = []
    for line in output.splitlines():
        if line.startswith("remote:"):
            text = line[len("remote:") :].strip()
            if text:
                lines.append(text)
    return lines


_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def strip_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` part, for display."""
    return _USERINFO.sub(r"\1", url)


def is_http(url: str) -> bool:
    """True for URLs where an HTTP Authorization header applies."""
    return urlsplit(url).scheme in ("http", "https")


def auth_header(token: str) -> str:
    """The ``http.extraheader`` value GitHub (and most servers) accept for a token."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"AUTHORIZATION: basic {basic}"


def run_git(args: list[str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run(["git", *args])``, with a clear error when git is missing."""
    try:
        return subprocess.run(["git", *args], **options)
    except FileNotFoundError as error:
        if error.filename == "git" or not shutil.which("git"):
            raise BumperError("git is not installed (or not on PATH)") from None
        raise BumperError(f"no such folder: {options.get('cwd')}") from None


@dataclass(frozen=True)
class Credentials:
    """A token and the HTTP URLs it is sent to; knows every spelling to scrub."""

    token: str = field(repr=False)
    urls: tuple[str, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Every string that would reveal the token if printed."""
        header = auth_header(self.token)
        return (self.token, header.split(" ", 2)[2])


def git_env(base: Mapping[str, str], credentials: Credentials | None = None) -> dict[str, str]:
    """Environment for git: English messages, no prompts, the token as a config header.

    The header is keyed on each URL and preceded by an empty value, which clears any
    header configured earlier for that URL (``actions/checkout`` persists one), so the
    server never sees two Authorization headers.
    """
    env = dict(base)
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0")
    if credentials is None:
        return env
    count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    pairs: list[tuple[str, str]] = [("credential.helper", "")]
    for url in credentials.urls:
        key = f"http.{url}.extraheader"
        pairs += [(key, ""), (key, auth_header(credentials.token))]
    for key, value in pairs:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


class GitCommandError(BumperError):
    """A git command failed; ``output`` is its scrubbed stdout and stderr."""

    def __init__(self, args: Sequence[str], output: str) -> None:
        self.output = output
        self.failure = classify(output)
        self.cause = unreachable_cause(output) if self.failure is Failure.UNREACHABLE else None
        last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "")
        super().__init__(f"git {args[0]} failed: {last}" if last else f"git {args[0]} failed")


class Git:
    """Runs git in one work tree with one environment, scrubbing secrets from its output."""

    def __init__(self, root: Path, env: Mapping[str, str], secrets: Iterable[str] = ()) -> None:
        self.root = root
        self.env = dict(env)
        self.secrets = tuple(s for s in secrets if s)

    def scrub(self, text: str) -> str:
        """``text`` with every secret and URL credential replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return strip_credentials(text)

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run ``git ARGS`` in the work tree; return stdout, raise GitCommandError on failure."""
        done = run_git(
            list(args),
            cwd=self.root,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise GitCommandError(args, self.scrub(done.stdout + done.stderr))
        return done.stdout

    def ok(self, *args: str) -> bool:
        """True when ``git ARGS`` exits 0."""
        done = run_git(list(args), cwd=self.root, env=self.env, capture_output=True, check=False)
        return done.returncode == 0

    def blob(self, sha: str) -> bytes:
        """A blob's exact bytes (no newline translation)."""
        done = run_git(["cat-file", "blob", sha], cwd=self.root, env=self.env,
                       capture_output=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise GitCommandError(["cat-file"], self.scrub(done.stderr.decode(errors="replace")))
        return done.stdout  # type: ignore[no-any-return]

    def toplevel(self) -> Path:
        """The root of the work tree containing ``self.root``."""
        return Path(self.run("rev-parse", "--show-toplevel").strip())

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository without commits."""
        out = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return out.strip() or None

    def current_branch(self) -> str | None:
        """The checked-out branch name, or None on a detached HEAD."""
        out = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return out.strip() or None

    def config(self, key: str) -> str | None:
        """A git config value, or None when unset."""
        out = self.run("config", "--get", key, check=False)
        return out.strip() or None

    def remotes(self) -> list[str]:
        """Names of the configured remotes."""
        return self.run("remote").split()

    def remote_url(self, remote: str, *, push: bool = False) -> str:
        """The (push) URL of a remote."""
        return self.run("remote", "get-url", *(["--push"] if push else []), remote).strip()

    def tracked(self, paths: Sequence[str]) -> set[str]:
        """Those of ``paths`` (relative to the root) that git tracks."""
        return set(filter(None, self.run("ls-files", "-z", "--", *paths).split("\0")))

    def dirty(self, paths: Sequence[str]) -> set[str]:
        """Those of ``paths`` with staged or unstaged changes."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no", "--", *paths)
        dirty: set[str] = set()
        entries = iter(out.split("\0"))
        for entry in entries:
            if entry:
                dirty.add(entry[3:])
                if entry[0] in "RC":  # a rename carries its source path as the next entry
                    dirty.add(next(entries, ""))
        return dirty & set(paths)

    def count(self, revisions: str) -> int:
        """How many commits ``git rev-list REVISIONS`` lists."""
        return int(self.run("rev-list", "--count", revisions).strip())

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant``."""
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` into its remote-tracking ref; return the branch's new head."""
        tracking = f"refs/remotes/{remote}/{branch}"
        self.run("fetch", "--no-tags", "--quiet", remote, f"+refs/heads/{branch}:{tracking}")
        return self.run("rev-parse", "--verify", f"{tracking}^{{commit}}").strip()

    def reset_keep(self, commit: str) -> None:
        """Move HEAD (and the branch) to ``commit``, keeping unrelated local changes."""
        self.run("reset", "--quiet", "--keep", commit)

    def commit(self, paths: Sequence[str], message: str, env: Mapping[str, str]) -> str:
        """Commit exactly ``paths`` (whatever else is staged stays staged); return the sha."""
        # --only commits these paths from the work tree and leaves the rest of the index alone.
        flags = ("--quiet", "--only", "--cleanup=whitespace", "--file=-")
        self.run("commit", *flags, "--", *paths, stdin=message, env=env)
        return self.run("rev-parse", "HEAD").strip()

    def add_trailers(self, message: str, trailers: Sequence[str]) -> str:
        """``message`` with ``trailers`` appended the way ``git interpret-trailers`` does."""
        args = [arg for trailer in trailers for arg in ("--trailer", trailer)]
        return self.run("interpret-trailers", "--where", "end", "--if-exists", "add", *args,
                        stdin=message)  # fmt: skip

    def push(self, remote: str, branch: str) -> None:
        """Push HEAD to ``branch``: fast-forward only (never forced)."""
        self.run("push", "--porcelain", "--quiet", remote, f"HEAD:refs/heads/{branch}")


HISTORIES = ("none", "commits", "full")


def clone(git: Git, url: str, dest: Path, branch: str | None, history: str = "none") -> None:
    """Single-branch clone of ``url`` into ``dest``, run from ``git.root``. ``history``:
    ``none`` (the head only), ``commits`` (every commit, file contents fetched only for
    the head: enough to read commit messages) or ``full``."""
    args = ["clone", "--quiet", "--single-branch", "--no-tags"]
    if history == "none":
        args.append("--depth=1")
    elif history == "commits":
        # A server that cannot filter sends everything (git says so and goes on).
        args.append("--filter=blob:none")
    if branch:
        args += ["--branch", branch]
    git.run(*args, "--", url, str(dest))


def to_url(location: str) -> str:
    """A git URL for ``location``; local paths become ``file://`` URLs so ``--depth`` works."""
    if "://" in location or re.match(r"^[\w.-]+@[\w.-]+:", location):
        return location
    path = Path(location).expanduser()
    if path.exists():
        return path.resolve().as_uri()
    raise BumperError(f"not a git URL or an existing path: {location}")


__all__ = [
    "Credentials",
    "Failure",
    "Git",
    "GitCommandError",
    "auth_header",
    "classify",
    "clone",
    "git_env",
    "is_http",
    "remote_lines",
    "strip_credentials",
    "to_url",
]
