"""Differential fuzzer: a directory walk finds exactly what naming each file finds, and
refuses exactly what naming a file refuses.

The walk reads every file through a prefilter (cheap text checks that decide whether a
file, or a document of it, is worth parsing). The prefilter must be conservative: for
any valid manifest, walking the folder and naming each of its files must plan the same
changes and skips, at the same lines, and write the same bytes. The generated files are
hostile but valid YAML (explicit ``? image`` keys, escapes and line continuations in
double-quoted values, anchors and redefined anchors, merge keys, flow collections,
block scalars, comments, tags, document markers, CRLF/CR-only, BOM, non-ASCII).
A file broken on purpose (an undefined alias, a tab indent, a NUL byte, ...) is a
warning and left untouched in a walk, and an error naming it when named. ``bumper
images`` lists every reference at the line ``set-image`` reports it.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from bumper.edit.inventory import list_images
from tests.fuzzing import (
    BREAKS,
    assert_no_internal_error,
    break_file,
    bumps,
    canonical,
    draw_case,
    fuzz_settings,
    gen_files,
    named,
    refused_by_yaml12,
    relative,
    show,
    targets,
    tree,
    walked,
)


@fuzz_settings(120)
@given(data=st.data())
def test_a_walk_plans_what_naming_each_file_plans(data: st.DataObject) -> None:
    files, bump, _ = draw_case(data)
    with tree(files) as root:
        walk = walked(bump, root)
        each = named(bump, root, files)
    context = f"set-image {bump.argument}\n{show(files)}"
    assert_no_internal_error(walk, f"walked\n{context}")
    assert_no_internal_error(each, f"named\n{context}")
    assert walk.problems == [], f"a valid file was refused by the walk: {walk.problems}\n{context}"
    assert (walk.error, walk.changes, walk.skips) == (each.error, each.changes, each.skips), (
        f"walked:\n{walk}\nnamed:\n{each}\n{context}"
    )
    assert walk.written == each.written, context


@fuzz_settings(60)
@given(data=st.data())
def test_an_invalid_file_is_refused_alike_walked_or_named(data: st.DataObject) -> None:
    target = data.draw(targets(), label="target")
    files = data.draw(gen_files(target, max_files=2), label="files")
    bump = data.draw(bumps(target), label="bump")
    broken = data.draw(st.sampled_from(files), label="broken file")
    how = data.draw(st.sampled_from(BREAKS), label="how")
    bad = break_file(broken.data(), how, data.draw(st.integers(0, 60), label="line"))
    assume(refused_by_yaml12(bad))
    with tree(files) as root:
        valid = named(bump, root, files)
        (root / broken.name).write_bytes(bad)
        walk = walked(bump, root)
        each = named(bump, root, files)
        after = (root / broken.name).read_bytes()
    context = f"{how} in {broken.name}: {bad!r}\nset-image {bump.argument}\n{show(files)}"
    assert_no_internal_error(walk, f"walked\n{context}")
    assert_no_internal_error(each, f"named\n{context}")
    assert broken.name not in walk.written, f"a walk edits a file that does not parse\n{context}"
    # A walk need not parse a file that cannot hold the image; one that would be
    # edited when valid must be a warning.
    relevant = any(c[0] == broken.name for c in valid.changes + valid.skips)
    warned = [p[0] for p in walk.problems]
    assert warned in ([broken.name], [] if not relevant else [broken.name]), (
        f"a walk must warn about {broken.name} only: {walk.problems}\n{context}"
    )
    assert each.error is not None and each.error.startswith(broken.name), (
        f"naming {broken.name} must fail the run: {each}\n{context}"
    )
    assert after == bad


@fuzz_settings(60)
@given(data=st.data())
def test_images_lists_each_reference_where_set_image_reports_it(data: st.DataObject) -> None:
    target = data.draw(targets(), label="target")
    files = data.draw(gen_files(target), label="files")
    bump = data.draw(bumps(target), label="bump")
    with tree(files) as root:
        found, _ = list_images([root])
        outcome = walked(bump, root)
        listed = {
            (relative(item.path, root), item.line)
            for item in found
            if canonical(item.name) == canonical(target)
        }
    assume(outcome.error is None)
    # Skips are left out: a map that is only perhaps an image map is skipped with a
    # note by set-image and is not a reference for images.
    reported = {(item[0], item[1]) for item in outcome.changes}
    assert reported <= listed, (
        f"set-image reports {sorted(reported - listed)}, images lists {sorted(listed)}\n"
        f"set-image {bump.argument}\n{show(files)}"
    )
