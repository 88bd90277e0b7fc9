"""The bump as a function of a work tree: what delivery calls, and calls again after a race.

Delivery owns git; the planner owns the files. ``Bump`` binds a target and paths so
that ``bump(root)`` re-plans from scratch on whatever the branch holds now (downgrade
guard included) and remembers the last plan for reporting.
"""

from __future__ import annotations

from pathlib import Path

from bumper.delivery.gitpush import BumpOutcome
from bumper.edit.plan import Plan, plan_set_image
from bumper.edit.target import Target, parse_target
from bumper.errors import BumperError


class Bump:
    """``Bump(target, paths, relative_to_root=...)(root) -> BumpOutcome``.

    With ``relative_to_root`` the paths are taken inside the work tree given at call
    time (remote mode: a fresh clone); otherwise they are used as given (a checkout).
    """

    def __init__(
        self,
        target: str | Target,
        paths: list[str],
        *,
        relative_to_root: bool,
        allow_downgrade: bool = False,
        allow_missing: bool = False,
        include: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
    ) -> None:
        self.target = parse_target(target) if isinstance(target, str) else target
        self.paths = paths or ["."]
        self.relative_to_root = relative_to_root
        self.options = {
            "allow_downgrade": allow_downgrade,
            "allow_missing": allow_missing,
            "include": include,
            "exclude": exclude,
        }
        self.last_plan: Plan | None = None

    def plan(self, root: Path) -> Plan:
        """Plan the bump in the work tree at ``root`` (nothing written)."""
        if self.relative_to_root:
            for path in self.paths:
                _check_inside(root, path)
            plan = plan_set_image(self.target, self.paths, root=root, **self.options)  # type: ignore[arg-type]
        else:
            plan = plan_set_image(self.target, self.paths, **self.options)  # type: ignore[arg-type]
        self.last_plan = plan
        return plan

    def __call__(self, root: Path) -> BumpOutcome:
        plan = self.plan(root)
        return BumpOutcome(
            files=[path.resolve() for path in plan.changed_files],
            apply=plan.apply,
            name=self.target.written_name,
            tag=self.target.tag,
            digest=self.target.digest,
            old_tags=[c.old_tag for c in plan.changes if c.old_tag],
            summaries=[f"{c.path}:{c.line}: {c.old} -> {c.new}" for c in plan.changes],
        )


def _check_inside(root: Path, path: str) -> None:
    """Refuse paths that climb out of the repository (``../other``)."""
    candidate = (root / path).resolve()
    if candidate != root.resolve() and root.resolve() not in candidate.parents:
        raise BumperError(f"{path}: outside the repository")
