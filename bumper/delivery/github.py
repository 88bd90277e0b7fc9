"""Talking to GitHub's API with PyGithub: where it is, which token, retries, clear errors.

PyGithub is heavy to import, so it is imported only inside the functions that use it.
Everything here works the same against github.com and GitHub Enterprise Server
(``<server>/api/v3``): the API address comes from ``GITHUB_API_URL`` /
``GITHUB_SERVER_URL`` (what Actions sets) or from the repository's own URL.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bumper.delivery.contract import DeliveryRequest
from bumper.delivery.workspace import checkout_root, checkout_target
from bumper.errors import BumperError
from bumper.git import Git, git_env, to_url

log = logging.getLogger("bumper")

if TYPE_CHECKING:
    from github import Github

DEFAULT_SERVER = "https://github.com"
DEFAULT_API = "https://api.github.com"
# A pipeline should not sit for an hour on a primary rate limit: past this it fails clearly.
MAX_RATE_LIMIT_WAIT = 90.0
TIMEOUT = 20

ACTIONS_PR_SETTING = (
    "Settings → Actions → General → Workflow permissions → "
    '"Allow GitHub Actions to create and approve pull requests"'
)


@dataclass(frozen=True)
class GitHubRepo:
    """A repository on a GitHub server: ``OWNER/NAME`` and where its web and API live."""

    slug: str
    server_url: str
    api_url: str

    @property
    def owner(self) -> str:
        return self.slug.split("/", 1)[0]

    @property
    def clone_url(self) -> str:
        """The https URL git clones and pushes (the token goes in a header, not here)."""
        return f"{self.server_url}/{self.slug}.git"

    @property
    def web_url(self) -> str:
        return f"{self.server_url}/{self.slug}"


def is_slug(repo: str) -> bool:
    """True for ``OWNER/NAME`` (a repository on ``GITHUB_SERVER_URL``), not a URL or path."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", repo) is not None and not repo.startswith(".")


def repository_url(repo: str, env: Mapping[str, str] | None = None) -> str:
    """The clone URL for ``OWNER/NAME`` (on ``GITHUB_SERVER_URL``), a git URL or a path."""
    env = os.environ if env is None else env
    if is_slug(repo):
        server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        return f"{server}/{repo}"
    return to_url(repo)


def commit_url(remote_url: str, sha: str) -> str | None:
    """The web page of a commit on a remote reached over http(s) (GitHub, GitLab, Gitea
    all serve ``<repository>/commit/<sha>``); None for other remotes."""
    parts = urlsplit(remote_url)
    if parts.scheme not in ("http", "https"):
        return None
    return f"{remote_url.rstrip('/').removesuffix('.git')}/commit/{sha}"


def api_url_for(server_url: str) -> str:
    """The REST root of a server: api.github.com for github.com, ``<server>/api/v3`` on GHES."""
    server = server_url.rstrip("/")
    host = (urlsplit(server).hostname or "").lower()
    if host in ("github.com", "www.github.com"):
        return DEFAULT_API
    return f"{server}/api/v3"


def _same_server(a: str, b: str) -> bool:
    left, right = urlsplit(a), urlsplit(b)
    return (left.hostname or "").lower() == (
        right.hostname or ""
    ).lower() and left.port == right.port


def _from_env(env: Mapping[str, str]) -> tuple[str, str]:
    """(server URL, API URL) from the Actions variables, defaulting to github.com."""
    server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
    api = (env.get("GITHUB_API_URL") or "").rstrip("/") or api_url_for(server)
    return server, api


def github_repo(location: str, env: Mapping[str, str] | None = None) -> GitHubRepo:
    """Resolve ``OWNER/NAME`` (on ``GITHUB_SERVER_URL``) or a GitHub URL (https, ssh or
    ``git@host:owner/name``) to a :class:`GitHubRepo`.

    For a URL on another host than ``GITHUB_SERVER_URL``, the API address is derived from
    the URL's host (GHES: ``https://HOST/api/v3``).
    """
    env = os.environ if env is None else env
    location = location.strip()
    if is_slug(location):
        server, api = _from_env(env)
        return GitHubRepo(location, server, api)
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(?!//)(.+)", location)
    if scp:
        scheme, netloc, path = "https", scp.group(1), scp.group(2)
    else:
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
            raise BumperError(
                f"{location}: not a GitHub repository; give OWNER/NAME or a GitHub URL"
            )
        scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
        port = f":{parts.port}" if parts.port and scheme in ("http", "https") else ""
        netloc, path = f"{parts.hostname}{port}", parts.path
    segments = [s for s in path.strip("/").removesuffix(".git").split("/") if s]
    if len(segments) < 2:
        raise BumperError(f"{location}: cannot tell the repository's OWNER/NAME from this URL")
    slug = "/".join(segments[-2:])
    server = f"{scheme}://{netloc}"
    env_server, env_api = _from_env(env)
    if env.get("GITHUB_SERVER_URL") and _same_server(server, env_server):
        return GitHubRepo(slug, env_server, env_api)
    # A GHES installed under a path prefix keeps it in front of OWNER/NAME.
    prefix = "/".join(segments[:-2])
    server = f"{server}/{prefix}" if prefix else server
    return GitHubRepo(slug, server, api_url_for(server))


def require_token(token: str | None) -> str:
    """The token, or a clear error saying where bumper looks for one."""
    if not token:
        raise BumperError(
            "GitHub API access needs a token: pass --token or set GITHUB_TOKEN or BUMPER_TOKEN"
        )
    return token


def _bounded_retry(max_wait: float) -> Any:
    """A ``GithubRetry`` that retries 5xx and rate limits (``Retry-After``,
    ``x-ratelimit-reset``) with jittered exponential backoff, and gives up with a clear
    error instead of sleeping longer than ``max_wait`` seconds."""
    from github import GithubRetry

    class BoundedRetry(GithubRetry):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            self.max_wait = kwargs.pop("max_wait", max_wait)
            super().__init__(**kwargs)

        def new(self, **kwargs: Any) -> BoundedRetry:
            return super().new(max_wait=self.max_wait, **kwargs)  # type: ignore[no-any-return]

        def sleep(self, response: Any = None) -> None:
            wait = None
            if response is not None and self.respect_retry_after_header:
                wait = self.get_retry_after(response)
            if wait is None:
                wait = self.get_backoff_time()
            if wait > self.max_wait:
                raise BumperError(
                    f"GitHub's rate limit asks to wait {wait:.0f}s, longer than bumper waits "
                    f"({self.max_wait:.0f}s); try again later"
                )
            if wait > 0:
                status = getattr(response, "status", None)
                why = f"answered {status}" if status else "did not answer"
                log.info("GitHub %s; retrying in %.1fs", why, wait)
                time.sleep(wait)

    # PATCH is retried too: bumper's PATCHes (ref to a sha, PR title/body) are idempotent.
    methods = frozenset(GithubRetry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"})
    # A server that does not answer at all (refused, no such name, TLS) is tried twice,
    # briefly: a pipeline must fail in seconds, not sit for minutes.
    return BoundedRetry(
        total=8,
        connect=1,
        other=1,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        backoff_max=30,
        secondary_rate_wait=min(60.0, max_wait),
        allowed_methods=methods,
    )


def client(repo: GitHubRepo, token: str, *, max_wait: float = MAX_RATE_LIMIT_WAIT) -> Github:
    """A PyGithub client for ``repo``'s server. bumper makes a handful of calls per run,
    so PyGithub's default throttling (0.25 s per request, 1 s per write) is switched off;
    rate limits are honoured through the retry policy instead."""
    from github import Auth, Github

    return Github(
        base_url=repo.api_url,
        auth=Auth.Token(token),
        retry=_bounded_retry(max_wait),
        # One number for connecting and reading (PyGithub takes no pair): long enough for a
        # slow API answer; a refused or unresolvable address fails at once anyway.
        timeout=TIMEOUT,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


# What a connection failure's text says, in plain words (first match wins).
_NETWORK_CAUSES = (
    (("NameResolutionError", "Name or service not known", "nodename nor servname",
      "Temporary failure in name resolution", "getaddrinfo failed", "No address associated"),
     "the host name does not resolve"),
    (("Connection refused", "Errno 111", "ConnectionRefusedError"), "connection refused"),
    (("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"),
     "its TLS certificate is not trusted"),
    (("SSLError", "SSL:", "TLS"), "the TLS handshake failed"),
    (("ConnectTimeout", "timed out", "Read timed out"), "it did not answer in time"),
    (("No route to host", "Network is unreachable"), "the network cannot reach it"),
)  # fmt: skip


def network_cause(error: BaseException) -> str:
    """Why a connection failed, in plain words (not a urllib3 repr)."""
    texts = []
    seen: BaseException | None = error
    while seen is not None and len(texts) < 8:
        texts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    text = " ".join(texts)
    for markers, words in _NETWORK_CAUSES:
        if any(marker in text for marker in markers):
            return words
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def error_message(error: Exception) -> str:
    """GitHub's own words for a failed call (REST ``message``/``errors`` or GraphQL ``errors``)."""
    data = getattr(error, "data", None)
    if not isinstance(data, dict):
        return str(getattr(error, "message", None) or error)
    parts: list[str] = []
    if isinstance(data.get("message"), str):
        parts.append(data["message"])
    for item in data.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            parts.append(item["message"])
        elif isinstance(item, dict) and item.get("field"):
            parts.append(f"{item.get('field')} {item.get('code', 'invalid')}")
        elif isinstance(item, str):
            parts.append(item)
    return ": ".join(parts) if parts else str(error)


def status_of(error: Exception) -> int | None:
    """The HTTP status of a PyGithub error, or None."""
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None


def explain(
    error: Exception,
    action: str,
    repo: GitHubRepo,
    *,
    permission: str = "contents: write",
    not_found: str | None = None,
) -> BumperError:
    """One actionable line for a failed API call made while ``action`` (e.g. "creating the
    pull request"). ``permission`` is what the call needs; ``not_found`` replaces the
    generic repository-not-found message (e.g. "branch 'main' not found in acme/x")."""
    if isinstance(error, BumperError):
        return error
    status, text = status_of(error), error_message(error)
    lowered = text.lower()
    if status is None:
        return BumperError(
            f"cannot reach GitHub at {repo.api_url} while {action}: {network_cause(error)}"
        )
    if status == 401:
        return BumperError(
            f"GitHub rejected the token (401 {text}) while {action}: "
            "check --token, GITHUB_TOKEN or BUMPER_TOKEN"
        )
    if "not permitted to create or approve pull requests" in lowered:
        return BumperError(
            f"GitHub Actions is not permitted to create pull requests in {repo.slug}: "
            f"enable {ACTIONS_PR_SETTING}, or use a personal access token or GitHub App token"
        )
    if "resource not accessible" in lowered:
        return BumperError(
            f"{text} while {action} in {repo.slug}: the token needs '{permission}' "
            f"permission (in a workflow: permissions: {permission})"
        )
    if "protected branch" in lowered:
        return BumperError(
            f"{text} ({repo.slug}): the branch does not accept direct pushes; "
            "use pull-request mode (--pull-request)"
        )
    if "rate limit" in lowered:
        return BumperError(f"GitHub rate limit exceeded while {action}: {text}")
    if status == 404:
        return BumperError(
            not_found
            or f"repository {repo.slug} not found on {repo.server_url}, or the token cannot see it"
        )
    if status == 403:
        return BumperError(f"GitHub refused {action} in {repo.slug} (403): {text}")
    return BumperError(f"GitHub API error {status} while {action} in {repo.slug}: {text}")


@contextmanager
def api_errors(
    action: str,
    repo: GitHubRepo,
    *,
    permission: str = "contents: write",
    not_found: str | None = None,
) -> Iterator[None]:
    """Turn PyGithub and connection errors inside the block into one BumperError line."""
    from github import GithubException
    from requests import RequestException

    try:
        yield
    except (GithubException, RequestException) as error:
        raise explain(error, action, repo, permission=permission, not_found=not_found) from None


def is_not_fast_forward(error: Exception) -> bool:
    """True for GitHub's 422 answers when a ref moved under us (retry after re-reading)."""
    text = error_message(error).lower()
    return status_of(error) == 422 and (
        "not a fast forward" in text or "reference already exists" in text
    )


def github_location(
    request: DeliveryRequest, env: Mapping[str, str], *, need_branch: bool
) -> tuple[GitHubRepo, str | None]:
    """The GitHub repository a request is for (``--repo``, else the checkout's remote)
    and, for a checkout with ``need_branch``, the branch its upstream names."""
    if request.repo is not None:
        return github_repo(request.repo, env), request.branch
    root = checkout_root(".", env)
    git = Git(root, git_env(env))
    if need_branch:
        remote, branch = checkout_target(git, request.branch)
    else:
        remotes = git.remotes()
        remote = "origin" if "origin" in remotes else (remotes[0] if len(remotes) == 1 else "")
        if not remote:
            raise BumperError("the checkout has no single GitHub remote; pass --repo OWNER/NAME")
        branch = request.branch
    return github_repo(git.remote_url(remote), env), branch
