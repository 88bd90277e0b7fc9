"""The ``bumper build`` and ``bumper release`` commands (registered by bumper.cli)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from bumper.errors import BumperError

if TYPE_CHECKING:
    from bumper.build import BuildResult


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


def run_build(params: dict[str, Any], *, push: bool) -> BuildResult:
    """Resolve the name and tag from the CLI parameters, build, and push when asked."""
    from bumper.build import BuildOptions, Progress, build_and_push
    from bumper.gitcontext import source_context
    from bumper.tags import resolve_tag

    progress = Progress()
    password = _password(params["password_stdin"])
    if password:
        progress.mask(password)
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
    return build_and_push(options, context, progress=progress)


def _fail(error: BumperError) -> click.ClickException:
    return click.ClickException(str(error))


@click.command("build", short_help="Build and push an image; print NAME:TAG@DIGEST.")
@_build_options
@click.option("--push/--no-push", default=True, show_default=True, help="Push after building.")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the last stdout line is NAME:TAG@DIGEST; json: one object.",
)
def build_command(push: bool, output: str, **params: Any) -> None:
    """Build NAME[:TAG] with the Docker engine, push it, and print NAME:TAG@DIGEST.

    Progress goes to stderr; stdout carries only the result. The digest is the manifest
    digest the registry reports for the tag, checked after the push.
    """
    try:
        result = run_build(params, push=push)
    except BumperError as error:
        raise _fail(error) from error
    if output == "json":
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(result.ref)
