"""A Distribution API v2 client: tags, digests and existence checks, with auth and retries.

Built on ``requests`` (imported on first use, never at ``bumper`` start-up) rather than
urllib3 alone: it honours ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` as CI
runners behind a proxy expect, parses ``Link`` headers, and drops ``Authorization`` on a
redirect to another host (manifests and blobs are often served from a CDN). Each thread
has its own ``Session`` (``requests`` does not promise one is thread-safe), so requests
to different images run in parallel in a bounded pool.

Failures become ``RegistryError`` with a ``status`` (missing, unauthorized, unreachable,
error) and one line naming the registry. Connection failures are not retried (a closed
port or a bad name answers the same a second later); 429 and 5xx are, honouring
``Retry-After`` within a bound, each wait announced on the ``bumper.registry`` logger.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from bumper.edit.reference import Reference, format_reference, parse_reference, valid_digest
from bumper.errors import BumperError
from bumper.registry.auth import DEFAULT_TOKEN_SECONDS, Challenge, TokenCache, pick_challenge
from bumper.registry.credentials import Credentials, Login
from bumper.registry.endpoint import Endpoint, is_loopback, locate, normalize_host

if TYPE_CHECKING:
    import requests

log = logging.getLogger("bumper.registry")

T = TypeVar("T")
R = TypeVar("R")

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 10_000
RATE_LIMIT_WARN = 10

STATUS_OK = "ok"
STATUS_MISSING = "missing"
STATUS_MISMATCH = "mismatch"
STATUS_UNAUTHORIZED = "unauthorized"
STATUS_UNREACHABLE = "unreachable"
STATUS_ERROR = "error"


class RegistryError(BumperError):
    """A registry request that failed; ``status`` classifies it for reports."""

    def __init__(self, message: str, status: str = STATUS_ERROR) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Check:
    """The answer to "does this reference exist?": ``status`` is ok, missing, mismatch,
    unauthorized, unreachable or error; ``digest`` is what the registry serves (when
    known); ``message`` says why it is not ok."""

    reference: str
    status: str
    message: str = ""
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True)
class Settings:
    """How the client behaves on the network (defaults suit CI)."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 3
    max_wait: float = 30.0
    backoff: float = 1.0
    jobs: int = 16
    # Tags asked for per page: ECR's maximum; registries with a lower cap send Link.
    page_size: int = 1000


class RegistryClient:
    """One client per command: it caches logins, tokens and connections across images.

    ``insecure`` lists registry hosts that may be reached over plain HTTP (loopback ones
    always may); ``credentials`` finds logins (default: the Docker config and the
    environment).
    """

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        insecure: Iterable[str] = (),
        settings: Settings | None = None,
    ) -> None:
        self.credentials = credentials if credentials is not None else Credentials()
        self.insecure = tuple(insecure)
        self.settings = settings or Settings()
        self._tokens = TokenCache()
        self._schemes: dict[str, Challenge] = {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._rate_warned: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None

    # -- public API -------------------------------------------------------------------

    def list_tags(self, name: str) -> list[str]:
        """Every tag of repository ``name``: pages are followed through ``Link`` headers
        (relative or absolute, same host only); without one, a full page (as many tags as
        asked for) continues with ``last=``, a shorter one is the end (the spec's rule)."""
        endpoint, path = locate(name, self.insecure)
        size = self.settings.page_size
        url = f"{endpoint.base}/v2/{path}/tags/list?n={size}"
        tags: list[str] = []
        seen: set[str] = set()
        visited: set[str] = set()
        for _ in range(MAX_PAGES):
            visited.add(url)
            response = self._request(endpoint, "GET", url, path)
            if response.status_code == 404:
                raise RegistryError(
                    f"{name}: repository not found in registry {endpoint.domain}"
                    f"{_error_detail(response)}",
                    STATUS_MISSING,
                )
            _raise_for_status(response, endpoint, name)
            page = _tags_of(response, endpoint)
            fresh = [tag for tag in page if tag not in seen]
            seen.update(fresh)
            tags.extend(fresh)
            following = response.links.get("next", {}).get("url")
            if following:
                url = _same_host_link(urljoin(response.url, following), endpoint, name)
            elif fresh and len(page) >= size:
                # A registry that honours n and last but sends no Link (a registry that
                # ignores both sends nothing new on this request, and the listing ends).
                url = f"{endpoint.base}/v2/{path}/tags/list?n={size}&last={quote(page[-1])}"
            else:
                break
            if url in visited:
                break
        return tags

    def digest(self, name: str, reference: str) -> str:
        """The digest the registry serves for ``name:reference`` (a tag or a digest):
        for a multi-platform image, the index's digest."""
        endpoint, path = locate(name, self.insecure)
        url = f"{endpoint.base}/v2/{path}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._request(endpoint, "HEAD", url, path, headers)
        if response.status_code in (405, 501):
            response = self._request(endpoint, "GET", url, path, headers)
        shown = _display(name, reference)
        if response.status_code == 404:
            raise RegistryError(
                f"{shown} does not exist in registry {endpoint.domain}{_error_detail(response)}",
                STATUS_MISSING,
            )
        _raise_for_status(response, endpoint, shown)
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        if valid_digest(digest):
            return digest
        # No (or a malformed) header: the digest is the hash of the manifest bytes.
        if response.request.method == "HEAD":
            response = self._request(endpoint, "GET", url, path, headers)
            _raise_for_status(response, endpoint, shown)
        algorithm = reference.split(":", 1)[0] if valid_digest(reference) else "sha256"
        if algorithm not in ("sha256", "sha384", "sha512"):
            raise RegistryError(f"{shown}: unsupported digest algorithm {algorithm}")
        return f"{algorithm}:{hashlib.new(algorithm, response.content).hexdigest()}"

    def check(self, reference: Reference | str) -> Check:
        """Does the reference exist? ``NAME:TAG``: the tag resolves. ``NAME@DIGEST``: the
        repository holds that manifest. ``NAME:TAG@DIGEST``: the tag resolves to exactly
        that digest (a pin that disagrees with its tag is a typo or drift; status
        ``mismatch``). A reference with neither is checked as ``:latest``, as a runtime
        would pull it."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        shown = str(ref)
        try:
            if ref.digest is None:
                return Check(shown, STATUS_OK, digest=self.digest(ref.name, ref.tag or "latest"))
            if ref.tag is None:
                return Check(shown, STATUS_OK, digest=self.digest(ref.name, ref.digest))
            try:
                current = self.digest(ref.name, ref.tag)
            except RegistryError as error:
                if error.status != STATUS_MISSING:
                    raise
                pinned = self._exists(ref.name, ref.digest)
                detail = "the pinned digest exists" if pinned else "nor does the pinned digest"
                return Check(shown, STATUS_MISSING, f"{error.message}; {detail}")
            if current == ref.digest:
                return Check(shown, STATUS_OK, digest=current)
            pinned = self._exists(ref.name, ref.digest)
            where = "still exists" if pinned else "does not exist in the repository"
            return Check(
                shown,
                STATUS_MISMATCH if pinned else STATUS_MISSING,
                f"tag {ref.tag} points to {current}; the pinned {ref.digest} {where}",
                current,
            )
        except RegistryError as error:
            return Check(shown, error.status, error.message)

    def map(self, func: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[func(item) for item in items]`` on up to ``settings.jobs`` threads (the same
        threads, and so the same kept-alive connections, from one call to the next)."""
        if len(items) <= 1 or self.settings.jobs <= 1:
            return [func(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.jobs, thread_name_prefix="bumper-registry"
                )
            pool = self._pool
        return list(pool.map(func, items))

    def close(self) -> None:
        """Stop the threads and close every connection this client opened."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------

    def _exists(self, name: str, digest: str) -> bool:
        try:
            self.digest(name, digest)
        except RegistryError as error:
            if error.status == STATUS_MISSING:
                return False
            raise
        return True

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = "bumper (+registry client)"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _send(
        self, endpoint: Endpoint, method: str, url: str, headers: Mapping[str, str], **kw: Any
    ) -> requests.Response:
        import requests

        try:
            return self._session().request(
                method,
                url,
                headers=dict(headers),
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=True,
                **kw,
            )
        except requests.exceptions.RequestException as error:
            host = urlsplit(url).netloc
            where = endpoint.domain if host == endpoint.host else f"{endpoint.domain} ({host})"
            raise RegistryError(
                f"registry {where} is unreachable: {network_cause(error, self.settings)}",
                STATUS_UNREACHABLE,
            ) from None

    def _request(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        repository: str,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One API call with auth (answering 401 challenges once) and bounded retries."""
        scope = f"repository:{repository}:pull"
        answered = False
        attempt = 0
        while True:
            sent = {**(headers or {}), **self._auth_header(endpoint, scope)}
            response = self._send(endpoint, method, url, sent)
            self._watch_rate_limit(endpoint, response)
            if response.status_code == 401 and not answered:
                challenge = pick_challenge(response.headers.get("WWW-Authenticate"))
                if challenge is not None:
                    self._answer(endpoint, challenge, scope, refused="Authorization" in sent)
                    answered = True
                    continue
            if response.status_code == 401:
                raise self._refused(endpoint, repository, response)
            if response.status_code in RETRY_STATUSES and attempt < self.settings.retries:
                attempt += 1
                wait = self._retry_wait(endpoint, response, attempt)
                log.warning(
                    "registry %s answered %s %s; retrying in %s s (retry %d of %d)",
                    endpoint.domain,
                    response.status_code,
                    response.reason or "",
                    _seconds(wait),
                    attempt,
                    self.settings.retries,
                )
                time.sleep(wait)
                continue
            return response

    def _refused(
        self, endpoint: Endpoint, repository: str, response: requests.Response
    ) -> RegistryError:
        login = self.credentials.for_registry(endpoint.domain)
        detail = _error_detail(response)
        if login is None:
            return RegistryError(
                f"registry {endpoint.domain} denied anonymous access to {repository}{detail} "
                f"(docker login {endpoint.domain}, or --username/--password-stdin)",
                STATUS_UNAUTHORIZED,
            )
        return RegistryError(
            f"registry {endpoint.domain} refused the credentials from {login.source} "
            f"for {repository}{detail}",
            STATUS_UNAUTHORIZED,
        )

    def _retry_wait(self, endpoint: Endpoint, response: requests.Response, attempt: int) -> float:
        after = retry_after(response.headers.get("Retry-After"))
        if after is None:
            return min(self.settings.backoff * 2 ** (attempt - 1), self.settings.max_wait)
        if after > self.settings.max_wait:
            raise RegistryError(
                f"registry {endpoint.domain} answered {response.status_code} and asks to "
                f"retry after {_seconds(after)} s (bumper waits at most "
                f"{_seconds(self.settings.max_wait)} s); try again later",
                STATUS_ERROR,
            )
        return after

    def _auth_header(self, endpoint: Endpoint, scope: str) -> dict[str, str]:
        challenge = self._schemes.get(endpoint.host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            login = self.credentials.for_registry(endpoint.domain)
            return {"Authorization": _basic(login)} if login is not None else {}
        # A registry that asked for a token once will ask for every repository: get the
        # token for this scope before the request instead of after a 401.
        login = self.credentials.for_registry(endpoint.domain)
        token = self._tokens.fetch(
            endpoint.host, scope, lambda: self._fetch_token(endpoint, challenge, scope, login)
        )
        return {"Authorization": f"Bearer {token}"}

    def _answer(self, endpoint: Endpoint, challenge: Challenge, scope: str, refused: bool) -> None:
        """Get what the challenge asks for, or raise ``unauthorized``."""
        login = self.credentials.for_registry(endpoint.domain)
        self._schemes[endpoint.host] = challenge
        if challenge.scheme == "basic":
            if login is None:
                raise RegistryError(
                    f"registry {endpoint.domain} requires a login "
                    f"(docker login {endpoint.domain}, or --username/--password-stdin)",
                    STATUS_UNAUTHORIZED,
                )
            if refused:
                raise RegistryError(
                    f"registry {endpoint.domain} refused the credentials from {login.source}",
                    STATUS_UNAUTHORIZED,
                )
            return
        if refused:
            self._tokens.forget(endpoint.host, scope)
        wanted = challenge.params.get("scope") or scope
        self._tokens.fetch(
            endpoint.host, scope, lambda: self._fetch_token(endpoint, challenge, wanted, login)
        )

    def _fetch_token(
        self, endpoint: Endpoint, challenge: Challenge, scope: str, login: Login | None
    ) -> tuple[str, int]:
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(
                f"registry {endpoint.domain} named an invalid token realm {realm!r}", STATUS_ERROR
            )
        plain_ok = is_loopback(parts.netloc) or normalize_host(parts.netloc) in {
            normalize_host(h) for h in self.insecure
        }
        if parts.scheme == "http" and login is not None and not plain_ok:
            raise RegistryError(
                f"registry {endpoint.domain}: refusing to send credentials to the plain-HTTP "
                f"token realm {parts.netloc}",
                STATUS_UNAUTHORIZED,
            )
        params: dict[str, str] = {"scope": scope}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        if login is not None and login.identity_token:
            # Docker's OAuth flow for identity tokens (Azure, some self-hosted registries).
            response = self._send(
                endpoint,
                "POST",
                realm,
                {},
                data={
                    **params,
                    "grant_type": "refresh_token",
                    "refresh_token": login.secret,
                    "client_id": "bumper",
                },
            )
        else:
            headers = {"Authorization": _basic(login)} if login is not None else {}
            response = self._send(endpoint, "GET", realm, headers, params=params)
        if response.status_code in (401, 403):
            who = f"the credentials from {login.source}" if login else "anonymous access"
            raise RegistryError(
                f"registry {endpoint.domain}: the token service {parts.netloc} refused {who} "
                f"for {params['scope']}",
                STATUS_UNAUTHORIZED,
            )
        if response.status_code != 200:
            raise RegistryError(
                f"registry {endpoint.domain}: the token service {parts.netloc} answered "
                f"{response.status_code} {response.reason or ''}".rstrip(),
                STATUS_ERROR,
            )
        try:
            answer = response.json()
            token = answer.get("token") or answer.get("access_token")
            seconds = int(answer.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        except (ValueError, AttributeError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(
                f"registry {endpoint.domain}: the token service {parts.netloc} sent no token",
                STATUS_ERROR,
            )
        return token, seconds

    def _watch_rate_limit(self, endpoint: Endpoint, response: requests.Response) -> None:
        remaining = _rate_value(response.headers.get("ratelimit-remaining"))
        if remaining is None or endpoint.host in self._rate_warned:
            return
        limit = _rate_value(response.headers.get("ratelimit-limit"))
        if remaining <= RATE_LIMIT_WARN or (limit and remaining * 10 <= limit):
            self._rate_warned.add(endpoint.host)
            of = f" of {limit}" if limit else ""
            log.warning(
                "registry %s: %d%s pulls left in the rate-limit window (a login raises the limit)",
                endpoint.domain,
                remaining,
                of,
            )


# -- helpers ----------------------------------------------------------------------------


def _basic(login: Login | None) -> str:
    import base64

    assert login is not None
    pair = f"{login.username}:{login.secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _display(name: str, reference: str) -> str:
    if valid_digest(reference):
        return format_reference(name, None, reference)
    return format_reference(name, reference, None)


def _seconds(value: float) -> str:
    return f"{value:g}"


def _rate_value(header: str | None) -> int | None:
    """``76;w=21600`` → 76."""
    if not header:
        return None
    head = header.split(";", 1)[0].strip()
    return int(head) if head.isdigit() else None


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date)."""
    if not header:
        return None
    text = header.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _error_detail(response: requests.Response) -> str:
    """`` (MANIFEST_UNKNOWN: manifest unknown)`` from a Distribution error body."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f" ({first['code']}: {first.get('message', '')})".replace(": )", ")")
    except (ValueError, AttributeError, IndexError, KeyError, TypeError):
        return ""


def _raise_for_status(response: requests.Response, endpoint: Endpoint, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = _error_detail(response)
    if status == 403:
        raise RegistryError(
            f"registry {endpoint.domain} denied access to {what}: 403{detail}",
            STATUS_UNAUTHORIZED,
        )
    raise RegistryError(
        f"registry {endpoint.domain} answered {status} {response.reason or ''} for {what}"
        f"{detail}".replace("  ", " "),
        STATUS_ERROR,
    )


def _tags_of(response: requests.Response, endpoint: Endpoint) -> list[str]:
    try:
        tags = response.json().get("tags") or []
    except (ValueError, AttributeError):
        raise RegistryError(
            f"registry {endpoint.domain} sent a tag list that is not JSON", STATUS_ERROR
        ) from None
    return [tag for tag in tags if isinstance(tag, str)]


def _same_host_link(url: str, endpoint: Endpoint, name: str) -> str:
    parts = urlsplit(url)
    if parts.netloc.lower() != endpoint.host.lower() or parts.scheme != endpoint.scheme:
        raise RegistryError(
            f"registry {endpoint.domain} sent a next-page link for {name} to another host "
            f"({parts.scheme}://{parts.netloc}); refusing to follow it",
            STATUS_ERROR,
        )
    return url


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def network_cause(error: Exception, settings: Settings) -> str:
    """A short cause for a failed connection: connection refused, name not resolved, a
    TLS failure, a timeout."""
    import requests

    if isinstance(error, requests.exceptions.SSLError):
        text = str(error)
        found = re.search(r"certificate verify failed: ([^(')\]]+)", text) or re.search(
            r"SSLError\(\w*\(?[\d, ]*'?([^'\]]+)", text
        )
        return "TLS handshake failed: " + (found.group(1).strip() if found else "see TLS settings")
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"no connection within {_seconds(settings.connect_timeout)} s"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return f"no answer within {_seconds(settings.read_timeout)} s"
    text = str(error)
    found = _ERRNO.search(text)
    if found:
        cause = found.group(1).strip()
        if "Name or service not known" in cause or "not resolve" in text:
            return f"cannot resolve the host name ({cause})"
        return cause[:1].lower() + cause[1:]
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed without an answer"
    return " ".join(text.split())[:200]


# -- one-call helpers for set-image --verify / --pin-digest ----------------------------


def _client(client: RegistryClient | None, insecure: Iterable[str]) -> RegistryClient:
    return client if client is not None else RegistryClient(insecure=insecure)


def resolve_digest(
    name: str,
    tag: str,
    *,
    client: RegistryClient | None = None,
    insecure: Iterable[str] = (),
) -> str:
    """The digest the registry serves for ``name:tag`` (the index digest for a
    multi-platform image). Raises BumperError with one line naming the registry and
    reference when it does not exist or cannot be asked."""
    own = client is None
    active = _client(client, insecure)
    try:
        return active.digest(name, tag)
    finally:
        if own:
            active.close()


def check_exists(
    reference: str | Reference,
    *,
    client: RegistryClient | None = None,
    insecure: Iterable[str] = (),
) -> str:
    """Raise BumperError (one line naming the registry and the reference) unless the
    reference exists as ``RegistryClient.check`` defines it; return its digest."""
    own = client is None
    active = _client(client, insecure)
    try:
        result = active.check(reference)
    finally:
        if own:
            active.close()
    if result.ok:
        assert result.digest is not None
        return result.digest
    raise RegistryError(_check_line(result), result.status)


def _check_line(result: Check) -> str:
    if result.status == STATUS_MISMATCH:
        return f"{result.reference}: {result.message}"
    return result.message or f"{result.reference}: {result.status}"
