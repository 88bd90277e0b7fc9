"""Run ``action.yml`` the way the GitHub Actions runner runs a composite action.

The harness reads the action's metadata, fills the ``inputs`` context from what a test
passes (defaults from ``action.yml``, themselves expressions such as
``${{ github.token }}``), evaluates the ``${{ … }}`` expressions in each step's ``env:``,
and runs each ``run:`` step as the runner does for ``shell: bash``
(``bash --noprofile --norc -e -o pipefail FILE``) in the workspace, with the runner's
environment: ``GITHUB_WORKSPACE``, ``GITHUB_ACTION_PATH``, ``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``, ``GITHUB_PATH``, ``GITHUB_EVENT_PATH``,
``GITHUB_REPOSITORY``, ``GITHUB_SHA``, ``GITHUB_REF``, ``RUNNER_TEMP``,
``GITHUB_ACTIONS=true`` …. Step outputs are read back from ``GITHUB_OUTPUT`` (both the
``name=value`` and the heredoc syntax) and the action's ``outputs:`` are evaluated from
them. A ``${{ }}`` inside a ``run:`` script fails the run: inputs must reach scripts
only through ``env:``.

``make_fast_venv`` makes a virtual environment that runs bumper from this checkout
without pip (the dependencies come from the interpreter's site-packages); pointing
``BUMPER_ACTION_VENV`` at it makes action.yml skip its installation step.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# The environment a runner's job starts from, besides what the harness sets.
INHERITED = ("PATH", "LANG", "LC_ALL", "DOCKER_HOST", "PIP_FIND_LINKS", "PIP_CERT")


class HarnessError(AssertionError):
    """action.yml uses something a real runner would reject or the harness cannot model."""


@dataclass
class ActionRun:
    """The result of one run of the action."""

    returncode: int
    outputs: dict[str, str]
    summary: str
    log: str
    steps: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        """The messages of ``::error …::`` commands in the log."""
        lines = self.log.splitlines()
        return [line.split("::", 2)[2] for line in lines if line.startswith("::error")]


def load_action(action_path: Path = ROOT) -> dict[str, Any]:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load((action_path / "action.yml").read_text(encoding="utf-8"))


def push_event(
    repository: str, sha: str, message: str = "feat: a change", ref: str = "refs/heads/main"
) -> dict[str, Any]:
    """A push event payload shaped like GitHub's (the fields bumper and users read)."""
    owner, name = repository.split("/")
    author = {"name": "Dev", "email": "dev@example.com", "username": "dev"}
    commit = {
        "id": sha,
        "tree_id": "0" * 40,
        "distinct": True,
        "message": message,
        "timestamp": "2026-11-29T12:00:00Z",
        "url": f"https://github.com/{repository}/commit/{sha}",
        "author": author,
        "committer": author,
        "added": [],
        "removed": [],
        "modified": ["src/app.py"],
    }
    return {
        "ref": ref,
        "before": "1" * 40,
        "after": sha,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{repository}/compare/111111111111...{sha[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "repository": {
            "id": 1296269,
            "name": name,
            "full_name": repository,
            "private": False,
            "owner": {"login": owner, "name": owner},
            "html_url": f"https://github.com/{repository}",
            "default_branch": "main",
            "master_branch": "main",
        },
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 1, "type": "User"},
    }


def parse_command_file(text: str) -> dict[str, str]:
    """Parse a ``GITHUB_OUTPUT``/``GITHUB_ENV`` file as the runner does."""
    values: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc and "=" not in line.split("<<", 1)[0]:
            name, delimiter = heredoc.groups()
            body: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise HarnessError(f"unterminated heredoc for {name!r}")
            values[name] = "\n".join(body)
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise HarnessError(f"invalid command-file line {line!r}")
        values[name] = value
    return values


class Contexts:
    """The expression contexts a composite action sees: github, runner, inputs, steps, env."""

    def __init__(self, github: dict[str, str], runner: dict[str, str]) -> None:
        self.github = github
        self.runner = runner
        self.inputs: dict[str, str] = {}
        self.steps: dict[str, dict[str, str]] = {}

    def lookup(self, expression: str) -> str:
        parts = expression.split(".")
        head, rest = parts[0], parts[1:]
        if head in ("github", "runner", "inputs") and len(rest) == 1:
            table = {"github": self.github, "runner": self.runner, "inputs": self.inputs}[head]
            if rest[0] not in table:
                if head == "inputs":
                    raise HarnessError(f"${{{{ {expression} }}}}: no such input")
                raise HarnessError(f"${{{{ {expression} }}}}: not modelled by the harness")
            return table[rest[0]]
        if head == "steps" and len(rest) == 3 and rest[1] == "outputs":
            # An output a step did not set evaluates to the empty string.
            return self.steps.get(rest[0], {}).get(rest[2], "")
        raise HarnessError(f"unsupported expression ${{{{ {expression} }}}}")

    def evaluate(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.lookup(match.group(1)), text)


def run_action(
    inputs: Mapping[str, str],
    *,
    workspace: Path,
    temp: Path,
    repository: str = "acme/app",
    sha: str | None = None,
    ref: str = "refs/heads/main",
    event: Mapping[str, Any] | None = None,
    event_name: str = "push",
    token: str = "ghs_test-harness-token",
    env: Mapping[str, str] | None = None,
    action_path: Path = ROOT,
    timeout: float = 600,
) -> ActionRun:
    """Run the composite action in ``action_path`` with ``inputs`` (kebab-case names).

    ``workspace`` is ``GITHUB_WORKSPACE`` (and the steps' working directory); ``temp``
    holds ``RUNNER_TEMP``, the tool cache (unless ``env`` sets ``RUNNER_TOOL_CACHE``), the
    event file and the command files. ``env`` adds variables to the job's environment
    (``GITHUB_SERVER_URL``, ``BUMPER_ACTION_VENV`` …).
    """
    action = load_action(action_path)
    declared = action.get("inputs") or {}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise HarnessError(f"unexpected inputs {unknown} (not declared in action.yml)")
    if action["runs"]["using"] != "composite":
        raise HarnessError("the harness runs composite actions only")

    sha = sha or _head(workspace) or "0" * 40
    runner_temp = temp / "runner-temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    commands = temp / "commands"
    commands.mkdir(parents=True, exist_ok=True)
    event_path = temp / "event.json"
    event_path.write_text(json.dumps(event or push_event(repository, sha, ref=ref)))
    job_env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    job_env.update(
        CI="true",
        HOME=str(temp / "home"),
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_REPOSITORY=repository,
        GITHUB_REPOSITORY_OWNER=repository.split("/")[0],
        GITHUB_SHA=sha,
        GITHUB_REF=ref,
        GITHUB_REF_NAME=ref.rsplit("/", 1)[-1],
        GITHUB_REF_TYPE="tag" if ref.startswith("refs/tags/") else "branch",
        GITHUB_EVENT_NAME=event_name,
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_API_URL="https://api.github.com",
        GITHUB_GRAPHQL_URL="https://api.github.com/graphql",
        GITHUB_RUN_ID="4242",
        GITHUB_RUN_NUMBER="7",
        GITHUB_RUN_ATTEMPT="1",
        GITHUB_WORKFLOW="release",
        GITHUB_JOB="deploy",
        GITHUB_ACTOR="dev",
        GITHUB_ACTION="__acme_bumper",
        GITHUB_ACTION_PATH=str(action_path),
        GITHUB_ACTION_REPOSITORY="acme/bumper",
        RUNNER_OS="Linux",
        RUNNER_ARCH="X64",
        RUNNER_NAME="harness",
        RUNNER_TEMP=str(runner_temp),
        RUNNER_TOOL_CACHE=str(temp / "toolcache"),
    )
    job_env.update(env or {})
    Path(job_env["HOME"]).mkdir(parents=True, exist_ok=True)
    contexts = Contexts(
        github={
            "action_path": str(action_path),
            "token": token,
            "repository": repository,
            "sha": sha,
            "ref": ref,
            "workspace": str(workspace),
            "event_name": event_name,
            "server_url": job_env["GITHUB_SERVER_URL"],
            "api_url": job_env["GITHUB_API_URL"],
            "run_id": job_env["GITHUB_RUN_ID"],
            "actor": job_env["GITHUB_ACTOR"],
        },
        runner={
            "temp": str(runner_temp),
            "tool_cache": job_env["RUNNER_TOOL_CACHE"],
            "os": "Linux",
            "arch": "X64",
        },
    )
    for name, spec in declared.items():
        default = str((spec or {}).get("default", ""))
        contexts.inputs[name] = inputs[name] if name in inputs else contexts.evaluate(default)

    log: list[str] = []
    summary: list[str] = []
    returncode = 0
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__step{index}")
        if set(step) - {"name", "id", "shell", "env", "run", "working-directory"}:
            raise HarnessError(f"step {step_id}: keys the harness does not model: {sorted(step)}")
        if step.get("shell") != "bash":
            raise HarnessError(f"step {step_id}: only shell: bash is modelled")
        script = step["run"]
        if EXPRESSION.search(script):
            raise HarnessError(f"step {step_id}: ${{{{ }}}} inside run: (pass it through env:)")
        names = ("output", "summary", "env", "path")
        files = {name: commands / f"{name}-{index}" for name in names}
        for path in files.values():
            path.write_text("")
        step_env = dict(job_env)
        step_env.update({k: contexts.evaluate(str(v)) for k, v in (step.get("env") or {}).items()})
        step_env.update(
            GITHUB_OUTPUT=str(files["output"]),
            GITHUB_STEP_SUMMARY=str(files["summary"]),
            GITHUB_ENV=str(files["env"]),
            GITHUB_PATH=str(files["path"]),
        )
        script_path = runner_temp / f"{uuid.uuid4()}.sh"
        script_path.write_text(script)
        cwd = workspace / contexts.evaluate(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script_path)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        log.append(done.stdout + done.stderr)
        contexts.steps[step_id] = parse_command_file(files["output"].read_text())
        summary.append(files["summary"].read_text())
        job_env.update(parse_command_file(files["env"].read_text()))
        added = [p for p in files["path"].read_text().splitlines() if p]
        if added:
            job_env["PATH"] = os.pathsep.join([*reversed(added), job_env.get("PATH", "")])
        if done.returncode != 0:
            returncode = done.returncode
            break
    outputs = {
        name: contexts.evaluate(str(spec.get("value", "")))
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionRun(returncode, outputs, "".join(summary), "".join(log), contexts.steps)


def _head(workspace: Path) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(workspace), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def make_fast_venv(path: Path) -> Path:
    """A virtual environment whose ``bin/bumper`` runs this checkout's bumper.

    No pip and no index: a ``.pth`` file puts this checkout first and then the
    site-packages of the interpreter running the tests (a virtual environment itself, in
    CI), where bumper's dependencies are installed.
    """
    import site

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = [str(ROOT), *site.getsitepackages()]
    # An "import" line runs: addsitedir also reads the .pth files of those folders.
    line = f"import site; list(map(site.addsitedir, {dirs!r}))\n"
    Path(purelib, "bumper-checkout.pth").write_text(line)
    script = path / "bin" / "bumper"
    script.write_text(f"#!{python}\nimport sys\nfrom bumper.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return path
