"""Image references: parse with the distribution grammar, normalize, format.

The grammar is small enough to own with ``re`` (``docker-image-py`` needs the
``regex`` package, ~0.1 s of start-up for something we call on every scalar).
It follows github.com/distribution/reference: ``[domain/]path[:tag][@digest]``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from bumper.errors import BumperError

NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # ASCII only: \w would admit any letter
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
DOMAIN_RE = re.compile(_DOMAIN)
TAG_RE = re.compile(_TAG)
DIGEST_RE = re.compile(_DIGEST)
_ANCHORED_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_KNOWN_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class ReferenceError(BumperError):
    """An image reference that the distribution grammar does not accept."""


@dataclass(frozen=True)
class Reference:
    """A parsed image reference.

    ``name`` keeps the user's spelling (``nginx``); ``canonical`` is the normalized
    repository (``docker.io/library/nginx``) used for matching.
    """

    name: str
    tag: str | None = None
    digest: str | None = None

    @property
    def canonical(self) -> str:
        return canonical_name(self.name)

    def __str__(self) -> str:
        return format_reference(self.name, self.tag, self.digest)


def format_reference(name: str, tag: str | None, digest: str | None) -> str:
    """Join name, tag and digest as ``name[:tag][@digest]``."""
    text = name
    if tag:
        text += ":" + tag
    if digest:
        text += "@" + digest
    return text


def _check_digest(digest: str) -> str | None:
    algorithm, _, hex_part = digest.partition(":")
    expected = _KNOWN_DIGEST_LENGTHS.get(algorithm)
    if expected is not None and (len(hex_part) != expected or hex_part != hex_part.lower()):
        return f"{algorithm} digest must be {expected} lowercase hex characters"
    return None


def parse_reference(text: str) -> Reference:
    """Parse ``name[:tag][@digest]`` or raise ReferenceError saying why it is invalid."""
    if not text:
        raise ReferenceError("empty image reference")
    if text != text.strip() or any(c.isspace() for c in text):
        raise ReferenceError(f"invalid image reference {text!r}: contains whitespace")
    match = _ANCHORED_REFERENCE.fullmatch(text)
    if match is None:
        raise ReferenceError(f"invalid image reference {text!r}: {_explain(text)}")
    name, tag, digest = match.group("name", "tag", "digest")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(
            f"invalid image reference {text!r}: repository name longer than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest is not None:
        algorithm = digest.partition(":")[0]
        if algorithm not in _KNOWN_DIGEST_LENGTHS:
            known = ", ".join(_KNOWN_DIGEST_LENGTHS)
            raise ReferenceError(
                f"invalid image reference {text!r}: digest algorithm {algorithm!r} is not "
                f"one registries accept ({known})"
            )
        problem = _check_digest(digest)
        if problem:
            raise ReferenceError(f"invalid image reference {text!r}: {problem}")
    return Reference(name=name, tag=tag, digest=digest)


def try_parse_reference(text: str) -> Reference | None:
    """Parse like parse_reference but answer None for anything invalid (manifest values)."""
    match = _ANCHORED_REFERENCE.fullmatch(text)
    if match is None:
        return None
    name, tag, digest = match.group("name", "tag", "digest")
    if len(name) > NAME_TOTAL_LENGTH_MAX or (digest is not None and _check_digest(digest)):
        return None
    return Reference(name=name, tag=tag, digest=digest)


def _explain(text: str) -> str:
    """Find the first rule the text breaks, for an error message a user can act on."""
    rest = text
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not DIGEST_RE.fullmatch(digest):
            return f"digest {digest!r} is not ALGORITHM:HEX (e.g. sha256: and 64 hex characters)"
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not TAG_RE.fullmatch(tag):
            return (
                f"tag {tag!r} must be 1-128 characters of letters, digits, '_', '.', '-', "
                "not starting with '.' or '-'"
            )
    if not rest:
        return "repository name is empty"
    domain, path = split_written_domain(rest)
    if domain is not None and not DOMAIN_RE.fullmatch(domain):
        return f"registry {domain!r} is not a valid host[:port]"
    if path != path.lower():
        return "repository name must be lowercase"
    for component in path.split("/"):
        if not PATH_COMPONENT_RE.fullmatch(component):
            return (
                f"path component {component!r} must be lowercase letters and digits "
                "separated by '.', '_', '__' or '-'"
            )
    return "does not match NAME[:TAG][@DIGEST]"


def split_written_domain(name: str) -> tuple[str | None, str]:
    """Split off the domain exactly as the user wrote it (None when there is none)."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into (domain, path), applying Docker Hub's defaults."""
    domain, path = split_written_domain(name)
    if domain is None:
        domain = DEFAULT_DOMAIN
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


@functools.lru_cache(maxsize=4096)
def canonical_name(name: str) -> str:
    """``nginx`` → ``docker.io/library/nginx``: one spelling per repository."""
    domain, path = split_domain(name)
    return f"{domain}/{path}"


def last_component(name: str) -> str:
    """The final path component: text that every spelling of the repository contains."""
    return name.rsplit("/", 1)[-1]


def valid_digest(digest: str) -> bool:
    """True for ``ALGORITHM:HEX`` that the registry would accept as a digest."""
    return DIGEST_RE.fullmatch(digest) is not None and _check_digest(digest) is None
