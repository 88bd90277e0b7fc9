"""Semantic fuzzer: after a bump, only the intended values changed, in the eyes of two
outside YAML loaders (PyYAML/libyaml for YAML 1.1, ruamel's pure loader for YAML 1.2).

For generated trees of hostile but valid manifests, walked like ``bumper set-image IMAGE
DIR`` does, then written:

- every file still loads in each loader that loaded it before;
- the loaded data is equal to the data before except the target's references, and
  those hold exactly what the README's rules say (tag, digest, kept spelling, stale
  digest or tag dropped), as *strings* in both loaders (``0X1F``, ``1e3``, ``yes``, ...);
- a block scalar before an inserted key keeps its value; env, args, labels,
  annotations, ConfigMap/Secret data, ``status``, Flux ``ImageRepository`` and GitHub
  workflows never change, not even through an anchor;
- every reference to the target that shares nothing through anchors was changed (in
  files where the plan reports no reference as skipped);
- a second run changes nothing.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bumper.edit.plan import plan_set_image
from bumper.errors import BumperError
from tests.fuzzing import (
    LOADERS,
    LoadError,
    draw_case,
    expand,
    fuzz_settings,
    must_violations,
    relative,
    semantic_violations,
    show,
    tree,
)


@fuzz_settings(100)
@given(data=st.data())
def test_only_the_targeted_values_change(data: st.DataObject) -> None:
    files, bump, before = draw_case(data, ci_files=True)
    context = f"set-image {bump.argument}\n{show(files)}"
    with tree(files) as root:
        try:
            plan = plan_set_image(bump.argument, [root], allow_downgrade=True, allow_missing=True)
            plan.apply()
        except BumperError as error:
            raise AssertionError(f"valid manifests refused: {error}\n{context}") from None
        except Exception as error:
            raise AssertionError(f"crash: {error!r}\n{context}") from error
        assert plan.problems == [], f"valid files refused: {plan.problems}\n{context}"
        # A reference reported as skipped, with its reason, is not missed silently.
        skipped = {relative(skip.path, root) for skip in plan.skips}
        after_bytes = {gen.name: (root / gen.name).read_bytes() for gen in files}
        again = plan_set_image(bump.argument, [root], allow_downgrade=True, allow_missing=True)
    problems: list[str] = []
    for gen in files:
        written = after_bytes[gen.name]
        if gen.name in (".github/workflows/release.yml", "ci.yml"):
            if written != gen.data():
                problems.append(f"{gen.name}: a GitHub workflow was edited")
            continue
        text = written.decode("utf-8-sig")
        for loader, old in before[gen.name].items():
            try:
                new = LOADERS[loader](text)
            except LoadError as error:
                problems.append(f"{gen.name}: no longer loads: {error}")
                continue
            found = semantic_violations(old, new, bump, gen.name)
            if gen.name not in skipped:
                found += must_violations(expand(gen.docs, loader), new, bump)
            problems += [f"{gen.name} ({loader}): {problem}" for problem in found]
    written_files = "\n".join(f"+++ {name}: {data!r}" for name, data in after_bytes.items())
    assert problems == [], "\n".join(problems) + f"\n{context}\n{written_files}"
    assert not again.changed, f"a second run changes more:\n{again.diff()}\n{context}"
