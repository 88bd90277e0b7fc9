"""The diff bumper prints is a valid patch from the old lines to the new, whatever the
lines repeat, and it reads like ``diff -u`` for the changes a bump makes."""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bumper.edit.patch import unified_diff

LINES = st.lists(
    st.sampled_from(["a\n", "b\n", "- name: app\n", "image: x:1\n", "\n"]), max_size=40
)


def apply(old: list[str], patch: list[str]) -> list[str]:
    """Apply a unified diff the strict way: every context and removed line must match."""
    result: list[str] = []
    position = 0
    lines = iter(patch[2:])
    for line in lines:
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@\n", line)
        if header is not None:
            start = int(header.group(1)) - (0 if header.group(2) == "0" else 1)
            result += old[position:start]
            position = start
            continue
        if line[0] in " -":
            assert old[position] == line[1:], (position, line)
            position += 1
        if line[0] in " +":
            result.append(line[1:])
    return result + old[position:]


@settings(max_examples=300, deadline=None)
@given(
    old=LINES,
    edits=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.sampled_from(["drop", "add", "set"]),
            st.sampled_from(["a\n", "z\n", "image: x:2\n"]),
        ),
        max_size=6,
    ),
)
def test_the_patch_turns_the_old_lines_into_the_new(
    old: list[str], edits: list[tuple[int, str, str]]
) -> None:
    new = list(old)
    for at, how, text in edits:
        at = min(at, len(new))
        if how == "add":
            new.insert(at, text)
        elif new and at < len(new):
            if how == "drop":
                del new[at]
            else:
                new[at] = text
    patch = list(unified_diff(old, new, "a/f", "b/f"))
    if old == new:
        assert patch == []
    else:
        assert apply(old, patch) == new


def test_a_bump_reads_as_diff_u_does() -> None:
    old = [f"- name: p{i}\n  image: app:1\n" for i in range(50)]
    old = [line for chunk in old for line in chunk.splitlines(keepends=True)]
    new = [line.replace("app:1", "app:2") if i in (9, 61) else line for i, line in enumerate(old)]
    new.insert(30, "  tag: added\n")
    assert list(unified_diff(old, new, "a/f", "b/f")) == list(
        difflib.unified_diff(old, new, "a/f", "b/f")
    )
