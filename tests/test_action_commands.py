"""The Action's commands beyond a release: groups, promotion, rollback, scheduled updates,
registry checks and the BuildKit options, run through the runner-faithful harness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.action_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    act_fixture,
    fast_venv_fixture,
    git,
    git_server_fixture,
    seed,
    show,
)
from tests.action_harness import ActionRun
from tests.docker_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    REGISTRY,
    Registry,
    docker_client_fixture,
    registry_fixture,
    unique_repo,
)
from tests.registry_fixtures import (
    RunningRegistry,
    isolated_docker_config_fixture,  # noqa: F401
    open_registry_fixture,  # noqa: F401
    unique_name,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
STAGING = "images:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: 1.0.0\n"
PROD = "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n"
# ghcr.io cannot be reached from the tests: images built elsewhere are not verified there.
OFFLINE = {"build": "false", "verify": "false", "mode": "push"}


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path) -> Path:
    """The runner's workspace (empty: the manifests are in the repository bumper clones)."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


def test_a_group_of_images_is_one_commit(act: Any, git_server: Any) -> None:
    bare = seed(git_server, "acme/app", {"k8s/a.yaml": "- image: ghcr.io/acme/a:1\n"
                                         "- image: ghcr.io/acme/b:1\n"})  # fmt: skip
    run: ActionRun = act(
        {
            **OFFLINE,
            "image": "ghcr.io/acme/a:2",
            "images": "ghcr.io/acme/b:3",
            "paths": "k8s",
            "group": "release-9",
        }
    )
    assert run.returncode == 0, run.log
    assert show(bare, "k8s/a.yaml") == "- image: ghcr.io/acme/a:2\n- image: ghcr.io/acme/b:3"
    assert git(bare, "log", "-1", "--format=%B", "main").count("Bumped-Image:") == 2


def test_promote_then_rollback_then_the_rolled_back_version_is_refused(
    act: Any, git_server: Any
) -> None:
    files = {"staging/kustomization.yaml": STAGING.replace("1.0.0", f"1.2.0\n  digest: {D1}"),
             "prod/values.yaml": PROD}  # fmt: skip
    bare = seed(git_server, "acme/app", files)
    promoted = act({**OFFLINE, "command": "promote", "from": "staging", "to": "prod"})
    assert promoted.returncode == 0, promoted.log
    assert show(bare, "prod/values.yaml") == (
        f"image:\n  repository: ghcr.io/acme/app\n  tag: 1.2.0\n  digest: {D1}"
    )
    assert "Promoted-From: staging" in git(bare, "log", "-1", "--format=%B", "main")
    broken = act({**OFFLINE, "image": f"ghcr.io/acme/app:1.3.0@{D2}", "paths": "prod"})
    assert broken.returncode == 0, broken.log
    back = act({**OFFLINE, "command": "rollback", "image": "ghcr.io/acme/app", "paths": "prod"})
    assert back.returncode == 0, back.log
    assert f"tag: 1.2.0\n  digest: {D1}" in show(bare, "prod/values.yaml").replace('"', "")
    rerun = act({**OFFLINE, "image": f"ghcr.io/acme/app:1.3.0@{D2}", "paths": "prod"})
    assert rerun.returncode == 1
    assert len(rerun.errors) == 1 and "refusing to deploy" in rerun.errors[0]
    forced = act(
        {**OFFLINE, "image": f"ghcr.io/acme/app:1.3.0@{D2}", "paths": "prod", "force": "true"}
    )
    assert forced.returncode == 0, forced.log


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({"command": "promote", "from": "staging"}, "command 'promote' needs the inputs"),
        ({"command": "deploy"}, "input 'command' must be one of release, promote, rollback"),
        ({"command": "rollback", "paths": "k8s"}, "input 'image' is required"),
        ({"command": "rollback", "image": "a", "paths": "k8s", "rollback-steps": "0"},
         "input 'rollback-steps' must be a whole number"),
    ],
)  # fmt: skip
def test_command_inputs_are_checked(
    act: Any, git_server: Any, inputs: dict[str, str], error: str
) -> None:
    seed(git_server, "acme/app", {"k8s/a.yaml": "image: a:1\n"})
    run = act({**OFFLINE, **inputs})
    assert run.returncode == 1
    assert len(run.errors) == 1 and error in run.errors[0], run.errors


def test_built_elsewhere_is_verified_in_its_registry(
    act: Any, git_server: Any, open_registry: RunningRegistry
) -> None:
    name = unique_name()
    digests = open_registry.pusher.tags(name, ["1.0.0", "1.1.0"])
    image = f"{open_registry.host}/{name}"
    bare = seed(git_server, "acme/app", {"k8s/a.yaml": f"image: {image}:1.0.0\n"})
    missing = act({"build": "false", "mode": "push", "image": f"{image}:9.9.9", "paths": "k8s"})
    assert missing.returncode == 1
    assert f"{image}:9.9.9 does not exist in registry" in missing.errors[0]
    pinned = act(
        {
            "build": "false",
            "mode": "push",
            "image": f"{image}:1.1.0",
            "paths": "k8s",
            "pin-digest": "true",
        }
    )
    assert pinned.returncode == 0, pinned.log
    assert show(bare, "k8s/a.yaml") == f"image: {image}:1.1.0@{digests['1.1.0']}"
    assert pinned.outputs["digest"] == digests["1.1.0"]


def test_scheduled_update_moves_each_image_to_its_newest_tag(
    act: Any, git_server: Any, open_registry: RunningRegistry
) -> None:
    names = [unique_name(), unique_name()]
    for name in names:
        open_registry.pusher.tags(name, ["1.0.0", "1.4.0", "2.0.0"])
    images = [f"{open_registry.host}/{name}" for name in names]
    bare = seed(
        git_server,
        "acme/app",
        {"k8s/a.yaml": f"image: {images[0]}:1.0.0  # bumper: policy=semver:^1\n",
         "k8s/b.yaml": f"image: {images[1]}:1.0.0\n"},
    )  # fmt: skip
    run = act({"command": "update", "mode": "push", "paths": "k8s"})
    assert run.returncode == 0, run.log
    assert f"{images[0]}:1.4.0" in show(bare, "k8s/a.yaml")
    assert show(bare, "k8s/b.yaml") == f"image: {images[1]}:2.0.0"
    assert run.outputs["changed"] == "true"
    moves = json.loads(run.outputs["metadata"])["moves"]
    assert sorted(m["image"] for m in moves) == sorted([f"{images[0]}:1.4.0", f"{images[1]}:2.0.0"])
    again = act({"command": "update", "mode": "push", "paths": "k8s"})
    assert again.returncode == 0 and again.outputs["changed"] == "false"


@pytest.mark.docker
def test_buildkit_secret_and_extra_tags_through_the_action(
    act: Any, git_server: Any, registry: Registry, workspace: Path
) -> None:
    name = f"{REGISTRY}/{unique_repo()}"
    dockerfile = (
        "FROM bumper-test/busybox:latest\n"
        'RUN --mount=type=secret,id=token test "$(cat /run/secrets/token)" = s3cret-value'
        " && echo ok > /ok\n"
    )
    bare = seed(git_server, "acme/app", {"Dockerfile": dockerfile,
                                         "k8s/a.yaml": f"image: {name}:0.0.1\n"})  # fmt: skip
    git(workspace.parent, "clone", "-q", str(bare), str(workspace))
    run = act(
        {
            "image": name,
            "tag": "1.0.0",
            "tags": "latest-build, 1.0",
            "paths": "k8s",
            "mode": "push",
            "secrets": "token=s3cret-value",
            "network": "host",
            "pin-digest": "true",
        }
    )
    assert run.returncode == 0, run.log
    assert "s3cret-value" not in run.log.replace("::add-mask::s3cret-value", "")
    digest = run.outputs["digest"]
    for tag in ("1.0.0", "latest-build", "1.0"):
        assert registry.manifest_digest(name.split("/", 1)[1], tag) == digest
    assert show(bare, "k8s/a.yaml") == f"image: {name}:1.0.0@{digest}"
    assert json.loads(run.outputs["metadata"])["tags"] == ["1.0.0", "latest-build", "1.0"]
