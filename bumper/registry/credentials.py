"""What to log in to a registry with.

In order: credentials given explicitly for that registry (``--username`` /
``--password-stdin``), then the Docker config (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``: a ``credHelpers`` entry for the host, else ``credsStore``, else
the inline ``auths`` entry), then ``GITHUB_TOKEN`` for ghcr.io inside GitHub Actions.
Nothing found means anonymous access. Secrets never appear in reprs or messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.edit.reference import DEFAULT_DOMAIN
from bumper.registry.endpoint import normalize_host

log = logging.getLogger("bumper.registry")

# The key ``docker login`` uses for Docker Hub, and the other spellings of that host.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
HELPER_TIMEOUT = 10.0


@dataclass(frozen=True)
class Login:
    """A username and secret for one registry; ``source`` says where they came from.

    ``identity_token``: the secret is an OAuth refresh token (Docker's ``identitytoken``,
    or a helper answering with the username ``<token>``), exchanged at the token realm.
    """

    username: str
    secret: str = field(repr=False)
    source: str
    identity_token: bool = False


def _same_registry(key: str, domain: str) -> bool:
    host, wanted = normalize_host(key), normalize_host(domain)
    if wanted in _HUB_HOSTS:
        return host in _HUB_HOSTS
    return host == wanted


class Credentials:
    """Finds the login for each registry once (thread-safe; helpers run at most once per
    registry). ``explicit`` maps a registry host to (username, password)."""

    def __init__(
        self,
        explicit: Mapping[str, tuple[str, str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._explicit = {normalize_host(k): v for k, v in (explicit or {}).items()}
        self._env = os.environ if env is None else env
        self._cache: dict[str, Login | None] = {}
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Credentials(explicit={sorted(self._explicit)})"

    def for_registry(self, domain: str) -> Login | None:
        """The login for ``domain`` (as references name it: ``docker.io``, ``ghcr.io``)."""
        with self._lock:
            if domain not in self._cache:
                self._cache[domain] = self._find(domain)
            return self._cache[domain]

    def _find(self, domain: str) -> Login | None:
        for host, (username, password) in self._explicit.items():
            if _same_registry(host, domain):
                return Login(username, password, "--username")
        found = self._from_docker_config(domain)
        if found is not None:
            return found
        token = self._env.get("GITHUB_TOKEN")
        if domain == "ghcr.io" and self._env.get("GITHUB_ACTIONS") == "true" and token:
            actor = self._env.get("GITHUB_ACTOR") or "github-actions"
            return Login(actor, token, "GITHUB_TOKEN")
        return None

    def config_path(self) -> Path:
        """The Docker config file that is read (it may not exist)."""
        folder = self._env.get("DOCKER_CONFIG")
        base = Path(folder) if folder else Path.home() / ".docker"
        return base / "config.json"

    def _load_config(self) -> dict[str, Any]:
        if self._config is None:
            path = self.config_path()
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self._config = loaded if isinstance(loaded, dict) else {}
            except FileNotFoundError:
                self._config = {}
            except (OSError, ValueError) as error:
                log.warning("ignoring %s: %s", path, error)
                self._config = {}
        return self._config

    def _from_docker_config(self, domain: str) -> Login | None:
        config = self._load_config()
        auths = config.get("auths") if isinstance(config.get("auths"), dict) else {}
        helpers = config.get("credHelpers") if isinstance(config.get("credHelpers"), dict) else {}
        server = DOCKER_HUB_KEY if domain == DEFAULT_DOMAIN else domain
        for key, helper in helpers.items():
            if _same_registry(key, domain) and isinstance(helper, str):
                return self._from_helper(helper, key)
        store = config.get("credsStore")
        auth_key = next((k for k in auths if _same_registry(k, domain)), None)
        if isinstance(store, str) and store:
            found = self._from_helper(store, auth_key or server)
            if found is not None:
                return found
        if auth_key is not None and isinstance(auths[auth_key], dict):
            return _inline_login(auths[auth_key], self.config_path())
        return None

    def _from_helper(self, helper: str, server: str) -> Login | None:
        program = f"docker-credential-{helper}"
        try:
            done = subprocess.run(
                [program, "get"],
                input=server,
                capture_output=True,
                text=True,
                timeout=HELPER_TIMEOUT,
                env=dict(self._env),
            )
        except FileNotFoundError:
            log.warning(
                "credential helper %s is not installed; trying %s anonymously", program, server
            )
            return None
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("credential helper %s failed (%s); trying anonymously", program, error)
            return None
        if done.returncode != 0:
            # "credentials not found in native keychain" is the protocol's normal miss.
            if "not found" not in (done.stdout + done.stderr).lower():
                log.warning(
                    "credential helper %s failed: %s", program, (done.stderr or done.stdout).strip()
                )
            return None
        try:
            answer = json.loads(done.stdout)
            username, secret = str(answer["Username"]), str(answer["Secret"])
        except (ValueError, KeyError, TypeError):
            log.warning("credential helper %s gave an answer that is not its JSON", program)
            return None
        if username == "<token>":
            return Login("<token>", secret, program, identity_token=True)
        return Login(username, secret, program)


def _inline_login(entry: Mapping[str, Any], path: Path) -> Login | None:
    """An ``auths`` entry: ``auth`` (base64 user:password), ``username``/``password``, or
    an ``identitytoken``."""
    source = str(path)
    if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
        return Login("<token>", entry["identitytoken"], source, identity_token=True)
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            username, sep, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("ignoring an auth entry in %s that is not base64 user:password", source)
            return None
        if sep:
            return Login(username, password, source)
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username:
        return Login(username, password, source)
    return None
