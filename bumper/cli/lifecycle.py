"""``bumper promote``, ``bumper history`` and ``bumper rollback``: the release lifecycle,
kept in git (see :mod:`bumper.lifecycle`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from bumper.cli.common import (
    delivery_options,
    delivery_request,
    echo_json,
    one_line_errors,
    output_option,
    path_argument,
    report_release,
    split_delivery,
)
from bumper.errors import UsageError


def _preview_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--dry-run", is_flag=True, help="Show the unified diff; write nothing."),
            click.option("--diff", "show_diff", is_flag=True, help="Print the unified diff."),
            output_option("summary on stderr (the diff on stdout)"),
        ]
    ):
        func = option(func)
    return func


def _run(request: Any, output: str, dry_run: bool, show_diff: bool) -> None:
    """Run the pipeline and report as set-image does."""
    from bumper import pipeline

    report_release(pipeline.run(request), output, dry_run=dry_run, show_diff=show_diff)


@click.command("promote")
@click.option("--from", "source", required=True, metavar="PATH", help="What runs there now.")
@click.option("--to", "destination", required=True, metavar="PATH", help="Where to set it.")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="NAME",
    help="Promote only this image (repeatable; default: every image in both paths).",
)
@click.option("--group", metavar="NAME", help="Name of the change (its branch and title).")
@click.option(
    "--allow-downgrade", is_flag=True, help="Promote a version older than the destination's."
)
@_preview_options
@delivery_options
@one_line_errors
def promote_command(
    source: str,
    destination: str,
    images: tuple[str, ...],
    group: str | None,
    allow_downgrade: bool,
    dry_run: bool,
    show_diff: bool,
    output: str,
    **params: Any,
) -> None:
    """Set in --to exactly what --from runs: the tag and digest of each image present in
    both (or of each --image), so production runs the bytes staging tested.

    Two versions of one image inside --from is an error naming both places. A version
    older than the destination's is skipped unless --allow-downgrade. With delivery
    options the change lands as one commit or one pull request (with --repo, both paths
    are read in the repository).
    """
    from bumper import lifecycle

    request = delivery_request(split_delivery(params))
    if dry_run and request is not None and request.repo is not None:
        raise UsageError("--dry-run plans in a checkout; it cannot be combined with --repo")
    run = lifecycle.promote_request(
        source, destination, images=images, group=group, delivery=request, dry_run=dry_run,
        allow_downgrade=allow_downgrade, force=bool(params.get("force")),
    )  # fmt: skip
    _run(run, output, dry_run, show_diff)


@click.command("history")
@click.argument("args", nargs=-1, metavar="[IMAGE] [PATH]...")
@click.option("--repo", metavar="OWNER/NAME|URL", help="Read a repository without a checkout.")
@click.option("--branch", help="The branch to read with --repo (default: the default branch).")
@click.option("--token", help="Token for --repo (default: BUMPER_TOKEN, then GITHUB_TOKEN).")
@click.option("--limit", type=click.IntRange(1), help="Show at most this many entries.")
@output_option("one entry per line on stdout, newest first")
@one_line_errors
def history_command(
    args: tuple[str, ...],
    repo: str | None,
    branch: str | None,
    token: str | None,
    limit: int | None,
    output: str,
) -> None:
    """Every bump, promotion and rollback of IMAGE (default: every image) in PATH
    (default: .), newest first: date, commit, old → new, author, pull request.

    Read from the commits' Bumped-Image, Promoted-From and Rolled-Back-From trailers,
    and from the diff of commits without them, in one git log pass.
    """
    from bumper import lifecycle

    image, paths = _image_and_paths(args, remote=repo is not None)
    if repo is None:
        events = lifecycle.history(Path.cwd(), paths, image)
    else:
        from bumper.delivery.contract import resolve_token
        from bumper.delivery.github import repository_url
        from bumper.delivery.workspace import Workspace

        url = repository_url(repo, os.environ)
        with Workspace.clone(
            url, branch, token=resolve_token(token, os.environ), env=os.environ, history="full"
        ) as work:
            events = lifecycle.history(work.git.root, paths, image)
    events = events[:limit] if limit else events
    if output == "json":
        echo_json({"image": image, "paths": paths, "events": [e.to_dict() for e in events]})
        return
    for event in events:
        pull = f"  #{event.pull_request}" if event.pull_request else ""
        old = str(event.old) if event.old else "-"
        new = str(event.new) if event.new else "-"
        click.echo(
            f"{event.date[:19]}  {event.commit[:12]}  {event.kind:<9}  {event.image}  "
            f"{old} → {new}  {event.author}{pull}"
        )


def _image_and_paths(args: tuple[str, ...], *, remote: bool) -> tuple[str | None, list[str]]:
    """IMAGE is optional: the first argument is a path when it names one here (or, with
    --repo, when it is no image name)."""
    from bumper.edit.reference import try_parse_reference

    if not args:
        return None, ["."]
    first, rest = args[0], list(args[1:])
    is_path = (not remote and os.path.exists(first)) or try_parse_reference(first) is None
    if is_path:
        return None, list(args)
    ref = try_parse_reference(first)
    if ref is not None and (ref.tag or ref.digest):
        raise UsageError(f"give the image without tag or digest, not {first!r}")
    return first, rest or ["."]


@click.command("rollback")
@click.argument("image")
@path_argument
@click.option("--to", "to", metavar="TAG", help="Roll back to this earlier version.")
@click.option(
    "--steps", type=click.IntRange(1), default=1, show_default=True, help="How many versions back."
)
@_preview_options
@delivery_options
@one_line_errors
def rollback_command(
    image: str,
    paths: tuple[str, ...],
    to: str | None,
    steps: int,
    dry_run: bool,
    show_diff: bool,
    output: str,
    **params: Any,
) -> None:
    """Set IMAGE back to the version it had before the current one in PATH (default: .):
    exactly the tag and digest that ran before, from the history (not the registry).

    The commit carries a Rolled-Back-From trailer; from then on set-image, promote and
    the Action refuse to deploy that exact version again unless --force, so a re-run of
    the broken release's pipeline does not undo the rollback (a newer release goes
    through). Exit 1 when no earlier version is known.
    """
    from bumper import lifecycle

    if to is not None and steps != 1:
        raise UsageError("--to and --steps both choose the version: give one")
    request = delivery_request(split_delivery(params))
    if dry_run and request is not None and request.repo is not None:
        raise UsageError("--dry-run plans in a checkout; it cannot be combined with --repo")
    run = lifecycle.rollback_request(
        image, paths, to=to, steps=steps, delivery=request, dry_run=dry_run
    )
    _run(run, output, dry_run, show_diff)
