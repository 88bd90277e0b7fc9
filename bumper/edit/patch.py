"""Unified diffs of planned files, in time linear in their size.

``difflib`` compares every line with every other: on a bundle of thousands of documents
that repeat the same lines (``- name: app``, the image being bumped) one diff takes
seconds. A bump changes a few lines in place and adds or removes a few, never moves
any, so the lines are aligned by walking both versions together and, where they
differ, taking the nearest pair of positions where they agree again (for a few lines,
so a repeated line does not mislead it). The script is
always a valid one (each line kept, removed or added, in order), so the patch applies
with ``git apply``; inside each region where they differ, ``difflib`` finds the fewest
changes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

# How far (lines removed + lines added) the walk looks for the next agreeing line; past
# it, everything left in both versions is one change.
MAX_SYNC = 400
# How many lines must agree for a place to count as where both versions meet again.
CONFIRM = 3


def _opcodes(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """``difflib``-style opcodes (equal / replace / delete / insert) aligning the lines."""
    codes: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    while i < len(old) or j < len(new):
        start_i, start_j = i, j
        while i < len(old) and j < len(new) and old[i] == new[j]:
            i, j = i + 1, j + 1
        if i > start_i:
            codes.append(("equal", start_i, i, start_j, j))
        if i == len(old) and j == len(new):
            break
        skip_old, skip_new = _sync(old, new, i, j)
        # difflib finds the fewest changes inside the region, which is small.
        region = difflib.SequenceMatcher(None, old[i : i + skip_old], new[j : j + skip_new])
        codes += [(t, i + a, i + b, j + c, j + d) for t, a, b, c, d in region.get_opcodes()]
        i, j = i + skip_old, j + skip_new
    return codes


def _sync(old: list[str], new: list[str], i: int, j: int) -> tuple[int, int]:
    """How many lines to skip in each version before they agree again: the fewest in
    total (a changed line before a line added), where the next ``CONFIRM`` lines agree
    too, so a line that repeats (``- name: app``) is not taken for the place they meet;
    the rest of both when they never do."""
    left_old, left_new = len(old) - i, len(new) - j
    for total in range(1, MAX_SYNC + 1):
        for skip_old in sorted(range(total + 1), key=lambda n: abs(2 * n - total)):
            skip_new = total - skip_old
            if skip_old > left_old or skip_new > left_new:
                continue
            ahead = min(CONFIRM, left_old - skip_old, left_new - skip_new)
            if (ahead == 0 and skip_old == left_old and skip_new == left_new) or (
                ahead > 0
                and old[i + skip_old : i + skip_old + ahead]
                == new[j + skip_new : j + skip_new + ahead]
            ):
                return skip_old, skip_new
    return left_old, left_new


class _Aligned(difflib.SequenceMatcher):  # type: ignore[type-arg]
    """A matcher whose opcodes are the linear alignment (for ``get_grouped_opcodes``)."""

    def __init__(self, old: list[str], new: list[str]) -> None:
        super().__init__(None, old, new, autojunk=False)
        self._codes = _opcodes(old, new)

    def set_seq2(self, b: object) -> None:  # no index of the lines: it is never used
        self.b = b  # type: ignore[assignment]

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:
        return list(self._codes)


def _range(start: int, length: int) -> str:
    """A hunk's line range as unified diffs write it."""
    first = start + 1
    if length == 1:
        return f"{first}"
    if not length:
        first -= 1
    return f"{first},{length}"


def unified_diff(
    old: list[str], new: list[str], fromfile: str, tofile: str, context: int = 3
) -> Iterator[str]:
    """The lines of a unified diff from ``old`` to ``new`` (each line keeps its end)."""
    started = False
    for group in _Aligned(old, new).get_grouped_opcodes(context):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield (
            f"@@ -{_range(first[1], last[2] - first[1])} "
            f"+{_range(first[3], last[4] - first[3])} @@\n"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in old[i1:i2])
                continue
            yield from ("-" + line for line in old[i1:i2])
            yield from ("+" + line for line in new[j1:j2])
