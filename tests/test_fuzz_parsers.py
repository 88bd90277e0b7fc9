"""Differential fuzzer: libyaml (the fast path) and ruamel's pure parser (the fallback
for what libyaml refuses) give the same plan and the same bytes for every edit kind.

The edits generated cover: rewriting a tag in an ``image:`` string, filling an empty or
null ``tag:``, inserting a missing ``tag``/``digest``/``newTag`` (also after block
scalars and in flow maps), removing or emptying a stale digest, kustomize entries with
``newName``, Helm ``registry``/``repository``/``image`` splits, Argo CD ``images``
strings, renames. The fallback is forced by making the libyaml path fail, the way a
file libyaml rejects does.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import (
    assert_no_internal_error,
    draw_case,
    fuzz_settings,
    named,
    pure_parser,
    show,
    tree,
)


@fuzz_settings(120)
@given(data=st.data())
def test_the_fallback_parser_plans_what_libyaml_plans(data: st.DataObject) -> None:
    files, bump, _ = draw_case(data)
    with tree(files) as root:
        fast = named(bump, root, files)
        with pure_parser():
            fallback = named(bump, root, files)
    context = f"set-image {bump.argument}\n{show(files)}"
    assert_no_internal_error(fast, f"libyaml\n{context}")
    assert_no_internal_error(fallback, f"pure parser\n{context}")
    assert fast.error == fallback.error, context
    assert (fast.changes, fast.skips) == (fallback.changes, fallback.skips), (
        f"libyaml:\n{fast}\npure parser:\n{fallback}\n{context}"
    )
    assert fast.written == fallback.written, context
