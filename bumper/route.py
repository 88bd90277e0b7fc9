"""Where a bump goes after planning: the files only, a local commit, a push, a remote
repository, or a pull request. The CLI and the Action fill a ``DeliveryRequest`` and call
``run``; each path lives in its own module (deliver.py for git, github.py for the API).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bumper.bump import Bump
from bumper.errors import BumperError


@dataclass(frozen=True)
class DeliveryRequest:
    """Everything the user said about delivery (all optional: files only by default)."""

    commit: bool = False
    push: bool = False
    repo: str | None = None
    branch: str | None = None
    base: str | None = None
    via: str = "git"
    pull_request: bool = False
    message: str | None = None
    author: str | None = None
    skip_ci: str = "auto"
    token: str | None = None
    max_attempts: int = 30
    title: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: str | None = None
    force: bool = False

    @property
    def delivers(self) -> bool:
        return self.commit or self.push or self.repo is not None or self.pull_request


@dataclass
class DeliveryReport:
    """What delivery did, in a shape the CLI and the Action render."""

    mode: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def run(
    bump: Bump, request: DeliveryRequest, env: Mapping[str, str] | None = None
) -> DeliveryReport:
    """Deliver ``bump`` as ``request`` says; raise BumperError with one clear line."""
    env = os.environ if env is None else env
    if request.pull_request or request.via == "api":
        raise BumperError("pull-request mode and --via api are not available yet")
    from bumper.deliver import DeliverOptions, deliver_checkout, deliver_remote, resolve_token

    options = DeliverOptions(
        message=request.message,
        author=request.author,
        skip_ci=request.skip_ci,
        max_attempts=request.max_attempts,
    )
    if request.repo is not None:
        result = deliver_remote(
            bump,
            request.repo,
            branch=request.branch,
            token=resolve_token(request.token, env),
            options=options,
            env=env,
        )
        mode = "push"
    else:
        # In a checkout, a GITHUB_TOKEN lying in a developer's shell must not override
        # their git credentials: only an explicit token is used.
        token = request.token or env.get("BUMPER_TOKEN") or None
        result = deliver_checkout(
            bump,
            path=".",
            push=request.push,
            branch=request.branch,
            token=token,
            options=options,
            env=env,
        )
        mode = "push" if request.push else "commit"
    return DeliveryReport(mode, result.summary(), result.to_dict())
