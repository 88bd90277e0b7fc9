"""The GitHub Actions runtime behind ``uses: acme/bumper@v1``.

:func:`run` reads the inputs (:mod:`.inputs`), stops early when the run was caused by
bumper's own commit, runs the release pipeline (:func:`bumper.release.run`: build and
push unless ``build: false``, bump, deliver), then talks back to the runner
(:mod:`.runner`): outputs, a job summary (:mod:`.summary`), masks, groups and
annotations. Everything else is the library's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from bumper.action.inputs import Inputs, Settings, env_name, parse_inputs
from bumper.action.runner import Runner, escape_data, escape_property, trust_workspace
from bumper.action.summary import Outcome, render_summary
from bumper.build.engine import BuildOptions, Progress
from bumper.build.source import source_context
from bumper.build.tags import lowercase_name, resolve_tag, strategy_tag
from bumper.delivery.contract import DeliverOptions, DeliveryRequest, PullRequestOptions
from bumper.delivery.loopguard import check_github_event
from bumper.edit.reference import valid_digest
from bumper.errors import BumperError
from bumper.release import PlanOptions, ReleaseRequest, ReleaseResult
from bumper.release import run as run_pipeline
from bumper.render import print_summary

__all__ = [
    "Inputs",
    "Outcome",
    "Runner",
    "Settings",
    "env_name",
    "escape_data",
    "escape_property",
    "parse_inputs",
    "render_summary",
    "run",
    "trust_workspace",
]

_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


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
        loop = check_github_event(env)
        if loop.skip:
            outcome.message = f"Skipped: {loop.reason}; nothing to do."
            runner.line(f"bumper: {outcome.message}")
        else:
            _release(settings, env, runner, outcome)
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
    tag, or ``tag-strategy``; the digest given for an image built elsewhere. The name is
    lowercased (``ghcr.io/${{ github.repository }}`` works as is); a tag the user wrote
    must be valid as written."""
    image, _, image_digest = settings.image.partition("@")
    image = lowercase_name(image)
    digest = settings.digest
    if image_digest:
        if settings.build:
            raise BumperError(f"input 'image' {settings.image!r}: give NAME[:TAG] to build")
        if not valid_digest(image_digest):
            raise BumperError(f"input 'image' {settings.image!r}: invalid digest")
        if digest is not None and digest != image_digest:
            raise BumperError("input 'image' and input 'digest' name different digests")
        digest = image_digest
    if settings.tag or ":" in image.rsplit("/", 1)[-1]:
        name, tag = resolve_tag(image, settings.tag, None)
    else:
        tag = strategy_tag(settings.tag_strategy, source_context(settings.context, env))
        name, tag = resolve_tag(image, tag, None)
    return name, tag, digest


def _delivery(settings: Settings) -> DeliveryRequest:
    pull_request = settings.mode == "pull-request"
    options = DeliverOptions(
        message=settings.commit_message, skip_ci=settings.skip_ci, pull_request=pull_request
    )
    pr = None
    if pull_request:
        pr = PullRequestOptions(
            base=settings.base,
            title=settings.title,
            labels=settings.labels,
            reviewers=settings.reviewers,
            team_reviewers=settings.team_reviewers,
            assignees=settings.assignees,
            draft=settings.draft,
            auto_merge=settings.auto_merge,
        )
    return DeliveryRequest(
        push=not pull_request,
        repo=settings.repository,
        branch=settings.branch if pull_request else (settings.branch or settings.base),
        via=settings.via,
        token=settings.token,
        options=options,
        pull_request=pr,
    )


def _build_options(settings: Settings, name: str, tag: str) -> BuildOptions:
    return BuildOptions(
        image=name,
        tag=tag,
        context=settings.context,
        dockerfile=settings.file,
        build_args=settings.build_args,
        target=settings.target,
        labels=settings.image_labels,
        platform=settings.platform,
        push=settings.push and not settings.dry_run,
        username=settings.username,
        password=settings.password,
    )


def _release(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    name, tag, digest = resolve_image(settings, env)
    outcome.image, outcome.tag = name, tag
    if settings.build and digest is not None:
        raise BumperError("input 'digest' is for an image built elsewhere: set build: false")
    pin = settings.digest is not None or settings.pin_digest or "@" in settings.image
    target = f"{name}:{tag}" + (f"@{digest}" if digest else "")
    request = ReleaseRequest(
        targets=[target],
        paths=settings.paths,
        plan=PlanOptions(allow_downgrade=settings.allow_downgrade),
        delivery=_delivery(settings),
        dry_run=settings.dry_run,
        pin_digest=pin and settings.build,
        root=_dry_run_root(settings, env),
    )
    if settings.build:
        request.build = _build_options(settings, name, tag)
        request.context = source_context(settings.context, env)
        request.progress = Progress(write=runner.line, env=env)
    elif pin and digest is None and not settings.dry_run:
        raise BumperError(
            "pin-digest needs a digest: push the image (push: true) or, with build: false, "
            "give the digest input"
        )
    result = run_pipeline(request, env)
    _record(settings, runner, result, outcome)


def _dry_run_root(settings: Settings, env: Mapping[str, str]) -> Path | None:
    """A dry run in the repository the workflow runs in plans on its checkout."""
    workspace = env.get("GITHUB_WORKSPACE")
    same = settings.repository.lower() == (env.get("GITHUB_REPOSITORY") or "").lower()
    if settings.dry_run and same and workspace and Path(workspace).is_dir():
        return Path(workspace)
    return None


def _record(settings: Settings, runner: Runner, result: ReleaseResult, outcome: Outcome) -> None:
    """Fill the outcome from the pipeline's result and say what happened in the log."""
    build, plan, delivery = result.build, result.plan, result.delivery
    if build is not None:
        pushed = "" if build.digest else " (not pushed)"
        runner.line(f"bumper: built {build.ref}{pushed}")
        outcome.digest = build.digest or ""
    elif "@" in result.targets[0]:
        outcome.digest = result.targets[0].rpartition("@")[2]
    outcome.ref = f"{outcome.image}:{outcome.tag}" + (
        f"@{outcome.digest}" if outcome.digest else ""
    )
    outcome.plan = plan
    if plan is not None:
        if result.dry_run and plan.diff():
            outcome.diff = plan.diff()
            runner.line(outcome.diff.rstrip("\n"))
        print_summary(plan, dry_run=result.dry_run)
    if result.dry_run:
        assert plan is not None
        outcome.changed = plan.changed
        outcome.files = [p.source.display for p in plan.files if p.changed]
        verb = "would change" if plan.changed else "nothing to change:"
        outcome.message = f"Dry run: {verb} {', '.join(outcome.files) or 'already up to date'}"
    elif delivery is not None:
        outcome.message = delivery.summary()
        outcome.changed = delivery.changed
        pr = delivery.pull_request
        if pr is not None:
            outcome.pr_operation = pr.operation
            outcome.pr_number = str(pr.number) if pr.number is not None else ""
            outcome.pr_url = pr.url or ""
            outcome.pr_branch = pr.branch
            outcome.pr_head = pr.head_sha or ""
        if delivery.commit and (delivery.changed or settings.mode == "push"):
            outcome.commit = delivery.commit
            outcome.commit_url = delivery.commit_url or ""
            outcome.verified = "true" if delivery.verified else "false"
        if outcome.changed and plan is not None:
            outcome.files = [p.source.display for p in plan.files if p.changed]
        outcome.metadata = {
            "image": outcome.image,
            "tags": list(build.tags) if build is not None else [outcome.tag],
            "digest": outcome.digest or None,
            "changes": [c.to_dict() for c in plan.changes] if plan is not None else [],
            "delivery": delivery.to_dict(),
        }
    runner.line(f"bumper: {outcome.message}")
    _annotate(runner, plan)


def _annotate(runner: Runner, plan: object | None) -> None:
    """One ``::error`` annotation per manifest that could not be parsed."""
    for problem in getattr(plan, "problems", []):
        runner.command(
            "error",
            f"bumper could not parse this file: {problem.message}",
            file=problem.path,
            line=problem.line,
            col=problem.column,
            title="bumper: unreadable manifest",
        )
