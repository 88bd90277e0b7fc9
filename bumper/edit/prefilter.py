"""Which files, and which documents in them, can hold a reference to a repository.

Reading every file is cheap; parsing is not. A file is parsed only when the last path
component of the repository stands in it as a whole component (every spelling ends in
it: Docker Hub short names, Helm ``registry``/``repository`` splits wherever they cut)
*and* that occurrence sits where the shapes look for references: the value of an
``image``/``repository``/``name``/``newName`` key, a sequence item, or an anchored
value (read elsewhere through an alias). ``app`` inside ``apps/v1``, an env var, an
annotation or ConfigMap data does not make a file worth parsing.
"""

from __future__ import annotations

import re

from bumper.edit.reference import last_component

_NAME_CHARS = "A-Za-z0-9._-"
# What may stand on a line before a reference's last component, right up to it.
_CONTEXT = r"""(?xm)
    (?:
        ^[ \t]*(?:-[ \t]+)*                                      # line start, sequence items
      | [\[,][ \t]*                                              # a flow sequence item
      | (?:^|[\s{,"'])(?:image|repository|name|newName)["']?[ \t]*:[ \t]*  # keys with references
      | &\S+[ \t]+                                               # an anchored value
    )
    (?:[&!]\S*[ \t]+)*                                           # anchor and tag properties
    ["']?                                                        # a quote
    [^\s"',\[\]{}]*                                              # registry and path
    \Z"""
_CONTEXT_TEXT = re.compile(_CONTEXT)
_CONTEXT_BYTES = re.compile(_CONTEXT.encode())


class Prefilter:
    """Cheap checks that never turn away a file holding a reference to ``name``."""

    def __init__(self, name: str) -> None:
        self._plain = last_component(name).encode()
        word = re.escape(last_component(name))
        pattern = rf"(?<![{_NAME_CHARS}]){word}(?![{_NAME_CHARS}])"
        self._word_text = re.compile(pattern)
        self._word_bytes = re.compile(pattern.encode())

    def file_may_hold(self, data: bytes) -> bool:
        """True when the raw file may hold a reference (before decoding)."""
        if self._plain not in data:  # most files: one fast scan and done
            return False
        for match in self._word_bytes.finditer(data):
            line_start = data.rfind(b"\n", 0, match.start()) + 1
            if _CONTEXT_BYTES.search(data, line_start, match.start()):
                return True
        return False

    def text_may_hold(self, text: str, begin: int = 0, end: int | None = None) -> bool:
        """True when ``text[begin:end]`` (a document of a stream) may hold a reference."""
        end = len(text) if end is None else end
        for match in self._word_text.finditer(text, begin, end):
            line_start = text.rfind("\n", 0, match.start()) + 1
            if _CONTEXT_TEXT.search(text, line_start, match.start()):
                return True
        return False
