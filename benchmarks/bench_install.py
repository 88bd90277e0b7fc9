"""How long does the Action's install take, cold and warm? Prints figures, asserts nothing.

Runs action.yml's install steps through the runner harness (tests/action_harness.py) on
a copy of the action, as a job on a runner would, and times in the same run, round after
round (medians, and the fastest round):

- ``unpinned``: ``python -m venv``, then ``pip install`` of pyproject.toml's dependencies
  as written there (ranges: pip resolves and takes the newest releases);
- ``unpinned, the Action's pip``: the same, with the environment made and filled as
  the Action does (no pip of its own: the pip of the Python that makes it);
- ``before the lock``: ``python -m venv``, then ``pip install ACTION_FOLDER``, what the
  install step did before requirements.lock;
- ``cold``: the install steps on a fresh runner: Actions cache miss, install from
  requirements.lock (``--require-hashes``), save to the Actions cache;
- ``warm, Actions cache``: the next job on another fresh runner (empty tool cache)
  restoring what the cold job saved;
- ``warm, tool cache``: the next job on the same runner (self-hosted).

Every cold variant starts with an empty pip cache, so downloads from the package index
are included (this machine's pip configuration, printed first, applies to all of them
alike). The Actions cache is a local folder here: on GitHub's runners a restore also
downloads the archive, whose size is printed. The Python is the one the Action picks:
``python3`` on PATH.

    python benchmarks/bench_install.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.action_harness import ActionRun, copy_action, run_action  # noqa: E402

INPUTS = {"image": "ghcr.io/acme/app:1.1.0", "build": "false", "paths": "k8s", "mode": "push"}
QUIET = ["--quiet", "--disable-pip-version-check"]
INSTALL_STEPS = ("bumper-env", "bumper-restore", "install", "bumper-save")


def run(command: list[str | Path], **kwargs: object) -> None:
    subprocess.run([str(part) for part in command], check=True, capture_output=True, **kwargs)


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class Rounds:
    """One round of every variant in a fresh folder, times by variant."""

    def __init__(self, python: str, action: Path) -> None:
        self.python = python
        self.action = action
        with open(ROOT / "pyproject.toml", "rb") as file:
            self.dependencies = tomllib.load(file)["project"]["dependencies"]
        self.times: dict[str, list[float]] = {}
        self.steps: dict[str, list[dict[str, float]]] = {}
        self.archive = 0
        self.environment = 0

    def record(self, variant: str, seconds: float) -> None:
        self.times.setdefault(variant, []).append(seconds)

    def round(self, work: Path) -> None:
        pip_env = {"PIP_CACHE_DIR": str(work / "pip-cache-unpinned")}
        venv = work / "unpinned"

        def unpinned() -> None:
            run([self.python, "-m", "venv", venv])
            run([venv / "bin/python", "-m", "pip", "install", *QUIET, *self.dependencies],
                env=self._env(pip_env))  # fmt: skip

        self.record("unpinned", timed(unpinned))

        # The same requirements the way the Action installs: no ensurepip, the pip of the
        # Python that makes the environment; what remains is resolving against the lock.
        venv = work / "unpinned-outside-pip"
        pip_env = {"PIP_CACHE_DIR": str(work / "pip-cache-unpinned-outside-pip")}

        def unpinned_outside_pip() -> None:
            run([self.python, "-m", "venv", "--without-pip", venv])
            run([self.python, "-m", "pip", "--python", venv / "bin/python", "install", *QUIET,
                 *self.dependencies], env=self._env(pip_env))  # fmt: skip

        self.record("unpinned, the Action's pip", timed(unpinned_outside_pip))

        # pip builds in the folder it installs from: a copy of its own.
        folder = copy_action(work / "action-before")
        venv = work / "before"
        pip_env = {"PIP_CACHE_DIR": str(work / "pip-cache-before")}

        def before() -> None:
            run([self.python, "-m", "venv", venv])
            run(
                [venv / "bin/python", "-m", "pip", "install", *QUIET, folder],
                env=self._env(pip_env),
            )

        self.record("before the lock", timed(before))

        tool_cache = work / "hostedtoolcache"
        jobs = iter(range(1, 4))

        def job() -> ActionRun:
            done = run_action(
                INPUTS,
                workspace=work / "workspace",
                temp=work / f"job{next(jobs)}",
                env={
                    "RUNNER_TOOL_CACHE": str(tool_cache),
                    "PIP_CACHE_DIR": str(work / "pip-cache-action"),
                },
                action_path=self.action,
                actions_cache=work / "actions-cache",
                until="bumper-save",
            )
            if done.returncode != 0:
                sys.exit(f"bench_install: the install steps failed:\n{done.log}")
            return done

        (work / "workspace").mkdir()
        for variant in ("cold", "warm, Actions cache", "warm, tool cache"):
            if variant == "warm, Actions cache":
                self.environment = _size(tool_cache)
                shutil.rmtree(tool_cache)  # a fresh runner
            done = job()
            steps = {step: done.durations[step] for step in INSTALL_STEPS if step in done.durations}
            self.record(variant, sum(steps.values()))
            self.steps.setdefault(variant, []).append(steps)
        self.archive = _size(work / "actions-cache")

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, **extra}

    def report(self) -> None:
        width = max(len(variant) for variant in self.times)
        for variant, times in self.times.items():
            median = statistics.median(times)
            line = f"  {variant:<{width}}  {median:6.2f} s  (fastest {min(times):.2f})"
            if variant in self.steps:
                parts = {
                    step: statistics.median(round_[step] for round_ in self.steps[variant])
                    for step in INSTALL_STEPS
                    if step in self.steps[variant][0]
                }
                line += "  " + ", ".join(f"{step} {seconds:.2f}" for step, seconds in parts.items())
            print(line)
        print(
            f"  Actions cache entry {self.archive / 1e6:.1f} MB (compressed), "
            f"environment {self.environment / 1e6:.1f} MB"
        )
        cold, before = (statistics.median(self.times[v]) for v in ("cold", "before the lock"))
        warm = max(statistics.median(self.times[v]) for v in self.times if v.startswith("warm"))
        print(
            f"targets: cold no slower than before the lock ({cold:.2f} s vs {before:.2f} s): "
            f"{'met' if cold <= before else 'missed'}; warm at most 2 s ({warm:.2f} s): "
            f"{'met' if warm <= 2 else 'missed'}"
        )


def _size(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    python = shutil.which("python3")
    if not python:
        sys.exit("bench_install: no python3 on PATH")
    version = subprocess.run(
        [python, "-c", "import platform, pip; print(platform.python_version(), pip.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    config = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout.split()
    print(f"python3 {version[0]} ({python}), pip {version[1]}")
    print(f"pip configuration: {' '.join(config) or 'none'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-install-") as temp:
        rounds = Rounds(python, copy_action(Path(temp) / "_actions" / "acme" / "bumper" / "v1"))
        for number in range(args.rounds):
            rounds.round(Path(temp) / f"round{number}")
            print(f"round {number + 1}/{args.rounds} done", flush=True)
        print(f"install of bumper, median of {args.rounds} rounds:")
        rounds.report()


if __name__ == "__main__":
    main()
