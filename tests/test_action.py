"""The GitHub Action, run end to end the way the runner runs action.yml (tests/action_harness):
outputs, job summary, annotations and the state of the repositories it delivers to."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bumper.action import Runner, env_name, parse_inputs, render_summary, trust_workspace
from bumper.errors import BumperError
from tests import fakegithub_fixtures
from tests.action_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    TOKEN,
    Run,
    act_fixture,
    checkout,
    fast_venv_fixture,
    git,
    git_server_fixture,
    seed,
    show,
)
from tests.action_harness import (
    ROOT,
    ActionRun,
    load_action,
    parse_command_file,
    push_event,
    run_action,
)
from tests.docker_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    BASE_IMAGE,
    REGISTRY,
    Registry,
    docker_client_fixture,
    registry_fixture,
    unique_repo,
)
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import create_bare_repo
from tests.githttp import GitHttpServer

fake_github_factory = fakegithub_fixtures.fake_github_factory

DIGEST = "sha256:" + "4f" * 32
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app  # the web front
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}
"""
DOCKERFILE = f'FROM {BASE_IMAGE}\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n'


def table_row(path: str, line: int, old: str, new: str) -> str:
    return f"| `{path}` | {line} | `{old}` | `{new}` |"


# --- the metadata -----------------------------------------------------------------------

ISSUE_INPUTS = {
    "image", "tag", "tag-strategy", "build", "push", "context", "file", "build-args", "target",
    "labels", "platform", "digest", "pin-digest", "paths", "repository", "base", "branch",
    "mode", "title", "reviewers", "team-reviewers", "assignees", "draft", "auto-merge",
    "commit-message", "skip-ci", "token", "username", "password", "allow-downgrade", "dry-run",
    "via",
}  # fmt: skip
ISSUE_OUTPUTS = {
    "image", "tag", "digest", "ref", "changed", "changed-files", "commit-sha", "commit-url",
    "commit-verified", "pull-request-number", "pull-request-url", "pull-request-operation",
    # Build parity and the pull-request outputs people expect.
    "pull-request-branch", "pull-request-head-sha", "metadata",
}  # fmt: skip
# The commands of the release lifecycle, registry checks and build-push-action's options.
LATER_INPUTS = {
    "command", "images", "group", "from", "to", "rollback-to", "rollback-steps", "force",
    "verify", "policy", "tags", "platforms", "secrets", "secret-files", "secret-envs",
    "cache-from", "cache-to", "provenance", "sbom", "network", "pull", "no-cache",
    "build-contexts", "ssh", "body", "milestone", "delete-branch", "author", "committer",
    "signoff",
}  # fmt: skip


def test_action_yml_declares_the_inputs_and_outputs_and_passes_inputs_only_through_env() -> None:
    action = load_action()
    assert set(action["inputs"]) >= ISSUE_INPUTS | LATER_INPUTS
    assert set(action["outputs"]) == ISSUE_OUTPUTS
    # image and paths are needed by some commands only: bumper checks, naming the input.
    assert not [k for k, v in action["inputs"].items() if v.get("required")]
    assert all(spec["description"] for spec in action["inputs"].values())
    assert action["branding"]["icon"] and action["branding"]["color"]
    steps = action["runs"]["steps"]
    assert not any("${{" in step.get("run", "") for step in steps)
    env = steps[-1]["env"]
    assert {env_name(name) for name in action["inputs"]} <= set(env)
    for name in action["inputs"]:
        assert env[env_name(name)] == f"${{{{ inputs.{name} }}}}"


# --- push mode: build, push, bump, deliver ----------------------------------------------


@pytest.mark.docker
def test_build_push_and_bump_in_push_mode(
    act: Run, tmp_path: Path, git_server: GitHttpServer, registry: Registry
) -> None:
    name = f"{REGISTRY}/{unique_repo()}"
    bare = seed(
        git_server,
        "acme/app",
        {
            "Dockerfile": DOCKERFILE,
            "app.txt": "hello\n",
            "k8s/deployment.yaml": DEPLOYMENT.format(image=f"{name}:sha-0000000"),
        },
    )
    workspace = checkout(bare, tmp_path / "workspace")
    sha = git(workspace, "rev-parse", "HEAD")

    run = act({"image": name, "paths": "k8s", "mode": "push", "pin-digest": "true"})

    assert run.returncode == 0, run.log
    tag = f"sha-{sha[:7]}"
    digest = registry.manifest_digest(name.split("/", 1)[1], tag)
    assert digest is not None
    head = git(bare, "rev-parse", "main")
    outputs = run.outputs | {"changed-files": json.loads(run.outputs["changed-files"])}
    metadata = json.loads(outputs.pop("metadata"))
    assert outputs == {
        "image": name,
        "tag": tag,
        "digest": digest,
        "ref": f"{name}:{tag}@{digest}",
        "changed": "true",
        "changed-files": ["k8s/deployment.yaml"],
        "commit-sha": head,
        "commit-url": f"http://127.0.0.1:{git_server.port}/acme/app/commit/{head}",
        "commit-verified": "false",
        "pull-request-number": "",
        "pull-request-url": "",
        "pull-request-operation": "",
        "pull-request-branch": "",
        "pull-request-head-sha": "",
    }
    assert (metadata["image"], metadata["tags"], metadata["digest"]) == (name, [tag], digest)
    assert metadata["delivery"]["commit"] == head
    assert [c["new"] for c in metadata["changes"]] == [f"{name}:{tag}@{digest}"]
    assert show(bare, "k8s/deployment.yaml") == DEPLOYMENT.format(
        image=f"{name}:{tag}@{digest}"
    ).rstrip("\n")
    message = git(bare, "log", "-1", "--format=%B", "main")
    # A direct push to the repository the workflow runs in must not start it again.
    assert "[skip ci]" in message.splitlines()[0]
    assert f"Bumped-Image: {name}:{tag}@{digest}" in message
    assert git(bare, "log", "-1", "--format=%an", "main") == "github-actions[bot]"
    assert f"::group::Build {name}:{tag}" in run.log
    assert f"::group::Push {name}:{tag}" in run.log
    assert f"::add-mask::{TOKEN}" in run.log
    assert TOKEN not in run.log.replace(f"::add-mask::{TOKEN}", "")
    assert digest in run.summary
    assert table_row("k8s/deployment.yaml", 10, "sha-0000000", f"{tag}@{digest}") in run.summary
    assert f"[`{head[:12]}`]({run.outputs['commit-url']})" in run.summary


# --- pull-request mode ------------------------------------------------------------------


@pytest.mark.docker
def test_build_and_open_a_pull_request_on_the_fake_github(
    tmp_path: Path,
    fast_venv: Path,
    fake_github_factory: Callable[..., FakeGitHub],
    registry: Registry,
) -> None:
    name = f"{REGISTRY}/{unique_repo()}"
    manifests = create_bare_repo(
        tmp_path / "remotes" / "manifests.git",
        {"k8s/deployment.yaml": DEPLOYMENT.format(image=f"{name}:1.0.0")},
    )
    fake = fake_github_factory({"acme/manifests": manifests})
    app = create_bare_repo(
        tmp_path / "remotes" / "app.git", {"Dockerfile": DOCKERFILE, "app.txt": "v1.1.0\n"}
    )
    workspace = checkout(app, tmp_path / "workspace")

    run = run_action(
        {
            "image": name,
            "tag": "1.1.0",
            "paths": "k8s/",
            "repository": "acme/manifests",
            "labels": "deploy, automated",
            "title": "Deploy {name} {tag}",
        },
        workspace=workspace,
        temp=tmp_path / "run",
        token=fake.token,
        env={
            "BUMPER_ACTION_VENV": str(fast_venv),
            "GITHUB_SERVER_URL": fake.base_url,
            "GITHUB_API_URL": fake.api_url,
            "GITHUB_GRAPHQL_URL": fake.graphql_url,
            "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        },
    )

    assert run.returncode == 0, run.log
    pulls = fake.pulls("acme/manifests", state="open")
    assert len(pulls) == 1
    pull = pulls[0]
    assert run.outputs["pull-request-operation"] == "created"
    assert run.outputs["pull-request-number"] == str(pull["number"])
    assert run.outputs["pull-request-url"] == pull["html_url"]
    assert run.outputs["changed"] == "true"
    assert json.loads(run.outputs["changed-files"]) == ["k8s/deployment.yaml"]
    assert sorted(label["name"] for label in pull["labels"]) == ["automated", "deploy"]
    branch = pull["head"]["ref"]
    digest = registry.manifest_digest(name.split("/", 1)[1], "1.1.0")
    assert run.outputs["digest"] == digest
    assert show(manifests, "k8s/deployment.yaml", branch) == DEPLOYMENT.format(
        image=f"{name}:1.1.0"
    ).rstrip("\n")
    assert show(manifests, "k8s/deployment.yaml") == DEPLOYMENT.format(
        image=f"{name}:1.0.0"
    ).rstrip("\n")
    # Pull-request commits never skip CI: a skipped required check blocks the merge.
    assert "[skip ci]" not in git(manifests, "log", "-1", "--format=%B", branch)
    assert f"({pull['html_url']})" in run.summary


# --- bring your own image ---------------------------------------------------------------


def test_bring_your_own_image_pins_the_digest_and_a_rerun_changes_nothing(
    act: Run, tmp_path: Path, git_server: GitHttpServer
) -> None:
    bare = seed(
        git_server,
        "acme/manifests",
        {
            "k8s/deployment.yaml": DEPLOYMENT.format(image="ghcr.io/acme/app:1.4.1"),
            "k8s/kustomization.yaml": (
                "resources:\n  - deployment.yaml\nimages:\n"
                "  - name: ghcr.io/acme/app\n    newTag: 1.4.1\n"
            ),
            "k8s/broken.yaml": "image: ghcr.io/acme/app:1.0\n  bad: [indent\n",
        },
    )
    (tmp_path / "workspace").mkdir()
    inputs = {
        "image": "ghcr.io/acme/app:1.4.2",
        "digest": DIGEST,
        "build": "false",
        "verify": "false",  # ghcr.io cannot be reached from the tests
        "paths": "k8s",
        "repository": "acme/manifests",
        "mode": "push",
    }

    first = act(inputs)

    assert first.returncode == 0, first.log
    head = git(bare, "rev-parse", "main")
    assert first.outputs["changed"] == "true"
    assert first.outputs["commit-sha"] == head
    assert first.outputs["ref"] == f"ghcr.io/acme/app:1.4.2@{DIGEST}"
    assert first.outputs["digest"] == DIGEST
    assert json.loads(first.outputs["changed-files"]) == [
        "k8s/deployment.yaml",
        "k8s/kustomization.yaml",
    ]
    assert "image: ghcr.io/acme/app:1.4.2@" + DIGEST in show(bare, "k8s/deployment.yaml")
    kustomization = show(bare, "k8s/kustomization.yaml")
    assert "newTag: 1.4.2\n" in kustomization and f"digest: {DIGEST}" in kustomization
    # Another repository: no [skip ci] (the push starts no workflow of ours).
    assert "[skip ci]" not in git(bare, "log", "-1", "--format=%s", "main")
    assert any(
        line.startswith("::error file=k8s/broken.yaml,line=2,") for line in first.log.splitlines()
    ), first.log
    assert table_row("k8s/deployment.yaml", 10, "1.4.1", f"1.4.2@{DIGEST}") in first.summary

    second = act(inputs)

    assert second.returncode == 0, second.log
    assert git(bare, "rev-parse", "main") == head
    assert second.outputs["changed"] == "false"
    assert second.outputs["commit-sha"] == ""
    assert json.loads(second.outputs["changed-files"]) == []
    assert "already up to date" in second.summary


def test_dry_run_in_this_repository_plans_in_the_workspace_and_writes_nothing(
    act: Run, tmp_path: Path, git_server: GitHttpServer
) -> None:
    original = DEPLOYMENT.format(image="ghcr.io/acme/app:1.4.1")
    bare = seed(git_server, "acme/app", {"deploy/app.yaml": original})
    workspace = checkout(bare, tmp_path / "workspace")
    head = git(bare, "rev-parse", "main")

    run = act(
        {
            "image": "ghcr.io/acme/app:1.5.0",
            "build": "false",
            "verify": "false",
            "paths": "deploy",
            "dry-run": "true",
        }
    )

    assert run.returncode == 0, run.log
    assert run.outputs["changed"] == "true"
    assert json.loads(run.outputs["changed-files"]) == ["deploy/app.yaml"]
    assert (workspace / "deploy/app.yaml").read_text() == original
    assert git(bare, "rev-parse", "main") == head
    assert "+          image: ghcr.io/acme/app:1.5.0" in run.summary
    assert "Dry run" in run.summary


# --- the loop guard ---------------------------------------------------------------------


def test_a_push_caused_by_bumpers_own_commit_is_skipped(
    act: Run, tmp_path: Path, git_server: GitHttpServer
) -> None:
    bare = seed(git_server, "acme/app", {"k8s/app.yaml": "image: ghcr.io/acme/app:1.0.0\n"})
    (tmp_path / "workspace").mkdir()
    head = git(bare, "rev-parse", "main")
    message = (
        "chore(deploy): bump ghcr.io/acme/app to 1.1.0 [skip ci]\n\n"
        "k8s/app.yaml:1: ghcr.io/acme/app:1.0.0 -> ghcr.io/acme/app:1.1.0\n\n"
        "Bumped-Image: ghcr.io/acme/app:1.1.0\n"
    )

    run = act(
        {
            "image": "ghcr.io/acme/app:1.2.0",
            "build": "false",
            "verify": "false",
            "paths": "k8s",
            "mode": "push",
        },
        event=push_event("acme/app", head, message),
    )

    assert run.returncode == 0, run.log
    assert run.outputs["changed"] == "false"
    assert run.outputs["commit-sha"] == ""
    assert git(bare, "rev-parse", "main") == head
    assert "Skipped" in run.summary and "bumper's own commit" in run.summary


# --- invalid inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"build": "yes"}, "input 'build' must be true or false, not 'yes'"),
        ({"dry-run": "1"}, "input 'dry-run' must be true or false, not '1'"),
        ({"pin-digest": "on"}, "input 'pin-digest' must be true or false, not 'on'"),
        ({"image": "ghcr.io/acme/my app:1.0"}, "invalid image"),
        ({"image": "ghcr.io/acme/app:1.0@sha256:abc"}, "invalid digest"),
        ({"image": "ghcr.io/acme/app", "tag": "Bad Tag!"}, "invalid tag 'Bad Tag!'"),
        ({"mode": "merge"}, "input 'mode' must be one of push, pull-request, not 'merge'"),
        ({"via": "ssh"}, "input 'via' must be one of api, git, not 'ssh'"),
        ({"digest": "sha256:1234"}, "input 'digest' must look like sha256:<64 hex>"),
        ({"paths": " \n "}, "input 'paths' is required"),
        ({"labels": "org.opencontainers.image.title=app"}, "go in 'image-labels'"),
        ({"build-args": "VERSION"}, "input 'build-args': expected KEY=VALUE per line"),
    ],
)
def test_invalid_inputs_fail_with_one_clear_error(
    act: Run, tmp_path: Path, git_server: GitHttpServer, override: dict[str, str], error: str
) -> None:
    bare = seed(git_server, "acme/app", {"k8s/app.yaml": "image: ghcr.io/acme/app:1.0.0\n"})
    (tmp_path / "workspace").mkdir()
    head = git(bare, "rev-parse", "main")
    inputs = {
        "image": "ghcr.io/acme/app:1.1.0",
        "build": "false",
        "verify": "false",
        "paths": "k8s",
        "mode": "push",
    }

    run = act({**inputs, **override})

    assert run.returncode == 1
    assert len(run.errors) == 1, run.log
    assert error in run.errors[0]
    assert git(bare, "rev-parse", "main") == head
    assert "**Failed:**" in run.summary


# --- the real installation path ---------------------------------------------------------


def copy_action(destination: Path) -> Path:
    """The action as the runner downloads it: the repository's files (tracked, or new and
    not ignored), no caches or build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_action_installs_bumper_into_a_cached_venv(
    tmp_path: Path, git_server: GitHttpServer
) -> None:
    """The slow path users get: pip installs bumper from the action's folder (needs the
    package index), and a second run on the same runner reuses the environment."""
    action = copy_action(tmp_path / "_actions" / "acme" / "bumper" / "v1")
    bare = seed(git_server, "acme/app", {"k8s/app.yaml": "image: ghcr.io/acme/app:1.0.0\n"})
    (tmp_path / "workspace").mkdir()
    env = {
        "GITHUB_SERVER_URL": f"http://127.0.0.1:{git_server.port}",
        "RUNNER_TOOL_CACHE": str(tmp_path / "toolcache"),
    }
    inputs = {
        "image": "ghcr.io/acme/app:1.1.0",
        "build": "false",
        "verify": "false",
        "paths": "k8s",
        "mode": "push",
    }

    def run(index: int) -> ActionRun:
        return run_action(
            inputs,
            workspace=tmp_path / "workspace",
            temp=tmp_path / f"run{index}",
            token=TOKEN,
            env=env,
            action_path=action,
        )

    first = run(1)
    assert first.returncode == 0, first.log
    assert "::group::Install bumper into " + str(tmp_path / "toolcache") in first.log
    assert first.outputs["changed"] == "true"
    assert "image: ghcr.io/acme/app:1.1.0" in show(bare, "k8s/app.yaml")
    bumper = Path(first.steps["install"]["bumper"])
    assert bumper.is_relative_to(tmp_path / "toolcache")

    second = run(2)
    assert second.returncode == 0, second.log
    assert "bumper is already installed" in second.log
    assert second.steps["install"]["bumper"] == str(bumper)
    assert second.outputs["changed"] == "false"


# --- the runtime's pieces ---------------------------------------------------------------


def test_outputs_use_the_heredoc_syntax_and_survive_newlines_and_delimiter_lookalikes(
    tmp_path: Path,
) -> None:
    output = tmp_path / "output"
    output.write_text("")
    runner = Runner({"GITHUB_OUTPUT": str(output)}, write=lambda _: None)
    values = {"plain": "1.4.2", "multi": "a\nb\n\nc", "tricky": "x<<EOF\nEOF\nghadelimiter_1"}
    for name, value in values.items():
        runner.set_output(name, value)
    assert parse_command_file(output.read_text()) == values


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("plain", "::error title=bumper::plain"),
        ("two\nlines 100%", "::error title=bumper::two%0Alines 100%25"),
    ],
)
def test_commands_escape_their_data(message: str, expected: str) -> None:
    lines: list[str] = []
    Runner({}, write=lines.append).command("error", message, title="bumper")
    assert lines == [expected]


def test_annotation_properties_are_escaped() -> None:
    lines: list[str] = []
    Runner({}, write=lines.append).command("error", "bad", file="a,b:c.yaml", line=3)
    assert lines == ["::error file=a%2Cb%3Ac.yaml,line=3::bad"]


def test_masks_come_first_and_cover_every_line_of_a_secret() -> None:
    lines: list[str] = []
    env = {env_name("token"): "tok-1", env_name("password"): "pw-a\npw-b", env_name("build"): "x"}
    from bumper.action import run

    assert run(env, Runner(env, write=lines.append)) == 1
    assert lines[:3] == ["::add-mask::tok-1", "::add-mask::pw-a", "::add-mask::pw-b"]


def test_the_workspace_is_trusted_through_the_environment_only() -> None:
    env = {
        "GITHUB_WORKSPACE": "/w",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": "",
    }
    trust_workspace(env)
    trust_workspace(env)
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("safe.directory", "/w")


def test_git_works_in_a_workspace_owned_by_another_user(tmp_path: Path) -> None:
    """Container jobs check out as another user: git refuses such a folder ("dubious
    ownership") unless it is a safe.directory."""
    if os.geteuid() != 0:
        pytest.skip("needs root to chown the workspace")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    git(workspace, "init", "--quiet")
    os.chown(workspace, 12345, 12345)
    env = {**os.environ, "GITHUB_WORKSPACE": str(workspace), "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("GIT_CONFIG_COUNT", None)

    def status() -> int:
        return subprocess.run(
            ["git", "status"], cwd=workspace, env=env, capture_output=True, check=False
        ).returncode

    assert status() != 0
    trust_workspace(env)
    assert status() == 0


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({}, "build", True),
        ({"build": "False"}, "build", False),
        ({}, "mode", "pull-request"),
        ({}, "via", "api"),
        ({"mode": "push"}, "via", "git"),
        ({"mode": "push", "via": "api"}, "via", "api"),
        ({"reviewers": "alice, bob\ncarol"}, "reviewers", ("alice", "bob", "carol")),
        ({"paths": "k8s/a,b.yaml\nk8s/c"}, "paths", ["k8s/a,b.yaml", "k8s/c"]),
        ({"build-args": "A=1\nB = two=2"}, "build_args", {"A": "1", "B": "two=2"}),
        ({}, "repository", "acme/app"),
    ],
)
def test_input_parsing(values: dict[str, str], field: str, expected: object) -> None:
    env = {env_name(k): v for k, v in {"image": "app", "paths": "k8s", **values}.items()}
    settings = parse_inputs({**env, "GITHUB_REPOSITORY": "acme/app"})
    assert getattr(settings, field) == expected


def test_parse_inputs_needs_a_repository_outside_actions() -> None:
    with pytest.raises(BumperError, match="input 'repository' is required"):
        parse_inputs({env_name("image"): "app:1", env_name("paths"): "k8s"})


def test_summary_of_a_failure_before_anything_ran() -> None:
    from bumper.action import Outcome

    text = render_summary(Outcome(message="**Failed:** input 'build' must be true or false"))
    assert text.startswith("### bumper")
    assert "**Failed:**" in text
