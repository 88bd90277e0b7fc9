"""The ``bumper build`` and ``bumper release`` commands (registered by bumper.cli)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bumper.errors import BumperError

if TYPE_CHECKING:
    from bumper.build.engine import BuildOptions, Progress
    from bumper.build.source import SourceContext
    from bumper.edit.plan import Plan


def _pairs(
    option: str,
) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], dict[str, str]]:
    """A click callback turning repeated ``K=V`` into a dict; a bare ``K`` takes ``$K``, as
    ``docker build --build-arg K`` does."""

    def parse(
        _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
    ) -> dict[str, str]:
        result: dict[str, str] = {}
        for value in values:
            key, sep, text = value.partition("=")
            if not key:
                raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
            if sep:
                result[key] = text
            elif key in os.environ:
                result[key] = os.environ[key]
        return result

    return parse


def _build_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``build`` and ``release`` share, in the order ``--help`` lists them."""
    options = [
        click.argument("name", metavar="NAME[:TAG]"),
        click.option(
            "--tag",
            "tag",
            metavar="auto|TAG",
            help="Image tag; 'auto' gives X.Y.Z for a vX.Y.Z git tag on the commit, "
            "else sha-<7 hex>.",
        ),
        click.option(
            "--context",
            "context",
            default=".",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Build context directory.",
        ),
        click.option(
            "--file",
            "-f",
            "dockerfile",
            type=click.Path(dir_okay=False),
            help="Dockerfile (default: CONTEXT/Dockerfile).",
        ),
        click.option(
            "--build-arg",
            "build_args",
            multiple=True,
            metavar="K=V",
            callback=_pairs("--build-arg"),
            help="Build-time variable; repeatable.",
        ),
        click.option("--target", help="Build stage to stop at."),
        click.option(
            "--label",
            "labels",
            multiple=True,
            metavar="K=V",
            callback=_pairs("--label"),
            help="Image label; repeatable. Overrides the OCI labels bumper adds.",
        ),
        click.option("--platform", help="Target platform, e.g. linux/amd64."),
        click.option("--pull", is_flag=True, help="Always pull newer base images."),
        click.option("--no-cache", is_flag=True, help="Do not use the build cache."),
        click.option(
            "--cache-from", multiple=True, metavar="REF", help="Image to use as cache; repeatable."
        ),
        click.option(
            "--username",
            envvar="BUMPER_USERNAME",
            help="Registry user [env BUMPER_USERNAME]. Without it, the credentials "
            "`docker login` stored are used.",
        ),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the registry password from stdin (else env BUMPER_PASSWORD).",
        ),
        click.option(
            "--allow-latest", is_flag=True, help="Allow pushing the mutable tag 'latest'."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _password(password_stdin: bool) -> str | None:
    if password_stdin:
        secret = sys.stdin.read().rstrip("\r\n")
        if not secret:
            raise BumperError("--password-stdin: nothing was read from stdin")
        return secret
    return os.environ.get("BUMPER_PASSWORD") or None


@dataclass(frozen=True)
class _Request:
    options: BuildOptions
    context: SourceContext
    progress: Progress


def _request(params: dict[str, Any], *, push: bool) -> _Request:
    """Resolve the name, tag and credentials from the CLI parameters (nothing built yet)."""
    from bumper.build.engine import BuildOptions, Progress
    from bumper.build.source import source_context
    from bumper.build.tags import resolve_tag

    progress = Progress()
    password = _password(params["password_stdin"])
    context = source_context(params["context"])
    image, tag = resolve_tag(params["name"], params["tag"], context)
    options = BuildOptions(
        image=image,
        tag=tag,
        context=params["context"],
        dockerfile=params["dockerfile"],
        build_args=params["build_args"],
        target=params["target"],
        labels=params["labels"],
        platform=params["platform"],
        pull=params["pull"],
        no_cache=params["no_cache"],
        cache_from=tuple(params["cache_from"]),
        push=push,
        allow_latest=params["allow_latest"],
        username=params["username"],
        password=password,
    )
    return _Request(options, context, progress)


def _run(body: Callable[[], None]) -> None:
    # bumper.cli imports this module to register the commands: import it only at run time.
    from bumper.cli import one_line_errors

    one_line_errors(body)()


output_option = click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: progress on stderr, the last stdout line is NAME:TAG@DIGEST; "
    "json: one object on stdout.",
)


@click.command("build", short_help="Build and push an image; print NAME:TAG@DIGEST.")
@_build_options
@click.option("--push/--no-push", default=True, show_default=True, help="Push after building.")
@output_option
def build_command(push: bool, output: str, **params: Any) -> None:
    """Build NAME[:TAG] with the Docker engine, push it, and print NAME:TAG@DIGEST.

    Progress goes to stderr; stdout carries only the result. The digest is the manifest
    digest the registry reports for the tag, read back after the push. Dockerfiles that
    need BuildKit (RUN --mount, heredocs) are refused: build those with
    docker/build-push-action and run `bumper set-image NAME:TAG@DIGEST`.
    """

    def body() -> None:
        from bumper.build.engine import build_and_push

        request = _request(params, push=push)
        result = build_and_push(request.options, request.context, progress=request.progress)
        if output == "json":
            click.echo(json.dumps(result.to_dict()))
        else:
            click.echo(result.ref)

    _run(body)


@click.command(
    "release", short_help="Build and push an image, then set it in the manifests under PATH."
)
@_build_options
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH]...")
@click.option(
    "--pin-digest",
    is_flag=True,
    help="Write NAME:TAG@DIGEST into the manifests instead of NAME:TAG.",
)
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Write a semver tag lower than the current one (skipped by default).",
)
@click.option(
    "--allow-missing", is_flag=True, help="Exit 0 even when no reference to the image exists."
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files matching GLOB.")
@output_option
def release_command(
    paths: tuple[str, ...],
    pin_digest: bool,
    allow_downgrade: bool,
    allow_missing: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    output: str,
    **params: Any,
) -> None:
    """Build and push NAME[:TAG], then set it in every manifest under PATH (default: .).

    The manifests are planned before the build, so a bad file or a missing reference
    fails fast; they are written only after the push succeeded. With --pin-digest the
    digest written is the one the registry reports for the pushed tag.
    """

    def body() -> None:
        from bumper.build.engine import build_and_push
        from bumper.edit.plan import plan_set_image
        from bumper.render import print_summary

        request = _request(params, push=True)
        image, tag = request.options.image, request.options.tag

        def plan(target: str) -> Plan:
            return plan_set_image(
                target,
                list(paths) or ["."],
                allow_downgrade=allow_downgrade,
                allow_missing=allow_missing,
                include=include,
                exclude=exclude,
            )

        # Fail on a bad manifest or a missing reference before minutes of building.
        plan(f"{image}:{tag}")
        result = build_and_push(request.options, request.context, progress=request.progress)
        final = plan(result.ref if pin_digest else f"{image}:{tag}")
        final.apply()
        if output == "json":
            click.echo(json.dumps({"build": result.to_dict(), "plan": final.to_dict()}))
            return
        print_summary(final, dry_run=False)
        click.echo(result.ref)

    _run(body)
