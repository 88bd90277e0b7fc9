"""The ``bumper`` command: a thin click shell over the library.

Start-up matters (it runs in every pipeline): only click is imported here; each
command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from bumper import __version__

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    """Print one error line and exit: the only way errors leave the CLI."""
    click.echo(f"bumper: error: {message}", err=True)
    sys.exit(code)


def one_line_errors(func: F) -> F:
    """Turn every failure into one line on stderr and a non-zero exit, never a traceback
    (set BUMPER_DEBUG=1 to see one)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bumper.errors import BumperError

        try:
            return func(*args, **kwargs)
        except BumperError as error:
            for warning in error.warnings:
                click.echo(f"warning: {warning}", err=True)
            fail(str(error), error.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:
            if os.environ.get("BUMPER_DEBUG"):
                raise
            fail(f"internal error: {type(error).__name__}: {error} (BUMPER_DEBUG=1 shows more)")
        return None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bumper")
def main() -> None:
    """Bump container image references in Kubernetes manifests, surgically.

    Every byte outside the changed values stays as it was.
    """
    import logging

    # Delivery reports its retries (a branch moved, a rate limit) as log lines: show them.
    # A fresh handler per run: it must write to the stderr of this invocation.
    logger = logging.getLogger("bumper")
    for old in [h for h in logger.handlers if h.get_name() == "bumper-cli"]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("bumper-cli")
    handler.setFormatter(logging.Formatter("bumper: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


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


def _short(value: str | None) -> str:
    if value is None:
        return "-"
    return value if len(value) <= 19 or not value.startswith("sha256:") else value[:19] + "…"


def _delivery_options(func: F) -> F:
    """Options that land the bump in git (see ``bumper.delivery.route``)."""
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
            "{version} {image} {files} {changes}.",
        ),
        click.option("--author", metavar="'NAME <EMAIL>'", help="Commit author."),
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
        click.option("--label", "labels", multiple=True, help="Pull-request label (repeatable)."),
        click.option("--reviewer", "reviewers", multiple=True, help="Reviewer (repeatable)."),
        click.option(
            "--team-reviewer", "team_reviewers", multiple=True, help="Team reviewer (repeatable)."
        ),
        click.option("--assignee", "assignees", multiple=True, help="Assignee (repeatable)."),
        click.option("--draft", is_flag=True, help="Open the pull request as a draft."),
        click.option(
            "--auto-merge",
            type=click.Choice(["merge", "squash", "rebase"]),
            help="Enable auto-merge on the pull request.",
        ),
        click.option(
            "--force", is_flag=True, help="Replace foreign commits on bumper's PR branch."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command("set-image")
@click.argument("image")
@path_argument
@click.option("--dry-run", is_flag=True, help="Show the unified diff; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the unified diff of the change.")
@output_option("summary on stderr (the diff on stdout)")
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Write a semver tag lower than the current one (skipped by default).",
)
@click.option(
    "--allow-missing", is_flag=True, help="Exit 0 even when no reference to the image exists."
)
@include_option
@exclude_option
@_delivery_options
@one_line_errors
def set_image(
    image: str,
    paths: tuple[str, ...],
    dry_run: bool,
    show_diff: bool,
    output: str,
    allow_downgrade: bool,
    allow_missing: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    **delivery: Any,
) -> None:
    """Set IMAGE's tag and/or digest in every manifest under PATH (default: .).

    IMAGE is NAME:TAG, NAME@DIGEST, NAME:TAG@DIGEST, or OLD=NEW[:TAG][@DIGEST] to move
    the image to a new name. Directories are walked for *.yaml/*.yml (git-ignored files
    and Helm chart templates left out); files named explicitly are read whatever their
    extension. Exit 1 if IMAGE is invalid, a named file cannot be parsed, or no
    reference exists (unless --allow-missing); nothing is written then.

    With --commit, --push, --repo or --pull-request the change is also landed in git.
    """
    from bumper.delivery.route import DeliveryRequest, check_combination

    request = DeliveryRequest(**delivery)
    check_combination(request)
    options: dict[str, Any] = {
        "allow_downgrade": allow_downgrade,
        "allow_missing": allow_missing,
        "include": include,
        "exclude": exclude,
    }
    if request.delivers and not dry_run:
        _set_image_and_deliver(image, list(paths), request, options, output)
        return
    if dry_run and request.repo is not None:
        raise click.UsageError("--dry-run plans in a checkout; it cannot be combined with --repo")
    from bumper.edit.plan import plan_set_image
    from bumper.render import print_summary

    plan = plan_set_image(image, list(paths) or ["."], **options)
    diff = plan.diff() if (dry_run or show_diff) else None
    if not dry_run:
        plan.apply()
    if output == "json":
        document = plan.to_dict()
        document["dry_run"] = dry_run
        if diff is not None:
            document["diff"] = diff
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if diff:
        click.echo(diff, nl=False)
    print_summary(plan, dry_run=dry_run)


def _set_image_and_deliver(
    image: str, paths: list[str], request: Any, options: dict[str, Any], output: str
) -> None:
    from bumper.delivery import route
    from bumper.delivery.bump import Bump
    from bumper.render import print_summary

    bump = Bump(image, paths, relative_to_root=request.repo is not None, **options)
    report = route.run(bump, request)
    plan = bump.last_plan
    if output == "json":
        document = plan.to_dict() if plan is not None else {"changed": False}
        document["delivery"] = {"mode": report.mode, "summary": report.summary, **report.details}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if plan is not None:
        print_summary(plan, dry_run=False)
    click.echo(report.summary, err=True)


@main.command("images")
@path_argument
@output_option("one reference per line on stdout: file:line, name, tag, digest, shape")
@include_option
@exclude_option
@one_line_errors
def images(
    paths: tuple[str, ...], output: str, include: tuple[str, ...], exclude: tuple[str, ...]
) -> None:
    """List every image reference under PATH (default: .).

    One line per reference, tab-separated: file:line, name, tag, digest, shape (and a
    note when bumper would leave it alone, e.g. a template placeholder).
    """
    from bumper.edit.inventory import list_images

    found, problems = list_images(list(paths) or ["."], include, exclude)
    for problem in problems:
        click.echo(f"warning: {problem} (file skipped)", err=True)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "images": [f.to_dict() for f in found],
                    "warnings": [p.to_dict() for p in problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    for ref in found:
        note = f"  ({ref.note})" if ref.note else ""
        click.echo(
            f"{ref.path}:{ref.line}\t{ref.name}\t{ref.tag or '-'}\t{_short(ref.digest)}"
            f"\t{ref.shape}{note}"
        )


def _register_build_commands() -> None:
    # cli_build imports only click at start-up; docker is imported when a build runs.
    from bumper.cli.action import action_command
    from bumper.cli.build import build_command, release_command

    main.add_command(build_command, "build")
    main.add_command(release_command, "release")
    main.add_command(action_command, "action")


_register_build_commands()
