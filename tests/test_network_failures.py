"""Networks that do not answer fail fast, in one line that names the address and the
cause; --repo errors name the repository and the branch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docker_fixtures import free_port
from tests.fakegithub_fixtures import IDENTITY, create_bare_repo


def run(args: list[str], cwd: Path, **env: str) -> tuple[int, str, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bumper", *args], cwd=cwd, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **IDENTITY, **env}, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stderr, time.monotonic() - start


@pytest.mark.parametrize(
    "args",
    [
        ["--repo", "acme/manifests", "--pull-request"],
        ["--repo", "acme/manifests", "--push", "--via", "api"],
    ],
)
def test_a_github_api_that_refuses_connections(tmp_path: Path, args: list[str]) -> None:
    port = free_port()  # nothing listens there
    code, err, took = run(
        ["set-image", "ghcr.io/acme/app:1", "k8s", *args],
        tmp_path,
        GITHUB_SERVER_URL=f"http://127.0.0.1:{port}",
        GITHUB_API_URL=f"http://127.0.0.1:{port}/api/v3",
        GITHUB_TOKEN="ghs_test-unreachable",
    )
    assert code == 1
    assert took < 15
    assert err.count("\n") == 1 + err.count("bumper: GitHub"), err  # retry notices aside
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"bumper: error: cannot reach GitHub at http://127.0.0.1:{port}/api/v3")
    assert last.endswith("connection refused"), last


def test_a_git_server_that_refuses_connections(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/acme/manifests.git"
    code, err, took = run(["set-image", "ghcr.io/acme/app:1", "k8s", "--repo", url], tmp_path)
    assert code == 1 and took < 15
    assert err == f"bumper: error: cannot reach {url}: connection refused\n"


def test_repo_errors_name_the_repository_and_branch(tmp_path: Path) -> None:
    """The remote's HEAD is another branch than the one holding the manifests."""
    bare = create_bare_repo(tmp_path / "manifests.git", {"README.md": "docs\n"}, branch="docs")
    code, err, _ = run(
        ["set-image", "ghcr.io/acme/app:1", "k8s", "--repo", bare.as_uri()], tmp_path
    )
    assert code == 1
    assert err == (
        f"bumper: error: k8s: no such file or directory in {bare.as_uri()} (branch docs)\n"
    )
