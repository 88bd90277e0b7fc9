"""Tag policies: which of a repository's tags is the newest one a reference may move to.

- ``semver``: the highest stable semantic version; ``semver:RANGE`` the highest version
  in a range (see ``ranges``). A tag is a version only when it is ``X.Y.Z[-pre]`` after
  at most one leading ``v``: ``latest``, ``3.19``, ``sha-1a2b3c4`` or ``20240105`` are not,
  so hex and date tags never win by looking like large numbers.
- ``numerical[:asc|desc]``: tags (or their extracted part) read as decimal numbers;
  ``alphabetical[:asc|desc]``: compared as strings. As in Flux, ``asc`` (the default)
  picks the greatest value, ``desc`` the smallest.
- ``filter`` (a regex searched in the tag) keeps only matching tags; ``extract``
  (``$name``, ``${name}``, ``$1``) builds the value that is ordered from its groups, as
  Flux's ``filterTags.extract`` does.
- ``exclude`` regexes drop tags; by default signatures, attestations and SBOMs
  (``*.sig``, ``*.att``, ``*.sbom``, ``sha256-*``).

Never backwards: when the current tag can be ordered by the policy (range aside), a tag
that does not order after it is not picked. Build dates are never used to order tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bumper.edit.versions import parse_semver
from bumper.errors import UsageError
from bumper.registry.ranges import SemverRange, parse_range

DEFAULT_EXCLUDE = r"^sha256-|\.(sig|att|sbom)$"
KINDS = ("semver", "numerical", "alphabetical")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_REFERENCE = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


def compile_regex(pattern: str, what: str) -> re.Pattern[str]:
    """Compile a user's regex or raise UsageError naming the option (``what``)."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise UsageError(f"invalid {what} regex {pattern!r}: {error}") from None


def _check_template(template: str, pattern: re.Pattern[str], what: str) -> None:
    if not _REFERENCE.search(template):
        raise UsageError(f"{what} {template!r} names no group of the filter ($name or ${{name}})")
    for match in _REFERENCE.finditer(template):
        group = match.group(1) or match.group(2)
        if group is None:
            continue
        if group.isdigit():
            if int(group) > pattern.groups:
                raise UsageError(
                    f"{what} {template!r}: the filter {pattern.pattern!r} has no group {group}"
                )
        elif group not in pattern.groupindex:
            known = ", ".join(sorted(pattern.groupindex)) or "none"
            raise UsageError(
                f"{what} {template!r}: the filter {pattern.pattern!r} has no group named "
                f"{group!r} (named groups: {known})"
            )


def _expand(template: str, match: re.Match[str]) -> str:
    def one(ref: re.Match[str]) -> str:
        group = ref.group(1) or ref.group(2)
        if group is None:
            return "$"
        return match.group(int(group) if group.isdigit() else group) or ""

    return _REFERENCE.sub(one, template)


@dataclass(frozen=True)
class Selection:
    """The outcome for one reference: ``tag`` to move to (None: stay), and why."""

    tag: str | None
    reason: str
    up_to_date: bool = False


@dataclass(frozen=True)
class TagPolicy:
    """How to pick the newest tag; build one with ``make_policy``."""

    kind: str
    range: SemverRange | None = None
    descending: bool = False
    filter: re.Pattern[str] | None = None
    extract: str | None = None
    exclude: tuple[re.Pattern[str], ...] = (re.compile(DEFAULT_EXCLUDE),)

    def describe(self) -> str:
        """``semver:^1.2``, ``numerical:desc`` (+ the filter), for messages."""
        text = self.kind
        if self.range is not None:
            text += f":{self.range.text}"
        elif self.kind != "semver" and self.descending:
            text += ":desc"
        if self.filter is not None:
            text += f" filter {self.filter.pattern}"
        return text

    def value(self, tag: str) -> str | None:
        """The text ordered for ``tag`` (after filter and extract); None when filtered out."""
        if self.filter is None:
            return tag
        match = self.filter.search(tag)
        if match is None:
            return None
        return _expand(self.extract, match) if self.extract else tag

    def key(self, tag: str) -> Any | None:
        """The sort key of ``tag`` under the policy (range and exclusions aside), or None
        when the tag cannot be ordered (not a version, not a number, filtered out)."""
        value = self.value(tag)
        if value is None:
            return None
        if self.kind == "semver":
            return parse_semver(value)
        if self.kind == "numerical":
            if not _NUMBER.fullmatch(value):
                return None
            try:
                return Decimal(value)
            except InvalidOperation:
                return None
        return value

    def excluded(self, tag: str) -> bool:
        return any(pattern.search(tag) for pattern in self.exclude)

    def _newer(self, a: Any, b: Any) -> bool:
        return bool(a < b) if self.descending else bool(a > b)

    def select(self, tags: Iterable[str], current: str | None) -> Selection:
        """The newest tag the policy allows, unless it is not newer than ``current``."""
        candidates: list[tuple[Any, str]] = []
        total = 0
        for tag in tags:
            total += 1
            if self.excluded(tag):
                continue
            key = self.key(tag)
            if key is None:
                continue
            if self.kind == "semver":
                allowed = self.range.admits(key) if self.range else not key.prerelease
                if not allowed:
                    continue
            candidates.append((key, tag))
        what = self.describe()
        if not candidates:
            return Selection(None, f"no tag matches {what} (of {total} tags)")
        best_key, best = candidates[0]
        for key, tag in candidates[1:]:
            if self._newer(key, best_key) or (
                key == best_key and self._tie_break(tag, best, current)
            ):
                best_key, best = key, tag
        if best == current:
            return Selection(None, f"up to date: {current} is the newest {what} allows", True)
        current_key = self.key(current) if current else None
        if current_key is not None and not self._newer(best_key, current_key):
            return Selection(
                None,
                f"{current} is not older than {best}, the newest {what} allows "
                "(never going backwards)",
                True,
            )
        return Selection(best, f"newest {what}")

    @staticmethod
    def _tie_break(tag: str, best: str, current: str | None) -> bool:
        """Equal versions (``v1.2.0`` and ``1.2.0``): keep the current tag's spelling of
        a leading ``v``, then the greater string (a stable, order-free choice)."""
        if current is not None:
            style = current[:1] in ("v", "V")
            if (tag[:1] in ("v", "V")) != (best[:1] in ("v", "V")):
                return (tag[:1] in ("v", "V")) == style
        return tag > best


def make_policy(
    spec: str = "semver",
    *,
    filter_tags: str | None = None,
    extract: str | None = None,
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    origin: str = "--policy",
) -> TagPolicy:
    """Build a policy from ``semver``, ``semver:RANGE``, ``numerical[:asc|desc]`` or
    ``alphabetical[:asc|desc]`` plus a filter, an extract template and exclude regexes
    (added to ``DEFAULT_EXCLUDE`` unless ``default_excludes`` is false). Raises UsageError
    for anything invalid; ``origin`` names where the text came from in messages."""
    kind, sep, arg = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UsageError(f"{origin}: unknown policy {spec!r} (use {', '.join(KINDS)})")
    semver_range = None
    descending = False
    if kind == "semver":
        if sep:
            semver_range = parse_range(arg)
    elif sep:
        order = arg.strip().lower()
        if order not in ("asc", "desc"):
            raise UsageError(f"{origin}: {kind} order must be asc or desc, not {arg!r}")
        descending = order == "desc"
    pattern = compile_regex(filter_tags, "filter-tags") if filter_tags is not None else None
    if extract is not None:
        if pattern is None:
            raise UsageError("extract needs a filter-tags regex to take its groups from")
        _check_template(extract, pattern, "extract")
    excludes = [re.compile(DEFAULT_EXCLUDE)] if default_excludes else []
    excludes += [compile_regex(text, "exclude") for text in exclude]
    return TagPolicy(kind, semver_range, descending, pattern, extract, tuple(excludes))
