"""What a build is asked for (``BuildOptions``), what it gives back (``BuildResult``), and
the progress lines it writes: shared by every builder (``engine``: the SDK,
``buildkit``: buildx and the engine's BuildKit) and by the front doors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from bumper.build.specs import BuildSecret


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where to push it; option values are spelled as ``docker buildx
    build`` spells them. ``image`` is a name the reference grammar accepts, ``tag`` the
    primary tag (printed, written into manifests), ``extra_tags`` more tags for the same
    image (one build, one digest)."""

    image: str
    tag: str
    context: str = "."
    dockerfile: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    #: One platform, or several comma-separated (an index; docker buildx only).
    platform: str | None = None
    pull: bool = False
    no_cache: bool = False
    #: ``REF``, ``type=registry,ref=REF``, ``type=local,src=DIR``, ``type=gha[,…]``.
    cache_from: tuple[str, ...] = ()
    #: ``type=inline``, ``type=registry,ref=REF[,mode=max]``, ``type=local,dest=DIR``, ``type=gha``.
    cache_to: tuple[str, ...] = ()
    push: bool = True
    allow_latest: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    extra_tags: tuple[str, ...] = ()
    secrets: tuple[BuildSecret, ...] = ()
    #: ``RUN`` network: ``default``, ``host`` or ``none``.
    network: str | None = None
    #: ``--build-context NAME=PATH|docker-image://REF|URL`` (docker buildx only).
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    #: ``default`` or ``ID=SOCKET|KEY[,KEY]`` for ``RUN --mount=type=ssh``.
    ssh: tuple[str, ...] = ()
    #: ``--provenance`` / ``--sbom`` values (``true``, ``false``, ``mode=max``…; buildx only).
    provenance: str | None = None
    sbom: str | None = None
    #: The docker CLI to run (default: ``docker`` on PATH, and Debian's /usr/bin/docker).
    docker_cli: str | None = None


@dataclass(frozen=True)
class BuildResult:
    """The outcome: ``ref`` is ``NAME:TAG@sha256:…`` when pushed, else ``NAME:TAG``;
    ``tags`` every tag pushed (the primary first); ``builder`` buildx, buildkit or sdk."""

    image: str
    tag: str
    digest: str | None
    image_id: str
    ref: str
    tags: tuple[str, ...]
    builder: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``--output json`` prints."""
        document = asdict(self)
        document["tags"] = list(self.tags)
        return document


class Progress:
    """Readable progress lines; in GitHub Actions each phase is a collapsible group."""

    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._write = write or _stderr_line
        self.actions = (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"

    def line(self, text: str) -> None:
        """Emit one progress line."""
        self._write(text)

    def mask(self, secret: str) -> None:
        """Ask the Actions runner to hide ``secret`` in every later log line."""
        if self.actions and secret:
            self._write(f"::add-mask::{secret}")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """Wrap the lines emitted inside in an Actions group (a plain heading elsewhere)."""
        self._write(f"::group::{title}" if self.actions else f"==> {title}")
        try:
            yield
        finally:
            if self.actions:
                self._write("::endgroup::")


def _stderr_line(text: str) -> None:
    # Progress goes to stderr so stdout carries only the result (the ref or the JSON).
    print(text, file=sys.stderr, flush=True)
