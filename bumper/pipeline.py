"""The one release pipeline every front door calls: resolve the image → (build and push)
→ plan → deliver (or write the files) → report.

``bumper set-image`` (with or without delivery), ``bumper release``, the lifecycle
commands and the GitHub Action all run :func:`run`; they differ only in how they fill a
:class:`ReleaseRequest` and render a :class:`ReleaseResult`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumper.build.engine import build_and_push
from bumper.build.options import BuildOptions, BuildResult, Progress
from bumper.build.source import SourceContext
from bumper.delivery.contract import (
    BumpOutcome,
    ChangeRow,
    DeliveryRequest,
    DeliveryResult,
    mode_of,
    resolve_token,
)
from bumper.delivery.github import repository_url
from bumper.delivery.modes import deliver
from bumper.delivery.workspace import Workspace, checkout_root
from bumper.edit.files import MissingPath, StaleFile
from bumper.edit.plan import Plan, plan_images
from bumper.edit.reference import canonical_name, format_reference, last_component
from bumper.edit.target import Target, parse_target
from bumper.errors import BumperError
from bumper.git import Git, git_env
from bumper.registry.update import UpdateDecision
from bumper.retry import Race, until_landed

# How often a local write is planned again when another run changed the files first.
LOCAL_ATTEMPTS = 10


@dataclass(frozen=True)
class PlanOptions:
    """How references are planned (the same for every image of a bump)."""

    allow_downgrade: bool = False
    allow_missing: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """What a bump sets when it is worked out from the tree (a promotion reads its
    source there, a rollback its history), and how its commit reads."""

    targets: list[str]
    description: str = ""
    title: str = ""
    trailers: tuple[str, ...] = ()
    #: for each target, the files it may edit (None: every file under the paths)
    scope: list[set[str]] | None = None


class Bump:
    """A change as a pure function of a work tree (delivery's ``BumpFn``): ``bump(root)``
    plans setting ``targets`` under ``paths`` in whatever the tree holds now (downgrade
    guard included) and remembers the plan.

    With ``relative_to_root`` the paths are taken inside the work tree given at call
    time (a fresh clone); otherwise they are used as given (a checkout). ``group`` names
    a grouped bump (its branch and messages); ``description``, ``trailers`` and
    ``guard`` (called with each plan and the tree's root; it raises to refuse) serve
    promotions and rollbacks; ``resolve`` works the targets out from the tree itself
    (a promotion reads its source there, a rollback its history). ``location`` names the
    repository in errors.
    """

    def __init__(
        self,
        targets: Sequence[str | Target],
        paths: Sequence[str],
        *,
        relative_to_root: bool,
        options: PlanOptions | None = None,
        group: str | None = None,
        description: str = "",
        trailers: Sequence[str] = (),
        guard: Callable[[Plan, Path], None] | None = None,
        location: str | None = None,
        resolve: Callable[[Path], Resolved] | None = None,
        title: str = "",
    ) -> None:
        self.targets = [parse_target(t) if isinstance(t, str) else t for t in targets]
        self.resolve = resolve
        self.title = title
        self.scope: list[set[str]] | None = None
        self.paths = list(paths) or ["."]
        self.relative_to_root = relative_to_root
        self.options = options or PlanOptions()
        self.group = group
        self.description = description
        self.trailers = tuple(trailers)
        self.guard = guard
        self.location = location
        self.last_plan: Plan | None = None

    @property
    def name(self) -> str:
        """What branches and messages call the bump: the group, the image, or the images
        (``app-worker-web``)."""
        if self.group or not self.targets:
            return self.group or "images"
        if len(self.targets) == 1:
            return self.targets[0].written_name
        parts = sorted(last_component(t.written_name) for t in self.targets)
        name = "-".join(parts)
        return name if len(name) <= 60 else "-".join(parts[:3]) + f"-and-{len(parts) - 3}-more"

    @property
    def grouped(self) -> bool:
        """Several images (or a set worked out from the tree): its branch holds whichever
        images bumper last set there."""
        return self.group is not None or len(self.targets) > 1 or self.resolve is not None

    @property
    def images(self) -> frozenset[str]:
        """Canonical names of the images it sets (and renames from)."""
        names = {t.canonical for t in self.targets}
        return frozenset(names | {canonical_name(t.written_name) for t in self.targets})

    @property
    def version(self) -> str | None:
        """The tag proposed (one image only)."""
        return self.targets[0].tag if len(self.targets) == 1 and not self.grouped else None

    @property
    def allow_downgrade(self) -> bool:
        return self.options.allow_downgrade

    def plan(self, root: Path | None = None) -> Plan:
        """Plan the bump in the work tree at ``root`` (nothing written)."""
        options = self.options
        inside = root if self.relative_to_root else None
        if inside is not None:
            for path in self.paths:
                _check_inside(inside, path)
        if self.resolve is not None:
            resolved = self.resolve(inside or Path.cwd())
            self.targets = [parse_target(t) for t in resolved.targets]
            self.description = resolved.description or self.description
            self.title = resolved.title or self.title
            self.trailers = resolved.trailers or self.trailers
            self.scope = resolved.scope
        try:
            plan = plan_images(
                self.targets,
                self.paths,
                allow_downgrade=options.allow_downgrade,
                allow_missing=options.allow_missing,
                include=options.include,
                exclude=options.exclude,
                root=inside,
                scope=self.scope,
            )
        except MissingPath as error:
            if inside is None or self.location is None:
                raise
            branch = Git(inside, git_env(os.environ)).current_branch() or "its default branch"
            raise BumperError(f"{error.message} in {self.location} (branch {branch})") from None
        if self.guard is not None:
            self.guard(plan, inside or Path.cwd())
        self.last_plan = plan
        return plan

    def __call__(self, root: Path) -> BumpOutcome:
        plan = self.plan(root)
        first = self.targets[0]
        rows = [ChangeRow(c.path, c.line, c.name, c.old, c.new, c.old_tag) for c in plan.changes]
        return BumpOutcome(
            files=[path.resolve() for path in plan.changed_files],
            apply=plan.apply,
            name=self.name,
            tag=first.tag if len(self.targets) == 1 else None,
            digest=first.digest if len(self.targets) == 1 else None,
            version=", ".join(
                f"{last_component(t.written_name)}:{_version(t)}" for t in self.targets
            )
            if len(self.targets) > 1
            else "",
            old_tags=[c.old_tag for c in plan.changes if c.old_tag],
            summaries=[f"{c.path}:{c.line}: {c.old} -> {c.new}" for c in plan.changes],
            rows=rows,
            diff=plan.diff(),
            skipped=len(plan.skips),
            images=[_written(t) for t in self.targets],
            trailers=self.trailers,
            description=self.description,
            title=self.title,
        )


def _version(target: Target) -> str:
    return format_reference("", target.tag, target.digest).lstrip(":")


def _written(target: Target) -> str:
    return format_reference(target.written_name, target.tag, target.digest)


def _check_inside(root: Path, path: str) -> None:
    """Refuse paths that climb out of the repository (``../other``)."""
    candidate = (root / path).resolve()
    if candidate != root.resolve() and root.resolve() not in candidate.parents:
        raise BumperError(f"{path}: outside the repository")


def write_locally(bump: Bump) -> Plan:
    """Plan and write in this checkout; when another run changed a file first, plan
    again on what it wrote (no update is lost) and retry."""

    def attempt(_number: int) -> Plan:
        plan = bump.plan()
        try:
            plan.apply()
        except StaleFile as error:
            raise Race(error.message) from None
        return plan

    return until_landed(attempt, attempts=LOCAL_ATTEMPTS, what="the manifests", give_up="try again")


@dataclass
class ReleaseRequest:
    """One run of the pipeline.

    ``targets`` are ``NAME:TAG[@DIGEST]`` (or ``OLD=NEW…``) to set; with ``build`` the
    first one's tag is built and pushed first. ``pin_digest`` writes the digest the
    registry reports (for the build, or asked of the registry); ``verify`` checks that
    each reference exists there. ``delivery`` None writes the files here; ``dry_run``
    plans only.
    """

    targets: list[str]
    paths: list[str]
    plan: PlanOptions = field(default_factory=PlanOptions)
    delivery: DeliveryRequest | None = None
    dry_run: bool = False
    build: BuildOptions | None = None
    context: SourceContext | None = None
    progress: Progress | None = None
    pin_digest: bool = False
    #: check in the registry that every reference written exists (before anything is written)
    verify: bool = False
    insecure_registries: tuple[str, ...] = ()
    group: str | None = None
    description: str = ""
    trailers: tuple[str, ...] = ()
    guard: Callable[[Plan, Path], None] | None = None
    resolve: Callable[[Path], Resolved] | None = None
    title: str = ""
    #: plan in this tree instead of the current folder or a clone (the Action's dry run)
    root: Path | None = None


@dataclass
class ReleaseResult:
    """What a run did: the build (if any), the plan (the last one made), the delivery."""

    targets: list[str]
    build: BuildResult | None = None
    plan: Plan | None = None
    delivery: DeliveryResult | None = None
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """A commit landed, a pull request was created or updated, files were written (a
        dry run: would be)."""
        if self.delivery is not None:
            return self.delivery.changed
        return self.plan is not None and self.plan.changed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        document: dict[str, Any] = self.plan.to_dict() if self.plan is not None else {}
        document["changed"] = self.changed
        document["dry_run"] = self.dry_run
        if self.build is not None:
            document["build"] = self.build.to_dict()
        if self.delivery is not None:
            document["delivery"] = self.delivery.to_dict()
        return document


def _bump_for(request: ReleaseRequest, targets: list[str]) -> Bump:
    """The bump, with paths taken where the delivery will plan them."""
    delivery = request.delivery
    mode = mode_of(delivery) if delivery is not None and not request.dry_run else None
    paths = list(request.paths) or ["."]
    remote = delivery is not None and delivery.repo is not None
    relative = request.root is not None or remote
    if not relative and mode in ("api", "pull-request"):
        # From a checkout these modes plan in a fresh clone of its remote: the paths are
        # made relative to the checkout's root.
        root = checkout_root(".", os.environ)
        cwd = Path.cwd()
        paths = [os.path.relpath(os.path.abspath(cwd / p), root) for p in paths]
        relative = True
    location = delivery.repo if delivery is not None else None
    return Bump(
        targets, paths, relative_to_root=relative, options=request.plan, group=request.group,
        description=request.description, trailers=request.trailers, guard=request.guard,
        location=location, resolve=request.resolve, title=request.title,
    )  # fmt: skip


def run(request: ReleaseRequest, env: Mapping[str, str] | None = None) -> ReleaseResult:
    """Run the pipeline; raise BumperError with one clear line on any failure (nothing
    is written or pushed after a failure in planning)."""
    env = os.environ if env is None else env
    result = ReleaseResult(list(request.targets), dry_run=request.dry_run)
    targets = list(request.targets)
    local = request.delivery is None or request.dry_run
    if request.build is not None:
        if local and request.root is None:
            # Fail on a bad manifest or a missing reference before minutes of building.
            _bump_for(request, targets).plan()
        result.build = build_and_push(
            request.build, request.context or SourceContext(), progress=request.progress, env=env
        )
        if request.pin_digest and result.build.digest:
            targets[0] = result.build.ref
    if request.pin_digest or request.verify:
        targets = _ask_registry(targets, request)
    result.targets = targets
    bump = _bump_for(request, targets)
    if request.dry_run:
        result.plan = _dry_run(bump, request, env)
        return result
    if request.delivery is None:
        result.plan = write_locally(bump)
        return result
    result.delivery = deliver(bump, request.delivery, env)
    result.plan = bump.last_plan
    return result


def _dry_run(bump: Bump, request: ReleaseRequest, env: Mapping[str, str]) -> Plan:
    """Plan only: here, in the tree given, or in a throw-away clone of the repository a
    delivery would go to."""
    delivery = request.delivery
    if request.root is not None or delivery is None or delivery.repo is None:
        return bump.plan(request.root)
    branch = delivery.branch
    if delivery.pull_request is not None:
        branch = delivery.pull_request.base
    url = repository_url(delivery.repo, env)
    token = resolve_token(delivery.token, env)
    with Workspace.clone(url, branch, token=token, env=env) as work:
        return bump.plan(work.git.root)


def _ask_registry(targets: list[str], request: ReleaseRequest) -> list[str]:
    """Pin each ``NAME:TAG`` to the digest its registry reports (``pin_digest``) and check
    that each reference to write exists (``verify``): one line naming the registry and
    the reference when one does not; asked concurrently, nothing written before."""
    from bumper.registry.client import RegistryClient, check_exists, resolve_digest

    def one(target: str) -> str:
        parsed = parse_target(target)
        name = parsed.written_name
        if request.pin_digest and parsed.digest is None and parsed.tag is not None:
            digest = resolve_digest(name, parsed.tag, client=client)
            parsed = Target(parsed.match, parsed.tag, digest, parsed.new_name)
        if request.verify:
            check_exists(format_reference(name, parsed.tag, parsed.digest), client=client)
        return str(parsed)

    with RegistryClient(insecure=request.insecure_registries) as client:
        return client.map(one, targets)


def deliver_updates(
    decide: Callable[[Path | None], UpdateDecision],
    paths: list[str],
    delivery: DeliveryRequest,
    env: Mapping[str, str] | None = None,
) -> tuple[UpdateDecision, list[ReleaseResult]]:
    """Land registry updates (``decide(root)`` works them out in a tree; None: here): one
    pull request per image, or one change for them all, decided again on the branch's
    head at each attempt. Nothing is delivered when a registry could not be asked."""
    env = os.environ if env is None else env
    if delivery.repo is not None:
        url = repository_url(delivery.repo, env)
        token = resolve_token(delivery.token, env)
        with Workspace.clone(url, delivery.branch, token=token, env=env) as work:
            decision = decide(work.git.root)
    else:
        decision = decide(None)
    results: list[ReleaseResult] = []
    if decision.failures or not decision.moves:
        return decision, results
    if delivery.pull_request is not None:
        for move in decision.moves:
            request = ReleaseRequest(
                targets=[str(move.target)], paths=list(move.paths), delivery=delivery
            )
            results.append(run(request, env))
        return decision, results

    def resolve(root: Path) -> Resolved:
        moves = decide(root).moves
        return Resolved(
            [str(move.target) for move in moves],
            title=f"Update {len(moves)} image(s) to the newest tags their policies allow",
            scope=[set(move.paths) for move in moves],
        )

    group = "update" if len(decision.moves) > 1 else None
    request = ReleaseRequest(targets=[], paths=paths, delivery=delivery, group=group,
                             resolve=resolve)  # fmt: skip
    results.append(run(request, env))
    return decision, results
