"""Build an image with the docker SDK, push it, and learn the digest the registry holds."""

from __future__ import annotations

import os
import re
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumper.build.buildkit import (
    BUILDX,
    ENGINE,
    OUTPUT_TAIL_LINES,
    SDK,
    Builder,
    CliBuild,
    PlainProgress,
    check_options,
    command,
    login_config,
    read_report,
    run_build,
    select_builder,
    syntax_directive,
)
from bumper.build.dockerfile import ADVICE, check_classic_builder
from bumper.build.options import BuildOptions, BuildResult, Progress
from bumper.build.source import SourceContext
from bumper.build.specs import BuildSecret, parse_cache, parse_platforms
from bumper.build.tags import check_mutable_tag, check_tag
from bumper.errors import BumperError

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET = "unix:///var/run/docker.sock"

# 401/403 as whole numbers only: a digest in a message must not look like one.
_AUTH_ERROR = re.compile(
    r"unauthorized|authentication required|no basic auth credentials|denied|forbidden"
    r"|\b40[13]\b",
    re.IGNORECASE,
)
_NETWORK_MARKERS = (
    "connection refused",
    "no such host",
    "dial tcp",
    "i/o timeout",
    "network is unreachable",
    "connection reset",
    "tls handshake",
    "server gave http response",
    "no route to host",
)


def engine_address(env: Mapping[str, str] | None = None) -> str:
    """The engine address the SDK will use: ``DOCKER_HOST`` or the default socket."""
    return (os.environ if env is None else env).get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(env: Mapping[str, str] | None = None) -> docker.APIClient:
    """Open a low-level client to the engine, negotiating the API version it speaks."""
    import docker
    from docker.utils import kwargs_from_env

    environment = dict(os.environ if env is None else env)
    address = engine_address(environment)
    try:
        client = docker.APIClient(version="auto", **kwargs_from_env(environment=environment))
        client.ping()
    except docker.errors.DockerException as exc:
        raise BumperError(
            f"cannot reach the Docker engine at {address}: {_os_error(_cause(exc))} "
            "(is dockerd running? set DOCKER_HOST to use another engine)"
        ) from exc
    return client


def oci_labels(
    context: SourceContext, version: str, user_labels: Mapping[str, str]
) -> dict[str, str]:
    """The image labels: the OCI ones from the source context, then the user's on top."""
    labels: dict[str, str] = {"org.opencontainers.image.version": version}
    if context.source:
        labels["org.opencontainers.image.source"] = context.source
    if context.commit:
        labels["org.opencontainers.image.revision"] = context.commit
    if context.created:
        labels["org.opencontainers.image.created"] = context.created
    labels.update(user_labels)
    return labels


def registry_of(image: str) -> str:
    """The registry host an image name points at (``docker.io`` for Docker Hub names)."""
    from docker.auth import resolve_repository_name

    return resolve_repository_name(image)[0]


def dockerfile_path(context: str, dockerfile: str | None) -> Path:
    """Where the Dockerfile is: ``--file`` relative to the working directory, like
    ``docker build -f``; by default ``Dockerfile`` in the context."""
    context_dir = Path(context)
    if not context_dir.is_dir():
        raise BumperError(f"build context {context} is not a directory")
    path = Path(dockerfile) if dockerfile else context_dir / "Dockerfile"
    if not path.is_file():
        raise BumperError(f"Dockerfile not found: {path}")
    return path


def build_and_push(
    options: BuildOptions,
    context: SourceContext,
    *,
    progress: Progress | None = None,
    client: docker.APIClient | None = None,
    env: Mapping[str, str] | None = None,
) -> BuildResult:
    """Build ``options.image:options.tag`` (and its extra tags), push it when asked, and
    return the digest the registry holds.

    BuildKit whenever the machine has it: ``docker buildx build`` when the plugin answers,
    else the engine's BuildKit through a docker CLI that drives it, else the docker SDK's
    legacy builder. A buildx push reports the pushed digest in its metadata file; otherwise
    the digest is the one the registry reports for the tag after the push, checked against
    what each push reported.
    """
    environ = os.environ if env is None else env
    progress = progress or Progress(env=environ)
    if options.push:
        check_mutable_tag(options.tag, allow_latest=options.allow_latest)
    if options.password:
        # First, so that no later line can show it.
        progress.mask(options.password)
    if options.username and not options.password:
        raise BumperError("--username needs a password: --password-stdin or BUMPER_PASSWORD")
    tags = tuple(dict.fromkeys(check_tag(tag) for tag in (options.tag, *options.extra_tags)))
    secret_values = _secret_values(options.secrets, environ, progress)
    path = dockerfile_path(options.context, options.dockerfile)
    builder = select_builder(options.docker_cli, environ)
    progress.line(builder.describe())
    check_options(options, builder, environ)
    labels = oci_labels(context, options.tag, options.labels)
    scrub_values = (*secret_values, *((options.password,) if options.password else ()))
    if builder.kind == BUILDX:
        return _buildx(options, builder, path, labels, tags, progress, environ, scrub_values)
    if builder.kind == SDK:
        check_classic_builder(path, builder.reason)
    client = client or connect(environ)
    auth = _login(client, options) if options.push else None
    reference = f"{options.image}:{options.tag}"
    with progress.group(f"Build {reference}"):
        if builder.kind == ENGINE:
            # The engine's BuildKit builds through the CLI; the SDK pushes, as for the SDK.
            built = _run_cli(options, builder, path, labels, tags, progress, environ, scrub_values)
            image_id = built.image_id
        else:
            image_id = build_image(client, options, path, labels, progress)
            for tag in tags[1:]:
                client.tag(image_id, options.image, tag)
    if not options.push:
        return BuildResult(
            options.image, options.tag, None, image_id, reference, tags, builder.kind
        )
    secrets = (options.password,) if options.password else ()
    pushed: dict[str, str | None] = {}
    with progress.group(f"Push {_tag_list(options.image, tags)}"):
        for tag in tags:
            pushed[tag] = push_image(client, options.image, tag, auth, progress, secrets)
    digest = registry_digest(client, options.image, options.tag, auth, secrets)
    for tag, reported in pushed.items():
        if reported and reported != digest:
            raise BumperError(
                f"{options.image}:{tag}: the push reported {reported} but the registry now "
                f"serves {digest} for {options.tag} (did another build push the same tag?)"
            )
    return BuildResult(
        options.image, options.tag, digest, image_id, f"{reference}@{digest}", tags, builder.kind
    )


def _tag_list(image: str, tags: tuple[str, ...]) -> str:
    extra = f" (and {', '.join(tags[1:])})" if len(tags) > 1 else ""
    return f"{image}:{tags[0]}{extra}"


def _secret_values(
    secrets: tuple[BuildSecret, ...], environ: Mapping[str, str], progress: Progress
) -> tuple[str, ...]:
    """Every secret's text, checked to exist, masked in Actions logs, for scrubbing output."""
    values: list[str] = []
    for secret in secrets:
        # Line by line: the runner masks single lines, and a secret file may hold several.
        for line in secret.value_in(environ).splitlines():
            if line.strip():
                progress.mask(line.strip())
                values.append(line.strip())
    return tuple(values)


@contextmanager
def _cli_environment(
    options: BuildOptions, builder: Builder, environ: Mapping[str, str]
) -> Iterator[tuple[dict[str, str], list[str]]]:
    """The CLI's environment and ``--secret`` values: secrets given as text travel in
    variables of the child's environment, never on its command line."""
    child = dict(environ)
    if builder.kind == ENGINE:
        child["DOCKER_BUILDKIT"] = "1"
    specs = []
    for number, secret in enumerate(options.secrets):
        if secret.value is not None:
            variable = f"BUMPER_BUILD_SECRET_{number}"
            child[variable] = secret.value
            specs.append(secret.spec(variable))
        else:
            specs.append(secret.spec())
    if builder.kind == BUILDX and options.push and options.username and options.password:
        registry = registry_of(options.image)
        with login_config(registry, options.username, options.password, environ) as folder:
            child["DOCKER_CONFIG"] = folder
            yield child, specs
        return
    yield child, specs


def _run_cli(
    options: BuildOptions,
    builder: Builder,
    path: Path,
    labels: Mapping[str, str],
    tags: tuple[str, ...],
    progress: Progress,
    environ: Mapping[str, str],
    scrub_values: tuple[str, ...],
) -> CliBuild:
    with (
        tempfile.TemporaryDirectory(prefix="bumper-build-") as folder,
        _cli_environment(options, builder, environ) as (child_env, secret_specs),
    ):
        report = Path(folder) / ("metadata.json" if builder.kind == BUILDX else "image-id")
        argv = command(
            options,
            builder,
            dockerfile=path.resolve(),
            labels=labels,
            tags=tags,
            secret_specs=secret_specs,
            report_file=report,
        )
        tracker = run_build(argv, child_env, progress, lambda text: _scrub(text, scrub_values))
        if tracker.returncode != 0:
            raise _cli_build_error(tracker, path, options, builder, scrub_values)
        return read_report(builder, report)


def _buildx(
    options: BuildOptions,
    builder: Builder,
    path: Path,
    labels: Mapping[str, str],
    tags: tuple[str, ...],
    progress: Progress,
    environ: Mapping[str, str],
    scrub_values: tuple[str, ...],
) -> BuildResult:
    """Build (and push) with docker buildx; the digest is the one its metadata file reports
    for the push: the manifest, or the index of several platforms, the registry now holds."""
    reference = f"{options.image}:{options.tag}"
    title = (
        f"Build and push {_tag_list(options.image, tags)}" if options.push else f"Build {reference}"
    )
    with progress.group(title):
        built = _run_cli(options, builder, path, labels, tags, progress, environ, scrub_values)
    if not options.push:
        if len(parse_platforms(options.platform)) > 1:
            progress.line(
                "not loaded into the engine: an image for several platforms stays in the "
                "build cache (push it to use it)"
            )
        return BuildResult(
            options.image, options.tag, None, built.image_id, reference, tags, builder.kind
        )
    if not built.digest:
        raise BumperError("docker buildx reported no digest for the pushed image")
    return BuildResult(
        options.image,
        options.tag,
        built.digest,
        built.image_id,
        f"{reference}@{built.digest}",
        tags,
        builder.kind,
    )


def _cli_build_error(
    tracker: PlainProgress,
    dockerfile: Path,
    options: BuildOptions,
    builder: Builder,
    secrets: tuple[str, ...],
) -> BumperError:
    """One line for a failed CLI build: a frontend that cannot be pulled, a refused push,
    or the failing step with its message and the tail of its output."""
    step, message, tail = tracker.message()
    syntax = syntax_directive(dockerfile)
    if syntax and (step.startswith("resolve image config for") or syntax[1] in message):
        line, frontend = syntax
        return BumperError(
            f"the Dockerfile frontend {frontend} named by its '# syntax=' line cannot be used "
            f"by {builder.name}: {message}; make that image pullable, or remove the line to "
            "use the builder's built-in frontend",
            f"{dockerfile}:{line}",
        )
    if (
        builder.kind == BUILDX
        and options.push
        and re.search(r"failed to push|failed to authorize|push access denied", message)
    ):
        return _registry_error(registry_of(options.image), message, secrets)
    if "network bridge not found" in message:
        message += " (this engine has no bridge network: pass --network host)"
    return _build_error(step, message, tail)


def _login(client: docker.APIClient, options: BuildOptions) -> dict[str, str] | None:
    """Check explicit credentials before spending time on the build; None means the SDK uses
    what ``docker login`` stored (config file or credential helper)."""
    import docker

    if not options.username or not options.password:
        return None
    registry = registry_of(options.image)
    try:
        client.login(options.username, options.password, registry=registry, reauth=True)
    except docker.errors.APIError as exc:
        raise _registry_error(registry, _cause(exc), (options.password,)) from exc
    return {"username": options.username, "password": options.password}


def build_image(
    client: docker.APIClient,
    options: BuildOptions,
    dockerfile: Path,
    labels: Mapping[str, str],
    progress: Progress,
) -> str:
    """Run the build, streaming its output as lines; return the image ID."""
    import docker

    reference = f"{options.image}:{options.tag}"
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    statuses = _StatusLines(progress)
    step = ""
    image_id = ""
    pending = ""
    try:
        stream = client.build(
            path=os.fspath(Path(options.context).resolve()),
            dockerfile=os.fspath(dockerfile.resolve()),
            tag=reference,
            buildargs=dict(options.build_args) or None,
            target=options.target,
            labels=dict(labels),
            platform=options.platform,
            pull=options.pull,
            nocache=options.no_cache,
            cache_from=[parse_cache("--cache-from", c).ref for c in options.cache_from] or None,
            network_mode=options.network,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                if pending.strip():
                    tail.append(pending.strip())
                raise _legacy_build_error(step, message.strip(), list(tail))
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            statuses.feed(chunk)
            pending += chunk.get("stream", "")
            *lines, pending = pending.split("\n")
            for text in lines:
                text = text.rstrip()
                if not text:
                    continue
                progress.line(text)
                if text.startswith("Step "):
                    step, tail = text, deque(maxlen=OUTPUT_TAIL_LINES)
                elif not text.startswith((" ---> ", "Removing intermediate container")):
                    tail.append(text)
    except docker.errors.APIError as exc:
        raise _legacy_build_error(step, _cause(exc), list(tail)) from exc
    if pending.strip():
        progress.line(pending.rstrip())
    if not image_id:
        image_id = client.inspect_image(reference)["Id"]
    return image_id


def _legacy_build_error(step: str, message: str, tail: list[str]) -> BumperError:
    lowered = message.lower()
    if "buildkit" in lowered or "unknown flag: mount" in lowered:
        return BumperError(f"this Dockerfile needs BuildKit ({message}); {ADVICE}")
    return _build_error(step, message, tail)


def _build_error(step: str, message: str, tail: list[str]) -> BumperError:
    where = f" at {step}" if step else ""
    output = f"; output tail: {' | '.join(tail)}" if tail else ""
    return BumperError(f"build failed{where}: {message}{output}")


def push_image(
    client: docker.APIClient,
    image: str,
    tag: str,
    auth: dict[str, str] | None,
    progress: Progress,
    secrets: tuple[str, ...] = (),
) -> str | None:
    """Push ``image:tag``; return the digest the push reported (None if it reported none)."""
    import docker

    registry = registry_of(image)
    digest = None
    statuses = _StatusLines(progress)
    try:
        for chunk in client.push(image, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                raise _registry_error(registry, message, secrets)
            if "aux" in chunk and chunk["aux"].get("Digest"):
                digest = chunk["aux"]["Digest"]
            statuses.feed(chunk)
    except docker.errors.APIError as exc:
        raise _registry_error(registry, _cause(exc), secrets) from exc
    return digest


def registry_digest(
    client: docker.APIClient,
    image: str,
    tag: str,
    auth: dict[str, str] | None,
    secrets: tuple[str, ...] = (),
) -> str:
    """The manifest digest the registry serves for ``image:tag``, asked through the engine
    so the same credentials and registry settings apply as for the push."""
    import docker

    registry = registry_of(image)
    try:
        descriptor = client.inspect_distribution(f"{image}:{tag}", auth_config=auth)["Descriptor"]
    except docker.errors.APIError as exc:
        raise _registry_error(registry, _cause(exc), secrets) from exc
    return str(descriptor["digest"])


def _registry_error(registry: str, message: str, secrets: tuple[str, ...]) -> BumperError:
    message = _scrub(message, secrets)
    lowered = message.lower()
    if _AUTH_ERROR.search(message):
        return BumperError(f"registry {registry} refused the credentials: {message}")
    if any(marker in lowered for marker in _NETWORK_MARKERS):
        return BumperError(f"registry {registry} is unreachable: {message}")
    return BumperError(f"registry {registry}: {message}")


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _StatusLines:
    """Pull/push status messages as one line per layer state change, not one per tick."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._last: dict[str, str] = {}

    def feed(self, chunk: Mapping[str, Any]) -> None:
        layer, status = str(chunk.get("id", "")), str(chunk.get("status", ""))
        if status and self._last.get(layer) != status:
            self._last[layer] = status
            self._progress.line(f"{layer}: {status}" if layer else status)


def _os_error(text: str) -> str:
    """The OS error at the bottom of a connection failure ("Connection refused"), if any."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)|Error\(-?\d+, '([^']+)'\)", text)
    return (found.group(1) or found.group(2)).strip() if found else text


def _cause(exc: Exception) -> str:
    """The engine's own words for an SDK error, on one line."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation) if explanation else str(exc)
    return " ".join(text.split())
