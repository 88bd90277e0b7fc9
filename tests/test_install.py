"""Installing the Action: bumper's dependencies from the hash-pinned requirements.lock, bumper
itself built from a copy (the action's folder is never written to), warm starts from the
runner's tool cache and from the Actions cache; the lock in sync with pyproject.toml; the
example READMEs' commands as written.

The install tests run action.yml's install steps through the runner harness and install
from the package index (a few seconds each once pip's cache is warm)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.action_harness import (
    ROOT,
    ActionRun,
    Condition,
    Contexts,
    HarnessError,
    copy_action,
    make_fast_venv,
    run_action,
)

INPUTS = {
    "image": "ghcr.io/acme/app:1.1.0",
    "build": "false",
    "verify": "false",  # ghcr.io cannot be reached from the tests
    "paths": "k8s",
    "mode": "push",
}
KEY = re.compile(r"bumper-venv-Linux-X64-py3\.\d+\.\d+-(?P<hash>[0-9a-f]{16})")
Job = Callable[..., ActionRun]


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``folder``: its mode and, for a file, its content's hash."""
    return {
        path.relative_to(folder).as_posix(): (
            path.lstat().st_mode,
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
        )
        for path in sorted(folder.rglob("*"))
    }


def pins(lock: Path) -> list[tuple[str, str, str]]:
    """The lock's requirement lines: (normalized name, version, marker or '')."""
    pattern = r"^([A-Za-z0-9][\w.-]*)==([^ ;\\]+)(?: ; ([^\\]+?))? \\$"
    found = re.finditer(pattern, lock.read_text(), re.MULTILINE)
    return [(normalize(match[1]), match[2], match[3] or "") for match in found]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(venv: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The distributions in ``venv`` (name → version) and its marker environment."""
    code = """if True:
        import importlib.metadata, json, os, platform, sys
        print(json.dumps([
            {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
            {
                "python_full_version": platform.python_version(),
                "python_version": ".".join(platform.python_version_tuple()[:2]),
                "platform_python_implementation": platform.python_implementation(),
                "implementation_name": sys.implementation.name,
                "sys_platform": sys.platform,
                "platform_system": platform.system(),
                "platform_machine": platform.machine(),
                "os_name": os.name,
            },
        ]))
    """
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    versions, environment = json.loads(done.stdout)
    return {normalize(name): version for name, version in versions.items()}, environment


def assert_installed_from_the_lock(
    venv: Path, lock: Path, *, also: frozenset[str] = frozenset()
) -> None:
    """``venv`` holds exactly the lock's releases for its platform, bumper, and ``also``."""
    versions, environment = installed(venv)
    expected = {
        name: version
        for name, version, marker in pins(lock)
        if not marker or Marker(marker).evaluate(environment)
    }
    assert {name: versions[name] for name in expected if name in versions} == expected
    assert set(versions) - set(expected) == {"bumper", *also}
    version = subprocess.run(
        [str(venv / "bin" / "bumper"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.strip() == f"bumper, version {versions['bumper']}"


@pytest.fixture
def action(tmp_path: Path) -> Path:
    """The action as the runner downloads it, where the runner puts it."""
    return copy_action(tmp_path / "_actions" / "acme" / "bumper" / "v1")


@pytest.fixture
def job(tmp_path: Path, action: Path) -> Job:
    """Run the action's install steps as job N of a workflow; every job has the same tool
    cache path (as on GitHub's runners) and sees the same Actions cache."""
    (tmp_path / "workspace").mkdir()

    def run(number: int, env: Mapping[str, str] | None = None) -> ActionRun:
        return run_action(
            INPUTS,
            workspace=tmp_path / "workspace",
            temp=tmp_path / f"job{number}",
            env={"RUNNER_TOOL_CACHE": str(tmp_path / "hostedtoolcache"), **(env or {})},
            action_path=action,
            actions_cache=tmp_path / "actions-cache",
            until="bumper-save",
        )

    return run


# --- installing -------------------------------------------------------------------------


def test_a_job_on_a_fresh_runner_restores_the_environment_the_first_job_saved(
    tmp_path: Path, action: Path, job: Job
) -> None:
    before = snapshot(action)

    first = job(1)
    assert first.returncode == 0, first.log
    venv = Path(first.steps["bumper-env"]["venv"])
    key = first.steps["bumper-env"]["cache-key"]
    assert (match := KEY.fullmatch(key)) and venv.name == match["hash"]
    assert venv.is_relative_to(tmp_path / "hostedtoolcache")
    assert f"Cache not found for input keys: {key}" in first.log
    assert f"::group::Install bumper into {venv}" in first.log
    assert f"Cache saved with key: {key}" in first.log
    # setuptools warns here when our pyproject.toml uses a deprecated form.
    assert "deprecat" not in first.log.lower()
    assert_installed_from_the_lock(venv, action / "requirements.lock")
    assert snapshot(action) == before, "the install wrote into the action's folder"

    shutil.rmtree(tmp_path / "hostedtoolcache")  # the next job gets a fresh runner
    second = job(2)
    assert second.returncode == 0, second.log
    assert f"Cache restored from key: {key}" in second.log
    assert f"bumper restored from the Actions cache into {venv}" in second.log
    assert "::group::Install" not in second.log
    assert second.steps["install"] == {"bumper": str(venv / "bin" / "bumper")}
    assert "bumper-save" not in second.durations
    assert_installed_from_the_lock(venv, action / "requirements.lock")

    third = job(3)  # the same runner again (self-hosted): the tool cache has it
    assert third.returncode == 0, third.log
    assert f"bumper is already installed in {venv}" in third.log
    assert "bumper-restore" not in third.durations
    assert third.steps["install"] == second.steps["install"]
    assert snapshot(action) == before


def test_a_file_that_does_not_match_its_hash_in_the_lock_is_refused(
    action: Path, job: Job, tmp_path: Path
) -> None:
    lock = action / "requirements.lock"
    text = lock.read_text()
    forged = "sha256:" + hashlib.sha256(b"forged").hexdigest()
    # Every hash of one package: whichever of its files pip picks, none can match.
    tampered = re.sub(
        r"^semver==.*?(?=^\S)",
        lambda block: re.sub(r"sha256:[0-9a-f]{64}", forged, block[0]),
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    assert tampered != text
    lock.write_text(tampered)

    run = job(1)
    assert run.returncode != 0
    assert "DO NOT MATCH THE HASHES" in run.log
    assert run.errors == [
        f"Installing bumper into {run.steps['bumper-env']['venv']} failed: see the log above"
    ]
    assert not (Path(run.steps["bumper-env"]["venv"]) / ".complete").exists()
    assert not list((tmp_path / "actions-cache").glob("*/cache.*")), "nothing may be saved"


def test_a_runner_python_without_pip_installs_with_the_environments_own_pip(
    tmp_path: Path, action: Path, job: Job
) -> None:
    """pip 22.3 and newer installs into an environment from outside; without it (or with
    an older one) the environment gets its own pip from ensurepip."""
    bare = tmp_path / "python-without-pip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = job(1, env={"PATH": f"{bare / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    assert run.returncode == 0, run.log
    venv = Path(run.steps["bumper-env"]["venv"])
    assert (venv / "bin" / "pip").exists()
    assert_installed_from_the_lock(venv, action / "requirements.lock", also=frozenset({"pip"}))


def test_bumper_action_cache_false_installs_without_the_actions_cache(
    tmp_path: Path, job: Job
) -> None:
    run = job(1, env={"BUMPER_ACTION_CACHE": "false"})
    assert run.returncode == 0, run.log
    assert "::group::Install bumper into" in run.log
    assert "bumper-restore" not in run.durations
    assert "bumper-save" not in run.durations
    assert not (tmp_path / "actions-cache").exists()


def test_bumper_action_venv_skips_the_installation_and_both_caches(
    tmp_path: Path, action: Path, job: Job
) -> None:
    venv = make_fast_venv(tmp_path / "ready")
    before = snapshot(action)
    run = job(1, env={"BUMPER_ACTION_VENV": str(venv)})
    assert run.returncode == 0, run.log
    assert f"Using bumper from BUMPER_ACTION_VENV ({venv})" in run.log
    assert run.steps["install"] == {"bumper": str(venv / "bin" / "bumper")}
    assert set(run.durations) == {"bumper-env", "install"}
    assert not (tmp_path / "hostedtoolcache").exists()
    assert snapshot(action) == before


# --- the lock ---------------------------------------------------------------------------


def drop_semver_from_pyproject(repo: Path) -> None:
    path = repo / "pyproject.toml"
    path.write_text(path.read_text().replace('    "semver>=3.0",\n', ""))


def drop_idna_from_the_lock(repo: Path) -> None:
    path = repo / "requirements.lock"
    path.write_text(re.sub(r"^idna==.*?(?=^\S)", "", path.read_text(), flags=re.M | re.S))


@pytest.mark.parametrize(
    ("edit", "change"),
    [
        (None, None),
        (drop_semver_from_pyproject, "-semver=="),
        (drop_idna_from_the_lock, "+idna=="),
    ],
    ids=["unchanged", "dependency-dropped-from-pyproject", "release-dropped-from-the-lock"],
)
def test_the_lock_check_fails_when_the_lock_and_pyproject_disagree(
    tmp_path: Path, edit: Callable[[Path], None] | None, change: str | None
) -> None:
    """``change``: the line the check's diff shows (lock → what pyproject.toml resolves to)."""
    uv = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert uv, "uv is not installed (bash .ci/install installs it)"
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    for name in (".ci/lock", "pyproject.toml", "requirements.lock"):
        shutil.copy2(ROOT / name, repo / name)
    if edit:
        edit(repo)
    done = subprocess.run(
        ["bash", str(repo / ".ci" / "lock"), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(uv).parent}{os.pathsep}{os.environ['PATH']}"},
        timeout=120,
        check=False,
    )
    if change is None:
        assert done.returncode == 0, done.stderr
        assert "requirements.lock is in sync with pyproject.toml" in done.stdout
        return
    assert done.returncode == 1
    assert (
        "requirements.lock is out of sync with pyproject.toml: run 'bash .ci/lock'" in done.stderr
    )
    changed = [line for line in done.stderr.splitlines() if line[:1] in "+-" and "==" in line]
    assert len(changed) == 1 and changed[0].startswith(change), done.stderr


# --- the harness models what the install steps rely on -----------------------------------


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("steps.env.outputs.cache == 'true'", True),
        ("${{ steps.env.outputs.cache == 'true' }}", True),
        ("steps.env.outputs.cache == 'TRUE'", True),  # strings compare without case
        ("steps.env.outputs.cache != 'true'", False),
        ("steps.env.outputs.unset == 'true'", False),  # an unset output is ''
        ("steps.env.outputs.unset == ''", True),
        ("steps.env.outputs.unset == null", True),  # '' and null both compare as 0
        ("steps.env.outputs.unset", False),
        ("steps.env.outputs.flag", True),  # the string 'false' is not empty: truthy
        ("!(steps.env.outputs.cache == 'true')", False),
        ("success() && steps.env.outputs.cache == 'true'", True),
        ("steps.env.outputs.unset || steps.env.outputs.cache == 'it''s'", False),
        ("steps.env.outputs.quote == 'it''s'", True),
    ],
)
def test_the_harness_evaluates_if_as_the_runner_does(condition: str, holds: bool) -> None:
    contexts = Contexts(github={}, runner={})
    contexts.steps["env"] = {"cache": "true", "flag": "false", "quote": "it's"}
    assert Condition(condition, contexts).holds() is holds


@pytest.mark.parametrize(
    "condition",
    [
        "always()",
        "failure() || true",
        "hashFiles('requirements.lock') != ''",
        "steps.env.outputs.cache ==",
        "steps.env.outputs.cache = 'true'",
    ],
)
def test_the_harness_refuses_what_it_does_not_model(condition: str) -> None:
    with pytest.raises(HarnessError):
        Condition(condition, Contexts(github={}, runner={})).holds()


# --- the example READMEs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "readme",
    sorted((ROOT / "examples").glob("*/README.md")),
    ids=lambda path: path.parent.name,
)
def test_the_commands_in_the_example_readmes_run_as_written_after_the_quick_start(
    readme: Path,
) -> None:
    """The quick start installs .venv/bin/bumper; the examples' commands say so and run
    from the repository's root."""
    if not (ROOT / ".venv" / "bin" / "bumper").exists():
        pytest.skip("no .venv/bin/bumper: run bash .ci/install (the quick start) first")
    # Commands are the indented code lines that run bumper.
    lines = readme.read_text().splitlines()
    commands = [line.strip() for line in lines if re.match(r" {4}(\.venv/bin/)?bumper ", line)]
    assert commands
    for command in commands:
        assert command.startswith(".venv/bin/bumper "), (
            f"{command!r}: not what the quick start installs"
        )
        done = subprocess.run(
            shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
        assert done.stdout
