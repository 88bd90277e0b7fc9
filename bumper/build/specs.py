"""Build option values written the way ``docker buildx build`` writes them: CSV fields of
``key=value`` (``--secret id=npm,src=.npmrc``, ``--cache-to type=registry,ref=…``).

Parsing is pure: nothing here reads a secret's value except :meth:`BuildSecret.value_in`,
and no message ever contains one.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bumper.errors import BumperError

# Secrets are read for masking and scrubbing only; a bigger file is no token but a bundle.
MAX_SCRUBBED_SECRET = 64 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_ID = re.compile(r"[A-Za-z0-9_.-]+")


def csv_fields(spec: str) -> list[str]:
    """Split ``a=1,"b=x,y"`` as buildx does (Go's encoding/csv: quotes protect commas)."""
    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as exc:
        raise BumperError(
            f"cannot read {spec!r} as comma-separated key=value fields: {exc}"
        ) from exc
    return [item.strip() for item in rows[0] if item.strip()] if rows else []


def key_values(option: str, spec: str) -> dict[str, str]:
    """``type=registry,ref=x`` → ``{"type": "registry", "ref": "x"}``; every field needs ``=``."""
    pairs: dict[str, str] = {}
    for item in csv_fields(spec):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BumperError(f"{option} {spec!r}: expected key=value fields, got {item!r}")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def join_fields(pairs: Mapping[str, str]) -> str:
    """The inverse of :func:`key_values`, quoting a field that holds a comma or a quote."""
    parts = []
    for key, value in pairs.items():
        item = f"{key}={value}"
        parts.append('"' + item.replace('"', '""') + '"' if any(c in item for c in ',"') else item)
    return ",".join(parts)


@dataclass(frozen=True)
class BuildSecret:
    """A build secret, mounted by ``RUN --mount=type=secret,id=ID``; never written to a layer.

    Exactly one source: ``src`` (a file), ``env`` (an environment variable of bumper's
    process) or ``value`` (the text itself, e.g. an Action input; passed to the builder
    through the child's environment, never on a command line).
    """

    id: str
    src: str | None = None
    env: str | None = None
    value: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _SECRET_ID.fullmatch(self.id):
            raise BumperError(f"secret id {self.id!r}: use letters, digits, '_', '.', '-'")
        if sum(x is not None for x in (self.src, self.env, self.value)) != 1:
            raise BumperError(f"secret {self.id!r}: give exactly one of src=FILE or env=NAME")
        if self.env is not None and not _ENV_NAME.fullmatch(self.env):
            raise BumperError(f"secret {self.id!r}: env={self.env!r} is not a variable name")

    def value_in(self, environ: Mapping[str, str]) -> str:
        """The secret's text, checked to exist (for masking and scrubbing; never printed).

        A file larger than 64 KiB is checked for existence only and gives ``""``.
        """
        if self.value is not None:
            return self.value
        if self.env is not None:
            if self.env not in environ:
                raise BumperError(f"secret {self.id!r}: environment variable {self.env} is not set")
            return environ[self.env]
        path = Path(os.path.expanduser(str(self.src)))
        try:
            if path.stat().st_size > MAX_SCRUBBED_SECRET:
                return ""
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BumperError(
                f"secret {self.id!r}: cannot read src={self.src}: {exc.strerror}"
            ) from exc

    def spec(self, env_name: str | None = None) -> str:
        """The ``--secret`` argument for the docker CLI; a ``value`` secret is read from the
        environment variable ``env_name``, which the caller sets in the child's environment."""
        if self.value is not None:
            if env_name is None:
                raise BumperError(f"secret {self.id!r}: its value needs an environment variable")
            return join_fields({"id": self.id, "env": env_name})
        if self.env is not None:
            return join_fields({"id": self.id, "env": self.env})
        source = os.path.abspath(os.path.expanduser(str(self.src)))
        return join_fields({"id": self.id, "src": source})


def parse_secret(spec: str) -> BuildSecret:
    """Parse ``id=ID,src=FILE`` / ``id=ID,env=NAME`` (also ``type=file|env``, ``source=``).

    As in buildx, ``id`` defaults to the file's name or the variable's name, and
    ``type=env`` without ``env=`` reads the variable named by ``id``.
    """
    pairs = key_values("--secret", spec)
    unknown = set(pairs) - {"id", "src", "source", "env", "type"}
    if unknown:
        raise BumperError(f"--secret {spec!r}: unknown field {sorted(unknown)[0]!r}")
    kind = pairs.get("type")
    src = pairs.get("src", pairs.get("source"))
    env = pairs.get("env")
    if kind not in (None, "file", "env"):
        raise BumperError(f"--secret {spec!r}: type must be file or env")
    if kind == "env" and env is None and src is None:
        env = pairs.get("id")
    if kind == "env" and src is not None and env is None:
        env, src = src, None
    if src is None and env is None:
        raise BumperError(f"--secret {spec!r}: give src=FILE or env=NAME")
    if src is not None and env is not None:
        raise BumperError(f"--secret {spec!r}: give src=FILE or env=NAME, not both")
    secret_id = pairs.get("id") or (Path(src).name if src is not None else str(env))
    return BuildSecret(id=secret_id, src=src, env=env)


@dataclass(frozen=True)
class CacheSpec:
    """One ``--cache-from``/``--cache-to`` value: its type and its other fields."""

    type: str
    attrs: Mapping[str, str]
    text: str

    @property
    def ref(self) -> str | None:
        """The image reference of a registry cache."""
        return self.attrs.get("ref")


CACHE_TYPES = ("registry", "local", "gha", "inline", "s3", "azblob")


def parse_cache(option: str, spec: str) -> CacheSpec:
    """Parse a cache value; a bare ``REF`` is ``type=registry,ref=REF``, as in buildx."""
    text = spec.strip()
    if not text:
        raise BumperError(f"{option}: empty value")
    if "=" not in text:
        return CacheSpec("registry", {"ref": text}, text)
    pairs = key_values(option, text)
    kind = pairs.pop("type", None)
    if kind is None:
        raise BumperError(f"{option} {spec!r}: give type=registry|local|gha|inline")
    if kind not in CACHE_TYPES:
        raise BumperError(f"{option} {spec!r}: unknown cache type {kind!r}")
    if option == "--cache-from" and kind == "inline":
        raise BumperError(f"{option} {spec!r}: inline cache is read with type=registry,ref=IMAGE")
    if kind == "registry" and not pairs.get("ref"):
        raise BumperError(f"{option} {spec!r}: type=registry needs ref=IMAGE")
    if kind == "local":
        needed = "src" if option == "--cache-from" else "dest"
        if not pairs.get(needed):
            raise BumperError(f"{option} {spec!r}: type=local needs {needed}=DIR")
    return CacheSpec(kind, pairs, text)


def parse_platforms(value: str | None) -> tuple[str, ...]:
    """``linux/amd64,linux/arm64`` → the platforms, in order, without repeats."""
    if not value:
        return ()
    seen: dict[str, None] = {}
    for item in value.split(","):
        if item.strip():
            seen[item.strip()] = None
    return tuple(seen)


def parse_build_context(spec: str) -> tuple[str, str]:
    """``name=value`` for ``--build-context`` (a folder, ``docker-image://…``, a URL…)."""
    name, sep, value = spec.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise BumperError(f"--build-context {spec!r}: expected NAME=PATH|docker-image://REF|URL")
    return name.strip(), value.strip()
