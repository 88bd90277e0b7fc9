"""Real Docker parts for the build tests: the engine, the plain registry on 127.0.0.1:5000,
a second registry with htpasswd auth started here, and helpers reading the registry API.
Import the ``*_fixture`` names into a test module to use the fixtures.

`bash .ci/services` starts the engine and the plain registry and imports the base image.
When they are missing the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REGISTRY = "127.0.0.1:5000"
BASE_IMAGE = "bumper-test/busybox:latest"
REGISTRY_BINARY = "/usr/bin/docker-registry"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def missing(reason: str) -> None:
    """Skip, or fail under CI=true: CI must never pass by skipping the real engine."""
    hint = f"{reason} (run `bash .ci/services` as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(hint, pytrace=False)
    pytest.skip(hint)


@dataclass(frozen=True)
class Registry:
    """A registry on 127.0.0.1, read over the distribution (v2) HTTP API."""

    host: str
    username: str | None = None
    password: str | None = None

    def _get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://{self.host}{path}", method=method)
        request.add_header("Accept", MANIFEST_TYPES)
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def manifest_digest(self, name: str, tag: str) -> str | None:
        """The tag's manifest digest: the registry's header, checked against the body's hash."""
        status, headers, body = self._get(f"/v2/{name}/manifests/{tag}")
        if status == 404:
            return None
        assert status == 200, (status, body)
        digest = headers["Docker-Content-Digest"]
        assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
        return digest

    def manifest(self, name: str, reference: str) -> dict[str, Any]:
        status, _, body = self._get(f"/v2/{name}/manifests/{reference}")
        assert status == 200, (status, body)
        return json.loads(body)

    def config(self, name: str, tag: str) -> dict[str, Any]:
        """The image config (labels, env …) of ``name:tag``, read from its blob."""
        digest = self.manifest(name, tag)["config"]["digest"]
        status, _, body = self._get(f"/v2/{name}/blobs/{digest}")
        assert status == 200, (status, body)
        return json.loads(body)

    def tags(self, name: str) -> list[str]:
        status, _, body = self._get(f"/v2/{name}/tags/list")
        if status == 404:
            return []
        assert status == 200, (status, body)
        return json.loads(body)["tags"] or []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture(scope="session", name="docker_client")
def docker_client_fixture() -> Iterator[Any]:
    """A low-level client to the real engine, with the local base image present."""
    import docker
    from docker.utils import kwargs_from_env

    try:
        client = docker.APIClient(version="auto", **kwargs_from_env())
        client.ping()
    except docker.errors.DockerException as error:
        missing(f"no Docker engine: {error}")
    try:
        client.inspect_image(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        missing(f"base image {BASE_IMAGE} is missing")
    yield client
    client.close()


@pytest.fixture(scope="session", name="registry")
def registry_fixture(docker_client: Any) -> Registry:
    """The plain registry `.ci/services` runs on 127.0.0.1:5000."""
    if _answers(REGISTRY) != 200:
        missing(f"no registry on {REGISTRY}")
    return Registry(REGISTRY)


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for htpasswd (the only scheme the registry accepts), via libcrypt."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2y$", 5, None, 0)
    hashed = lib.crypt(password.encode(), salt)
    assert hashed and hashed.startswith(b"$2y$"), "libcrypt has no bcrypt"
    return hashed.decode()


@pytest.fixture(scope="session", name="auth_registry")
def auth_registry_fixture(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """A second registry, on a free 127.0.0.1 port, that wants htpasswd basic auth.

    Plain HTTP is enough: the engine treats 127.0.0.0/8 as an insecure registry.
    """
    if not Path(REGISTRY_BINARY).is_file():
        missing(f"{REGISTRY_BINARY} is not installed")
    root = tmp_path_factory.mktemp("auth-registry")
    username, password = "bumper-ci", "pw-" + uuid.uuid4().hex[:12]
    (root / "htpasswd").write_text(f"{username}:{bcrypt_hash(password)}\n")
    host = f"127.0.0.1:{free_port()}"
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        f"http:\n  addr: {host}\n"
        f"auth:\n  htpasswd:\n    realm: bumper-test\n    path: {root / 'htpasswd'}\n"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(root / "config.yml")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 15
        while _answers(host) != 401:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"auth registry did not start: {(root / 'registry.log').read_text()}")
            time.sleep(0.1)
        yield Registry(host, username, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(name="docker_config")
def docker_config_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty docker config dir, so no test reads the developer's ~/.docker credentials."""
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("BUMPER_USERNAME", raising=False)
    monkeypatch.delenv("BUMPER_PASSWORD", raising=False)
    return config


def unique_repo(prefix: str = "bumper-test") -> str:
    """A repository name no other test (or earlier run) has pushed to."""
    return f"{prefix}/app-{uuid.uuid4().hex[:10]}"


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity and no user config."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    assert shutil.which("git"), "git is required"
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def run_image(client: Any, image: str, *command: str) -> str:
    """Run a command in a container of ``image`` and return its output."""
    container = client.create_container(image, list(command), network_disabled=True)
    try:
        client.start(container)
        assert client.wait(container, timeout=60)["StatusCode"] == 0
        return client.logs(container).decode()
    finally:
        client.remove_container(container, force=True)
