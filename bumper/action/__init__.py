"""The GitHub Actions runtime behind ``uses: acme/bumper@v1``.

:func:`run` reads the inputs (:mod:`.inputs`), stops early when the run was caused by
bumper's own commit, runs the release pipeline (:func:`bumper.pipeline.run`: build and
push unless ``build: false``, bump, deliver), then talks back to the runner
(:mod:`.runner`): outputs, a job summary (:mod:`.summary`), masks, groups and
annotations. Everything else is the library's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from bumper.action.inputs import Inputs, Settings, env_name, parse_inputs
from bumper.action.runner import Runner, escape_data, escape_property, trust_workspace
from bumper.action.summary import Outcome, render_summary
from bumper.build.options import BuildOptions, Progress
from bumper.build.source import source_context
from bumper.build.specs import BuildSecret
from bumper.build.tags import TAG_STRATEGIES, check_tag, lowercase_name, resolve_tag, strategy_tag
from bumper.delivery.contract import DeliverOptions, DeliveryRequest, PullRequestOptions
from bumper.delivery.loopguard import check_github_event
from bumper.edit.reference import valid_digest
from bumper.errors import BumperError
from bumper.lifecycle import promote_request, rollback_guard, rollback_request
from bumper.pipeline import PlanOptions, ReleaseRequest, ReleaseResult, deliver_updates
from bumper.pipeline import run as run_pipeline
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
    for line in env.get(env_name("secrets"), "").splitlines():
        runner.mask(line.partition("=")[2].strip())
    trust_workspace(env)
    outcome = Outcome()
    try:
        settings = parse_inputs(env)
        loop = check_github_event(env)
        if loop.skip:
            outcome.message = f"Skipped: {loop.reason}; nothing to do."
            runner.line(f"bumper: {outcome.message}")
        else:
            _COMMANDS[settings.command](settings, env, runner, outcome)
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
    assert settings.image is not None
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
        message=settings.commit_message,
        author=settings.author,
        committer=settings.committer,
        signoff=settings.signoff,
        skip_ci=settings.skip_ci,
        pull_request=pull_request,
    )
    pr = None
    if pull_request:
        pr = PullRequestOptions(
            base=settings.base,
            title=settings.title,
            body=settings.body,
            labels=settings.labels,
            reviewers=settings.reviewers,
            team_reviewers=settings.team_reviewers,
            assignees=settings.assignees,
            milestone=settings.milestone,
            draft=settings.draft,
            auto_merge=settings.auto_merge,
            delete_branch=settings.delete_branch,
            force=settings.force,
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
    secrets = [BuildSecret(key, value=value) for key, value in settings.secrets.items()]
    secrets += [BuildSecret(key, src=path) for key, path in settings.secret_files.items()]
    secrets += [BuildSecret(key, env=var) for key, var in settings.secret_envs.items()]
    extra = [strategy_tag(t, source_context(settings.context)) if t in TAG_STRATEGIES else t
             for t in settings.tags]  # fmt: skip
    return BuildOptions(
        image=name,
        tag=tag,
        extra_tags=tuple(check_tag(t) for t in extra if t != tag),
        context=settings.context,
        dockerfile=settings.file,
        build_args=settings.build_args,
        target=settings.target,
        labels=settings.image_labels,
        platform=",".join(settings.platforms) or None,
        secrets=tuple(secrets),
        cache_from=tuple(settings.cache_from),
        cache_to=tuple(settings.cache_to),
        provenance=settings.provenance,
        sbom=settings.sbom,
        network=settings.network,
        pull=settings.pull,
        no_cache=settings.no_cache,
        build_contexts=settings.build_contexts,
        ssh=tuple(settings.ssh),
        push=settings.push and not settings.dry_run,
        username=settings.username,
        password=settings.password,
    )


def _release(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    name, tag, digest = resolve_image(settings, env)
    outcome.image, outcome.tag = name, tag
    if settings.build and digest is not None:
        raise BumperError("input 'digest' is for an image built elsewhere: set build: false")
    pin = settings.digest is not None or settings.pin_digest or "@" in (settings.image or "")
    target = f"{name}:{tag}" + (f"@{digest}" if digest else "")
    request = ReleaseRequest(
        targets=[target, *settings.images],
        paths=settings.paths,
        plan=PlanOptions(allow_downgrade=settings.allow_downgrade),
        delivery=_delivery(settings),
        dry_run=settings.dry_run,
        # Built here: the push's digest; built elsewhere: the one the registry reports.
        pin_digest=settings.pin_digest,
        verify=settings.verify and not settings.build,
        group=settings.group,
        guard=rollback_guard(settings.force),
        root=_dry_run_root(settings, env),
    )
    if settings.build:
        request.build = _build_options(settings, name, tag)
        request.context = source_context(settings.context, env)
        request.progress = Progress(write=runner.line, env=env)
        if pin and not settings.push:
            raise BumperError("pin-digest needs the pushed image's digest: set push: true")
    result = run_pipeline(request, env)
    _record(settings, runner, result, outcome)


def _promote(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    assert settings.source is not None and settings.destination is not None
    request = promote_request(
        settings.source, settings.destination, images=settings.images, group=settings.group,
        delivery=_delivery(settings), dry_run=settings.dry_run,
        allow_downgrade=settings.allow_downgrade, force=settings.force,
    )  # fmt: skip
    request.root = _dry_run_root(settings, env)
    _record(settings, runner, run_pipeline(request, env), outcome)


def _rollback(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    assert settings.image is not None
    request = rollback_request(
        settings.image, settings.paths, to=settings.rollback_to, steps=settings.rollback_steps,
        delivery=_delivery(settings), dry_run=settings.dry_run,
    )  # fmt: skip
    request.root = _dry_run_root(settings, env)
    outcome.image = settings.image
    _record(settings, runner, run_pipeline(request, env), outcome)


def _update(settings: Settings, env: Mapping[str, str], runner: Runner, outcome: Outcome) -> None:
    """Every image (or those of ``images``) to the newest tag its policy allows: one pull
    request per image, or one commit for them all."""
    from bumper.registry.client import RegistryClient
    from bumper.registry.credentials import Credentials
    from bumper.registry.policy import make_policy
    from bumper.registry.update import decide_updates

    policy = make_policy(settings.policy, origin="input 'policy'") if settings.policy else None
    client = RegistryClient(credentials=Credentials(env=env))

    def decide(root: Path | None) -> Any:
        with client:
            return decide_updates(
                settings.paths,
                client=client,
                images=settings.images,
                policy=policy,
                pin_digest=settings.pin_digest,
                root=root,
            )

    decision, results = deliver_updates(decide, settings.paths, _delivery(settings), env)
    for note in decision.notes:
        runner.line(f"bumper: {note.found.path}:{note.found.line}  {note.message}")
        if note.failed:
            where = {"file": note.found.path, "line": note.found.line}
            runner.command("error", note.message, title="bumper: cannot update", **where)
    if decision.failures:
        raise BumperError(f"{len(decision.failures)} reference(s) could not be asked of a registry")
    urls = [r.delivery.pull_request.url for r in results if r.delivery and r.delivery.pull_request]
    outcome.changed = any(r.changed for r in results)
    outcome.message = (
        f"{len(decision.moves)} image(s) to update: "
        + "; ".join(r.delivery.summary() for r in results if r.delivery)
        if decision.moves
        else "every reference is at the newest tag its policy allows"
    )
    outcome.pr_url = urls[0] if len(urls) == 1 and urls[0] else ""
    outcome.metadata = {
        "moves": [m.to_dict() for m in decision.moves],
        "deliveries": [r.delivery.to_dict() for r in results if r.delivery],
    }
    runner.line(f"bumper: {outcome.message}")


_COMMANDS = {"release": _release, "promote": _promote, "rollback": _rollback, "update": _update}


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
    elif result.targets and "@" in result.targets[0]:
        outcome.digest = result.targets[0].rpartition("@")[2]
    if outcome.image and outcome.tag:
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
