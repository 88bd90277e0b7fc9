"""What every command shares: one-line errors, output that never breaks, the options
that locate manifests and deliver changes, and the request those options make.

Only click is imported here: it runs at start-up.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bumper.errors import BumperError, Stopped

if TYPE_CHECKING:
    from bumper.delivery.contract import DeliveryRequest

F = TypeVar("F", bound=Callable[..., Any])


def stop_on_sigterm() -> None:
    """SIGTERM ends the run with one line, like Ctrl-C, instead of silently (the writing
    of files handles both itself: it finishes or rolls back first)."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        raise Stopped(signum)

    with contextlib.suppress(ValueError):  # not the main thread: nothing to install
        signal.signal(signal.SIGTERM, stop)


@contextlib.contextmanager
def whole_lines() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while a report is printed: a stop lands after it, so the error
    line that follows never starts in the middle of another line."""
    import signal

    held = {signal.SIGINT, signal.SIGTERM}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (ValueError, OSError, AttributeError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def safe_streams() -> None:
    """Make stdout and stderr unable to fail on text they cannot encode (a file name
    that is not UTF-8, a strict or ASCII terminal): such characters are written as
    backslash escapes, which also keeps ``--output json`` valid JSON."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # A closed or detached stream has nothing to protect.
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def fail(message: str, code: int = 1, *, json_output: bool = False) -> None:
    """Print one error line (and, for ``--output json``, ``{"error": …}`` on stdout) and
    exit: the only way errors leave the CLI."""
    if json_output:
        echo_json({"error": message}, indent=None)
    click.echo(f"bumper: error: {message}", err=True)
    sys.exit(code)


def one_line_errors(func: F) -> F:
    """Turn every failure into one line on stderr and a non-zero exit, never a traceback
    (set BUMPER_DEBUG=1 to see one). Under ``--output json`` the error is also a JSON
    document on stdout."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = kwargs.get("output") == "json"
        try:
            return func(*args, **kwargs)
        except BumperError as error:
            for warning in error.warnings:
                click.echo(f"warning: {warning}", err=True)
            fail(str(error), error.exit_code, json_output=as_json)
        except KeyboardInterrupt as stop:
            # Here only, not at start-up: the engine is not loaded for --help.
            from bumper.edit.files import files_written

            what = f"stopped by {stop}" if isinstance(stop, Stopped) else "interrupted"
            # Claim "nothing written" only when it is true (files are written all or none).
            done = "" if files_written() else "; nothing written"
            code = 128 + stop.signum if isinstance(stop, Stopped) else 130
            fail(f"{what}{done}", code, json_output=as_json)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:
            if os.environ.get("BUMPER_DEBUG"):
                raise
            message = f"internal error: {type(error).__name__}: {error} (BUMPER_DEBUG=1 shows more)"
            fail(message, json_output=as_json)
        return None

    return wrapper  # type: ignore[return-value]


def echo_json(document: Any, indent: int | None = 2) -> None:
    """A JSON document on stdout: UTF-8 text on a UTF-8 stdout, else escaped to ASCII
    (``\\u00fc``), so it stays valid JSON whatever the stream's encoding."""
    import json

    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    click.echo(json.dumps(document, indent=indent, ensure_ascii=encoding != "utf8"))


def report_release(result: Any, output: str, *, dry_run: bool, show_diff: bool) -> None:
    """Print a pipeline's result as every editing command does: the diff (with
    --dry-run/--diff) and the summary, or one JSON document."""
    from bumper.render import print_summary

    plan = result.plan
    diff = plan.diff() if plan is not None and (dry_run or show_diff) else None
    with whole_lines():
        if output == "json":
            document = result.to_dict()
            if diff is not None:
                document["diff"] = diff
            echo_json(document)
            return
        if diff:
            click.echo(diff, nl=False)
        if plan is not None:
            print_summary(plan, dry_run=dry_run)
        if result.delivery is not None:
            click.echo(result.delivery.summary(), err=True)


path_argument = click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH]...")
include_option = click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only files whose path or name matches GLOB (repeatable).",
)
exclude_option = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files whose path or name matches GLOB (repeatable).",
)


def output_option(text_help: str) -> Callable[[F], F]:
    """``--output text|json``; ``text_help`` says where the text goes."""
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"text: {text_help}; json: a JSON document on stdout.",
    )


def plan_options(func: F) -> F:
    """Options that shape how references are planned."""
    options = [
        click.option(
            "--allow-downgrade",
            is_flag=True,
            help="Write a semver tag lower than the current one (skipped by default).",
        ),
        click.option(
            "--allow-missing",
            is_flag=True,
            help="Exit 0 even when no reference to the image exists.",
        ),
        include_option,
        exclude_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def delivery_options(func: F, *, label_flag: str = "--label") -> F:
    """Options that land the change in git (see ``bumper.delivery``). ``label_flag``
    spells the pull-request label option where ``--label`` means an image label."""
    options = [
        click.option("--commit", is_flag=True, help="Commit the changed files in this checkout."),
        click.option(
            "--push", is_flag=True, help="Commit and push to the branch's upstream, retrying races."
        ),
        click.option(
            "--repo",
            metavar="OWNER/NAME|URL",
            help="Bump a repository without a checkout (shallow clone; implies push). "
            "PATHs are relative to its root.",
        ),
        click.option(
            "--branch",
            help="Branch to push to (default: upstream / default branch); "
            "in pull-request mode the PR branch (template, default bumper/{name}).",
        ),
        click.option("--base", help="Pull-request base branch (default: the default branch)."),
        click.option("--pull-request", is_flag=True, help="Open or update one PR per image."),
        click.option(
            "--via",
            type=click.Choice(["git", "api"]),
            default=None,
            help="Commit with git, or through the GitHub API (Verified commits).",
        ),
        click.option(
            "--message",
            metavar="TEMPLATE",
            help="Commit message; placeholders {name} {tag} {new_tag} {old_tag} {digest} "
            "{version} {image} {files} {changes} {description}.",
        ),
        click.option("--author", metavar="'NAME <EMAIL>'", help="Commit author."),
        click.option(
            "--committer", metavar="'NAME <EMAIL>'", help="Commit committer (default: author)."
        ),
        click.option("--signoff", is_flag=True, help="Add a Signed-off-by trailer."),
        click.option(
            "--skip-ci",
            type=click.Choice(["auto", "always", "never"]),
            default="auto",
            show_default=True,
            help="Add [skip ci]: auto = on direct pushes to the workflow's own repo.",
        ),
        click.option(
            "--token",
            envvar=None,
            help="Token for the remote (default: BUMPER_TOKEN, then GITHUB_TOKEN).",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 1000),
            default=30,
            show_default=True,
            help="Push attempts when other pipelines race.",
        ),
        click.option("--title", help="Pull-request title template."),
        click.option("--body", help="Pull-request body template (default: a change table)."),
        click.option(
            label_flag, "pr_labels", multiple=True, help="Pull-request label (repeatable)."
        ),
        click.option("--reviewer", "reviewers", multiple=True, help="Reviewer (repeatable)."),
        click.option(
            "--team-reviewer", "team_reviewers", multiple=True, help="Team reviewer (repeatable)."
        ),
        click.option("--assignee", "assignees", multiple=True, help="Assignee (repeatable)."),
        click.option("--milestone", help="Milestone (title or number) of the pull request."),
        click.option("--draft", is_flag=True, help="Open the pull request as a draft."),
        click.option(
            "--auto-merge",
            type=click.Choice(["merge", "squash", "rebase"]),
            help="Enable auto-merge on the pull request.",
        ),
        click.option(
            "--delete-branch",
            is_flag=True,
            help="Delete bumper's branch when its pull request is closed.",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="Deploy a version that was rolled back; in pull-request mode also replace "
            "commits others pushed to bumper's branch.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


DELIVERY_KEYS = (
    "commit", "push", "repo", "branch", "base", "pull_request", "via", "message", "author",
    "committer", "signoff", "skip_ci", "token", "max_attempts", "title", "body", "pr_labels",
    "reviewers", "team_reviewers", "assignees", "milestone", "draft", "auto_merge",
    "delete_branch", "force",
)  # fmt: skip


def split_delivery(params: dict[str, Any]) -> dict[str, Any]:
    """Take the delivery options out of a command's parameters."""
    return {key: params.pop(key) for key in DELIVERY_KEYS if key in params}


def release_delivery_options(func: F) -> F:
    """Delivery options for a command where ``--label`` is an image label (``release``):
    pull-request labels are ``--pr-label``."""
    return delivery_options(func, label_flag="--pr-label")


def delivery_request(given: dict[str, Any]) -> DeliveryRequest | None:
    """The delivery the options ask for (None: write the files only); options that would
    be ignored are a usage error (exit 2)."""
    from bumper.delivery.contract import (
        DeliverOptions,
        DeliveryRequest,
        PullRequestOptions,
        check_combination,
    )

    pull_request = bool(given.get("pull_request"))
    delivers = bool(given.get("commit") or given.get("push") or given.get("repo") or pull_request)
    check_combination(given, delivers, pull_request)
    if not delivers:
        return None
    options = DeliverOptions(
        message=given.get("message"),
        author=given.get("author"),
        committer=given.get("committer"),
        signoff=bool(given.get("signoff")),
        skip_ci=given.get("skip_ci") or "auto",
        max_attempts=given.get("max_attempts") or 30,
        pull_request=pull_request,
    )
    pr = None
    if pull_request:
        pr = PullRequestOptions(
            base=given.get("base"),
            title=given.get("title"),
            body=given.get("body"),
            labels=tuple(given.get("pr_labels") or ()),
            reviewers=tuple(given.get("reviewers") or ()),
            team_reviewers=tuple(given.get("team_reviewers") or ()),
            assignees=tuple(given.get("assignees") or ()),
            milestone=given.get("milestone"),
            draft=bool(given.get("draft")),
            auto_merge=given.get("auto_merge"),
            delete_branch=bool(given.get("delete_branch")),
            force=bool(given.get("force")),
        )
    return DeliveryRequest(
        commit=bool(given.get("commit")),
        push=bool(given.get("push")),
        repo=given.get("repo"),
        branch=given.get("branch"),
        via=given.get("via"),
        token=given.get("token"),
        options=options,
        pull_request=pr,
    )
