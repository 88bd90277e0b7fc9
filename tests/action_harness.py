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

A step's ``if:`` is evaluated as the runner does (``==``/``!=`` compare strings without
regard to case, ``&&``, ``||``, ``!``, parentheses; the implicit ``success()``). The
``uses:`` steps the action has are emulated: ``actions/cache/restore`` and
``actions/cache/save`` (pinned by commit SHA) keep entries in a folder that stands for
the repository's Actions cache, archived like the real action does (GNU tar with paths
relative to the workspace and ``-P``, zstd when installed), keyed on the key and a
version made from the paths and the compression. Tests pass the same folder to two runs
to show a second job restoring what the first saved.

``copy_action`` lays the action out as the runner downloads it. ``make_fast_venv`` makes
a virtual environment that runs bumper from this checkout without pip (the dependencies
come from the interpreter's site-packages); pointing ``BUMPER_ACTION_VENV`` at it makes
action.yml skip its installation steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# The environment a runner's job starts from, besides what the harness sets.
INHERITED = ("PATH", "LANG", "LC_ALL", "DOCKER_HOST", "PIP_FIND_LINKS", "PIP_CERT")


# The keys a composite action's step may have that the harness models.
STEP_KEYS = {
    "run": {"name", "id", "if", "shell", "env", "run", "working-directory"},
    "uses": {"name", "id", "if", "uses", "with"},
}


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
    # Seconds each step that ran took, by step id.
    durations: dict[str, float] = field(default_factory=dict)

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


CONDITION_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<word>[A-Za-z_][\w.-]*))"
)
Value = str | bool | None


class Condition:
    """A step's ``if:``, evaluated as the runner does.

    The harness stops at the first failing step, so the implicit ``success()`` always
    holds; the other status functions (``always()``, ``failure()``, ``cancelled()``) and
    every other function are refused as not modelled.
    """

    def __init__(self, text: str, contexts: Contexts) -> None:
        wrapped = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text, re.DOTALL)
        self.text = wrapped.group(1) if wrapped else text
        self.contexts = contexts
        self.tokens = list(self._tokenize(self.text))
        self.position = 0

    def holds(self) -> bool:
        """Whether the step runs."""
        value = self._or()
        if self.position != len(self.tokens):
            raise HarnessError(f"if: {self.text}: unexpected {self.tokens[self.position][1]!r}")
        return bool(value)

    def _tokenize(self, text: str) -> Iterator[tuple[str, str]]:
        position = 0
        while text[position:].strip():
            match = CONDITION_TOKEN.match(text, position)
            if not match:
                raise HarnessError(f"if: {text}: cannot read {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            yield kind, match.group(kind)
            position = match.end()

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.position == len(self.tokens):
            raise HarnessError(f"if: {self.text}: ends too early")
        self.position += 1
        return self.tokens[self.position - 1]

    def _or(self) -> Value:
        # GitHub's && and || return an operand, like JavaScript's.
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if bool(value) else right
        return value

    def _and(self) -> Value:
        value = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            value = right if bool(value) else value
        return value

    def _not(self) -> Value:
        if self._peek() == "!":
            self._take()
            return not bool(self._not())
        return self._comparison()

    def _comparison(self) -> Value:
        left = self._primary()
        if self._peek() in ("==", "!="):
            operator = self._take()[1]
            equal = _equal(left, self._primary())
            return equal if operator == "==" else not equal
        return left

    def _primary(self) -> Value:
        kind, text = self._take()
        if text == "(" and kind == "op":
            value = self._or()
            if self._take()[1] != ")":
                raise HarnessError(f"if: {self.text}: missing )")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind != "word":
            raise HarnessError(f"if: {self.text}: unexpected {text!r}")
        if self._peek() == "(":
            self._take()
            if text != "success" or self._take()[1] != ")":
                raise HarnessError(f"if: {self.text}: {text}() is not modelled by the harness")
            return True
        literals: dict[str, Value] = {"true": True, "false": False, "null": None}
        return literals[text] if text in literals else self.contexts.lookup(text)


def _equal(left: Value, right: Value) -> bool:
    """GitHub's ==: strings compare without regard to case; mixed types compare as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return _number(left) == _number(right)


def _number(value: Value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value) if value.strip() else 0.0
    except ValueError:
        return float("nan")


# --- the actions a composite step may use, emulated ------------------------------------

EmulatedAction = Callable[[Mapping[str, str], Path, Path], tuple[dict[str, str], str]]


def _emulated(uses: str) -> EmulatedAction:
    name, _, ref = uses.partition("@")
    if not re.fullmatch(r"[0-9a-f]{40}", ref):
        raise HarnessError(f"uses: {uses}: not pinned to a full commit SHA")
    emulated: dict[str, EmulatedAction] = {
        "actions/cache/restore": _restore_cache,
        "actions/cache/save": _save_cache,
    }
    if name not in emulated:
        raise HarnessError(f"uses: {name}: not emulated by the harness")
    return emulated[name]


def _compression() -> tuple[str, str, list[str], list[str]]:
    """actions/cache's choice: zstd when the runner has it, else gzip.

    Returns the method (part of the cache version), the archive's name and tar's options to
    create and to extract it.
    """
    if shutil.which("zstdmt") and shutil.which("unzstd"):
        zstd = ["--use-compress-program"]
        return "zstd-without-long", "cache.tzst", [*zstd, "zstdmt"], [*zstd, "unzstd"]
    return "gzip", "cache.tgz", ["-z"], ["-z"]


def _cache_entry(
    inputs: Mapping[str, str], store: Path, method: str
) -> tuple[list[str], str, Path]:
    """The paths, the key and the folder of the entry they name in ``store``."""
    unknown = sorted(set(inputs) - {"path", "key"})
    if unknown:
        raise HarnessError(f"actions/cache inputs not modelled by the harness: {unknown}")
    paths = [line.strip() for line in inputs.get("path", "").split("\n") if line.strip()]
    key = inputs.get("key", "")
    if not paths or not key:
        raise HarnessError("actions/cache: path and key are required")
    if any(char in path for path in paths for char in "*?[!"):
        raise HarnessError("actions/cache: glob patterns are not modelled by the harness")
    # An entry is found by its key and a version made from the paths and the compression:
    # the same key with other paths is another entry.
    version = hashlib.sha256("|".join([*paths, method, "1.0"]).encode()).hexdigest()
    entry = store / hashlib.sha256(f"{version}|{key}".encode()).hexdigest()[:32]
    return paths, key, entry


def _restore_cache(
    inputs: Mapping[str, str], workspace: Path, store: Path
) -> tuple[dict[str, str], str]:
    method, name, _, extract = _compression()
    _, key, entry = _cache_entry(inputs, store, method)
    if not (entry / name).is_file():
        # Like the real action, a miss leaves cache-hit unset.
        return {"cache-primary-key": key}, f"Cache not found for input keys: {key}\n"
    done = subprocess.run(
        ["tar", "-xf", str(entry / name), "-P", "-C", str(workspace), *extract],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"cache-primary-key": key}, f"::warning::Failed to restore: {done.stderr.strip()}\n"
    outputs = {"cache-hit": "true", "cache-primary-key": key, "cache-matched-key": key}
    return outputs, f"Cache restored from key: {key}\n"


def _save_cache(
    inputs: Mapping[str, str], workspace: Path, store: Path
) -> tuple[dict[str, str], str]:
    method, name, create, _ = _compression()
    paths, key, entry = _cache_entry(inputs, store, method)
    found = [workspace / path for path in paths if (workspace / path).exists()]
    if not found:
        return {}, (
            "::warning::Path Validation Error: Path(s) specified in the action for caching"
            " do(es) not exist, hence no cache is being saved.\n::warning::Cache save failed.\n"
        )
    if (entry / name).exists():
        # Entries are immutable: the first job to save a key wins.
        return {}, (
            f"Failed to save: Unable to reserve cache with key {key}, another job may be"
            " creating this cache.\n::warning::Cache save failed.\n"
        )
    store.mkdir(parents=True, exist_ok=True)
    staging = store / f".staging-{uuid.uuid4()}"
    staging.mkdir()
    try:
        # Paths relative to the workspace (../../ for the tool cache) and -P, as the action.
        manifest = "\n".join(os.path.relpath(path, workspace) for path in found)
        (staging / "manifest.txt").write_text(manifest)
        done = subprocess.run(
            ["tar", "--posix", "-cf", name, "--exclude", name, "-P", "-C", str(workspace),
             "--files-from", "manifest.txt", *create],
            cwd=staging, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return {}, f"::warning::Failed to save: {done.stderr.strip()}\n"
        entry.mkdir()
        os.replace(staging / name, entry / name)
    finally:
        shutil.rmtree(staging)
    return {}, f"Cache saved with key: {key}\n"


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
    actions_cache: Path | None = None,
    until: str | None = None,
    timeout: float = 600,
) -> ActionRun:
    """Run the composite action in ``action_path`` with ``inputs`` (kebab-case names).

    ``workspace`` is ``GITHUB_WORKSPACE`` (and the steps' working directory); ``temp``
    holds ``RUNNER_TEMP``, the tool cache (unless ``env`` sets ``RUNNER_TOOL_CACHE``), the
    event file and the command files. ``env`` adds variables to the job's environment
    (``GITHUB_SERVER_URL``, ``BUMPER_ACTION_VENV`` …). ``actions_cache`` is the folder
    standing for the repository's Actions cache (default: an empty one in ``temp``).
    ``until`` stops after the step with that id.
    """
    action = load_action(action_path)
    declared = action.get("inputs") or {}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise HarnessError(f"unexpected inputs {unknown} (not declared in action.yml)")
    if action["runs"]["using"] != "composite":
        raise HarnessError("the harness runs composite actions only")
    steps = action["runs"]["steps"]
    if until is not None and until not in [step.get("id") for step in steps]:
        raise HarnessError(f"until={until!r}: no step has that id")
    actions_cache = actions_cache or temp / "actions-cache"

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
    durations: dict[str, float] = {}
    returncode = 0

    def run_step(index: int, step_id: str, step: dict[str, Any]) -> bool:
        """Run a ``run:`` step as the runner does; whether it succeeded."""
        nonlocal returncode
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
        returncode = done.returncode
        return returncode == 0

    for index, step in enumerate(steps):
        step_id = step.get("id", f"__step{index}")
        kind = "uses" if "uses" in step else "run"
        if set(step) - STEP_KEYS[kind]:
            raise HarnessError(f"step {step_id}: keys the harness does not model: {sorted(step)}")
        started = time.perf_counter()
        if "if" in step and not Condition(str(step["if"]), contexts).holds():
            contexts.steps[step_id] = {}
        elif kind == "uses":
            emulate = _emulated(step["uses"])
            with_ = {k: contexts.evaluate(str(v)) for k, v in (step.get("with") or {}).items()}
            contexts.steps[step_id], text = emulate(with_, workspace, actions_cache)
            log.append(text)
            durations[step_id] = time.perf_counter() - started
        else:
            succeeded = run_step(index, step_id, step)
            durations[step_id] = time.perf_counter() - started
            if not succeeded:
                break
        if step_id == until:
            break
    outputs = {
        name: contexts.evaluate(str(spec.get("value", "")))
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionRun(returncode, outputs, "".join(summary), "".join(log), contexts.steps, durations)


def _head(workspace: Path) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(workspace), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def copy_action(destination: Path) -> Path:
    """The action as the runner downloads it: the repository's files (tracked, or new and
    not ignored), no caches, build output or virtual environment."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


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
