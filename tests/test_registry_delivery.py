"""The registry in the release pipeline: ``set-image --verify`` and ``--pin-digest``,
``bumper update`` landed as one commit or one pull request per image."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bumper.cli import main
from tests import fakegithub_fixtures
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import IDENTITY, create_bare_repo
from tests.registry_fixtures import (
    RunningRegistry,
    isolated_docker_config_fixture,  # noqa: F401
    open_registry_fixture,  # noqa: F401
    unique_name,
)

pytestmark = pytest.mark.usefixtures("isolated_docker_config")
fake_github_factory = fakegithub_fixtures.fake_github_factory
TAGS = ["1.0.0", "1.2.0", "1.10.0", "2.0.0"]
TOKEN = "ghs_test-registry-delivery"


def bumper(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


DIGESTS: dict[str, dict[str, str]] = {}


@pytest.fixture
def images(open_registry: RunningRegistry) -> list[str]:
    """Two images on the real registry with TAGS (their digests in DIGESTS)."""
    names = [unique_name(), unique_name()]
    for name in names:
        DIGESTS[f"{open_registry.host}/{name}"] = open_registry.pusher.tags(name, TAGS)
    return [f"{open_registry.host}/{name}" for name in names]


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: list[str]) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "a.yaml").write_text(f"image: {images[0]}:1.0.0\n")
    (work / "b.yaml").write_text(f"image: {images[1]}:1.2.0\n")
    return work


def test_verify_refuses_a_missing_tag_and_writes_nothing(
    manifests: Path, images: list[str]
) -> None:
    result = bumper("set-image", f"{images[0]}:9.9.9", "a.yaml", "--verify")
    assert result.exit_code == 1
    assert f"{images[0]}:9.9.9 does not exist in registry" in result.stderr
    assert (manifests / "a.yaml").read_text() == f"image: {images[0]}:1.0.0\n"
    assert bumper("set-image", f"{images[0]}:2.0.0", "a.yaml", "--verify").exit_code == 0


def test_pin_digest_writes_the_registry_digest(manifests: Path, images: list[str]) -> None:
    result = bumper("set-image", f"{images[0]}:1.10.0", "a.yaml", "--pin-digest")
    assert result.exit_code == 0, result.stderr
    digest = DIGESTS[images[0]]["1.10.0"]
    assert (manifests / "a.yaml").read_text() == f"image: {images[0]}:1.10.0@{digest}\n"


def test_update_commits_every_image_as_one_change(manifests: Path, images: list[str]) -> None:
    env = {**IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=manifests, check=True)
    subprocess.run(["git", "add", "."], cwd=manifests, check=True, env={**env, "PATH": "/usr/bin"})
    subprocess.run(["git", "commit", "-qm", "x"], cwd=manifests, check=True,
                   env={**env, "PATH": "/usr/bin"})  # fmt: skip
    result = bumper("update", ".", "--policy", "semver:^1", "--commit", env=env)
    assert result.exit_code == 0, result.stderr
    message = subprocess.run(
        ["git", "log", "-1", "--format=%B"], cwd=manifests, capture_output=True, text=True
    ).stdout
    assert message.count("Bumped-Image:") == 2
    assert (manifests / "a.yaml").read_text() == f"image: {images[0]}:1.10.0\n"
    assert (manifests / "b.yaml").read_text() == f"image: {images[1]}:1.10.0\n"


def test_update_opens_one_pull_request_per_image(
    tmp_path: Path,
    images: list[str],
    fake_github_factory: Callable[..., FakeGitHub],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {
        "k8s/a.yaml": f"image: {images[0]}:1.0.0\n",
        "k8s/b.yaml": f"image: {images[1]}:1.0.0\n",
    }
    bare = create_bare_repo(tmp_path / "remotes" / "manifests.git", files)
    fake = fake_github_factory({"acme/manifests": bare}, tokens={TOKEN: {}})
    env = {"GITHUB_SERVER_URL": fake.base_url, "GITHUB_API_URL": fake.api_url,
           "GITHUB_TOKEN": TOKEN}  # fmt: skip
    monkeypatch.chdir(tmp_path)
    args = ["update", "k8s", "--repo", "acme/manifests", "--pull-request", "--output", "json"]
    result = bumper(*args, env=env)
    assert result.exit_code == 0, result.stderr
    deliveries = json.loads(result.stdout)["deliveries"]
    assert sorted(d["operation"] for d in deliveries) == ["created", "created"]
    pulls = fake.pulls("acme/manifests", state="open")
    assert len(pulls) == 2
    assert {p["title"] for p in pulls} == {f"Bump {image} to 2.0.0" for image in images}
    again = bumper(*args, env=env)
    assert [d["operation"] for d in json.loads(again.stdout)["deliveries"]] == ["none", "none"]
