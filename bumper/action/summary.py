"""What a run did, as the Action reports it: outputs and the job summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bumper.edit.plan import Plan


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
    pr_branch: str = ""
    pr_head: str = ""
    message: str = ""
    plan: Plan | None = None
    diff: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

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
            "pull-request-branch": self.pr_branch,
            "pull-request-head-sha": self.pr_head,
            "metadata": json.dumps(self.metadata, sort_keys=True),
        }


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
    # The table says what changed: nothing when the base already had the image.
    changes = outcome.plan.changes if outcome.plan is not None and outcome.changed else []
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
