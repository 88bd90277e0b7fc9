"""Fixtures for running the Action through the harness: a smart-HTTP git server standing
for GITHUB_SERVER_URL, repositories seeded on it, and a virtual environment with this
checkout installed. Import the ``*_fixture`` names into a test module to use them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.action_harness import ActionRun, make_fast_venv, run_action
from tests.fakegithub_fixtures import create_bare_repo
from tests.githttp import GitHttpServer

TOKEN = "ghs_test-action-token-1"


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="session", name="fast_venv")
def fast_venv_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fast_venv(tmp_path_factory.mktemp("action") / "venv")


@pytest.fixture(name="git_server")
def git_server_fixture(tmp_path: Path) -> Iterator[GitHttpServer]:
    """Smart HTTP git on 127.0.0.1, serving OWNER/NAME the way GITHUB_SERVER_URL does."""
    root = tmp_path / "server"
    root.mkdir()
    with GitHttpServer(root, token=TOKEN) as server:
        yield server


def seed(server: GitHttpServer, repository: str, files: dict[str, str]) -> Path:
    """A repository on ``server`` whose main branch holds ``files``."""
    return create_bare_repo(server.root / repository, files)


def checkout(bare: Path, where: Path) -> Path:
    git(bare.parent, "clone", "--quiet", str(bare), str(where))
    return where


def show(bare: Path, name: str, ref: str = "main") -> str:
    return git(bare, "show", f"{ref}:{name}")


Run = Callable[..., ActionRun]


@pytest.fixture(name="act")
def act_fixture(tmp_path: Path, fast_venv: Path, git_server: GitHttpServer) -> Run:
    """Run the action against ``git_server`` (as GITHUB_SERVER_URL) with the fast venv."""
    counter = iter(range(1000))

    def run(inputs: dict[str, str], **kwargs: Any) -> ActionRun:
        env = {
            "BUMPER_ACTION_VENV": str(fast_venv),
            "GITHUB_SERVER_URL": f"http://127.0.0.1:{git_server.port}",
            "DOCKER_CONFIG": str(tmp_path / "docker-config"),
            **kwargs.pop("env", {}),
        }
        kwargs.setdefault("workspace", tmp_path / "workspace")
        kwargs.setdefault("token", TOKEN)
        return run_action(inputs, temp=tmp_path / f"run{next(counter)}", env=env, **kwargs)

    return run
