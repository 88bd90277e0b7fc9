"""Real registries for the registry-client tests, and the parts around them.

- ``docker-registry`` (Distribution 2.8, /usr/bin/docker-registry) in three setups on free
  127.0.0.1 ports: open, htpasswd Basic auth, and token auth whose realm is the
  ``TokenIssuer`` below (it signs RS256 JWTs with a key and self-signed certificate made
  for the run; the registry verifies them against that certificate).
- ``Pusher``: puts content in through the HTTP API (blob upload, manifest PUT): images,
  multi-platform OCI indexes and Docker manifest lists, hundreds of tags.
- ``FaultProxy``: an HTTP proxy in front of a registry that adds latency, answers
  429/5xx, drops headers, adds rate-limit headers, and pages tag lists the way ECR,
  Quay or Docker Hub do (Distribution 2.8 itself ignores ``n`` and ``last``).

Import the ``*_fixture`` names into a test module to use them. Without the registry
binary the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.docker_fixtures import REGISTRY_BINARY, bcrypt_hash, free_port, missing

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
SERVICE = "bumper-test-registry"
ISSUER = "bumper-test-issuer"

PUSHER = ("pusher", "push-" + uuid.uuid4().hex[:10])
READER = ("reader", "read-" + uuid.uuid4().hex[:10])
# An OAuth refresh token (Docker's "identitytoken") the issuer exchanges for READER.
IDENTITY_TOKEN = "idtok-" + uuid.uuid4().hex


def unique_name(prefix: str = "bumper-reg") -> str:
    """A repository no other test (or earlier run) has used."""
    return f"{prefix}/app-{uuid.uuid4().hex[:10]}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the token issuer ------------------------------------------------------------------


def _make_key_and_cert(folder: Path) -> tuple[Any, bytes]:
    """An RSA key and a self-signed certificate for it (the registry's rootcertbundle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "token.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER)


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops the SYNs of a client opening 16 connections at once,
    # and each dropped one costs a second: real registries queue far more.
    request_queue_size = 128
    daemon_threads = True


class _LocalServer:
    """An HTTP server on 127.0.0.1, in a daemon thread, that hands every request to
    ``_handle``."""

    server: ThreadingHTTPServer

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _serve(self, methods: tuple[str, ...], *, keep_alive: bool = False) -> int:
        """Start serving ``methods``; the port."""
        owner = self
        attributes: dict[str, Any] = {"log_message": lambda _handler, *_: None}
        for method in methods:
            attributes[f"do_{method}"] = lambda handler: owner._handle(handler)
        if keep_alive:
            attributes["protocol_version"] = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm
            # and delayed ACKs add ~40 ms to every answer on a kept-alive connection.
            attributes["disable_nagle_algorithm"] = True
        handler = type("Handler", (BaseHTTPRequestHandler,), attributes)
        self.server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TokenIssuer(_LocalServer):
    """The realm of the token-auth registry: Basic credentials in, RS256 JWT out.

    ``pusher`` may pull and push everything, ``reader`` (also reached by POSTing
    ``IDENTITY_TOKEN`` as a refresh token) may pull everything, anonymous
    callers may pull repositories under ``public/``; anything else gets a token without
    access (the registry then refuses the request). ``answer`` chooses the field the
    token is sent in (``token``, ``access_token`` or both); ``requests`` records
    ``(user, scope)`` of every token handed out.
    """

    def __init__(self, folder: Path) -> None:
        self.key, self._cert_der = _make_key_and_cert(folder)
        self.cert_path = folder / "token.crt"
        self.answer = "token"
        self.requests: list[tuple[str | None, str]] = []
        self._lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self._serve(('GET', 'POST'))}/token"

    def count(self, scope: str) -> int:
        with self._lock:
            return sum(1 for _, s in self.requests if s == scope)

    def _user(self, header: str | None) -> str | bool | None:
        """The authenticated user, None for anonymous, False for bad credentials."""
        if not header:
            return None
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if (user, password) in (PUSHER, READER) else False

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        user = self._user(handler.headers.get("Authorization"))
        if handler.command == "POST":
            # Docker's OAuth flow: a refresh token in a form instead of Basic credentials.
            length = int(handler.headers.get("Content-Length") or 0)
            query = urllib.parse.parse_qs(handler.rfile.read(length).decode())
            refresh = query.get("refresh_token", [""])[0]
            grant = query.get("grant_type", [""])[0]
            user = READER[0] if (grant, refresh) == ("refresh_token", IDENTITY_TOKEN) else False
        if user is False:
            body = b'{"details":"invalid credentials"}'
            handler.send_response(401)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            with self._lock:
                self.requests.append((user or None, scope))
            wanted = actions.split(",")
            if user == PUSHER[0]:
                granted = wanted
            elif user == READER[0] or (user is None and name.startswith("public/")):
                granted = [a for a in wanted if a == "pull"]
            else:
                granted = []
            access.append({"type": kind, "name": name, "actions": granted})
        token = self.sign(user or "", access, query.get("service", [""])[0])
        fields: dict[str, Any] = {"expires_in": 300}
        if self.answer in ("token", "both"):
            fields["token"] = token
        if self.answer in ("access_token", "both"):
            fields["access_token"] = token
        body = json.dumps(fields).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def sign(self, subject: str, access: list[dict[str, Any]], audience: str = SERVICE) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": audience,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers = {"x5c": [base64.b64encode(self._cert_der).decode()]}
        return jwt.encode(claims, self.key, algorithm="RS256", headers=headers)


# -- registries ------------------------------------------------------------------------


def _answers(host: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class RunningRegistry:
    """A registry process and how to write to it."""

    host: str
    auth: str  # open, basic, token
    issuer: TokenIssuer | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pusher(self) -> Pusher:
        return Pusher(self.host, self.auth, self.issuer)


def start_registry(folder: Path, auth: str, issuer: TokenIssuer | None = None) -> RunningRegistry:
    """Start ``docker-registry serve`` on a free port with the given auth setup."""
    if not Path(REGISTRY_BINARY).is_file():
        missing(f"{REGISTRY_BINARY} is not installed")
    host = f"127.0.0.1:{free_port()}"
    config = [
        "version: 0.1",
        "log:\n  level: error",
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'storage'}",
        f"http:\n  addr: {host}",
    ]
    if auth == "basic":
        (folder / "htpasswd").write_text(
            "".join(f"{user}:{bcrypt_hash(password)}\n" for user, password in (PUSHER, READER))
        )
        config.append(
            f"auth:\n  htpasswd:\n    realm: bumper-test\n    path: {folder / 'htpasswd'}"
        )
    elif auth == "token":
        assert issuer is not None
        config.append(
            "auth:\n  token:\n"
            f"    realm: {issuer.url}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {issuer.cert_path}"
        )
    (folder / "config.yml").write_text("\n".join(config) + "\n")
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(folder / "config.yml")], stdout=log, stderr=log
    )
    log.close()
    expected = 200 if auth == "open" else 401
    deadline = time.monotonic() + 15
    while _answers(host) != expected:
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()
            pytest.fail(f"{auth} registry did not start: {(folder / 'registry.log').read_text()}")
        time.sleep(0.05)
    return RunningRegistry(host, auth, issuer, process)


def stop_registry(registry: RunningRegistry) -> None:
    if registry.process is not None:
        registry.process.terminate()
        registry.process.wait(timeout=10)


@pytest.fixture(scope="session", name="token_issuer")
def token_issuer_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenIssuer]:
    issuer = TokenIssuer(tmp_path_factory.mktemp("token-issuer"))
    yield issuer
    issuer.close()


def _registry(
    tmp_path_factory: pytest.TempPathFactory, auth: str, issuer: TokenIssuer | None = None
) -> Iterator[RunningRegistry]:
    registry = start_registry(tmp_path_factory.mktemp(f"{auth}-registry"), auth, issuer)
    try:
        yield registry
    finally:
        stop_registry(registry)


@pytest.fixture(scope="session", name="open_registry")
def open_registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A registry anyone may read and write."""
    yield from _registry(tmp_path_factory, "open")


@pytest.fixture(scope="session", name="basic_registry")
def basic_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """A registry behind htpasswd Basic auth (users PUSHER and READER)."""
    yield from _registry(tmp_path_factory, "basic")


@pytest.fixture(scope="session", name="token_registry")
def token_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory, token_issuer: TokenIssuer
) -> Iterator[RunningRegistry]:
    """A registry with ``auth: token`` whose realm is ``token_issuer``."""
    yield from _registry(tmp_path_factory, "token", token_issuer)


# -- pushing content -------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """What a push produced: the manifest's digest, bytes and media type."""

    digest: str
    body: bytes
    media_type: str
    children: tuple[str, ...] = ()


class Pusher:
    """Writes to a registry through its HTTP API, as the user PUSHER."""

    def __init__(self, host: str, auth: str, issuer: TokenIssuer | None) -> None:
        self.host = host
        self.auth = auth
        self.issuer = issuer

    def _authorization(self, name: str) -> dict[str, str]:
        if self.auth == "basic":
            pair = base64.b64encode(f"{PUSHER[0]}:{PUSHER[1]}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if self.auth == "token":
            assert self.issuer is not None
            access = [{"type": "repository", "name": name, "actions": ["pull", "push"]}]
            return {"Authorization": f"Bearer {self.issuer.sign(PUSHER[0], access)}"}
        return {}

    def _call(
        self, method: str, url: str, name: str, data: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        if not url.startswith("http"):
            url = f"http://{self.host}{url}"
        request = urllib.request.Request(
            url, data=data, method=method, headers={**headers, **self._authorization(name)}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def blob(self, name: str, data: bytes) -> str:
        digest = digest_of(data)
        status, headers, body = self._call("POST", f"/v2/{name}/blobs/uploads/", name)
        assert status == 202, (status, body)
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        status, _, body = self._call(
            "PUT",
            f"{location}{separator}digest={digest}",
            name,
            data,
            **{"Content-Type": "application/octet-stream"},
        )
        assert status == 201, (status, body)
        return digest

    def manifest(self, name: str, reference: str, body: bytes, media_type: str) -> str:
        status, headers, answer = self._call(
            "PUT", f"/v2/{name}/manifests/{reference}", name, body, **{"Content-Type": media_type}
        )
        assert status == 201, (status, answer)
        assert headers["Docker-Content-Digest"] == digest_of(body)
        return digest_of(body)

    def image(
        self, name: str, tag: str | None = None, *, arch: str = "amd64", docker: bool = False
    ) -> Pushed:
        """A one-layer image (config + layer blob + manifest), tagged ``tag`` if given."""
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Labels": {"bumper.test": uuid.uuid4().hex}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
        layer = uuid.uuid4().bytes * 8
        media = DOCKER_MANIFEST if docker else OCI_MANIFEST
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media,
                "config": {
                    "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                    "digest": self.blob(name, config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                        "digest": self.blob(name, layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        digest = self.manifest(name, tag or digest_of(body), body, media)
        return Pushed(digest, body, media)

    def index(
        self,
        name: str,
        tag: str,
        arches: tuple[str, ...] = ("amd64", "arm64"),
        docker: bool = False,
    ) -> Pushed:
        """A multi-platform image: one manifest per architecture, then the index/list."""
        children = [self.image(name, arch=arch, docker=docker) for arch in arches]
        media = DOCKER_LIST if docker else OCI_INDEX
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media,
                "manifests": [
                    {
                        "mediaType": child.media_type,
                        "digest": child.digest,
                        "size": len(child.body),
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for child, arch in zip(children, arches, strict=True)
                ],
            }
        ).encode()
        digest = self.manifest(name, tag, body, media)
        return Pushed(digest, body, media, tuple(child.digest for child in children))

    def tags(self, name: str, tags: list[str]) -> dict[str, str]:
        """Push ``tags`` (each its own image); returns tag → digest."""
        if not tags:
            return {}
        base = self.image(name, tags[0])
        result = {tags[0]: base.digest}

        def one(tag: str) -> tuple[str, str]:
            return tag, self.manifest(name, tag, base.body, base.media_type)

        with ThreadPoolExecutor(max_workers=8) as pool:
            result.update(pool.map(one, tags[1:]))
        return result


# -- the fault-injecting proxy ---------------------------------------------------------

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class Fault:
    """Answer ``status`` (with ``headers``) instead of forwarding, ``times`` times, to
    requests whose path matches ``path`` (a regex)."""

    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class FaultProxy(_LocalServer):
    """A plain-HTTP proxy in front of ``upstream`` (host:port) that can misbehave.

    ``latency``: seconds added before each request is forwarded. ``faults``: queued
    answers (see ``Fault``). ``drop_headers`` / ``add_headers``: applied to forwarded
    answers. ``page``: tag lists are served in pages of this size (sorted), with a
    ``Link`` header per ``link``: ``relative``, ``absolute``, ``cross-host`` or ``none``
    (then only ``last=`` finds the next page); ``n`` is honoured below ``page``.
    ``log`` records ``(method, path)``; ``peak`` is the most requests in flight at once;
    ``busy`` is the time spent answering, summed over requests.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.latency = 0.0
        self.faults: list[Fault] = []
        self.drop_headers: set[str] = set()
        self.add_headers: dict[str, str] = {}
        self.page: int | None = None
        self.link = "relative"
        self.log: list[tuple[str, str]] = []
        self.peak = 0
        self.busy = 0.0
        self._flight = 0
        self._lock = threading.Lock()
        self.host = f"127.0.0.1:{self._serve(('GET', 'HEAD'), keep_alive=True)}"

    def requests_to(self, pattern: str) -> int:
        with self._lock:
            return sum(1 for _, path in self.log if re.search(pattern, path))

    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        with self._lock:
            self.log.append((handler.command, handler.path))
            self._flight += 1
            self.peak = max(self.peak, self._flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            fault = self._fault_for(handler.path)
            if fault is not None:
                body = json.dumps({"errors": [{"code": "INJECTED", "message": "fault"}]}).encode()
                self._reply(handler, fault.status, fault.headers, body)
                return
            split = urllib.parse.urlsplit(handler.path)
            if self.page and split.path.endswith("/tags/list") and handler.command == "GET":
                self._paged_tags(handler, split)
                return
            status, headers, body = self._forward(handler.command, handler.path, handler)
            headers = {k: v for k, v in headers.items() if k.lower() not in self.drop_headers}
            self._reply(handler, status, {**headers, **self.add_headers}, body)
        finally:
            with self._lock:
                self._flight -= 1
                self.busy += time.monotonic() - started

    def _forward(
        self, method: str, path: str, handler: BaseHTTPRequestHandler
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=10)
        try:
            headers = {
                k: v
                for k, v in handler.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
            }
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, kept, body
        finally:
            connection.close()

    def _paged_tags(self, handler: BaseHTTPRequestHandler, split: urllib.parse.SplitResult) -> None:
        query = urllib.parse.parse_qs(split.query)
        status, headers, body = self._forward("GET", split.path, handler)
        if status != 200:
            self._reply(handler, status, headers, body)
            return
        document = json.loads(body)
        every = sorted(document.get("tags") or [])
        last = query.get("last", [None])[0]
        if last is not None:
            every = [tag for tag in every if tag > last]
        assert self.page is not None
        size = min(int(query.get("n", [self.page])[0]), self.page)
        page, more = every[:size], len(every) > size
        answer = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        if more and self.link != "none":
            target = f"{split.path}?n={size}&last={urllib.parse.quote(page[-1])}"
            if self.link == "absolute":
                target = f"http://{self.host}{target}"
            elif self.link == "cross-host":
                target = f"http://elsewhere.invalid{target}"
            answer["Link"] = f'<{target}>; rel="next"'
        document["tags"] = page
        self._reply(handler, 200, answer, json.dumps(document).encode())

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                handler.send_header(key, value)
        # A HEAD answer announces the length of the body a GET would get.
        length = headers.get("Content-Length") if handler.command == "HEAD" else None
        handler.send_header("Content-Length", length or str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


@pytest.fixture(name="isolated_docker_config")
def isolated_docker_config_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config folder: no test reads the developer's ~/.docker."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    for name in ("BUMPER_USERNAME", "BUMPER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(name="proxy")
def proxy_fixture(open_registry: RunningRegistry) -> Iterator[FaultProxy]:
    """A fresh fault proxy in front of the open registry."""
    proxy = FaultProxy(open_registry.host)
    yield proxy
    proxy.close()


def write_docker_config(folder: Path, content: dict[str, Any]) -> Path:
    """Write a Docker ``config.json`` in ``folder`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(content))
    return folder


def credential_helper(folder: Path, name: str, answers: dict[str, tuple[str, str]]) -> Path:
    """A ``docker-credential-NAME`` program speaking the helper protocol (``get`` reads
    the server URL on stdin) that knows ``answers``; returns its folder for PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / f"docker-credential-{name}"
    table = json.dumps({k: {"Username": u, "Secret": s} for k, (u, s) in answers.items()})
    program.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"TABLE = json.loads({table!r})\n"
        "if sys.argv[1:] != ['get']:\n"
        "    sys.exit(2)\n"
        "server = sys.stdin.read().strip()\n"
        "if server not in TABLE:\n"
        "    print('credentials not found in native keychain')\n"
        "    sys.exit(1)\n"
        "print(json.dumps({'ServerURL': server, **TABLE[server]}))\n"
    )
    program.chmod(0o755)
    return folder


def with_path(folder: Path) -> str:
    """PATH with ``folder`` first."""
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
