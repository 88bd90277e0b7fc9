"""The IMAGE argument of set-image: which repository to match and what to set."""

from __future__ import annotations

from dataclasses import dataclass

from bumper.edit.reference import (
    Reference,
    ReferenceError,
    canonical_name,
    format_reference,
    parse_reference,
)


@dataclass(frozen=True)
class Target:
    """What a bump sets.

    ``match`` is the repository to look for (user spelling); ``new_name`` is set only
    when renaming (``OLD=NEW``); ``tag``/``digest`` are the values to write, either may
    be None (a digest-only bump, a rename that keeps tags).
    """

    match: str
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = None

    @property
    def canonical(self) -> str:
        return canonical_name(self.match)

    @property
    def written_name(self) -> str:
        """The name as it appears in the result reference."""
        return self.new_name if self.new_name is not None else self.match

    def __str__(self) -> str:
        new = format_reference(self.written_name, self.tag, self.digest)
        return f"{self.match}={new}" if self.new_name is not None else new


def parse_target(text: str) -> Target:
    """Parse ``NAME:TAG``, ``NAME@DIGEST``, ``NAME:TAG@DIGEST`` or ``OLD=NEW[:TAG][@DIGEST]``."""
    old_text, sep, new_text = text.partition("=")
    if sep:
        old = parse_reference(old_text)
        if old.tag or old.digest:
            raise ReferenceError(
                f"invalid image {text!r}: the name before '=' is the repository to find; "
                "put the tag and digest after '='"
            )
        new: Reference = parse_reference(new_text)
        return Target(match=old.name, tag=new.tag, digest=new.digest, new_name=new.name)
    ref = parse_reference(text)
    if ref.tag is None and ref.digest is None:
        raise ReferenceError(
            f"invalid image {text!r}: nothing to set; give NAME:TAG, NAME@DIGEST or OLD=NEW"
        )
    return Target(match=ref.name, tag=ref.tag, digest=ref.digest)
