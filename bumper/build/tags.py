"""Image names and tags for a build: the reference grammar, ``--tag auto``, extra tags.

One grammar: a name is checked by :func:`bumper.edit.reference.parse_reference`, the same
rule ``set-image`` applies, so an uppercase name is refused here too, never lowercased.
A tag the user wrote is validated, never rewritten; only tags bumper derives itself
(from git tags) are sanitised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bumper.build.source import SourceContext, version_from_tags
from bumper.edit.reference import TAG_RE, parse_reference
from bumper.errors import BumperError

MAX_TAG_LENGTH = 128

_INVALID_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def split_name(reference: str) -> tuple[str, str | None]:
    """Split ``NAME[:TAG]`` into the name and the tag (None when absent).

    The reference grammar decides (a ``:`` before the last ``/`` is a registry port);
    an invalid reference is refused with the grammar's own message. Digests are refused:
    a build makes a new digest, it cannot ask for one.
    """
    parsed = parse_reference(reference)
    if parsed.digest is not None:
        raise BumperError(f"image {reference!r}: give NAME[:TAG] to build, not a digest")
    return parsed.name, parsed.tag


def lowercase_name(reference: str) -> str:
    """``NAME[:TAG]`` with the name lowercased and the tag kept (tags are case-sensitive).

    For front doors that promise to lowercase (the Action's ``image`` input, like
    docker/metadata-action); ``bumper build`` itself refuses an uppercase name.
    """
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon].lower() + reference[colon:]
    return reference.lower()


def check_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid image tag; otherwise raise one line saying why."""
    if not TAG_RE.fullmatch(tag):
        raise BumperError(
            f"invalid tag {tag!r}: a tag is 1-128 characters of letters, digits, '_', '.', "
            "'-', not starting with '.' or '-'"
        )
    return tag


def sanitize_tag(tag: str) -> str:
    """Make a derived ``tag`` a valid image tag: invalid characters become ``-``, a leading
    ``.`` or ``-`` is dropped, and it is cut to 128 characters. Case is kept.

    Only for tags bumper derives itself; a tag the user wrote goes through :func:`check_tag`.
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


def resolve_tags(
    reference: str, tag_options: Sequence[str], context: SourceContext | None
) -> tuple[str, tuple[str, ...]]:
    """Work out ``(name, tags)`` for one build pushed under several tags.

    The tag written in ``NAME:TAG`` comes first, then each ``--tag`` (``auto`` or a tag),
    repeats dropped. The first tag is the primary one: printed in ``NAME:TAG@DIGEST`` and
    written into manifests; the others point at the same digest.
    """
    name, ref_tag = split_name(reference)
    wanted = ([ref_tag] if ref_tag is not None else []) + list(tag_options)
    if not wanted:
        raise BumperError(f"no tag for {name}: give {name}:TAG or --tag auto|TAG")
    tags: dict[str, None] = {}
    for tag in wanted:
        tags[auto_tag(context or SourceContext()) if tag == "auto" else check_tag(tag)] = None
    return name, tuple(tags)


def resolve_tag(
    reference: str,
    tag_option: str | None,
    context: SourceContext | None,
) -> tuple[str, str]:
    """Work out ``(name, tag)`` from ``NAME[:TAG]`` and one tag option (``auto`` or a tag);
    the two must agree when both are given."""
    _, ref_tag = split_name(reference)
    if ref_tag is not None and tag_option is not None and ref_tag != tag_option:
        raise BumperError(f"two tags given: {ref_tag!r} in the name and --tag {tag_option!r}")
    name, tags = resolve_tags(reference, [tag_option] if tag_option is not None else [], context)
    return name, tags[0]


def check_mutable_tag(tag: str, *, allow_latest: bool) -> None:
    """Refuse ``latest`` as the tag to deploy unless allowed: a mutable tag defeats rollbacks."""
    if tag == "latest" and not allow_latest:
        raise BumperError(
            "refusing to push the mutable tag 'latest' (it defeats rollbacks); "
            "use an immutable tag such as --tag auto, or pass --allow-latest"
        )


TAG_STRATEGIES = ("auto", "sha")


def strategy_tag(strategy: str, context: SourceContext) -> str:
    """The tag a strategy gives when none is written: ``auto`` (``X.Y.Z`` for a
    ``vX.Y.Z`` git tag, else ``sha-<7 hex>``) or ``sha`` (always ``sha-<7 hex>``)."""
    if strategy == "sha":
        if not context.commit:
            raise BumperError("tag-strategy sha needs a commit: run in a git checkout or give tag")
        return f"sha-{context.commit[:7]}"
    return auto_tag(context)
