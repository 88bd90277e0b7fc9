"""Semver ranges in the Masterminds/npm syntax that Flux, Helm and Renovate users write.

``^1.2``, ``~1.4``, ``>=1.4 <2`` (also comma-separated), ``1.x``, ``1.2.*``, ``*``,
``1.2 - 1.4.5`` (hyphen ranges), ``!=1.3.0`` and ``||`` alternatives; a leading ``v`` on
versions is allowed. Each comparator becomes bounds on full versions; an alternative is
the intersection of its comparators. Pre-releases match only in an alternative that names
one (Masterminds' rule: ``>=1.0.0-0`` opts in to every pre-release it bounds).

A range that does not parse, or that no version can satisfy (``>2 <1``), is a
UsageError: a typo must never read as "nothing newer".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import semver

from bumper.errors import UsageError

Version = semver.Version

_PART = r"(?:0|[1-9][0-9]*|[xX*])"
_PRE = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_COMPARATOR = re.compile(
    r"(?P<op>!=|>=|=>|<=|=<|~>|=|>|<|~|\^)?\s*"
    rf"(?P<version>[vV]?{_PART}(?:\.{_PART}(?:\.{_PART})?)?(?:-{_PRE})?(?:\+{_PRE})?)"
)
_HYPHEN = re.compile(r"(\S+)\s+-\s+(\S+)")


@dataclass(frozen=True)
class Bound:
    """``version`` with ``inclusive`` (>= / <=) or not (> / <)."""

    version: Version
    inclusive: bool


@dataclass(frozen=True)
class _Partial:
    """A version as written: missing or wildcard parts are None."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: str | None
    text: str

    @property
    def full(self) -> bool:
        return self.patch is not None

    def floor(self) -> Version:
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.prerelease)

    def next_open(self) -> Version:
        """The lowest version above every version this partial covers (``1.2`` → 1.3.0-0)."""
        if self.major is None:
            raise AssertionError("a wildcard has no upper end")
        if self.minor is None:
            return Version(self.major + 1, 0, 0, "0")
        return Version(self.major, self.minor + 1, 0, "0")


@dataclass
class Alternative:
    """One ``||`` branch: version bounds, excluded spans, and whether it opts in to
    pre-releases."""

    lower: Bound | None = None
    upper: Bound | None = None
    excluded: list[tuple[Bound, Bound]] = field(default_factory=list)
    prereleases: bool = False

    def restrict(self, lower: Bound | None, upper: Bound | None) -> None:
        if lower is not None and (self.lower is None or _above(lower, self.lower)):
            self.lower = lower
        if upper is not None and (self.upper is None or _below(upper, self.upper)):
            self.upper = upper

    def empty(self) -> bool:
        if self.lower is None or self.upper is None:
            return False
        low, high = self.lower.version, self.upper.version
        return low > high or (low == high and not (self.lower.inclusive and self.upper.inclusive))

    def admits(self, version: Version) -> bool:
        if version.prerelease and not self.prereleases:
            return False
        if self.lower is not None and not _at_least(version, self.lower):
            return False
        if self.upper is not None and not _at_most(version, self.upper):
            return False
        return not any(_at_least(version, lo) and _at_most(version, hi) for lo, hi in self.excluded)


def _at_least(version: Version, bound: Bound) -> bool:
    return version > bound.version or (bound.inclusive and version == bound.version)


def _at_most(version: Version, bound: Bound) -> bool:
    return version < bound.version or (bound.inclusive and version == bound.version)


def _above(candidate: Bound, current: Bound) -> bool:
    """True when ``candidate`` is the tighter lower bound."""
    if candidate.version != current.version:
        return candidate.version > current.version
    return not candidate.inclusive and current.inclusive


def _below(candidate: Bound, current: Bound) -> bool:
    """True when ``candidate`` is the tighter upper bound."""
    if candidate.version != current.version:
        return candidate.version < current.version
    return not candidate.inclusive and current.inclusive


@dataclass(frozen=True)
class SemverRange:
    """A parsed range; ``text`` is what the user wrote."""

    text: str
    alternatives: tuple[Alternative, ...]

    def admits(self, version: Version) -> bool:
        """True when ``version`` satisfies the range."""
        return any(alt.admits(version) for alt in self.alternatives)


def _bad(text: str, why: str) -> UsageError:
    return UsageError(f"invalid semver range {text!r}: {why}")


def _partial(written: str, whole: str) -> _Partial:
    core, _, build = written.partition("+")
    core, _, pre = core.partition("-")
    core = core[1:] if core[:1] in ("v", "V") else core
    parts: list[int | None] = []
    wild = False
    for piece in core.split("."):
        if piece in ("x", "X", "*"):
            wild = True
            parts.append(None)
        elif wild:
            raise _bad(whole, f"{written!r}: a number after a wildcard")
        else:
            parts.append(int(piece))
    while len(parts) < 3:
        parts.append(None)
    major, minor, patch = parts
    if pre and patch is None:
        raise _bad(whole, f"{written!r}: a pre-release needs a full version (1.2.3-rc.1)")
    if pre:
        try:
            Version.parse(f"{major}.{minor}.{patch}-{pre}" + (f"+{build}" if build else ""))
        except ValueError:
            raise _bad(whole, f"{written!r} is not a semantic version") from None
    return _Partial(major, minor, patch, pre or None, written)


def _apply(alt: Alternative, op: str, ver: _Partial, whole: str) -> None:
    """Narrow ``alt`` by one comparator (Masterminds' semantics for partial versions)."""
    if ver.prerelease:
        alt.prereleases = True
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(op, op)
    if ver.major is None:
        if op in ("", "=", ">=", "<=", "~", "^"):
            return  # every version
        raise _bad(whole, f"{op}{ver.text} can never match")
    floor = Bound(ver.floor(), True)
    if op in ("", "="):
        if ver.full:
            alt.restrict(floor, floor)
        else:
            alt.restrict(floor, Bound(ver.next_open(), False))
    elif op == "!=":
        high = floor if ver.full else Bound(ver.next_open(), False)
        alt.excluded.append((floor, high))
    elif op == ">":
        alt.restrict(Bound(ver.floor(), False) if ver.full else Bound(ver.next_open(), True), None)
    elif op == ">=":
        alt.restrict(floor, None)
    elif op == "<":
        alt.restrict(None, Bound(ver.floor(), False))
    elif op == "<=":
        alt.restrict(None, floor if ver.full else Bound(ver.next_open(), False))
    elif op == "~":
        if ver.minor is None:
            top = Version(ver.major + 1, 0, 0, "0")
        else:
            top = Version(ver.major, ver.minor + 1, 0, "0")
        alt.restrict(floor, Bound(top, False))
    elif op == "^":
        major, minor, patch = ver.major, ver.minor, ver.patch
        if major > 0 or minor is None:
            top = Version(major + 1, 0, 0, "0")
        elif minor > 0 or patch is None:
            top = Version(0, minor + 1, 0, "0")
        else:
            top = Version(0, 0, patch + 1, "0")
        alt.restrict(floor, Bound(top, False))
    else:
        raise AssertionError(op)


def parse_range(text: str) -> SemverRange:
    """Parse a range or raise UsageError saying what is wrong with it."""
    if not text.strip():
        raise _bad(text, "empty (use * for any version)")
    alternatives: list[Alternative] = []
    for branch in text.split("||"):
        if not branch.strip():
            raise _bad(text, "an empty alternative around '||'")
        alt = Alternative()
        # "A - B" is ">=A <=B".
        rewritten = _HYPHEN.sub(r">=\1 <=\2", branch.strip())
        position = 0
        comparators = 0
        while position < len(rewritten):
            separator = re.compile(r"\s*,?\s*").match(rewritten, position)
            assert separator is not None
            position = separator.end()
            if position >= len(rewritten):
                break
            found = _COMPARATOR.match(rewritten, position)
            if found is None or (
                found.end() < len(rewritten) and not re.match(r"[\s,]", rewritten[found.end()])
            ):
                rest = rewritten[position:].split()[0]
                raise _bad(text, f"cannot read {rest!r}")
            _apply(alt, found.group("op") or "", _partial(found.group("version"), text), text)
            comparators += 1
            position = found.end()
        if not comparators:
            raise _bad(text, "no version in an alternative")
        if alt.empty():
            raise _bad(text, f"{branch.strip()!r} can never match")
        alternatives.append(alt)
    return SemverRange(text, tuple(alternatives))
