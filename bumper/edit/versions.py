"""Version ordering for the downgrade guard.

Only tags that are semantic versions (after one leading ``v``) are compared; others
(``sha-1a2b3c4``, ``3.19``, ``2024.05.1``, ``latest``) carry no order we can trust.
"""

from __future__ import annotations

import semver


def parse_semver(tag: str) -> semver.Version | None:
    """The tag as a semantic version, or None when it is not one."""
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def is_downgrade(current: str | None, new: str | None) -> bool:
    """True when both tags are semver and ``new`` orders before ``current``."""
    if not current or not new:
        return False
    old_version, new_version = parse_semver(current), parse_semver(new)
    if old_version is None or new_version is None:
        return False
    return new_version < old_version
