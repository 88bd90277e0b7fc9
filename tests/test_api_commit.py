"""``--via api``: Verified commits through the Git Data API, race-safe, end to end.

The CLI runs against the fake GitHub (a real HTTP server on 127.0.0.1 backed by real
bare repositories); what lands is checked with git in the bare repository itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bumper.cli import main
from tests import fakegithub_fixtures
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import IDENTITY, create_bare_repo

fake_github_factory = fakegithub_fixtures.fake_github_factory

REPO = "acme/manifests"
TOKEN = "ghs_test-api-TOKEN-value"
APP = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
APP += "        - name: app\n          image: ghcr.io/acme/app:1.0.0  # pinned\n"
CRLF = "\ufeffkind: Pod\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/acme/app:1.0.0\r\n"
FLEET = 8


def fleet() -> str:
    """One Pod with FLEET containers, each its own image at 1.0.0."""
    lines = "".join(f"  - image: registry.local/team/app{i}:1.0.0\n" for i in range(FLEET))
    return "kind: Pod\nspec:\n  containers:\n" + lines


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def blob(bare: Path, rev: str, path: str) -> bytes:
    done = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=bare, capture_output=True)
    return done.stdout


def env_for(fake: FakeGitHub, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_SERVER_URL": fake.base_url,
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_TOKEN": TOKEN,
        **extra,
    }


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    files = {"k8s/app.yaml": APP, "k8s/crlf.yaml": CRLF, "deploy.sh": "#!/bin/sh\n"}
    return create_bare_repo(
        tmp_path / "manifests.git", files, executable=("k8s/app.yaml", "deploy.sh")
    )


@pytest.fixture
def fake(bare: Path, fake_github_factory: Callable[..., FakeGitHub]) -> FakeGitHub:
    return fake_github_factory({REPO: bare}, tokens={TOKEN: {}})


@pytest.fixture
def bumper(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """``bumper set-image IMAGE k8s --repo acme/manifests --push --via api ARGS``."""
    monkeypatch.chdir(tmp_path)

    def run(image: str, *args: str, env: dict[str, str] | None = None) -> Result:
        argv = ["set-image", image, "k8s", "--repo", REPO, "--push", "--via", "api", *args]
        full = {**env_for(fake), **(env or {})}
        return CliRunner().invoke(main, argv, env=full, catch_exceptions=False)

    return run


def delivery(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["delivery"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- the commit


def test_verified_commit_on_the_branch_keeps_bytes_and_modes(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    before = fake.branch_sha(REPO, "main")

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    head = fake.branch_sha(REPO, "main")
    assert out["commit"] == head and out["verified"] is True and out["via"] == "api"
    assert out["files"] == ["k8s/app.yaml", "k8s/crlf.yaml"]
    assert fake.commit_verification(REPO, head)["verified"] is True
    assert git(bare, "rev-list", "--parents", "-n1", head).split() == [head, before]
    # No custom author: GitHub writes the token's identity and signs as itself.
    assert git(bare, "log", "-1", "--format=%an|%cn", head) == "github-actions[bot]|GitHub"
    message = git(bare, "log", "-1", "--format=%B", head)
    assert message.startswith("chore(deploy): bump ghcr.io/acme/app to 1.1.0")
    assert message.endswith("Bumped-Image: ghcr.io/acme/app:1.1.0")
    assert blob(bare, head, "k8s/app.yaml") == APP.replace("1.0.0", "1.1.0").encode()
    assert blob(bare, head, "k8s/crlf.yaml") == CRLF.replace("1.0.0", "1.1.0").encode()
    modes = git(bare, "ls-tree", "-r", "--format=%(objectmode) %(path)", head).splitlines()
    assert sorted(modes) == ["100644 k8s/crlf.yaml", "100755 deploy.sh", "100755 k8s/app.yaml"]
    assert "(verified)" in out["summary"]


def test_rerun_is_already_up_to_date(fake: FakeGitHub, bumper: Callable[..., Result]) -> None:
    delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))
    head = fake.branch_sha(REPO, "main")

    again = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    assert again["changed"] is False and again["commit"] is None
    assert again["summary"] == "already up to date"
    assert fake.branch_sha(REPO, "main") == head
    assert len(fake.calls("POST", "/git/commits")) == 1


@pytest.mark.parametrize(
    ("args", "env", "skip_ci", "verified"),
    [
        ((), {"GITHUB_REPOSITORY": REPO}, True, True),
        ((), {"GITHUB_REPOSITORY": "acme/app"}, False, True),
        (("--skip-ci", "never"), {"GITHUB_REPOSITORY": REPO}, False, True),
        (("--author", "Release Bot <release@example.com>"), {}, False, False),
    ],
)
def test_skip_ci_and_custom_author(
    fake: FakeGitHub,
    bare: Path,
    bumper: Callable[..., Result],
    args: tuple[str, ...],
    env: dict[str, str],
    skip_ci: bool,
    verified: bool,
) -> None:
    out = delivery(bumper("ghcr.io/acme/app:1.1.0", *args, "-o", "json", env=env))

    subject = git(bare, "log", "-1", "--format=%s", out["commit"])
    assert subject.endswith("[skip ci]") is skip_ci
    assert out["verified"] is verified
    if not verified:
        assert git(bare, "log", "-1", "--format=%an <%ae>", out["commit"]) == (
            "Release Bot <release@example.com>"
        )


# --------------------------------------------------------------------------- races


def test_race_on_the_ref_update_replans_on_the_new_head_and_loses_nothing(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    # The branch really moves (another pipeline's commit) before our update is refused.
    fake.faults.update({"ref_update_races": 2, "race_files": {"k8s/other.yaml": "a: 1\n"}})

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    head = fake.branch_sha(REPO, "main")
    assert out["attempts"] == 3 and out["commit"] == head
    assert [e.status for e in fake.calls("PATCH", "/git/refs/heads/main")] == [422, 422, 200]
    parent = git(bare, "rev-parse", f"{head}~1")
    assert git(bare, "log", "-1", "--format=%s", parent) == "Concurrent change"
    assert blob(bare, head, "k8s/other.yaml") == b"a: 1\n"
    assert b"ghcr.io/acme/app:1.1.0" in blob(bare, head, "k8s/app.yaml")
    assert fake.commit_verification(REPO, head)["verified"] is True


def test_too_many_races_give_up_with_the_count(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    fake.faults.update({"ref_update_races": 5, "race_moves_branch": False})

    result = bumper("ghcr.io/acme/app:1.1.0", "--max-attempts", "2")

    assert result.exit_code == 1
    assert "gave up after 2 attempts" in result.stderr and "--max-attempts" in result.stderr


def test_competing_processes_all_land_with_linear_history(
    tmp_path: Path, fake_github_factory: Callable[..., FakeGitHub]
) -> None:
    bare = create_bare_repo(tmp_path / "fleet.git", {"pod.yaml": fleet()})
    fake = fake_github_factory({REPO: bare}, tokens={TOKEN: {}})
    start = fake.branch_sha(REPO, "main")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(env_for(fake))

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bumper", "set-image", f"registry.local/team/app{i}:2.0.0",
             "pod.yaml", "--repo", REPO, "--push", "--via", "api", "--max-attempts", "60"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(FLEET)
    ]  # fmt: skip
    errors = [proc.communicate(timeout=300)[1] for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * FLEET, errors
    head = fake.branch_sha(REPO, "main")
    assert blob(bare, head, "pod.yaml") == fleet().replace(":1.0.0", ":2.0.0").encode()
    history = git(bare, "rev-list", "--parents", f"{start}..{head}").splitlines()
    assert len(history) == FLEET
    assert all(len(line.split()) == 2 for line in history)  # no merges: linear
    assert all(fake.commit_verification(REPO, line.split()[0])["verified"] for line in history)


# --------------------------------------------------------------------------- where it goes


def test_checkout_pushes_to_its_upstream_branch_through_the_api(
    fake: FakeGitHub, bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(bare, "branch", "staging", "main")
    checkout = tmp_path / "checkout"
    header = f"http.extraheader=Authorization: token {TOKEN}"
    git(tmp_path, "-c", header, "clone", "--quiet", "--branch", "staging",
        f"{fake.base_url}/{REPO}.git", str(checkout))  # fmt: skip
    monkeypatch.chdir(checkout)
    argv = ["set-image", "ghcr.io/acme/app:1.1.0", "k8s/app.yaml", "--push", "--via", "api"]

    result = CliRunner().invoke(main, [*argv, "-o", "json"], env=env_for(fake))

    out = delivery(result)
    assert out["branch"] == "staging" and out["commit"] == fake.branch_sha(REPO, "staging")
    assert fake.branch_sha(REPO, "main") == git(bare, "rev-parse", "staging~1")
    assert (checkout / "k8s/app.yaml").read_text() == APP  # the commit is made on GitHub


@pytest.mark.parametrize(
    ("args", "setup", "expected"),
    [
        (("--branch", "nope"), None, "branch 'nope' not found in acme/manifests"),
        ((), "protect", "use pull-request mode (--pull-request)"),
        ((), "read-only", "the token needs 'contents: write' permission"),
        (("--token", "not-a-token"), None, "GitHub rejected the token (401 Bad credentials)"),
    ],
)
def test_errors_say_what_to_do(
    fake: FakeGitHub,
    bumper: Callable[..., Result],
    args: tuple[str, ...],
    setup: str | None,
    expected: str,
) -> None:
    env: dict[str, str] = {}
    if setup == "protect":
        fake.repo(REPO).protected_branches = {"main"}
    if setup == "read-only":
        fake.add_token("ghs_readonly000", permissions={"contents": "read"})
        env["GITHUB_TOKEN"] = "ghs_readonly000"

    result = bumper("ghcr.io/acme/app:1.1.0", *args, env=env)

    assert result.exit_code == 1
    assert expected in result.stderr and result.stderr.count("\n") == 1
    assert TOKEN not in result.stderr and "ghs_readonly000" not in result.stderr
    assert "not-a-token" not in result.stderr


def test_clone_is_removed_and_the_token_never_printed(
    fake: FakeGitHub, bumper: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    result = bumper("ghcr.io/acme/app:1.1.0", "-o", "json")

    assert delivery(result)["changed"] is True
    assert TOKEN not in result.stdout + result.stderr
    assert list(scratch.iterdir()) == []
