"""Image names and tags for a build: splitting, lowercasing, sanitising, ``--tag auto``."""

from __future__ import annotations

import re

from bumper.build.source import SourceContext, version_from_tags
from bumper.errors import BumperError

MAX_TAG_LENGTH = 128

# The distribution grammar, as far as a name we push needs it.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:]+\])(?::\d+)?"
_NAME = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_INVALID_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def split_name(reference: str) -> tuple[str, str | None]:
    """Split ``NAME[:TAG]`` into the lowercased name and the tag (None when absent).

    A ``:`` before the last ``/`` is a registry port, not a tag. Digests are refused: a build
    makes a new digest, it cannot ask for one.
    """
    reference = reference.strip()
    if "@" in reference:
        raise BumperError(f"image {reference!r}: give NAME[:TAG] to build, not a digest")
    name, tag = reference, None
    colon = reference.rfind(":")
    if colon > reference.rfind("/"):
        name, tag = reference[:colon], reference[colon + 1 :]
    name = name.lower()
    if not _NAME.match(name):
        raise BumperError(f"invalid image name {name!r}")
    return name, tag


def sanitize_tag(tag: str) -> str:
    """Make ``tag`` a valid image tag: invalid characters become ``-``, a leading ``.`` or
    ``-`` is dropped, and it is cut to 128 characters. Case is kept (tags are case-sensitive).
    """
    cleaned = _INVALID_TAG_CHARS.sub("-", tag.strip()).lstrip(".-")[:MAX_TAG_LENGTH]
    if not cleaned:
        raise BumperError(f"tag {tag!r} has no valid characters")
    return cleaned


def auto_tag(context: SourceContext) -> str:
    """The tag ``--tag auto`` gives: ``X.Y.Z…`` for a ``vX.Y.Z…`` tag on the commit,
    else ``sha-`` and the commit's first 7 hex digits."""
    version = version_from_tags(context.tags)
    if version:
        return sanitize_tag(version)
    if not context.commit:
        raise BumperError(
            "--tag auto needs a git commit: run inside a git repository or give --tag"
        )
    return f"sha-{context.commit[:7]}"


def resolve_tag(
    reference: str,
    tag_option: str | None,
    context: SourceContext | None,
) -> tuple[str, str]:
    """Work out ``(name, tag)`` from ``NAME[:TAG]`` and ``--tag`` (``auto`` or a tag)."""
    name, ref_tag = split_name(reference)
    if ref_tag is not None and tag_option is not None and ref_tag != tag_option:
        raise BumperError(f"two tags given: {ref_tag!r} in the name and --tag {tag_option!r}")
    wanted = tag_option if tag_option is not None else ref_tag
    if wanted is None:
        raise BumperError(f"no tag for {name}: give {name}:TAG or --tag auto|TAG")
    if wanted == "auto":
        return name, auto_tag(context or SourceContext())
    return name, sanitize_tag(wanted)


def check_mutable_tag(tag: str, *, allow_latest: bool) -> None:
    """Refuse ``latest`` unless allowed: a mutable tag defeats rollbacks."""
    if tag == "latest" and not allow_latest:
        raise BumperError(
            "refusing to push the mutable tag 'latest' (it defeats rollbacks); "
            "use an immutable tag such as --tag auto, or pass --allow-latest"
        )
