"""The set-image and images commands: exit codes, errors, outputs, which files are read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import read_tree, write_tree

POD = "kind: Pod\nspec:\n  containers:\n  - name: app\n    image: ghcr.io/acme/app:1.0.0\n"
POD_NEW = POD.replace("1.0.0", "1.0.1")
BROKEN = "kind: Pod\nspec:\n  containers: [\n  - oops: {\n"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("ghcr.io/acme/app", "nothing to set"),
        ("ghcr.io/Acme/app:1", "lowercase"),
        ("ghcr.io/acme/app:-bad", "tag '-bad'"),
        ("ghcr.io/acme/app@sha256:abc", "digest"),
        ("ghcr.io/acme/app@sha256:" + "A" * 64, "lowercase hex"),
        ("ghcr.io/acme/app:1=other:2", "before '='"),
        ("", "empty image reference"),
        ("ghcr.io/acme/app:" + "x" * 129, "1-128 characters"),
    ],
)
def test_invalid_image_is_one_line_exit_1(
    run_bumper: Callable[..., Result], tmp_path: Path, image: str, message: str
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD})
    result = run_bumper("set-image", image, ".")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "pod.yaml").read_text() == POD


def test_no_reference_is_an_error_unless_allowed(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD})
    result = run_bumper("set-image", "ghcr.io/acme/typo:1.0.1", ".")
    assert result.exit_code == 1
    assert "no reference to ghcr.io/acme/typo" in result.stderr
    allowed = run_bumper("set-image", "ghcr.io/acme/typo:1.0.1", ".", "--allow-missing")
    assert allowed.exit_code == 0


def test_named_broken_file_fails_and_writes_nothing(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"a.yaml": POD, "b.yaml": BROKEN})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "a.yaml", "b.yaml")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("bumper: error: b.yaml:4:3:")
    assert (tmp_path / "a.yaml").read_text() == POD


def test_broken_file_in_a_walk_is_a_warning(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    broken = "image: ghcr.io/acme/app:1.0.0\nspec: [\n  - oops: {\n"
    write_tree(tmp_path, {"a.yaml": POD, "sub/b.yaml": broken})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", ".")
    assert result.exit_code == 0, result.stderr
    assert "warning: sub/b.yaml:3:3:" in result.stderr
    assert (tmp_path / "a.yaml").read_text() == POD_NEW


def test_duplicate_keys_are_a_parse_problem(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"dup.yaml": POD + "kind: Deployment\n"})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "dup.yaml")
    assert result.exit_code == 1
    assert 'dup.yaml:6:1: duplicate key "kind"' in result.stderr


def test_json_output(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(tmp_path, {"pod.yaml": POD, "old.yaml": POD.replace("1.0.0", "2.0.0")})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", ".", "--output", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["changed"] is True
    assert document["changes"] == [
        {
            "file": "pod.yaml",
            "line": 5,
            "column": 12,
            "shape": "workload",
            "name": "ghcr.io/acme/app",
            "old": "ghcr.io/acme/app:1.0.0",
            "new": "ghcr.io/acme/app:1.0.1",
            "old_tag": "1.0.0",
            "new_tag": "1.0.1",
            "old_digest": None,
            "new_digest": None,
        }
    ]
    assert document["skipped"][0]["file"] == "old.yaml"
    assert "downgrade 2.0.0 → 1.0.1" in document["skipped"][0]["reason"]
    assert document["files"] == ["pod.yaml"]


def test_human_summary_on_stderr(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(tmp_path, {"k8s/pod.yaml": POD})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "k8s")
    assert result.stdout == ""
    assert "k8s/pod.yaml:5  ghcr.io/acme/app  1.0.0 → 1.0.1" in result.stderr
    again = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "k8s")
    assert "already up to date" in again.stderr


def test_dry_run_prints_diff_and_writes_nothing(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD})
    result = run_bumper("set-image", "--dry-run", "ghcr.io/acme/app:1.0.1", ".")
    assert result.exit_code == 0
    assert result.stdout.startswith("--- a/pod.yaml\n+++ b/pod.yaml\n")
    assert (
        "-    image: ghcr.io/acme/app:1.0.0\n+    image: ghcr.io/acme/app:1.0.1\n" in result.stdout
    )
    assert (tmp_path / "pod.yaml").read_text() == POD


def test_diff_prints_and_writes(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(tmp_path, {"pod.yaml": POD})
    result = run_bumper("set-image", "--diff", "ghcr.io/acme/app:1.0.1", ".")
    assert "+    image: ghcr.io/acme/app:1.0.1" in result.stdout
    assert (tmp_path / "pod.yaml").read_text() == POD_NEW


def test_allow_downgrade(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(tmp_path, {"pod.yaml": POD_NEW})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.0", ".")
    assert result.exit_code == 0 and "skipped: downgrade" in result.stderr
    assert (tmp_path / "pod.yaml").read_text() == POD_NEW
    result = run_bumper("set-image", "--allow-downgrade", "ghcr.io/acme/app:1.0.0", ".")
    assert (tmp_path / "pod.yaml").read_text() == POD


def test_include_exclude(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(tmp_path, {"prod/pod.yaml": POD, "dev/pod.yaml": POD, "dev/other.yaml": POD})
    run_bumper(
        "set-image", "ghcr.io/acme/app:1.0.1", ".", "--include", "dev/*", "--exclude", "other.yaml"
    )
    tree = read_tree(tmp_path)
    assert tree["dev/pod.yaml"].decode() == POD_NEW
    assert tree["dev/other.yaml"].decode() == POD
    assert tree["prod/pod.yaml"].decode() == POD


def test_walk_reads_yaml_only_but_named_files_whatever_extension(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    manifest = {"kind": "Pod", "spec": {"containers": [{"image": "ghcr.io/acme/app:1.0.0"}]}}
    text = json.dumps(manifest, indent="\t") + "\n"
    write_tree(tmp_path, {"pod.json": text, "notes.txt": "image: ghcr.io/acme/app:1.0.0\n"})
    walked = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", ".")
    assert walked.exit_code == 1
    named = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "pod.json")
    assert named.exit_code == 0, named.stderr
    assert (tmp_path / "pod.json").read_text() == text.replace("1.0.0", "1.0.1")
    assert json.loads((tmp_path / "pod.json").read_text())["kind"] == "Pod"


def test_git_ignored_and_dot_git_are_not_walked(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write_tree(
        tmp_path,
        {".gitignore": "build/\n", "build/pod.yaml": POD, "pod.yaml": POD, ".git/pod.yaml": POD},
    )
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", ".")
    assert result.exit_code == 0
    tree = read_tree(tmp_path)
    assert tree["pod.yaml"].decode() == POD_NEW
    assert tree["build/pod.yaml"].decode() == POD
    assert (tmp_path / ".git/pod.yaml").read_text() == POD


def test_helm_chart_templates_are_never_edited(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
            "chart/values.yaml": "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n",
            "chart/templates/pod.yaml": POD,
            "chart/templates/_helpers.tpl": "image: ghcr.io/acme/app:1.0.0\n",
        },
    )
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", ".")
    assert result.exit_code == 0
    tree = read_tree(tmp_path)
    assert tree["chart/values.yaml"].decode().endswith("tag: 1.0.1\n")
    assert tree["chart/templates/pod.yaml"].decode() == POD


def test_file_mode_kept_and_symlink_target_written(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"real/pod.yaml": POD})
    (tmp_path / "real/pod.yaml").chmod(0o640)
    (tmp_path / "link.yaml").symlink_to("real/pod.yaml")
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "link.yaml")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "link.yaml").is_symlink()
    assert (tmp_path / "real/pod.yaml").read_text() == POD_NEW
    assert (tmp_path / "real/pod.yaml").stat().st_mode & 0o777 == 0o640
    assert not [p for p in (tmp_path / "real").iterdir() if p.name != "pod.yaml"]


def test_billion_laughs_does_not_expand(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("image: ghcr.io/acme/app:1.0.0")
    write_tree(tmp_path, {"lol.yaml": "\n".join(lines) + "\n"})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "lol.yaml")
    assert result.exit_code == 0
    assert (tmp_path / "lol.yaml").read_text().endswith("image: ghcr.io/acme/app:1.0.1\n")


def test_non_utf8_file_named_is_an_error(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"latin1.yaml": "# caf\xe9\nimage: ghcr.io/acme/app:1\n".encode("latin-1")}
    )
    result = run_bumper("set-image", "ghcr.io/acme/app:2", "latin1.yaml")
    assert result.exit_code == 1
    assert "latin1.yaml:1:6: not valid UTF-8 text" in result.stderr


def test_missing_path_is_an_error(run_bumper: Callable[..., Result]) -> None:
    result = run_bumper("set-image", "ghcr.io/acme/app:2", "nope/")
    assert result.exit_code == 1
    assert "nope/: no such file or directory" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--output", "xml", "a:1"),
        ("a:1", ".", "--label", "x"),  # a pull-request option without delivery
        ("a:1", ".", "--branch", "main"),  # a delivery option without --commit/--push/...
        ("a:1", ".", "--token", "t"),
        ("a:1", ".", "--via", "api", "--commit"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    run_bumper: Callable[..., Result], tmp_path: Path, args: tuple[str, ...]
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD.replace("ghcr.io/acme/app", "a")})
    result = run_bumper("set-image", *args)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "pod.yaml").read_text() == POD.replace("ghcr.io/acme/app", "a")


def test_images_lists_every_reference(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pod.yaml": POD,
            "kustomization.yaml": (
                "images:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: 2\n"
            ),
            "broken.yaml": BROKEN,
        },
    )
    result = run_bumper("images", ".", "--output", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert [
        (i["file"], i["line"], i["name"], i["tag"], i["shape"]) for i in document["images"]
    ] == [
        ("kustomization.yaml", 4, "ghcr.io/acme/app", "2", "kustomize"),
        ("pod.yaml", 5, "ghcr.io/acme/app", "1.0.0", "workload"),
    ]
    assert document["warnings"][0]["file"] == "broken.yaml"
    text = run_bumper("images")
    assert "pod.yaml:5\tghcr.io/acme/app\t1.0.0\t-\tworkload" in text.stdout
    assert "warning: broken.yaml:4:3:" in text.stderr


def test_library_api(tmp_path: Path) -> None:
    import bumper

    write_tree(tmp_path, {"pod.yaml": POD})
    plan = bumper.plan_set_image("ghcr.io/acme/app:1.0.1", [tmp_path])
    assert [c.new for c in plan.changes] == ["ghcr.io/acme/app:1.0.1"]
    assert "+    image: ghcr.io/acme/app:1.0.1" in plan.diff()
    assert (tmp_path / "pod.yaml").read_text() == POD
    assert plan.apply() == [tmp_path / "pod.yaml"]
    assert (tmp_path / "pod.yaml").read_text() == POD_NEW


def test_set_image_does_not_import_heavy_modules(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pod.yaml": POD})
    code = (
        "import sys\nfrom bumper.cli import main\n"
        "try:\n    main(['set-image', 'ghcr.io/acme/app:1.0.1', '.'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('docker', 'github', 'requests') if m in sys.modules))\n"
    )
    env = dict(os.environ)
    out = subprocess.run(
        ["python", "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "pod.yaml").read_text() == POD_NEW


def test_json_manifest_gains_json_keys(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"values.json": '{"image": {"repository": "ghcr.io/acme/app", "tag": "1"}}'}
    )
    digest = "sha256:" + "1" * 64
    result = run_bumper("set-image", f"ghcr.io/acme/app@{digest}", "values.json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "values.json").read_text()) == {
        "image": {"repository": "ghcr.io/acme/app", "tag": "", "digest": digest}
    }


def test_chart_templates_are_left_alone_from_inside_and_when_named(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"chart/Chart.yaml": "name: c\n", "chart/templates/pod.yaml": POD})
    inside = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "chart/templates")
    assert inside.exit_code == 1 and "no reference" in inside.stderr
    named = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "chart/templates/pod.yaml")
    assert "warning: chart/templates/pod.yaml:1:1: a Helm chart template: never edited" in (
        named.stderr
    )
    assert (tmp_path / "chart/templates/pod.yaml").read_text() == POD


def test_warnings_are_shown_before_no_reference_error(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"a.yaml": "image: ghcr.io/acme/app:1.0.0\nbad: [\n"})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.1.0", ".")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("warning: a.yaml:3:1: invalid YAML")
    assert lines[1].startswith("bumper: error: no reference to ghcr.io/acme/app")


@pytest.mark.parametrize(
    ("image", "summary"),
    [
        ("ghcr.io/acme/app=quay.io/acme/app", "ghcr.io/acme/app:1.0.0 → quay.io/acme/app:1.0.0"),
        ("ghcr.io/acme/app:1.0.1", "1.0.0 → 1.0.1"),
    ],
)
def test_summary_lines(
    run_bumper: Callable[..., Result], tmp_path: Path, image: str, summary: str
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD.replace("ghcr.io/acme/app", "ghcr.io/acme/app")})
    result = run_bumper("set-image", image, ".")
    assert f"pod.yaml:5  ghcr.io/acme/app  {summary}" in result.stderr


def test_keys_of_different_types_are_not_duplicates(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"pod.yaml": POD + '1: a\n"1": b\n'})
    result = run_bumper("set-image", "ghcr.io/acme/app:1.0.1", "pod.yaml")
    assert result.exit_code == 0, result.stderr


def test_parallel_planning_gives_the_same_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bumper.edit.plan

    files = {
        f"team{i % 7}/pod{i}.yaml": POD if i % 3 else POD.replace("app:", "db:") for i in range(900)
    }
    files["broken.yaml"] = "image: ghcr.io/acme/app:1\nx: [\n"
    write_tree(tmp_path, files)
    parallel = bumper.edit.plan.plan_set_image("ghcr.io/acme/app:2.0.0", [tmp_path])
    monkeypatch.setattr(bumper.edit.plan, "PARALLEL_MIN_FILES", 10**9)
    sequential = bumper.edit.plan.plan_set_image("ghcr.io/acme/app:2.0.0", [tmp_path])
    assert len(parallel.changes) == 600
    assert parallel.to_dict() == sequential.to_dict()
    assert parallel.diff() == sequential.diff()


@pytest.mark.parametrize("width", [50, 80, 120])
def test_bumper_help_lists_each_command_with_its_own_help(width: int) -> None:
    """``bumper --help`` lists the commands without loading them: the listing must be
    what click would show with the commands themselves loaded."""
    import click

    from bumper.cli import COMMANDS, main

    context = click.Context(main)
    loaded = {name: main.get_command(context, name) for name in COMMANDS}
    assert all(command is not None and command.name == name for name, command in loaded.items())
    eager = click.Group("bumper", commands=loaded)  # type: ignore[arg-type]
    lazy_help, eager_help = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    main.format_commands(context, lazy_help)
    eager.format_commands(click.Context(eager), eager_help)
    assert lazy_help.getvalue() == eager_help.getvalue() != ""


def test_start_up_loads_no_command_module() -> None:
    probe = (
        "import sys\nfrom bumper.cli import main\n"
        "print(sorted(m for m in sys.modules if m.startswith('bumper.cli.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
