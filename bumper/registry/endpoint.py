"""Where a repository is served: API host, scheme and repository path.

Docker's rules: ``docker.io`` (and ``index.docker.io``) is served by
``registry-1.docker.io`` and one-component names live under ``library/``; plain HTTP only
for loopback registries (127.0.0.0/8, ::1, ``localhost``) and hosts the user declares
insecure, HTTPS everywhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from bumper.edit.reference import DEFAULT_DOMAIN, split_domain

DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Endpoint:
    """One registry as the client talks to it.

    ``domain`` is the registry as references name it (``docker.io``, ``ghcr.io``,
    ``127.0.0.1:5000``); ``host`` is where its API answers; ``scheme`` is http or https.
    """

    domain: str
    host: str
    scheme: str

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"


def host_without_port(host: str) -> str:
    """``127.0.0.1:5000`` → ``127.0.0.1``; ``[::1]:5000`` → ``::1``."""
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, with or without a port."""
    name = host_without_port(host).lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_host(text: str) -> str:
    """A registry host as users write it (``https://ghcr.io/``, ``GHCR.IO``) → ``ghcr.io``."""
    host = text.strip()
    for prefix in ("https://", "http://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix) :]
    return host.split("/", 1)[0].lower()


def endpoint_for(domain: str, insecure: Iterable[str] = ()) -> Endpoint:
    """The endpoint serving references under ``domain``."""
    host = DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain
    plain = is_loopback(domain) or normalize_host(domain) in {normalize_host(h) for h in insecure}
    return Endpoint(domain, host, "http" if plain else "https")


def locate(name: str, insecure: Iterable[str] = ()) -> tuple[Endpoint, str]:
    """The endpoint and the repository path of an image name (``nginx`` → Docker Hub,
    ``library/nginx``)."""
    domain, path = split_domain(name)
    return endpoint_for(domain, insecure), path
