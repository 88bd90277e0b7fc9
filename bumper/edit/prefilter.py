"""Which files, and which documents in them, can hold a reference to a repository.

Reading every file is cheap; parsing is not. A file is parsed only when the last path
component of the repository stands in it as a whole component (every spelling ends in
it: Docker Hub short names, Helm ``registry``/``repository`` splits wherever they cut)
*and* that occurrence sits where the shapes look for references: the value of a key a
shape declares (``image``, ``repository``, ``name``, ``newName``, ``value`` …; see
``bumper.edit.shapes.SHAPES``), a sequence item, an explicit ``?``/``:`` entry, a
continuation line, or an anchored value (read elsewhere through an alias). ``app`` inside
``apps/v1``, an env var, an annotation or ConfigMap data does not make a file worth
parsing.

It must never turn away a file that holds a reference (a walk finds exactly what naming
each file finds; a property test holds it to that). Text YAML can spell in escapes (a
double-quoted ``"\\x61pp"``) is the one way a name can hide from a text search: a file
with escapes is searched again with the escapes decoded, and any occurrence counts.
"""

from __future__ import annotations

import functools
import re

from bumper.edit.files import text_in_any_encoding
from bumper.edit.reference import last_component
from bumper.edit.shapes import value_keys

_NAME_CHARS = "A-Za-z0-9._-"


def _context(keys: frozenset[str]) -> str:
    """What may stand on a line before a reference's last component, right up to it,
    when ``keys`` are the keys whose values hold image names."""
    alternatives = "|".join(sorted(re.escape(key) for key in keys))
    return rf"""(?xm)
    (?:
        (?:^|(?<=\r))[ \t]*(?:[-?:][ \t]+)*                  # line start, - ? : indicators
      | [\[,][ \t]*                                          # a flow sequence item
      | (?:^|[\s{{,"'])(?:{alternatives})["']?[ \t]*:[ \t]*  # keys whose values hold names
      | &\S+[ \t]+                                           # an anchored value
    )
    (?:[&!]\S*[ \t]+)*                                       # anchor and tag properties
    ["']?                                                    # a quote
    [^\s"',\[\]{{}}]*                                        # registry and path
    \Z"""


@functools.lru_cache(maxsize=8)
def _contexts(keys: frozenset[str]) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    pattern = _context(keys)
    return re.compile(pattern), re.compile(pattern.encode())


# YAML's double-quoted escapes that can spell a name's characters, and the escaped line
# break that joins two lines (after any break the parser knows: CR-only files, NEL, LS, PS).
_ESCAPE = re.compile(
    r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})"
    r"|(?:\r\n|[\r\n\x85\u2028\u2029])[ \t]*)"
)


def _unescape(text: str) -> str:
    """``text`` with every double-quoted escape decoded wherever it stands (more than
    YAML would, which only makes the check more willing)."""

    def decode(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2) or match.group(3)
        return chr(int(code, 16)) if code else ""

    return _ESCAPE.sub(decode, text)


def _line_start(data: bytes | str, offset: int) -> int:
    if isinstance(data, bytes):
        return max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    return max(data.rfind("\n", 0, offset), data.rfind("\r", 0, offset)) + 1


class Prefilter:
    """Cheap checks that never turn away a file holding a reference to ``name``."""

    def __init__(self, name: str) -> None:
        self._word = last_component(name)
        self._plain = self._word.encode()
        pattern = rf"(?<![{_NAME_CHARS}]){re.escape(self._word)}(?![{_NAME_CHARS}])"
        self._word_text = re.compile(pattern)
        self._word_bytes = re.compile(pattern.encode())

    def file_may_hold(self, data: bytes) -> bool:
        """True when the raw file may hold a reference (before decoding)."""
        if (
            data[:3] == b"\xef\xbb\xbf"
            or data[:1] in (b"\x00", b"\xfe", b"\xff")
            or data[1:2] == b"\x00"
        ):
            # A byte-order mark, or UTF-16/32: searched as text.
            return self.text_may_hold(text_in_any_encoding(data))
        if b"\\" in data and b'"' in data and self._escaped(data.decode("utf-8", "replace")):
            return True
        if self._plain not in data:  # most files: one fast scan and done
            return False
        context = _contexts(value_keys(data))[1]
        for match in self._word_bytes.finditer(data):
            start = _line_start(data, match.start())
            if context.search(data, start, match.start()):
                return True
        return False

    def text_may_hold(self, text: str, begin: int = 0, end: int | None = None) -> bool:
        """True when ``text[begin:end]`` (a document of a stream) may hold a reference."""
        end = len(text) if end is None else end
        if "\\" in text[begin:end] and self._escaped(text[begin:end]):
            return True
        context = _contexts(value_keys(text[begin:end]))[0]
        for match in self._word_text.finditer(text, begin, end):
            start = _line_start(text, match.start())
            if context.search(text, start, match.start()):
                return True
        return False

    def _escaped(self, text: str) -> bool:
        """Escapes may spell the name, a key, or join lines: any occurrence counts."""
        return bool(_ESCAPE.search(text)) and self._word in _unescape(text)
