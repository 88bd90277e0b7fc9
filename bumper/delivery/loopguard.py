"""The loop guard: was this workflow run caused by bumper's own commit?

bumper marks every commit it makes with a ``Bumped-Image:`` trailer. A workflow that
builds on push and bumps the same repository would otherwise start itself again; the
Action asks :func:`check_event` first and stops early with "skipped" when the answer is
yes. Only commits are judged: a run started by a person (dispatch, schedule, a pull
request) is never skipped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bumper.errors import BumperError

TRAILER_KEY = "Bumped-Image"

_TRAILER = re.compile(rf"^{TRAILER_KEY}:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def bumped_image(message: str) -> str | None:
    """The image named by the commit's (first) ``Bumped-Image:`` trailer, or None."""
    match = _TRAILER.search(message)
    return match.group(1) if match else None


def bumped_images(message: str) -> list[str]:
    """Every image the commit's ``Bumped-Image:`` trailers name (a grouped bump has one
    per image)."""
    return _TRAILER.findall(message)


@dataclass(frozen=True)
class LoopCheck:
    """Whether to skip the run, and why (a reason is given either way)."""

    skip: bool
    reason: str


def _head_commit_message(event: Mapping[str, Any], *keys: str) -> str | None:
    node: Any = event
    for key in (*keys, "head_commit", "message"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, str) else None


def _messages(event: Mapping[str, Any], event_name: str | None) -> tuple[str, list[str]]:
    """What caused the run (for the reason) and the commit messages that caused it."""
    if event_name == "workflow_run" or "workflow_run" in event:
        message = _head_commit_message(event, "workflow_run")
        return "workflow_run", [message] if message is not None else []
    if event_name == "check_suite" or "check_suite" in event:
        message = _head_commit_message(event, "check_suite")
        return "check_suite", [message] if message is not None else []
    commits = event.get("commits")
    # A push lists every new commit; the run is bumper's only if all of them are.
    if isinstance(commits, list) and commits:
        messages = [c.get("message") for c in commits if isinstance(c, Mapping)]
        return "push", [m for m in messages if isinstance(m, str)]
    message = _head_commit_message(event)
    return event_name or "event", [message] if message is not None else []


def check_event(event: Mapping[str, Any], event_name: str | None = None) -> LoopCheck:
    """Decide from an event payload whether the run was caused by bumper's own commit."""
    cause, messages = _messages(event, event_name)
    if not messages:
        return LoopCheck(False, f"{cause} carries no commit message")
    images = [bumped_image(m) for m in messages]
    if not all(images):
        return LoopCheck(False, f"{cause} includes a commit not made by bumper")
    names = ", ".join(sorted({i for i in images if i}))
    plural = "s" if len(messages) > 1 else ""
    return LoopCheck(True, f"{cause} caused by bumper's own commit{plural} ({names})")


def check_github_event(env: Mapping[str, str] | None = None) -> LoopCheck:
    """Read ``GITHUB_EVENT_PATH`` (and ``GITHUB_EVENT_NAME``) and apply :func:`check_event`."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return LoopCheck(False, "no GitHub event (GITHUB_EVENT_PATH is not set)")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BumperError(f"cannot read the GitHub event file {path}: {err}") from None
    if not isinstance(event, Mapping):
        raise BumperError(f"the GitHub event file {path} does not hold a JSON object")
    return check_event(event, env.get("GITHUB_EVENT_NAME"))
