"""``bumper verify`` and ``bumper update`` against real registries, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bumper.cli import main
from bumper.cli.registry import update_command, verify_command
from tests.conftest import read_tree, write_tree
from tests.docker_fixtures import free_port
from tests.registry_fixtures import (
    READER,
    Fault,
    FaultProxy,
    RunningRegistry,
    isolated_docker_config_fixture,  # noqa: F401
    open_registry_fixture,  # noqa: F401
    proxy_fixture,  # noqa: F401
    token_issuer_fixture,  # noqa: F401
    token_registry_fixture,  # noqa: F401
    unique_name,
    write_docker_config,
)

pytestmark = pytest.mark.usefixtures("isolated_docker_config")

ISSUE_TAGS = ["1.0.0", "1.2.0", "1.10.0", "1.11.0-rc.1", "2.0.0", "latest", "sha-abc1234"]


@click.group()
def cli() -> None:
    """The commands as the main group will run them (its logging set-up included)."""
    assert main.callback is not None
    main.callback()


cli.add_command(verify_command)
cli.add_command(update_command)


@pytest.fixture(name="bumper")
def bumper_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``bumper verify|update ARGS`` in tmp_path/repo."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


def deployment(*images: str) -> str:
    containers = "".join(
        f"        - name: c{i}\n          image: {image}\n" for i, image in enumerate(images)
    )
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
        f"    spec:\n      containers:\n{containers}"
    )


# -- verify ----------------------------------------------------------------------------


def test_verify_reports_each_missing_reference_on_its_line(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    open_registry.pusher.image(name, "1.0.0")
    image = f"{open_registry.host}/{name}"
    write_tree(
        Path("."),
        {
            "k8s/app.yaml": deployment(f"{image}:1.0.0", f"{image}:1.0.1"),
            "k8s/values.yaml": (
                f"image:\n  repository: {image}\n  tag: '{{{{ .Values.tag }}}}'\n"
                f"other:\n  repository: {image}\n  tag: 1.0.0\n"
            ),
        },
    )
    result = bumper("verify", "k8s")
    assert result.exit_code == 1
    assert result.stdout == (
        f"k8s/app.yaml:12  {image}:1.0.1  missing: does not exist in registry "
        f"{open_registry.host}\n"
    )
    assert result.stderr.splitlines()[-1] == (
        "1 of 2 distinct references are missing or could not be verified"
    )
    assert "k8s/values.yaml" in result.stderr and "skipped: holds a template placeholder" in (
        result.stderr
    )


def test_verify_passes_when_everything_exists(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    pushed = open_registry.pusher.index(name, "1.0.0")
    image = f"{open_registry.host}/{name}"
    write_tree(
        Path("."), {"app.yaml": deployment(f"{image}:1.0.0", f"{image}:1.0.0@{pushed.digest}")}
    )
    result = bumper("verify")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "all 2 distinct references exist\n"


def test_verify_annotates_problems_in_github_actions(
    open_registry: RunningRegistry, bumper: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    image = f"{open_registry.host}/{unique_name()}"
    write_tree(Path("."), {"deploy, v1.yaml": deployment(f"{image}:2.0.0")})
    result = bumper("verify", ".")
    assert result.exit_code == 1
    assert result.stdout == (
        f"::error file=deploy%2C v1.yaml,line=10::deploy, v1.yaml:10  {image}:2.0.0  missing: "
        f"does not exist in registry {open_registry.host}\n"
    )


def test_verify_json_and_each_reference_asked_once(
    open_registry: RunningRegistry, proxy: FaultProxy, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    open_registry.pusher.image(name, "1.0.0")
    image = f"{proxy.host}/{name}"
    write_tree(
        Path("."),
        {
            "a.yaml": deployment(f"{image}:1.0.0", f"{image}:3.0.0"),
            "b.yaml": deployment(f"{image}:1.0.0", f"{image}:3.0.0"),
        },
    )
    result = bumper("verify", "--output", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["ok"], document["checked"]) == (False, 2)
    assert [(r["file"], r["line"], r["status"]) for r in document["results"]] == [
        ("a.yaml", 10, "ok"),
        ("a.yaml", 12, "missing"),
        ("b.yaml", 10, "ok"),
        ("b.yaml", 12, "missing"),
    ]
    assert proxy.requests_to("/manifests/") == 2


def test_verify_only_the_images_asked_for(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    open_registry.pusher.image(name, "1.0.0")
    image = f"{open_registry.host}/{name}"
    write_tree(Path("."), {"a.yaml": deployment(f"{image}:1.0.0", f"{open_registry.host}/gone:1")})
    assert bumper("verify", "--image", image).exit_code == 0
    typo = bumper("verify", "--image", f"{image}x")
    assert typo.exit_code == 1
    assert typo.stderr == (
        f"bumper: error: no reference to {image}x found in . "
        "(check the name, or pass --allow-missing)\n"
    )
    assert bumper("verify", "--image", f"{image}x", "--allow-missing").exit_code == 0
    assert bumper("verify", "--image", f"{image}:1.0.0").exit_code == 2


def test_verify_logs_in_for_the_bearer_flow(
    token_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    token_registry.pusher.image(name, "1.0.0")
    image = f"{token_registry.host}/{name}"
    write_tree(Path("."), {"a.yaml": deployment(f"{image}:1.0.0")})
    anonymous = bumper("verify")
    assert anonymous.exit_code == 1
    assert f"{image}:1.0.0  unauthorized: registry {token_registry.host} denied anonymous" in (
        anonymous.stdout
    )
    logged_in = bumper(
        "verify", "--username", READER[0], "--password-stdin", input=READER[1] + "\n"
    )
    assert (logged_in.exit_code, logged_in.stdout) == (0, "")


def test_an_unreachable_registry_is_one_line_and_fast(bumper: Callable[..., Result]) -> None:
    host = f"127.0.0.1:{free_port()}"
    write_tree(Path("."), {"a.yaml": deployment(f"{host}/team/app:1.0.0")})
    started = time.monotonic()
    result = bumper("verify")
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert result.stdout == (
        f"a.yaml:10  {host}/team/app:1.0.0  unreachable: registry {host} is unreachable: "
        "connection refused\n"
    )


# -- update ----------------------------------------------------------------------------


@pytest.fixture(name="issue_image")
def issue_image_fixture(open_registry: RunningRegistry) -> str:
    """An image with the issue's tags."""
    name = unique_name()
    open_registry.pusher.tags(name, ISSUE_TAGS)
    return f"{open_registry.host}/{name}"


def test_update_picks_the_newest_tag_the_policy_allows(
    issue_image: str, bumper: Callable[..., Result]
) -> None:
    write_tree(
        Path("."),
        {
            "caret.yaml": f"image: {issue_image}:1.0.0  # bumper: policy=semver:^1\n",
            "stable.yaml": f"image: {issue_image}:1.0.0\n",
            "current.yaml": f"image: {issue_image}:2.0.0\n",
        },
    )
    result = bumper("update", ".")
    assert result.exit_code == 0, result.output
    assert read_tree(Path(".")) == {
        "caret.yaml": f"image: {issue_image}:1.10.0  # bumper: policy=semver:^1\n".encode(),
        "stable.yaml": f"image: {issue_image}:2.0.0\n".encode(),
        "current.yaml": f"image: {issue_image}:2.0.0\n".encode(),
    }
    assert result.stderr.splitlines() == [
        f"caret.yaml:1  {issue_image}  1.0.0 → 1.10.0",
        f"stable.yaml:1  {issue_image}  1.0.0 → 2.0.0",
        f"current.yaml:1  {issue_image}:2.0.0  up-to-date: up to date: 2.0.0 is the newest "
        "semver allows",
        "changed 2 references in 2 files",
    ]
    again = bumper("update", ".")
    assert again.exit_code == 0
    assert again.stderr.splitlines()[-1] == "nothing to update"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--policy", "semver:^1"), ["1.10.0", "2.0.0"]),
        (("--policy", "semver"), ["2.0.0", "2.0.0"]),
        (("--policy", "semver:~1.2"), ["1.2.0", "2.0.0"]),
        (("--policy", "alphabetical", "--exclude", "^sha-"), ["latest", "latest"]),
        (("--policy", "semver", "--filter-tags", r"^1\."), ["1.10.0", "2.0.0"]),
    ],
)
def test_update_with_a_command_line_policy(
    issue_image: str, bumper: Callable[..., Result], args: tuple[str, ...], expected: list[str]
) -> None:
    write_tree(
        Path("."),
        {"a.yaml": f"image: {issue_image}:1.0.0\n", "b.yaml": f"image: {issue_image}:2.0.0\n"},
    )
    result = bumper("update", *args)
    assert result.exit_code == 0, result.output
    tags = [Path(f).read_text().strip().rsplit(":", 1)[1] for f in ("a.yaml", "b.yaml")]
    assert tags == expected


def test_update_pins_the_index_digest_of_a_multi_platform_image(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    open_registry.pusher.tags(name, ["1.0.0"])
    pushed = open_registry.pusher.index(name, "1.1.0")
    image = f"{open_registry.host}/{name}"
    write_tree(
        Path("."),
        {
            "kustomization.yaml": f"images:\n  - name: {image}\n    newTag: 1.0.0\n",
            "app.yaml": deployment(f"{image}:1.0.0"),
        },
    )
    result = bumper("update", "--pin-digest")
    assert result.exit_code == 0, result.output
    assert Path("kustomization.yaml").read_text() == (
        f"images:\n  - name: {image}\n    newTag: 1.1.0\n    digest: {pushed.digest}\n"
    )
    assert f"image: {image}:1.1.0@{pushed.digest}\n" in Path("app.yaml").read_text()


def test_a_pinned_reference_stays_pinned(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    old = open_registry.pusher.image(name, "1.0.0")
    new = open_registry.pusher.image(name, "1.1.0")
    image = f"{open_registry.host}/{name}"
    write_tree(Path("."), {"a.yaml": f"image: {image}:1.0.0@{old.digest}\n"})
    assert bumper("update").exit_code == 0
    assert Path("a.yaml").read_text() == f"image: {image}:1.1.0@{new.digest}\n"


def test_update_dry_run_shows_the_diff_and_writes_nothing(
    issue_image: str, bumper: Callable[..., Result]
) -> None:
    write_tree(Path("."), {"a.yaml": f"image: {issue_image}:1.2.0\n"})
    result = bumper("update", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == (
        "--- a/a.yaml\n+++ b/a.yaml\n@@ -1 +1 @@\n"
        f"-image: {issue_image}:1.2.0\n+image: {issue_image}:2.0.0\n"
    )
    assert result.stderr.splitlines()[-1] == "would change 1 reference in 1 file"
    assert Path("a.yaml").read_text() == f"image: {issue_image}:1.2.0\n"


def test_update_json(issue_image: str, bumper: Callable[..., Result]) -> None:
    write_tree(Path("."), {"a.yaml": f"image: {issue_image}:1.2.0\nlatest: {issue_image}:latest\n"})
    result = bumper("update", "--output", "json", "--dry-run")
    document = json.loads(result.stdout)
    assert document["updates"] == [
        {
            "image": f"{issue_image}:2.0.0",
            "files": ["a.yaml"],
            "from": [f"{issue_image}:1.2.0"],
            "reason": "newest semver (default)",
        }
    ]
    assert (document["changed"], document["dry_run"], document["files"]) == (True, True, ["a.yaml"])


def test_several_images_in_one_file_are_planned_on_each_others_result(
    open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    images = []
    for _ in range(3):
        name = unique_name()
        open_registry.pusher.tags(name, ["1.0.0", "1.5.0"])
        images.append(f"{open_registry.host}/{name}")
    write_tree(Path("."), {"app.yaml": deployment(*(f"{i}:1.0.0" for i in images))})
    result = bumper("update", "--pin-digest")
    assert result.exit_code == 0, result.output
    text = Path("app.yaml").read_text()
    assert all(f"image: {i}:1.5.0@sha256:" in text for i in images)
    assert result.stderr.splitlines()[-1] == "changed 3 references in 1 file"


def test_update_only_the_images_asked_for(
    issue_image: str, open_registry: RunningRegistry, bumper: Callable[..., Result]
) -> None:
    other = f"{open_registry.host}/{unique_name()}"
    open_registry.pusher.tags(other.split("/", 1)[1], ["1.0.0", "1.1.0"])
    write_tree(Path("."), {"a.yaml": deployment(f"{issue_image}:1.0.0", f"{other}:1.0.0")})
    result = bumper("update", "--image", other, "--diff")
    assert result.exit_code == 0
    added = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert added == [f"+          image: {other}:1.1.0"]
    assert f"image: {issue_image}:1.0.0" in Path("a.yaml").read_text()
    missing = bumper("update", "--image", f"{other}-typo")
    assert (missing.exit_code, missing.stderr.split(" (")[0]) == (
        1,
        f"bumper: error: no reference to {other}-typo found in .",
    )
    assert bumper("update", "--image", f"{other}-typo", "--allow-missing").exit_code == 0


def test_nothing_is_written_when_a_registry_cannot_be_asked(
    issue_image: str, bumper: Callable[..., Result]
) -> None:
    closed = f"127.0.0.1:{free_port()}/team/app"
    files = {"a.yaml": deployment(f"{issue_image}:1.0.0", f"{closed}:1.0.0")}
    write_tree(Path("."), files)
    result = bumper("update")
    assert result.exit_code == 1
    assert read_tree(Path(".")) == {k: v.encode() for k, v in files.items()}
    assert result.stderr.splitlines() == [
        f"a.yaml:12  {closed}:1.0.0  unreachable: registry {closed.split('/')[0]} is unreachable: "
        "connection refused",
        "nothing written: 1 reference(s) could not be resolved (--keep-going updates the others)",
    ]
    going = bumper("update", "--keep-going")
    assert going.exit_code == 1
    assert f"image: {issue_image}:2.0.0" in Path("a.yaml").read_text()


def test_references_that_want_different_tags_in_one_file_are_left_alone(
    issue_image: str, bumper: Callable[..., Result]
) -> None:
    write_tree(
        Path("."),
        {
            "a.yaml": (
                f"one: {{image: {issue_image}:1.0.0}}  # bumper: policy=semver:^1\n"
                f"two: {{image: {issue_image}:1.0.0}}\n"
            )
        },
    )
    result = bumper("update")
    assert result.exit_code == 0
    assert "conflict: references to" in result.stderr
    assert Path("a.yaml").read_text().count(":1.0.0") == 2


@pytest.mark.parametrize(
    ("args", "files", "error"),
    [
        (("--filter-tags", "(x"), {}, "invalid filter-tags regex '(x'"),
        (("--policy", "semver:>3 <2"), {}, "invalid semver range '>3 <2'"),
        (("--extract", "$v"), {}, "extract needs a filter-tags regex"),
        (
            (),
            {"a.yaml": "image: ghcr.io/acme/app:1.0.0  # bumper: policy=semver:^^1\n"},
            "a.yaml:1: bumper marker: invalid semver range '^^1'",
        ),
    ],
)
def test_bad_policies_are_usage_errors(
    bumper: Callable[..., Result], args: tuple[str, ...], files: dict[str, str], error: str
) -> None:
    write_tree(Path("."), files)
    result = bumper("update", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"bumper: error: {error}")


def test_update_through_the_token_registry_with_docker_login(
    token_registry: RunningRegistry,
    bumper: Callable[..., Result],
    isolated_docker_config: Path,
) -> None:
    import base64

    name = unique_name()
    token_registry.pusher.tags(name, ["1.0.0", "1.3.0"])
    image = f"{token_registry.host}/{name}"
    login = base64.b64encode(f"{READER[0]}:{READER[1]}".encode()).decode()
    write_docker_config(isolated_docker_config, {"auths": {token_registry.host: {"auth": login}}})
    write_tree(Path("."), {"a.yaml": f"image: {image}:1.0.0\n"})
    result = bumper("update")
    assert result.exit_code == 0, result.output
    assert Path("a.yaml").read_text() == f"image: {image}:1.3.0\n"


def test_retries_are_announced_on_stderr(
    open_registry: RunningRegistry, proxy: FaultProxy, bumper: Callable[..., Result]
) -> None:
    name = unique_name()
    open_registry.pusher.tags(name, ["1.0.0", "1.1.0"])
    proxy.faults = [Fault("/tags/list", 503, {"Retry-After": "0"})]
    write_tree(Path("."), {"a.yaml": f"image: {proxy.host}/{name}:1.0.0\n"})
    result = bumper("update")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        f"bumper: registry {proxy.host} answered 503 Service Unavailable; retrying in 0 s "
        "(retry 1 of 3)"
    )


def test_update_follows_flux_image_policies(
    issue_image: str, bumper: Callable[..., Result]
) -> None:
    write_tree(
        Path("."),
        {
            "flux.yaml": (
                "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\n"
                f"metadata: {{name: app, namespace: apps}}\nspec:\n  image: {issue_image}\n---\n"
                "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\n"
                "metadata: {name: app, namespace: apps}\n"
                "spec:\n  imageRepositoryRef: {name: app}\n"
                "  policy: {semver: {range: '>=1.0.0 <1.5'}}\n"
            ),
            "app.yaml": f'image: {issue_image}:1.0.0 # {{"$imagepolicy": "apps:app"}}\n',
        },
    )
    result = bumper("update")
    assert result.exit_code == 0, result.output
    assert Path("app.yaml").read_text().startswith(f"image: {issue_image}:1.2.0 #")


def test_the_commands_load_without_requests() -> None:
    code = "import sys, bumper.cli.registry; print('requests' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"
