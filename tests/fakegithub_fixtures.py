"""Pytest fixtures that start the fake GitHub in-process and make bare repositories.

Use from a test module (or list ``tests.fakegithub_fixtures`` in ``pytest_plugins``)::

    from tests import fakegithub_fixtures

    fake_github = fakegithub_fixtures.fake_github  # re-exported: pytest finds it here

    def test_pr(fake_github):
        fake_github.faults.ref_update_races = 1
        run bumper with GITHUB_SERVER_URL=fake_github.base_url,
            GITHUB_API_URL=fake_github.api_url, GITHUB_TOKEN=fake_github.token
        assert fake_github.pulls("acme/manifests", state="open")[0]["labels"] ...
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.fakegithub import FakeGitHub

DEFAULT_TOKEN = "ghs_test-fake-token"
DEFAULT_REPO = "acme/manifests"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Fixture",
    "GIT_AUTHOR_EMAIL": "fixture@example.com",
    "GIT_COMMITTER_NAME": "Fixture",
    "GIT_COMMITTER_EMAIL": "fixture@example.com",
}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def create_bare_repo(
    path: Path,
    files: Mapping[str, str | bytes],
    *,
    branch: str = "main",
    message: str = "Initial commit",
    executable: tuple[str, ...] = (),
) -> Path:
    """Create a bare repository at ``path`` whose ``branch`` holds one commit of ``files``.

    ``executable`` lists paths committed with mode 100755. Returns ``path``.
    """
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--bare", "--quiet", f"--initial-branch={branch}")
    with tempfile.TemporaryDirectory(prefix="fakegithub-seed-") as tmp:
        work = Path(tmp)
        _git(work, "init", "--quiet", f"--initial-branch={branch}")
        for name, content in files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            if name in executable:
                target.chmod(0o755)
        _git(work, "add", "--all")
        _git(work, "commit", "--quiet", "-m", message)
        _git(work, "push", "--quiet", str(path), f"HEAD:refs/heads/{branch}")
    return path


def start_fake_github(
    repos: Mapping[str, Path],
    *,
    tokens: Mapping[str, Mapping[str, Any]] | None = None,
    repo_settings: Mapping[str, Any] | None = None,
) -> FakeGitHub:
    """Start a fake serving ``repos`` (OWNER/NAME -> bare repo path) on 127.0.0.1:0.

    ``tokens`` maps token values to :class:`fakegithub.Token` options (default: one
    full-permission GITHUB_TOKEN-like token, ``DEFAULT_TOKEN``); ``repo_settings`` are
    :class:`fakegithub.Repository` settings applied to every repository. The fake's
    ``.token`` is the first token. Call ``.stop()`` when done.
    """
    fake = FakeGitHub()
    for full_name, path in repos.items():
        fake.add_repo(full_name, path, **dict(repo_settings or {}))
    for value, spec in (tokens or {DEFAULT_TOKEN: {}}).items():
        fake.add_token(value, **dict(spec))
    return fake.start()


@pytest.fixture
def fake_github_factory() -> Iterator[Callable[..., FakeGitHub]]:
    """A factory with :func:`start_fake_github`'s signature; every fake is stopped after."""
    started: list[FakeGitHub] = []

    def factory(repos: Mapping[str, Path], **kwargs: Any) -> FakeGitHub:
        fake = start_fake_github(repos, **kwargs)
        started.append(fake)
        return fake

    yield factory
    for fake in started:
        fake.stop()


@pytest.fixture
def fake_github(tmp_path: Path, fake_github_factory: Callable[..., FakeGitHub]) -> FakeGitHub:
    """A fake serving ``acme/manifests`` (branch main, ``k8s/app.yaml``) with one token."""
    bare = create_bare_repo(
        tmp_path / "remotes" / "manifests.git",
        {"k8s/app.yaml": "image: ghcr.io/acme/app:1.0.0\n", "README.md": "manifests\n"},
    )
    return fake_github_factory({DEFAULT_REPO: bare})
