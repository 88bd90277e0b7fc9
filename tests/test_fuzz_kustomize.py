"""kubectl oracle: generated kustomize bases and overlays, rendered with ``kubectl
kustomize`` before and after a bump, differ exactly in the target's images.

Each tree has a base (a Deployment whose containers name the target in its spellings,
a short name an overlay renames, and another image) and an overlay with ``images:``
entries (``name``/``newName``/``newTag``/``digest``) and inline patches (strategic-merge
and JSON 6902) that pin the image, all written in hostile YAML that kubectl still
reads. After ``set-image`` over the whole tree the overlay must render with every
container image of the target at the wanted reference, nothing else changed, and
still render (a tag written as a number stops kustomize). A reference the engine
reports as skipped (with its place) may keep its old value.
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bumper.edit.plan import plan_set_image
from bumper.errors import BumperError
from tests.fuzzing import (
    KUSTOMIZE_TARGETS,
    bumps,
    canonical,
    check_generated,
    format_ref,
    fuzz_settings,
    kustomize_trees,
    render,
    rendered_images,
    show,
    split_ref,
    tree,
    without_images,
)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


@fuzz_settings(25, share=8)
@given(data=st.data())
def test_the_render_changes_exactly_in_the_bumped_images(data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(KUSTOMIZE_TARGETS), label="target")
    files = data.draw(kustomize_trees(target), label="files")
    bump = data.draw(bumps(target), label="bump")
    for gen in files:
        check_generated(gen)
    context = f"set-image {bump.argument}\n{show(files)}"
    with tree(files) as root:
        before, _ = render(root)
        assume(before is not None)  # spelling kubectl itself refuses: no oracle
        assert before is not None
        try:
            plan = plan_set_image(bump.argument, [root], allow_downgrade=True, allow_missing=True)
            plan.apply()
        except BumperError as error:
            raise AssertionError(f"valid kustomize tree refused: {error}\n{context}") from None
        after, error = render(root)
        written = "\n".join(f"+++ {gen.name}: {(root / gen.name).read_bytes()!r}" for gen in files)
        again = plan_set_image(bump.argument, [root], allow_downgrade=True, allow_missing=True)
    context += f"\n{written}\nskipped: {plan.skips}"
    assert after is not None, f"kubectl kustomize fails after the bump: {error}\n{context}"
    assert without_images(after) == without_images(before), f"more than images changed\n{context}"
    old_images, new_images = rendered_images(before), rendered_images(after)
    problems = []
    for path, old in old_images.items():
        new = new_images.get(path)
        name, tag, digest = split_ref(old)
        wanted = old
        if canonical(name) == canonical(target):
            wanted = format_ref(*bump.wanted(name, tag, digest))
        if new != wanted and not (plan.skips and new == old):
            problems.append(f"{'/'.join(map(str, path))}: {old} -> {new}, expected {wanted}")
    assert problems == [], "\n".join(problems) + f"\n{context}"
    assert not again.changed, f"a second run changes more:\n{again.diff()}\n{context}"
