"""The GitHub Actions runtime behind ``uses: acme/bumper@v1``.

``action.yml`` hands every input to ``bumper action`` as an ``INPUT_<NAME>`` environment
variable (upper case, ``-`` as ``_``); :func:`run` parses them strictly, stops early when
the run was caused by bumper's own commit, builds and pushes (unless ``build: false``),
bumps the manifests and delivers the change, then talks back to the runner: outputs in
``GITHUB_OUTPUT``, a job summary in ``GITHUB_STEP_SUMMARY``, masks, groups and
annotations on stdout.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumper.errors import BumperError

if TYPE_CHECKING:
    from bumper.build.engine import BuildResult
    from bumper.delivery.route import DeliveryReport, DeliveryRequest
    from bumper.edit.plan import Plan

TRUE = ("true", "True", "TRUE")
FALSE = ("false", "False", "FALSE")
MODES = ("push", "pull-request")
TAG_STRATEGIES = ("auto", "sha")
VIA = ("api", "git")
SKIP_CI = ("auto", "always", "never")
AUTO_MERGE = ("merge", "squash", "rebase")
OUTPUTS = (
    "image", "tag", "digest", "ref", "changed", "changed-files", "commit-sha", "commit-url",
    "commit-verified", "pull-request-number", "pull-request-url", "pull-request-operation",
)  # fmt: skip
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


def env_name(name: str) -> str:
    """The environment variable that carries input ``name`` (``tag-strategy`` →
    ``INPUT_TAG_STRATEGY``)."""
    return "INPUT_" + name.upper().replace("-", "_").replace(" ", "_")


class Inputs:
    """Strict readers over the ``INPUT_*`` variables; an empty value means "not given"."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        """The trimmed value, or ``default`` when empty."""
        value = self.env.get(env_name(name), "").strip()
        return value or default

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise BumperError(f"input '{name}' is required")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """``true``/``false`` (YAML 1.2 core spellings); anything else is an error."""
        value = self.text(name)
        if value is None:
            return default
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise BumperError(f"input '{name}' must be true or false, not {value!r}")

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(name, default)
        if value is not None and value not in choices:
            raise BumperError(f"input '{name}' must be one of {', '.join(choices)}, not {value!r}")
        return value

    def items(self, name: str) -> list[str]:
        """A list given one per line (commas also separate, as in most actions)."""
        raw = self.env.get(env_name(name), "")
        return [item.strip() for item in re.split(r"[\n,]", raw) if item.strip()]

    def lines(self, name: str) -> list[str]:
        """A list given one per line only (paths may hold commas)."""
        raw = self.env.get(env_name(name), "")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def pairs(self, name: str) -> dict[str, str]:
        """``KEY=VALUE`` per line."""
        result: dict[str, str] = {}
        for line in self.lines(name):
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise BumperError(f"input '{name}': expected KEY=VALUE per line, not {line!r}")
            result[key.strip()] = value.strip()
        return result


@dataclass(frozen=True)
class Settings:
    """Every input of the action, parsed and checked."""

    image: str
    tag: str | None
    tag_strategy: str
    build: bool
    push: bool
    context: str
    file: str | None
    build_args: dict[str, str]
    target: str | None
    image_labels: dict[str, str]
    platform: str | None
    digest: str | None
    pin_digest: bool
    paths: list[str]
    repository: str
    base: str | None
    branch: str | None
    mode: str
    title: str | None
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    assignees: tuple[str, ...]
    draft: bool
    auto_merge: str | None
    commit_message: str | None
    skip_ci: str
    token: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    allow_downgrade: bool
    dry_run: bool
    via: str


def parse_inputs(env: Mapping[str, str]) -> Settings:
    """Read and check every input; raise BumperError naming the first bad one."""
    from bumper.edit.reference import valid_digest

    read = Inputs(env)
    digest = read.text("digest")
    if digest is not None and not valid_digest(digest):
        raise BumperError(f"input 'digest' must look like sha256:<64 hex>, not {digest!r}")
    labels = read.items("labels")
    for label in labels:
        if "=" in label:
            raise BumperError(
                f"input 'labels' holds pull-request labels, not {label!r}: "
                "image labels (KEY=VALUE) go in 'image-labels'"
            )
    mode = read.choice("mode", MODES, "pull-request") or "pull-request"
    paths = read.lines("paths")
    if not paths:
        raise BumperError("input 'paths' is required: the manifest files or folders to bump")
    repository = read.text("repository") or env.get("GITHUB_REPOSITORY")
    if not repository:
        raise BumperError("input 'repository' is required outside GitHub Actions")
    return Settings(
        image=read.required("image"),
        tag=read.text("tag"),
        tag_strategy=read.choice("tag-strategy", TAG_STRATEGIES, "auto") or "auto",
        build=read.boolean("build", True),
        push=read.boolean("push", True),
        context=read.text("context", ".") or ".",
        file=read.text("file"),
        build_args=read.pairs("build-args"),
        target=read.text("target"),
        image_labels=read.pairs("image-labels"),
        platform=read.text("platform"),
        digest=digest,
        pin_digest=read.boolean("pin-digest", False),
        paths=paths,
        repository=repository,
        base=read.text("base"),
        branch=read.text("branch"),
        mode=mode,
        title=read.text("title"),
        labels=tuple(labels),
        reviewers=tuple(read.items("reviewers")),
        team_reviewers=tuple(read.items("team-reviewers")),
        assignees=tuple(read.items("assignees")),
        draft=read.boolean("draft", False),
        auto_merge=read.choice("auto-merge", AUTO_MERGE, None),
        commit_message=read.text("commit-message"),
        skip_ci=read.choice("skip-ci", SKIP_CI, "auto") or "auto",
        token=read.text("token"),
        username=read.text("username"),
        password=read.text("password"),
        allow_downgrade=read.boolean("allow-downgrade", False),
        dry_run=read.boolean("dry-run", False),
        via=read.choice("via", VIA, None) or ("api" if mode == "pull-request" else "git"),
    )


# --- talking to the runner ----------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=…``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Runner:
    """The channel back to the Actions runner: commands on stdout, outputs and summary in
    the files the runner names (ignored when they are not set, as outside Actions)."""

    def __init__(self, env: Mapping[str, str], write: Callable[[str], None] | None = None) -> None:
        self.env = env
        self._write = write or _stdout_line
        self.outputs: dict[str, str] = {}

    def line(self, text: str) -> None:
        self._write(text)

    def mask(self, secret: str | None) -> None:
        """``::add-mask::`` each line of ``secret`` so no later log line shows it."""
        for part in (secret or "").splitlines():
            if part.strip():
                self._write(f"::add-mask::{escape_data(part)}")

    def command(self, name: str, message: str, **properties: str | int | None) -> None:
        props = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in properties.items()
            if value is not None
        )
        self._write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}")

    def set_output(self, name: str, value: str) -> None:
        """Append ``name`` to ``GITHUB_OUTPUT`` with the heredoc syntax (multiline-safe)."""
        self.outputs[name] = value
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        """Append to the job summary (``GITHUB_STEP_SUMMARY``)."""
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(markdown if markdown.endswith("\n") else markdown + "\n")


def _stdout_line(text: str) -> None:
    print(text, flush=True)


def trust_workspace(environ: MutableMapping[str, str]) -> None:
    """Let git work in ``GITHUB_WORKSPACE`` even when another user owns it (container jobs,
    self-hosted runners): ``safe.directory`` through ``GIT_CONFIG_*`` for this process and
    its git children only, so the user's git configuration is never written."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return
    count = int(environ.get("GIT_CONFIG_COUNT", "0") or "0")
    for index in range(count):
        if (
            environ.get(f"GIT_CONFIG_KEY_{index}") == "safe.directory"
            and environ.get(f"GIT_CONFIG_VALUE_{index}") == workspace
        ):
            return
    environ[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    environ[f"GIT_CONFIG_VALUE_{count}"] = workspace
    environ["GIT_CONFIG_COUNT"] = str(count + 1)


# --- the run ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the run did, rendered into outputs and the summary."""

    image: str = ""
    tag: str = ""
    digest: str = ""
    ref: str = ""
    changed: bool = False
    files: list[str] = field(default_factory=list)
    commit: str = ""
    commit_url: str = ""
    verified: str = ""
    pr_number: str = ""
    pr_url: str = ""
    pr_operation: str = ""
    message: str = ""
    plan: Plan | None = None
    diff: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "ref": self.ref,
            "changed": "true" if self.changed else "false",
            "changed-files": json.dumps(self.files),
            "commit-sha": self.commit,
            "commit-url": self.commit_url,
            "commit-verified": self.verified,
            "pull-request-number": self.pr_number,
            "pull-request-url": self.pr_url,
            "pull-request-operation": self.pr_operation,
        }


def run(env: MutableMapping[str, str] | None = None, runner: Runner | None = None) -> int:
    """Run the action with inputs from ``env`` (default: the process environment); return
    the exit code. Every failure becomes one ``::error::`` line and exit code 1."""
    env = os.environ if env is None else env
    runner = runner or Runner(env)
    # Masks first, before anything (even an input error) can print a secret.
    runner.mask(env.get(env_name("token")))
    runner.mask(env.get(env_name("password")))
    trust_workspace(env)
    outcome = Outcome()
    try:
        settings = parse_inputs(env)
        from bumper.delivery.loopguard import check_github_event

        loop = check_github_event(env)
        if loop.skip:
            outcome.message = f"Skipped: {loop.reason}; nothing to do."
            runner.line(f"bumper: {outcome.message}")
        else:
            _bump(settings, env, runner, outcome)
    except BumperError as error:
        _report_failure(runner, outcome, str(error))
        return 1
    except Exception as error:
        if env.get("BUMPER_DEBUG"):
            raise
        detail = f"{type(error).__name__}: {error}"
        _report_failure(runner, outcome, f"internal error: {detail} (BUMPER_DEBUG=1 shows more)")
        return 1
    _finish(runner, outcome)
    return 0


def _report_failure(runner: Runner, outcome: Outcome, message: str) -> None:
    located = _LOCATED.match(message)
    if located:
        runner.command(
            "error",
            located.group("message"),
            file=located.group("file"),
            line=located.group("line"),
            col=located.group("col"),
            title="bumper",
        )
    else:
        runner.command("error", message, title="bumper")
    outcome.message = f"**Failed:** {message}"
    _finish(runner, outcome)


def _finish(runner: Runner, outcome: Outcome) -> None:
    for name, value in outcome.outputs().items():
        runner.set_output(name, value)
    runner.summary(render_summary(outcome))


def resolve_image(settings: Settings, env: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(name, tag, digest) of the image to deploy: the tag from ``tag``, the image's own
    tag, or ``tag-strategy``; the digest given for an image built elsewhere."""
    from bumper.build.source import source_context
    from bumper.build.tags import resolve_tag
    from bumper.edit.reference import valid_digest

    image, _, image_digest = settings.image.partition("@")
    digest = settings.digest
    if image_digest:
        if settings.build:
            raise BumperError(f"input 'image' {settings.image!r}: give NAME[:TAG] to build")
        if not valid_digest(image_digest):
            raise BumperError(f"input 'image' {settings.image!r}: invalid digest")
        if digest is not None and digest != image_digest:
            raise BumperError("input 'image' and input 'digest' name different digests")
        digest = image_digest
    strategy = None if settings.tag or ":" in image.rsplit("/", 1)[-1] else settings.tag_strategy
    context = source_context(settings.context, env) if strategy else None
    if strategy == "sha":
        if context is None or not context.commit:
            raise BumperError("tag-strategy sha needs a commit: run in a git checkout or give tag")
        name, tag = resolve_tag(image, f"sha-{context.commit[:7]}", context)
    else:
        name, tag = resolve_tag(image, settings.tag or strategy, context)
    return name, tag, digest


def _bump(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    name, tag, digest = resolve_image(settings, env)
    outcome.image, outcome.tag = name, tag
    if settings.build and digest is not None:
        raise BumperError("input 'digest' is for an image built elsewhere: set build: false")
    if settings.build:
        result = _build(settings, env, runner, name, tag)
        digest = result.digest
    outcome.digest = digest or ""
    outcome.ref = f"{name}:{tag}" + (f"@{digest}" if digest else "")
    pin = settings.digest is not None or settings.pin_digest or "@" in settings.image
    if pin and digest is None and not settings.dry_run:
        raise BumperError(
            "pin-digest needs a digest: push the image (push: true) or, with build: false, "
            "give the digest input"
        )
    target = outcome.ref if pin else f"{name}:{tag}"
    from bumper.delivery.bump import Bump

    bump = Bump(
        target, settings.paths, relative_to_root=True, allow_downgrade=settings.allow_downgrade
    )
    if settings.dry_run:
        _dry_run(settings, env, runner, bump, outcome)
        return
    from bumper.delivery import route

    report = route.run(bump, _request(settings), env)
    if bump.last_plan is not None:
        from bumper.render import print_summary

        print_summary(bump.last_plan, dry_run=False)
    runner.line(f"bumper: {report.summary}")
    _record_delivery(settings, env, report, bump.last_plan, outcome)
    _annotate(runner, bump.last_plan)


def _build(
    settings: Settings, env: Mapping[str, str], runner: Runner, name: str, tag: str
) -> BuildResult:
    from bumper.build.engine import BuildOptions, Progress, build_and_push
    from bumper.build.source import source_context

    push = settings.push and not settings.dry_run
    options = BuildOptions(
        image=name,
        tag=tag,
        context=settings.context,
        dockerfile=settings.file,
        build_args=settings.build_args,
        target=settings.target,
        labels=settings.image_labels,
        platform=settings.platform,
        push=push,
        username=settings.username,
        password=settings.password,
    )
    progress = Progress(write=runner.line, env=env)
    result = build_and_push(options, source_context(settings.context, env), progress=progress)
    runner.line(f"bumper: built {result.ref}" + ("" if push else " (not pushed)"))
    return result


def _request(settings: Settings) -> DeliveryRequest:
    from bumper.delivery.route import DeliveryRequest

    pull_request = settings.mode == "pull-request"
    return DeliveryRequest(
        push=not pull_request,
        repo=settings.repository,
        branch=settings.branch if pull_request else (settings.branch or settings.base),
        base=settings.base if pull_request else None,
        via=settings.via,
        pull_request=pull_request,
        message=settings.commit_message,
        skip_ci=settings.skip_ci,
        token=settings.token,
        title=settings.title,
        labels=settings.labels,
        reviewers=settings.reviewers,
        team_reviewers=settings.team_reviewers,
        assignees=settings.assignees,
        draft=settings.draft,
        auto_merge=settings.auto_merge,
    )


def _first(details: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = details.get(key)
        if value not in (None, ""):
            return value
    return None


def _repo_web_url(repository: str, env: Mapping[str, str]) -> str | None:
    from bumper.delivery.gitpush import is_slug, repository_url

    return repository_url(repository, env) if is_slug(repository) else None


def _record_delivery(
    settings: Settings,
    env: Mapping[str, str],
    report: DeliveryReport,
    plan: Plan | None,
    outcome: Outcome,
) -> None:
    details = report.details
    outcome.plan = plan
    outcome.message = report.summary
    commit = _first(details, "commit", "commit_sha", "head_sha", "sha")
    operation = _first(details, "operation", "pull_request_operation", "action")
    if settings.mode == "pull-request":
        outcome.changed = operation in ("created", "updated")
        outcome.pr_operation = str(operation or "none")
        number = _first(details, "number", "pull_request_number")
        outcome.pr_number = str(number) if number is not None else ""
        outcome.pr_url = str(_first(details, "url", "html_url", "pull_request_url") or "")
    else:
        outcome.changed = bool(details.get("changed"))
    if commit and (outcome.changed or settings.mode == "push"):
        outcome.commit = str(commit)
        web = _repo_web_url(settings.repository, env)
        outcome.commit_url = f"{web}/commit/{commit}" if web else ""
        verified = details.get("verified")
        outcome.verified = "true" if verified else "false"
    if outcome.changed and plan is not None:
        outcome.files = [p.source.display for p in plan.files if p.changed]


def _dry_run(
    settings: Settings, env: Mapping[str, str], runner: Runner, bump: Any, outcome: Outcome
) -> None:
    """Plan in the workspace (this repository) or a throw-away clone; write nothing."""
    workspace = env.get("GITHUB_WORKSPACE")
    same = settings.repository.lower() == (env.get("GITHUB_REPOSITORY") or "").lower()
    if same and workspace and Path(workspace).is_dir():
        plan = bump.plan(Path(workspace))
    else:
        plan = _plan_in_clone(settings, env, bump)
    outcome.plan = plan
    outcome.changed = plan.changed
    outcome.files = [p.source.display for p in plan.files if p.changed]
    outcome.diff = plan.diff()
    verb = "would change" if plan.changed else "nothing to change:"
    outcome.message = f"Dry run: {verb} {', '.join(outcome.files) or 'already up to date'}"
    if outcome.diff:
        runner.line(outcome.diff.rstrip("\n"))
    from bumper.render import print_summary

    print_summary(plan, dry_run=True)
    runner.line(f"bumper: {outcome.message}")
    _annotate(runner, plan)


def _plan_in_clone(settings: Settings, env: Mapping[str, str], bump: Any) -> Plan:
    import tempfile

    from bumper.delivery.gitpush import repository_url, resolve_token
    from bumper.git import Credentials, Git, GitCommandError, clone, git_env, is_http

    url = repository_url(settings.repository, env)
    token = resolve_token(settings.token, env)
    credentials = Credentials(token, (url,)) if token and is_http(url) else None
    secrets = credentials.secrets() if credentials else ()
    branch = settings.base if settings.mode == "pull-request" else settings.branch or settings.base
    with tempfile.TemporaryDirectory(prefix="bumper-") as tmp:
        try:
            clone(
                Git(Path(tmp), git_env(env, credentials), secrets), url, Path(tmp) / "repo", branch
            )
        except GitCommandError as error:
            raise BumperError(f"cannot clone {settings.repository}: {error}") from None
        return bump.plan(Path(tmp) / "repo")


def _annotate(runner: Runner, plan: Plan | None) -> None:
    """One ``::error`` annotation per manifest that could not be parsed."""
    for problem in plan.problems if plan is not None else []:
        runner.command(
            "error",
            f"bumper could not parse this file: {problem.message}",
            file=problem.path,
            line=problem.line,
            col=problem.column,
            title="bumper: unreadable manifest",
        )


# --- the job summary -------------------------------------------------------------------


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if text else "–"


def _version(name: str, value: str) -> str:
    """The part of a reference after the name (``1.4.2@sha256:…``)."""
    rest = value[len(name) :] if value.startswith(name) else value
    return rest.lstrip(":") or value


def render_summary(outcome: Outcome) -> str:
    """The job summary: image, digest, the changes as a table, and where they went."""
    title = f"### bumper: `{outcome.image}:{outcome.tag}`" if outcome.image else "### bumper"
    lines = [title, ""]
    if outcome.image:
        lines += [f"- **Image:** `{outcome.image}:{outcome.tag}`"]
        lines += [f"- **Digest:** `{outcome.digest}`" if outcome.digest else "- **Digest:** –"]
        lines.append("")
    changes = outcome.plan.changes if outcome.plan is not None else []
    if changes:
        lines += ["| File | Line | Old | New |", "| --- | ---: | --- | --- |"]
        for change in changes:
            old, new = _version(change.name, change.old), _version(change.name, change.new)
            lines.append(f"| {_cell(change.path)} | {change.line} | {_cell(old)} | {_cell(new)} |")
        lines.append("")
    if outcome.pr_url:
        lines.append(
            f"Pull request [#{outcome.pr_number}]({outcome.pr_url}): {outcome.pr_operation}."
        )
        if outcome.message:
            lines.append(outcome.message)
    elif outcome.commit and outcome.changed:
        link = f"`{outcome.commit[:12]}`"
        if outcome.commit_url:
            link = f"[{link}]({outcome.commit_url})"
        lines.append(f"Commit {link}: {outcome.message}")
    elif outcome.message:
        lines.append(outcome.message)
    if outcome.diff:
        lines += ["", "<details><summary>Diff</summary>", "", "```diff", outcome.diff.rstrip("\n"),
                  "```", "", "</details>"]  # fmt: skip
    return "\n".join(lines) + "\n"
