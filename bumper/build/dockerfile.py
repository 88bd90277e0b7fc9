"""Spot Dockerfile syntax only BuildKit understands, before the legacy builder trips on it
(used only when the machine has no BuildKit builder, or DOCKER_BUILDKIT=0 asks for none)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bumper.errors import BumperError

# Flags the classic builder rejects (or, worse, ignores) on these instructions.
_BUILDKIT_FLAGS = {
    "RUN": {"mount", "network", "security"},
    "COPY": {"link", "chmod", "parents", "exclude"},
    "ADD": {"link", "chmod", "checksum", "keep-git-dir", "exclude"},
}
# `<<EOF`, `<<-EOF`, `<<"EOF"`; not the shell's here-string `<<<`.
_HEREDOC = re.compile(r"(?<!<)<<-?\s*([\"']?)[A-Za-z_][A-Za-z0-9_]*\1(?![<\w])")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_FLAG = re.compile(r"--([a-z][a-z-]*)(?:=\S*)?")

ADVICE = (
    "install the docker buildx plugin (or point --docker-cli at a docker CLI that drives the "
    "engine's BuildKit), or build with docker/build-push-action and hand bumper the pushed "
    "image: bumper set-image NAME:TAG@DIGEST"
)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, instruction text)`` with continuations joined."""
    escape = "\\"
    in_directives = True
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if in_directives:
            directive = _DIRECTIVE.match(stripped)
            if directive and directive.group(1).lower() == "escape":
                escape = directive.group(2)
                continue
            if not directive:
                in_directives = False
        if stripped.startswith("#") or (not stripped and not buffer):
            continue
        if not buffer:
            start = number
        if stripped.endswith(escape):
            buffer.append(stripped[: -len(escape)])
            continue
        buffer.append(stripped)
        yield start, " ".join(buffer)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def buildkit_features(text: str) -> list[tuple[int, str]]:
    """Return ``(line, description)`` for each BuildKit-only construct in a Dockerfile."""
    found: list[tuple[int, str]] = []
    for number, line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction not in _BUILDKIT_FLAGS:
            continue
        for word in rest.split():
            flag = _FLAG.fullmatch(word)
            if not flag:
                break
            if flag.group(1) in _BUILDKIT_FLAGS[instruction]:
                found.append((number, f"{instruction} --{flag.group(1)}"))
        if _HEREDOC.search(rest):
            found.append((number, f"{instruction} with a heredoc"))
    return found


def check_classic_builder(path: Path, reason: str) -> None:
    """Raise BumperError at the first construct in ``path`` that needs BuildKit; ``reason``
    says why the legacy builder is the one used."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise BumperError(f"cannot read Dockerfile {path}: {exc.strerror}") from exc
    features = buildkit_features(text)
    if features:
        line, what = features[0]
        raise BumperError(
            f"this Dockerfile needs BuildKit ({what}), but the build runs on the docker SDK's "
            f"legacy builder ({reason}); {ADVICE}",
            f"{path}:{line}",
        )
