"""``bumper set-image`` (one image or a group, written here or delivered) and
``bumper images``."""

from __future__ import annotations

from typing import Any

import click

from bumper.cli.common import (
    delivery_options,
    delivery_request,
    echo_json,
    exclude_option,
    include_option,
    one_line_errors,
    output_option,
    path_argument,
    plan_options,
    report_release,
    split_delivery,
)
from bumper.errors import UsageError


def read_images(extra: tuple[str, ...], source: click.utils.LazyFile | Any | None) -> list[str]:
    """``--image`` values and the lines of ``--images-from`` (``-`` is stdin; blank lines
    and ``#`` comments are skipped)."""
    images = list(extra)
    if source is not None:
        for line in source.read().splitlines():
            text = line.split("#", 1)[0].strip()
            if text:
                images.append(text)
    return images


@click.command("set-image")
@click.argument("image")
@path_argument
@click.option(
    "--image",
    "more_images",
    multiple=True,
    metavar="IMAGE",
    help="Another image to set in the same change (repeatable): all or nothing, one "
    "commit, one pull request.",
)
@click.option(
    "--images-from",
    type=click.File("r"),
    metavar="FILE",
    help="More images, one per line ('-' reads stdin).",
)
@click.option("--group", metavar="NAME", help="Name of a grouped bump (its branch and title).")
@click.option("--dry-run", is_flag=True, help="Show the unified diff; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the unified diff of the change.")
@output_option("summary on stderr (the diff on stdout)")
@click.option(
    "--verify",
    is_flag=True,
    help="Check in the registry that each NAME:TAG (and @DIGEST) exists before writing.",
)
@click.option(
    "--pin-digest",
    is_flag=True,
    help="Write NAME:TAG@DIGEST with the digest the registry reports for NAME:TAG.",
)
@click.option(
    "--insecure-registry",
    "insecure",
    multiple=True,
    metavar="HOST",
    help="Reach HOST over plain HTTP for --verify/--pin-digest (loopback always may).",
)
@plan_options
@delivery_options
@one_line_errors
def set_image(
    image: str,
    paths: tuple[str, ...],
    more_images: tuple[str, ...],
    images_from: Any,
    group: str | None,
    dry_run: bool,
    show_diff: bool,
    output: str,
    verify: bool,
    pin_digest: bool,
    insecure: tuple[str, ...],
    allow_downgrade: bool,
    allow_missing: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    **params: Any,
) -> None:
    """Set IMAGE's tag and/or digest in every manifest under PATH (default: .).

    IMAGE is NAME:TAG, NAME@DIGEST, NAME:TAG@DIGEST, or OLD=NEW[:TAG][@DIGEST] to move
    the image to a new name. Directories are walked for *.yaml/*.yml (git-ignored files,
    CI configuration and Helm chart templates left out); files named explicitly are read
    whatever their extension. Exit 1 if IMAGE is invalid, a named file cannot be parsed,
    or no reference exists (unless --allow-missing); nothing is written then.

    With --image/--images-from several images are set together: planned as one change,
    written all or nothing, delivered as one commit or one pull request.

    With --commit, --push, --repo or --pull-request the change is also landed in git.
    """
    from bumper import lifecycle, pipeline

    given = split_delivery(params)
    request = delivery_request(given)
    if dry_run and request is not None and request.repo is not None:
        raise UsageError("--dry-run plans in a checkout; it cannot be combined with --repo")
    targets = [image, *read_images(more_images, images_from)]
    if group is not None and len(targets) == 1:
        raise UsageError("--group names a grouped bump: give more images with --image")
    run = pipeline.ReleaseRequest(
        targets=targets,
        paths=list(paths) or ["."],
        plan=pipeline.PlanOptions(allow_downgrade, allow_missing, include, exclude),
        delivery=request,
        dry_run=dry_run,
        pin_digest=pin_digest,
        verify=verify,
        insecure_registries=insecure,
        group=group,
        description=_group_description(targets),
        guard=lifecycle.rollback_guard(bool(given.get("force"))),
    )
    report_release(pipeline.run(run), output, dry_run=dry_run, show_diff=show_diff)


@click.command("images")
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
        echo_json(
            {
                "images": [f.to_dict() for f in found],
                "warnings": [p.to_dict() for p in problems],
            }
        )
        return
    for ref in found:
        note = f"  ({ref.note})" if ref.note else ""
        click.echo(
            f"{ref.path}:{ref.line}\t{ref.name}\t{ref.tag or '-'}\t{_short(ref.digest)}"
            f"\t{ref.shape}{note}"
        )


def _group_description(targets: list[str]) -> str:
    """What a grouped bump sets, for its commit and pull request."""
    if len(targets) < 2:
        return ""
    return "Sets " + ", ".join(f"`{target}`" for target in targets)


def _short(value: str | None) -> str:
    if value is None:
        return "-"
    return value if len(value) <= 19 or not value.startswith("sha256:") else value[:19] + "…"
