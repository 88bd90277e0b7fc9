"""The README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tests.fakegithub_fixtures import IDENTITY

ROOT = Path(__file__).resolve().parents[1]


def library_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### As a library", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(
        tmp_path,
        {
            "k8s/app.yaml": "spec:\n  containers:\n  - image: ghcr.io/acme/app:1.4.1\n",
            "services/api.yaml": "image: ghcr.io/acme/api:1.0.0\n",
            "services/worker.yaml": "image: ghcr.io/acme/worker:1.0.0\n",
        },
    )
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    exec(compile(library_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "+  - image: ghcr.io/acme/app:1.4.2" in out
    assert "k8s/app.yaml 3 ghcr.io/acme/app:1.4.1 → ghcr.io/acme/app:1.4.2" in out
    assert out.rstrip().endswith(" on main")
    assert (tmp_path / "k8s/app.yaml").read_text().endswith("app:1.4.2\n")
    log = subprocess.run(
        ["git", "log", "-1", "--format=%B"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert "Bumped-Image: ghcr.io/acme/api:2.0.0" in log
    assert "Bumped-Image: ghcr.io/acme/worker:2.0.0" in log


def test_every_library_name_is_what_it_says_after_every_module_is_loaded() -> None:
    """A submodule named like an API function would replace it once imported."""
    import importlib
    import pkgutil

    import bumper

    for module in pkgutil.walk_packages(bumper.__path__, "bumper."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in bumper.__all__:
        if name == "__version__":
            continue
        module, attribute = bumper._LAZY[name]
        assert getattr(bumper, name) is getattr(importlib.import_module(module), attribute), name
