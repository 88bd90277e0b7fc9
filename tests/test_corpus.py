"""Real manifests from public projects (../shared/corpus/real, skipped when absent).

For every repository referenced anywhere in the corpus, bump it to a new tag on a copy
and check that the only lines that change are the reported ones, that every other
byte stays, and that templates and placeholders are never touched.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from bumper.edit.inventory import list_images
from bumper.edit.plan import plan_set_image
from bumper.edit.prefilter import Prefilter
from bumper.edit.reference import canonical_name
from bumper.edit.yamltext import YamlError, parse_text
from tests.conftest import SHARED_CORPUS

pytestmark = pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="../shared corpus absent")

NEW_TAG = "99.0.0-bumper"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("corpus") / "real"
    shutil.copytree(SHARED_CORPUS, copy)
    return copy


def test_images_walks_everything_and_reports_each_unparseable_file(corpus: Path) -> None:
    found, problems = list_images([corpus])
    assert len(found) > 300
    reported = {p.path for p in problems}
    for path in sorted(corpus.rglob("*.y*ml")):
        if "templates" in path.parts:
            continue
        display = path.relative_to(corpus).as_posix()
        try:
            parse_text(path.read_bytes().decode("utf-8-sig"))
        except YamlError:
            assert f"{corpus}/{display}" in reported, display
        else:
            assert f"{corpus}/{display}" not in reported, display


def test_prefilter_never_turns_away_a_file_with_a_reference(corpus: Path) -> None:
    found, _ = list_images([corpus])
    for ref in found:
        data = Path(ref.path).read_bytes()
        prefilter = Prefilter(ref.name)
        assert prefilter.file_may_hold(data), (ref.path, ref.line, ref.name)
        assert prefilter.text_may_hold(data.decode("utf-8-sig")), (ref.path, ref.name)


def _repositories(corpus: Path) -> list[str]:
    found, _ = list_images([corpus])
    names: dict[str, str] = {}
    for ref in found:
        if ref.note is None:
            names.setdefault(canonical_name(ref.name), ref.name)
    return sorted(names.values())


def test_every_repository_bumps_only_its_own_lines(corpus: Path, tmp_path: Path) -> None:
    repositories = _repositories(corpus)
    assert len(repositories) > 100
    work = tmp_path / "work"
    shutil.copytree(corpus, work)
    for name in repositories:
        plan = plan_set_image(f"{name}:{NEW_TAG}", [work])
        assert plan.changes, name
        changed_lines: dict[str, set[int]] = {}
        for change in plan.changes:
            changed_lines.setdefault(change.path, set()).add(change.line)
            assert canonical_name(change.name) == canonical_name(name)
            assert change.new_tag == NEW_TAG
        before = {p.source.display: p.text.text for p in plan.files if p.changed}
        plan.apply()
        for display, old_text in before.items():
            new_text = Path(display).read_bytes().decode("utf-8-sig")
            _assert_only_reported_lines(display, old_text, new_text, changed_lines[display])
        rerun = plan_set_image(f"{name}:{NEW_TAG}", [work])
        assert not rerun.changed, f"rerun for {name} is not a no-op"
        for file_plan in plan.files:
            file_plan.source.path.write_bytes(file_plan.original_bytes)


def _assert_only_reported_lines(display: str, old: str, new: str, lines: set[int]) -> None:
    # Compare as if both ended with a newline: a key added after the last line of a
    # file without one shows as an insertion, not as a changed last line.
    old_lines = (old if old.endswith("\n") else old + "\n").splitlines(keepends=True)
    new_lines = (new if new.endswith("\n") else new + "\n").splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and a1 - a0 == b1 - b0:
            for offset in range(a1 - a0):
                if new_lines[b0 + offset].strip() == 'digest: ""':
                    continue  # a Helm map's stale digest is emptied
                assert a0 + offset + 1 in lines, f"{display}:{a0 + offset + 1} changed unreported"
                old_line, new_line = old_lines[a0 + offset], new_lines[b0 + offset]
                assert "{{" not in old_line and "${" not in old_line, (display, old_line)
                assert NEW_TAG in new_line, (display, new_line)
        elif op == "delete":
            # Only a stale digest (kustomize) may disappear.
            assert all(line.strip().startswith("digest:") for line in old_lines[a0:a1]), (
                display,
                old_lines[a0:a1],
            )
        elif op == "insert":
            # An entry without a tag gains one (kustomize ``newTag``, Helm ``tag``).
            assert all(
                line.strip().split(":")[0] in ("newTag", "tag") and NEW_TAG in line
                for line in new_lines[b0:b1]
            ), (display, new_lines[b0:b1])
        else:
            raise AssertionError(
                f"{display}: unexpected {op} {old_lines[a0:a1]} → {new_lines[b0:b1]}"
            )


def test_templates_and_placeholders_never_change(corpus: Path, tmp_path: Path) -> None:
    work = tmp_path / "all"
    shutil.copytree(corpus, work)
    originals = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    for name in _repositories(corpus):
        plan_set_image(f"{name}:{NEW_TAG}", [work], allow_downgrade=True).apply()
    for path, data in originals.items():
        if "templates" in path.parts or path.suffix == ".tpl":
            assert path.read_bytes() == data, path
            continue
        new = path.read_bytes()
        if new == data:
            continue
        old_lines = data.decode("utf-8-sig").splitlines()
        new_lines = new.decode("utf-8-sig").splitlines()
        kept = set(new_lines)
        for line in old_lines:
            if "{{" in line or "${" in line:
                assert line in kept, (path, line)
