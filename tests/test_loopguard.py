"""The loop guard: a run caused by bumper's own commit is skipped, any other run is not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bumper.delivery.contract import BumpOutcome, DeliverOptions
from bumper.delivery.gitpush import deliver_checkout
from bumper.delivery.loopguard import LoopCheck, bumped_image, check_event, check_github_event
from bumper.errors import BumperError

BUMP = (
    "chore(deploy): bump ghcr.io/acme/app to 1.4.2 [skip ci]\n\n"
    "k8s/app.yaml:10: ghcr.io/acme/app:1.4.1 -> ghcr.io/acme/app:1.4.2\n\n"
    "Bumped-Image: ghcr.io/acme/app:1.4.2"
)
HUMAN = "fix: raise the memory limit\n\nSigned-off-by: A Person <a@example.test>"
QUOTING = "docs: explain the trailer\n\nbumper adds a trailer like Bumped-Image: x:1"


def push(*messages: str) -> dict[str, Any]:
    commits = [{"id": f"{i:040x}", "message": m} for i, m in enumerate(messages)]
    return {"ref": "refs/heads/main", "commits": commits, "head_commit": commits[-1]}


@pytest.mark.parametrize(
    ("name", "event", "skip", "reason"),
    [
        ("push", push(BUMP), True, "push caused by bumper's own commit (ghcr.io/acme/app:1.4.2)"),
        ("push", push(BUMP, BUMP.replace("app", "api")), True,
         "push caused by bumper's own commits (ghcr.io/acme/api:1.4.2, ghcr.io/acme/app:1.4.2)"),
        ("push", push(HUMAN, BUMP), False, "push includes a commit not made by bumper"),
        ("push", push(HUMAN), False, "push includes a commit not made by bumper"),
        ("push", push(QUOTING), False, "push includes a commit not made by bumper"),
        ("push", push(BUMP.replace("Bumped-Image", "bumped-image")), True,
         "push caused by bumper's own commit (ghcr.io/acme/app:1.4.2)"),
        ("push", {"commits": [], "head_commit": {"message": BUMP}}, True,
         "push caused by bumper's own commit (ghcr.io/acme/app:1.4.2)"),
        ("push", {"commits": [], "head_commit": None, "deleted": True}, False,
         "push carries no commit message"),
        ("workflow_run", {"workflow_run": {"head_commit": {"message": BUMP}}}, True,
         "workflow_run caused by bumper's own commit (ghcr.io/acme/app:1.4.2)"),
        ("workflow_run", {"workflow_run": {"head_commit": {"message": HUMAN}}}, False,
         "workflow_run includes a commit not made by bumper"),
        ("check_suite", {"check_suite": {"head_commit": {"message": BUMP}}}, True,
         "check_suite caused by bumper's own commit (ghcr.io/acme/app:1.4.2)"),
        ("pull_request", {"pull_request": {"title": BUMP}}, False,
         "pull_request carries no commit message"),
        ("workflow_dispatch", {"inputs": {}}, False, "workflow_dispatch carries no commit message"),
        ("schedule", {"schedule": "0 * * * *"}, False, "schedule carries no commit message"),
    ],
)  # fmt: skip
def test_check_event(name: str, event: dict[str, Any], skip: bool, reason: str) -> None:
    assert check_event(event, name) == LoopCheck(skip, reason)


@pytest.mark.parametrize(
    ("message", "image"),
    [
        (BUMP, "ghcr.io/acme/app:1.4.2"),
        (HUMAN, None),
        (QUOTING, None),
        ("x\n\nBumped-Image:   nginx@sha256:" + "0" * 64, "nginx@sha256:" + "0" * 64),
    ],
)
def test_bumped_image(message: str, image: str | None) -> None:
    assert bumped_image(message) == image


def test_reads_the_event_file_named_by_the_environment(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(push(BUMP)))
    env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "push"}

    assert check_github_event(env).skip is True


@pytest.mark.parametrize(
    ("content", "error"),
    [("{not json", "cannot read the GitHub event file"), ("[1, 2]", "does not hold a JSON object")],
)
def test_unreadable_event_file_is_an_error(tmp_path: Path, content: str, error: str) -> None:
    event = tmp_path / "event.json"
    event.write_text(content)
    with pytest.raises(BumperError, match=error):
        check_github_event({"GITHUB_EVENT_PATH": str(event)})


def test_without_an_event_nothing_is_skipped() -> None:
    assert check_github_event({"GITHUB_EVENT_NAME": "push"}) == LoopCheck(
        False, "no GitHub event (GITHUB_EVENT_PATH is not set)"
    )


def test_recognizes_the_commit_deliver_makes(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip

    git("init", "--quiet", "-b", "main")
    (tmp_path / "app.yaml").write_text("image: ghcr.io/acme/app:1.4.1\n")
    git("add", "app.yaml")
    git("-c", "user.name=T", "-c", "user.email=t@example.test", "commit", "--quiet", "-m", "init")

    def bump(root: Path) -> BumpOutcome:  # a stand-in for the planner: one known line
        path = root / "app.yaml"
        return BumpOutcome(
            files=[path],
            apply=lambda: path.write_text("image: ghcr.io/acme/app:1.4.2\n"),
            name="ghcr.io/acme/app",
            tag="1.4.2",
        )

    deliver_checkout(bump, path=tmp_path, options=DeliverOptions(author="Bot <bot@example.test>"))
    message = git("log", "-1", "--format=%B")

    assert check_event(push(message), "push").skip is True
