"""Per-reference policies written as comments next to the reference.

Syntax (a YAML comment; the first word after ``#`` is ``bumper:``)::

    image: ghcr.io/acme/app:1.4.2  # bumper: policy=semver:^1.4
    image: ghcr.io/acme/api:main-41  # bumper: policy=numerical filter-tags=-(?P<n>\\d+)$ extract=$n
    image: ghcr.io/acme/db:15.2.0  # bumper: skip

    # bumper: policy=semver:~1.2 pin-digest=true
    image: ghcr.io/acme/web:1.2.3

Words are ``skip`` or ``KEY=VALUE`` with the keys ``policy`` (as ``--policy``),
``filter-tags``, ``extract``, ``exclude`` (one regex; use ``|`` for several) and
``pin-digest`` (``true``/``false``). A value holding spaces is wrapped in single or
double quotes; backslashes are literal (regexes are written as they are). A marker
replaces the command line's policy, filter, extract and exclude for its reference
(missing keys take their defaults: ``semver``, no filter, the default exclusions);
``pin-digest`` overrides ``--pin-digest`` only when given. ``skip`` leaves the reference
alone. Each key at most once; anything else is an error naming ``file:line``.

Where: a comment on the reference's line, or a comment alone on the line just above it.
For a Helm values map or a kustomize ``images:`` entry, on any line of that map (the
``tag:``/``newTag:`` line is the usual place) or just above it. Flux's
``# {"$imagepolicy": "NS:NAME[:tag]"}`` markers are found in the same places.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bumper.edit.inventory import Found
from bumper.errors import BumperError, UsageError
from bumper.registry.policy import TagPolicy, make_policy

PREFIX = "bumper:"
KEYS = ("policy", "filter-tags", "extract", "exclude", "pin-digest")
MAP_SHAPES = frozenset({"helm", "kustomize"})
_SCALAR_OPENERS = frozenset(":-[{,?")


@dataclass(frozen=True)
class Marker:
    """A ``# bumper:`` marker: ``policy`` for its reference, or ``skip``."""

    location: str
    policy: TagPolicy | None
    skip: bool = False
    pin_digest: bool | None = None


@dataclass(frozen=True)
class FluxMarker:
    """A Flux ``{"$imagepolicy": "NS:NAME[:FIELD]"}`` marker."""

    location: str
    namespace: str
    name: str


def comment_of(line: str) -> str | None:
    """The text after ``#`` of a YAML line's comment (None without one): a ``#`` starts a
    comment at the line start or after a space, outside quoted scalars."""
    position = 0
    previous = ""  # last non-space character before the current position
    while position < len(line):
        char = line[position]
        if char in "\"'" and (previous == "" or previous in _SCALAR_OPENERS):
            end = _closing_quote(line, position)
            if end is None:
                return None
            position = end + 1
            previous = char
            continue
        if char == "#" and (position == 0 or line[position - 1] in " \t"):
            return line[position + 1 :]
        if not char.isspace():
            previous = char
        position += 1
    return None


def _closing_quote(line: str, start: int) -> int | None:
    quote = line[start]
    position = start + 1
    while position < len(line):
        char = line[position]
        if quote == '"' and char == "\\":
            position += 2
            continue
        if char == quote:
            if quote == "'" and line[position + 1 : position + 2] == "'":
                position += 2
                continue
            return position
        position += 1
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_column(line: str) -> tuple[int, bool]:
    """Column of the first key on the line, and whether the line starts a sequence item."""
    column = _indent(line)
    item = False
    while line[column : column + 2] in ("- ", "-\t"):
        item = True
        column += 2
        column += _indent(line[column:])
    return column, item


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def reference_lines(lines: Sequence[str], found: Found) -> tuple[int, int]:
    """The 0-based [first, last] lines a reference spans: its own line, or for a block
    Helm values map / kustomize images entry, every line of that map."""
    index = found.line - 1
    line = lines[index]
    if found.shape not in MAP_SHAPES or "{" in line[: max(found.column - 1, 0)]:
        return index, index
    column, item = _key_column(line)
    first = index
    if not item:
        up = index - 1
        while up >= 0 and not _blank_or_comment(lines[up]):
            up_column, up_item = _key_column(lines[up])
            if up_column < column or (up_column == column and up_item):
                if up_column == column:
                    first = up
                break
            first = up
            up -= 1
    last = index
    down = index + 1
    while down < len(lines):
        text = lines[down]
        if _blank_or_comment(text):
            if not text.strip():
                break
            down += 1
            continue
        if _indent(text) < column:
            break
        last = down
        down += 1
    return first, last


def _words(text: str, location: str) -> list[str]:
    """Split on spaces; a value (after ``=``) wrapped in quotes may hold spaces."""
    words: list[str] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        end = position
        while end < len(text) and not text[end].isspace() and text[end] != "=":
            end += 1
        if end < len(text) and text[end] == "=" and text[end + 1 : end + 2] in ("'", '"'):
            quote = text[end + 1]
            close = text.find(quote, end + 2)
            if close < 0:
                raise UsageError(f"bumper marker: unclosed {quote} quote", location=location)
            if close + 1 < len(text) and not text[close + 1].isspace():
                raise UsageError(
                    f"bumper marker: text right after the closing {quote} quote",
                    location=location,
                )
            words.append(text[position : end + 1] + text[end + 2 : close])
            position = close + 1
            continue
        while end < len(text) and not text[end].isspace():
            end += 1
        words.append(text[position:end])
        position = end
    return words


def _parse_bumper(text: str, location: str) -> Marker:
    words = _words(text, location)
    if not words:
        raise UsageError(
            "bumper marker: empty (give skip or KEY=VALUE; keys: " + ", ".join(KEYS) + ")",
            location=location,
        )
    values: dict[str, str] = {}
    skip = False
    for word in words:
        if word == "skip":
            if skip:
                raise UsageError("bumper marker: skip given twice", location=location)
            skip = True
            continue
        key, sep, value = word.partition("=")
        if not sep:
            raise UsageError(f"bumper marker: {word!r} is not skip or KEY=VALUE", location=location)
        if key not in KEYS:
            raise UsageError(
                f"bumper marker: unknown key {key!r} (known: {', '.join(KEYS)})",
                location=location,
            )
        if key in values:
            raise UsageError(f"bumper marker: {key} given twice", location=location)
        if not value:
            raise UsageError(f"bumper marker: {key} has an empty value", location=location)
        values[key] = value
    if skip and values:
        raise UsageError(
            f"bumper marker: skip cannot be combined with {next(iter(values))}", location=location
        )
    if skip:
        return Marker(location, None, skip=True)
    pin = values.get("pin-digest")
    if pin is not None and pin.lower() not in ("true", "false"):
        raise UsageError(
            f"bumper marker: pin-digest must be true or false, not {pin!r}", location=location
        )
    try:
        policy = make_policy(
            values.get("policy", "semver"),
            filter_tags=values.get("filter-tags"),
            extract=values.get("extract"),
            exclude=[values["exclude"]] if "exclude" in values else [],
            origin="policy",
        )
    except BumperError as error:
        raise UsageError(f"bumper marker: {error.message}", location=location) from None
    return Marker(location, policy, pin_digest=None if pin is None else pin.lower() == "true")


def _parse_flux(text: str, location: str) -> FluxMarker | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "$imagepolicy" not in data:
        return None
    value = data["$imagepolicy"]
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise UsageError(
            f'Flux marker: "$imagepolicy" must be "NAMESPACE:NAME[:FIELD]", not {value!r}',
            location=location,
        )
    return FluxMarker(location, parts[0], parts[1])


def _marker_in(comment: str, location: str) -> Marker | FluxMarker | None:
    body = comment.strip()
    if body.startswith(PREFIX):
        return _parse_bumper(body[len(PREFIX) :], location)
    if body.startswith("{"):
        return _parse_flux(body, location)
    return None


def find_markers(
    found: Iterable[Found], root: Path | None = None
) -> dict[Found, Marker | FluxMarker]:
    """The marker of each reference that has one. Raises UsageError (``file:line``) for
    a malformed marker, or two markers of one kind for one reference."""
    by_file: dict[str, list[Found]] = {}
    for item in found:
        by_file.setdefault(item.path, []).append(item)
    markers: dict[Found, Marker | FluxMarker] = {}
    for path, items in by_file.items():
        where = Path(path) if root is None else root / path
        try:
            text = where.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # list_images read it a moment ago; the planner reports what changed
        lines = [line.rstrip("\r") for line in text.split("\n")]
        for item in items:
            first, last = reference_lines(lines, item)
            candidates = [(number, comment_of(lines[number])) for number in range(first, last + 1)]
            above = first - 1
            if above >= 0 and lines[above].strip().startswith("#"):
                candidates.insert(0, (above, lines[above].strip()[1:]))
            own: list[Marker] = []
            flux: list[FluxMarker] = []
            for number, comment in candidates:
                if comment is None:
                    continue
                marker = _marker_in(comment, f"{path}:{number + 1}")
                if isinstance(marker, Marker):
                    own.append(marker)
                elif isinstance(marker, FluxMarker):
                    flux.append(marker)
            for kind in (own, flux):
                if len(kind) > 1:
                    lines_text = " and ".join(m.location.rsplit(":", 1)[1] for m in kind)
                    raise UsageError(
                        f"two markers for {item.name} (lines {lines_text}); keep one",
                        location=kind[1].location,
                    )
            if own:
                markers[item] = own[0]
            elif flux:
                markers[item] = flux[0]
    return markers
