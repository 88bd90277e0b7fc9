"""Shared test helpers: write a manifests tree, run the CLI, compare bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bumper.cli import main

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Create files (str is written as UTF-8 without newline translation)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def run_bumper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``bumper ARGS`` in tmp_path with separate stdout/stderr."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture(autouse=True)
def _no_actions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as a developer would, unless a test sets the Actions variables itself."""
    for name in list(os.environ):
        if name.startswith("GITHUB_") or name in ("BUMPER_TOKEN", "RUNNER_TEMP"):
            monkeypatch.delenv(name, raising=False)
