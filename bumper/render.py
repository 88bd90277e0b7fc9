"""A plan as people read it: one line per change, skip and warning, then a total.

Shared by the CLI, ``bumper release`` and the Action, which all print it on stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bumper.edit.plan import Plan


def reference_lines(plan: Plan) -> list[str]:
    """``file:line  name  old → new`` per change (just the tag part when the name stays),
    then the skips with their reasons."""
    lines = []
    for change in plan.changes:
        old, new = change.old, change.new
        rest = new[len(change.name) :]
        if new.startswith(change.name) and rest[:1] in (":", "@"):
            old = old[len(change.name) :].lstrip(":") or "(untagged)"
            new = rest.lstrip(":")
        lines.append(f"{change.path}:{change.line}  {change.name}  {old} → {new}")
    return lines + [f"{s.path}:{s.line}  {s.name}  skipped: {s.reason}" for s in plan.skips]


def count_line(plan: Plan, *, dry_run: bool) -> str | None:
    """``changed N references in M files`` (None when nothing changes)."""
    changes = len(plan.changes)
    if not changes:
        return None
    files = len(plan.changed_files)
    verb = "would change" if dry_run else "changed"
    return f"{verb} {changes} reference{'s' * (changes != 1)} in {files} file{'s' * (files != 1)}"


def summary_lines(plan: Plan, *, dry_run: bool) -> list[str]:
    """Warnings for unreadable files, notes, the changes and skips, and a total."""
    lines = [f"warning: {problem} (file skipped)" for problem in plan.problems]
    lines += plan.notes
    lines += reference_lines(plan)
    total = count_line(plan, dry_run=dry_run)
    if total is not None:
        lines.append(total)
    elif plan.skips:
        lines.append(f"nothing changed: {len(plan.skips)} reference(s) skipped")
    elif plan.matched:
        lines.append(f"{plan.target.match}: already up to date")
    else:
        lines.append(f"{plan.target.match}: no reference found")
    return lines


def print_summary(plan: Plan, *, dry_run: bool) -> None:
    """Write the summary to stderr (stdout stays for diffs, JSON and references)."""
    sys.stderr.write("".join(line + "\n" for line in summary_lines(plan, dry_run=dry_run)))
