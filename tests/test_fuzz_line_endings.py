"""Differential fuzzer: the same manifests with LF, CRLF and CR-only line endings get
the same edits (modulo line endings), at the same lines, and never an internal error,
whether the files are named or found by a walk."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.fuzzing import (
    Outcome,
    assert_no_internal_error,
    bumps,
    check_generated,
    fuzz_settings,
    gen_files,
    named,
    show,
    targets,
    tree,
    walked,
)


def _with_newline(outcome: Outcome, newline: str) -> dict[str, bytes]:
    return {name: data.replace(b"\n", newline.encode()) for name, data in outcome.written.items()}


@pytest.mark.parametrize("how", ["named", "walked"])
@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["CRLF", "CR"])
@fuzz_settings(60)
@given(data=st.data())
def test_line_endings_do_not_change_the_edits(how: str, newline: str, data: st.DataObject) -> None:
    target = data.draw(targets(), label="target")
    lf_files = data.draw(gen_files(target, dress=False), label="files")
    bump = data.draw(bumps(target), label="bump")
    for gen in lf_files:
        gen.bom = data.draw(st.booleans(), label=f"BOM in {gen.name}")
    other_files = [gen.with_newline(newline) for gen in lf_files]
    for gen in other_files:
        check_generated(gen)
    outcomes = []
    for files in (lf_files, other_files):
        with tree(files) as root:
            outcomes.append(named(bump, root, files) if how == "named" else walked(bump, root))
    lf, other = outcomes
    context = f"set-image {bump.argument}\n{show(other_files)}"
    # A file that already fails with LF is another fuzzer's finding; this one looks
    # for what the line endings alone change.
    assume(lf.error is None or not ("internal error" in lf.error or lf.error.startswith("CRASH")))
    assert_no_internal_error(other, context)
    assert other.problems == lf.problems == [], context
    assert (other.error is None) == (lf.error is None), (
        f"LF: {lf.error}\nother: {other.error}\n{context}"
    )
    assert other.without_positions() == replace(
        lf.without_positions(), written=_with_newline(lf, newline)
    ), f"LF:\n{lf}\n{newline!r}:\n{other}\n{context}"
    assert (other.changes, other.skips) == (lf.changes, lf.skips), f"positions differ\n{context}"
