"""The ``bumper build`` and ``bumper release`` commands (registered by bumper.cli)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bumper.cli.common import (
    delivery_request,
    echo_json,
    one_line_errors,
    path_argument,
    plan_options,
    release_delivery_options,
    split_delivery,
)
from bumper.errors import BumperError

if TYPE_CHECKING:
    from bumper.build.options import BuildOptions, Progress
    from bumper.build.source import SourceContext


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


def _checked(
    parse: Callable[[str], Any],
) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], tuple[Any, ...]]:
    """A click callback parsing each value of a repeatable option; a bad one is a usage
    error naming the option."""

    def callback(
        _ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> tuple[Any, ...]:
        try:
            return tuple(parse(value) for value in values)
        except BumperError as exc:
            raise click.BadParameter(exc.message, param=param) from None

    return callback


def _cache(option: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        from bumper.build.specs import parse_cache

        return parse_cache(option, value).text

    return check


def _secret(value: str) -> Any:
    from bumper.build.specs import parse_secret

    return parse_secret(value)


def _build_context(value: str) -> tuple[str, str]:
    from bumper.build.specs import parse_build_context

    return parse_build_context(value)


def _build_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``build`` and ``release`` share, in the order ``--help`` lists them.

    Build flags are spelled as ``docker buildx build`` spells them.
    """
    options = [
        click.argument("name", metavar="NAME[:TAG]"),
        click.option(
            "--tag",
            "tag",
            multiple=True,
            metavar="auto|TAG",
            help="Image tag; 'auto' gives X.Y.Z for a vX.Y.Z git tag on the commit, else "
            "sha-<7 hex>. Repeatable: one build, pushed under every tag (one digest); the tag "
            "in NAME:TAG, else the first --tag, is the one printed and written to manifests.",
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
        click.option(
            "--platform",
            "platforms",
            multiple=True,
            metavar="OS/ARCH[,…]",
            help="Target platform(s), e.g. linux/amd64; several (repeated or comma-separated) "
            "make an index, with docker buildx only.",
        ),
        click.option("--pull", is_flag=True, help="Always pull newer base images."),
        click.option("--no-cache", is_flag=True, help="Do not use the build cache."),
        click.option(
            "--cache-from",
            multiple=True,
            metavar="SPEC",
            callback=_checked(_cache("--cache-from")),
            help="Cache source: IMAGE, type=registry,ref=IMAGE, type=local,src=DIR, type=gha "
            "(the last two with docker buildx); repeatable.",
        ),
        click.option(
            "--cache-to",
            multiple=True,
            metavar="SPEC",
            callback=_checked(_cache("--cache-to")),
            help="Cache export: type=inline; with docker buildx also type=registry,ref=IMAGE"
            "[,mode=max], type=local,dest=DIR, type=gha; repeatable.",
        ),
        click.option(
            "--secret",
            "secrets",
            multiple=True,
            metavar="id=ID,src=FILE|env=NAME",
            callback=_checked(_secret),
            help="Secret for RUN --mount=type=secret,id=ID: never in a layer, a log line or "
            "an error; repeatable.",
        ),
        click.option(
            "--ssh",
            multiple=True,
            metavar="default|ID=SOCKET|KEY",
            help="SSH agent or keys for RUN --mount=type=ssh; repeatable.",
        ),
        click.option(
            "--network",
            metavar="default|host|none",
            help="Network for RUN steps (an engine without a bridge network needs host).",
        ),
        click.option(
            "--build-context",
            "build_contexts",
            multiple=True,
            metavar="NAME=PATH|docker-image://REF",
            callback=_checked(_build_context),
            help="Additional named build context (docker buildx); repeatable.",
        ),
        click.option(
            "--provenance",
            metavar="VALUE",
            help="Provenance attestation: true, false, mode=min|max (docker buildx).",
        ),
        click.option(
            "--sbom", metavar="VALUE", help="SBOM attestation: true or false (docker buildx)."
        ),
        click.option(
            "--docker-cli",
            envvar="BUMPER_DOCKER_CLI",
            metavar="PATH",
            help="The docker CLI that builds [env BUMPER_DOCKER_CLI]. Default: docker on PATH "
            "or /usr/bin/docker, whichever has buildx, else the one that drives the engine's "
            "BuildKit (/usr/bin/docker first). DOCKER_BUILDKIT=0 selects the legacy builder.",
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
            "--allow-latest",
            is_flag=True,
            help="Allow 'latest' as the tag printed and deployed (as an extra --tag it is "
            "always allowed).",
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
    """Resolve the name, tags and credentials from the CLI parameters (nothing built yet)."""
    from bumper.build.options import BuildOptions, Progress
    from bumper.build.source import source_context
    from bumper.build.tags import resolve_tags

    progress = Progress()
    password = _password(params["password_stdin"])
    context = source_context(params["context"])
    image, tags = resolve_tags(params["name"], params["tag"], context)
    options = BuildOptions(
        image=image,
        tag=tags[0],
        extra_tags=tags[1:],
        context=params["context"],
        dockerfile=params["dockerfile"],
        build_args=params["build_args"],
        target=params["target"],
        labels=params["labels"],
        platform=",".join(params["platforms"]) or None,
        pull=params["pull"],
        no_cache=params["no_cache"],
        cache_from=params["cache_from"],
        cache_to=params["cache_to"],
        secrets=params["secrets"],
        ssh=tuple(params["ssh"]),
        network=params["network"],
        build_contexts=dict(params["build_contexts"]),
        provenance=params["provenance"],
        sbom=params["sbom"],
        docker_cli=params["docker_cli"],
        push=push,
        allow_latest=params["allow_latest"],
        username=params["username"],
        password=password,
    )
    return _Request(options, context, progress)


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
@one_line_errors
def build_command(push: bool, output: str, **params: Any) -> None:
    """Build NAME[:TAG], push it, and print NAME:TAG@DIGEST.

    BuildKit whenever the machine has it: `docker buildx build` when the buildx plugin
    answers, else the engine's BuildKit through a docker CLI that drives it
    (DOCKER_BUILDKIT=1 docker build), else the docker SDK's legacy builder, which refuses
    Dockerfiles that need BuildKit (RUN --mount, heredocs). One progress line says which.
    An option the builder cannot do is an error, never ignored.

    Progress goes to stderr; stdout carries only the result. The digest is the one the
    registry holds for the pushed tag: from buildx's metadata, else read back after the push.
    """
    from bumper.build.engine import build_and_push

    request = _request(params, push=push)
    result = build_and_push(request.options, request.context, progress=request.progress)
    if output == "json":
        echo_json(result.to_dict(), indent=None)
    else:
        click.echo(result.ref)


@click.command(
    "release", short_help="Build and push an image, then set it in the manifests under PATH."
)
@_build_options
@path_argument
@click.option(
    "--pin-digest",
    is_flag=True,
    help="Write NAME:TAG@DIGEST into the manifests instead of NAME:TAG.",
)
@plan_options
@release_delivery_options
@output_option
@one_line_errors
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
    digest written is the one the registry reports for the pushed tag. With --commit,
    --push, --repo or --pull-request the change is landed in git, as set-image does.
    """
    from bumper import pipeline
    from bumper.render import print_summary

    delivery = delivery_request(split_delivery(params))
    build = _request(params, push=True)
    result = pipeline.run(
        pipeline.ReleaseRequest(
            targets=[f"{build.options.image}:{build.options.tag}"],
            paths=list(paths) or ["."],
            plan=pipeline.PlanOptions(allow_downgrade, allow_missing, include, exclude),
            delivery=delivery,
            build=build.options,
            context=build.context,
            progress=build.progress,
            pin_digest=pin_digest,
        )
    )
    assert result.build is not None
    if output == "json":
        document = {"build": result.build.to_dict()}
        if result.plan is not None:
            document["plan"] = result.plan.to_dict()
        if result.delivery is not None:
            document["delivery"] = result.delivery.to_dict()
        echo_json(document, indent=None)
        return
    if result.plan is not None:
        print_summary(result.plan, dry_run=False)
    if result.delivery is not None:
        click.echo(result.delivery.summary(), err=True)
    click.echo(result.build.ref)
