"""BuildKit through the docker CLI: ``docker buildx build`` when the buildx plugin answers,
else ``DOCKER_BUILDKIT=1 docker build`` against the engine's built-in BuildKit.

Which builder a machine has is decided here (:func:`select_builder`), together with what
each builder can do (:func:`check_options`): an option a builder cannot honour is refused
with one line naming both, never dropped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumper.build.specs import parse_cache, parse_platforms
from bumper.errors import BumperError

if TYPE_CHECKING:
    from bumper.build.options import BuildOptions, Progress

BUILDX = "buildx"
ENGINE = "buildkit"
SDK = "sdk"

#: The engine's own client on Debian; it matches the engine, unlike a newer ``docker``
#: first on PATH, whose ``docker build`` needs the buildx plugin for BuildKit.
SYSTEM_DOCKER = "/usr/bin/docker"
#: Docker CLI 23.0 made ``docker build`` an alias of buildx: without the plugin it cannot
#: drive BuildKit any more, only the legacy builder.
_LAST_BUILTIN_BUILDKIT_MAJOR = 22
_PROBE_TIMEOUT = 30
OUTPUT_TAIL_LINES = 5

_STEP_LINE = re.compile(r"^#(\d+) (.*)$")
_STEP_OUTPUT = re.compile(r"^\d+\.\d+ (.*)$")
# The 20.10 client prints each step's vertex digest: noise in a log a person reads.
_VERTEX_DIGEST = re.compile(r"^#\d+ sha256:[0-9a-f]{64}$")
_STEP_STATUS = re.compile(r"^(?:sha256:[0-9a-f]+|DONE [\d.]+s|CACHED|CANCELED.*)$")
_SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Builder:
    """The builder a build runs on: ``kind`` is buildx, buildkit (the engine's) or sdk."""

    kind: str
    cli: str | None = None
    version: str | None = None
    #: Why the legacy builder was chosen (empty for the BuildKit builders).
    reason: str = ""

    @property
    def name(self) -> str:
        """The builder as error messages name it."""
        if self.kind == BUILDX:
            return f"docker buildx ({self.cli} buildx build)"
        if self.kind == ENGINE:
            return f"the engine's BuildKit (DOCKER_BUILDKIT=1 {self.cli} build)"
        return "the docker SDK's legacy builder"

    def describe(self) -> str:
        """The one progress line saying which builder is used."""
        if self.kind == BUILDX:
            return f"builder: docker buildx {self.version} ({self.cli} buildx build)"
        if self.kind == ENGINE:
            return (
                f"builder: the engine's BuildKit (DOCKER_BUILDKIT=1 {self.cli} build, "
                f"docker CLI {self.version}; no buildx plugin)"
            )
        return f"builder: the docker SDK's legacy builder ({self.reason})"


def _probe(argv: list[str], env: Mapping[str, str], *, any_status: bool = False) -> str | None:
    """stdout of a quick CLI query, or None when it is not there or fails (unless
    ``any_status``: ``docker version`` still describes the client when the engine is down)."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 or any_status else None


def buildx_version(cli: str, env: Mapping[str, str]) -> str | None:
    """The buildx plugin's version (``v0.12.1``) when ``cli buildx`` answers, else None."""
    out = _probe([cli, "buildx", "version"], env)
    if not out:
        return None
    words = out.split()
    return words[1] if len(words) > 1 else words[0]


def builtin_buildkit_version(cli: str, env: Mapping[str, str]) -> str | None:
    """The CLI's version when it drives the engine's BuildKit itself (CLI < 23 talking to a
    Linux engine ≥ 18.09), else None.

    An engine that does not answer does not rule the CLI out: connecting to it comes next
    and says clearly that it is down.
    """
    out = _probe([cli, "version", "--format", "{{json .}}"], env, any_status=True)
    if not out:
        return None
    try:
        info = json.loads(out)
        client, server = info["Client"]["Version"], info.get("Server")
    except (ValueError, KeyError, TypeError):
        return None
    if _major_minor(client)[0] > _LAST_BUILTIN_BUILDKIT_MAJOR:
        return None
    if server is not None and (
        server.get("Os") != "linux" or _major_minor(str(server.get("Version", ""))) < (18, 9)
    ):
        return None
    return str(client)


def _major_minor(version: str) -> tuple[int, int]:
    found = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def select_builder(docker_cli: str | None, env: Mapping[str, str]) -> Builder:
    """buildx when the plugin answers, else the engine's BuildKit through a CLI that can
    drive it, else the SDK's legacy builder. ``DOCKER_BUILDKIT=0`` asks for the legacy
    builder, as it does for ``docker build``."""
    if env.get("DOCKER_BUILDKIT") == "0":
        return Builder(SDK, reason="DOCKER_BUILDKIT=0")
    if docker_cli:
        found = shutil.which(docker_cli, path=env.get("PATH"))
        if not found:
            raise BumperError(f"docker CLI {docker_cli} not found")
        candidates = [found]
    else:
        on_path = shutil.which("docker", path=env.get("PATH"))
        system = SYSTEM_DOCKER if os.access(SYSTEM_DOCKER, os.X_OK) else None
        candidates = [c for c in dict.fromkeys([on_path, system]) if c]
    for cli in candidates:
        version = buildx_version(cli, env)
        if version:
            return Builder(BUILDX, cli, version)
    # The engine's own client first: it is the one that matches the engine.
    for cli in sorted(candidates, key=lambda c: c != SYSTEM_DOCKER):
        version = builtin_buildkit_version(cli, env)
        if version:
            return Builder(ENGINE, cli, version)
    if not candidates:
        return Builder(SDK, reason="no docker CLI found")
    return Builder(
        SDK,
        reason=f"no buildx plugin, and {', '.join(candidates)} cannot drive the engine's BuildKit",
    )


def check_options(options: BuildOptions, builder: Builder, env: Mapping[str, str]) -> None:
    """Refuse, in one line naming the option and the builder, what ``builder`` cannot do."""
    name = builder.name
    platforms = parse_platforms(options.platform)
    if len(platforms) > 1 and builder.kind != BUILDX:
        raise BumperError(
            f"--platform {','.join(platforms)}: several platforms need docker buildx; "
            f"{name} builds one platform"
        )
    if builder.kind != BUILDX:
        for flag, given in (
            ("--build-context", bool(options.build_contexts)),
            ("--provenance", options.provenance is not None),
            ("--sbom", options.sbom is not None),
        ):
            if given:
                raise BumperError(f"{flag} needs docker buildx; {name} cannot do it")
    if builder.kind == SDK:
        for flag, given in (("--secret", options.secrets), ("--ssh", options.ssh)):
            if given:
                raise BumperError(f"{flag} needs BuildKit; {name} cannot do it")
    for spec in (parse_cache("--cache-from", s) for s in options.cache_from):
        if builder.kind != BUILDX and (spec.type != "registry" or set(spec.attrs) != {"ref"}):
            raise BumperError(
                f"--cache-from {spec.text}: {name} reads only image references "
                "(type=registry,ref=IMAGE); docker buildx reads local and gha caches"
            )
        _check_gha("--cache-from", spec.type, spec.attrs, env)
    for spec in (parse_cache("--cache-to", s) for s in options.cache_to):
        if builder.kind == SDK or (builder.kind == ENGINE and spec.type != "inline"):
            allowed = "only type=inline" if builder.kind == ENGINE else "no cache"
            raise BumperError(
                f"--cache-to {spec.text}: {name} exports {allowed}; "
                "docker buildx exports registry, local and gha caches"
            )
        _check_gha("--cache-to", spec.type, spec.attrs, env)


def _check_gha(option: str, kind: str, attrs: Mapping[str, str], env: Mapping[str, str]) -> None:
    if kind != "gha":
        return
    if env.get("GITHUB_ACTIONS") != "true":
        raise BumperError(f"{option} type=gha works only inside GitHub Actions")
    if "token" not in attrs and not env.get("ACTIONS_RUNTIME_TOKEN"):
        raise BumperError(
            f"{option} type=gha needs ACTIONS_RUNTIME_TOKEN and ACTIONS_CACHE_URL (or "
            "ACTIONS_RESULTS_URL) in bumper's environment: a step's shell does not get them, "
            "the action that runs bumper must export them"
        )


@dataclass(frozen=True)
class CliBuild:
    """What a CLI build reports: the image ID, and for a buildx push the pushed digest."""

    image_id: str
    digest: str | None


def command(
    options: BuildOptions,
    builder: Builder,
    *,
    dockerfile: Path,
    labels: Mapping[str, str],
    tags: Sequence[str],
    secret_specs: Sequence[str],
    report_file: Path,
) -> list[str]:
    """The argument vector for one build. Every value is ``--flag=value``, so a value that
    starts with ``-`` is never read as a flag; no secret value is ever in it.

    ``report_file`` is buildx's ``--metadata-file`` or the engine build's ``--iidfile``.
    """
    cli = str(builder.cli)
    argv = [cli, "buildx", "build"] if builder.kind == BUILDX else [cli, "build"]
    argv += ["--progress=plain", f"--file={dockerfile}"]
    argv.append(
        f"--metadata-file={report_file}" if builder.kind == BUILDX else f"--iidfile={report_file}"
    )
    argv += [f"--tag={options.image}:{tag}" for tag in tags]
    argv += [f"--build-arg={key}={value}" for key, value in options.build_args.items()]
    argv += [f"--label={key}={value}" for key, value in labels.items()]
    if options.target:
        argv.append(f"--target={options.target}")
    platforms = parse_platforms(options.platform)
    if platforms:
        argv.append(f"--platform={','.join(platforms)}")
    if options.pull:
        argv.append("--pull")
    if options.no_cache:
        argv.append("--no-cache")
    if options.network:
        argv.append(f"--network={options.network}")
    for text in options.cache_from:
        spec = parse_cache("--cache-from", text)
        argv.append(f"--cache-from={spec.text if builder.kind == BUILDX else spec.ref}")
    for text in options.cache_to:
        spec = parse_cache("--cache-to", text)
        if builder.kind == BUILDX:
            argv.append(f"--cache-to={spec.text}")
        else:
            # The engine's BuildKit writes inline cache metadata when asked by this argument.
            argv.append("--build-arg=BUILDKIT_INLINE_CACHE=1")
    argv += [f"--secret={spec}" for spec in secret_specs]
    argv += [f"--ssh={value}" for value in options.ssh]
    argv += [f"--build-context={key}={value}" for key, value in options.build_contexts.items()]
    if options.provenance is not None:
        argv.append(f"--provenance={options.provenance}")
    if options.sbom is not None:
        argv.append(f"--sbom={options.sbom}")
    if builder.kind == BUILDX:
        if options.push:
            argv.append("--push")
        elif len(platforms) <= 1:
            argv.append("--load")
    argv.append(os.fspath(Path(options.context).resolve()))
    return argv


@contextmanager
def login_config(
    registry: str, username: str, password: str, env: Mapping[str, str]
) -> Iterator[str]:
    """A private DOCKER_CONFIG for buildx holding the login for ``registry`` in memory's
    stead: the user's config dir is mirrored (builders, contexts, plugins stay), with this
    registry's entry replaced. Removed when the build ends; the user's files are untouched.
    """
    import base64

    original = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    config: dict[str, Any] = {}
    if (original / "config.json").is_file():
        try:
            config = json.loads((original / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BumperError(f"cannot read {original / 'config.json'}: {exc}") from exc
    if config.get("credsStore"):
        raise BumperError(
            f"--username with docker buildx: {original / 'config.json'} keeps logins in the "
            f"credential store {config['credsStore']!r}; run `docker login {registry}` instead"
        )
    key = "https://index.docker.io/v1/" if registry == "docker.io" else registry
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths = dict(config.get("auths") or {})
    auths[key] = {"auth": token}
    helpers = dict(config.get("credHelpers") or {})
    helpers.pop(key, None)
    config.update(auths=auths, credHelpers=helpers)
    with tempfile.TemporaryDirectory(prefix="bumper-docker-config-") as folder:
        if original.is_dir():
            for entry in original.iterdir():
                if entry.name != "config.json":
                    (Path(folder) / entry.name).symlink_to(entry)
        descriptor = os.open(Path(folder) / "config.json", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        yield folder


class PlainProgress:
    """Follows BuildKit's ``--progress=plain`` lines: which step runs, its last output
    lines, and the error a failing step reported."""

    def __init__(self) -> None:
        self.titles: dict[str, str] = {}
        self.outputs: dict[str, deque[str]] = {}
        self.failed: str | None = None
        self.error: str | None = None
        self.last_lines: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self.returncode: int | None = None

    def feed(self, line: str) -> None:
        """Take one line of the build's output."""
        found = _STEP_LINE.match(line)
        if not found:
            if line.strip() and not line.startswith(("------", " > ")):
                self.last_lines.append(line.strip())
            return
        step, text = found.groups()
        if step not in self.titles:
            self.titles[step] = text
            self.outputs[step] = deque(maxlen=OUTPUT_TAIL_LINES)
            return
        if text.startswith("ERROR: "):
            self.failed, self.error = step, text.removeprefix("ERROR: ").strip()
            return
        output = _STEP_OUTPUT.match(text)
        if output and output.group(1).strip():
            self.outputs[step].append(output.group(1).strip())
        elif not output and not _STEP_STATUS.match(text):
            self.outputs[step].append(text.strip())

    def message(self) -> tuple[str, str, list[str]]:
        """(step title, error, output tail) of the failure."""
        final = self.last_lines[-1] if self.last_lines else "the build failed"
        final = re.sub(r"^(?:ERROR|error):\s*", "", final)
        if self.failed is None:
            return "", final, []
        return (
            self.titles.get(self.failed, ""),
            self.error or final,
            list(self.outputs.get(self.failed, ())),
        )


def syntax_directive(dockerfile: Path) -> tuple[int, str] | None:
    """(line, frontend image) of a ``# syntax=`` directive at the top of the Dockerfile."""
    try:
        text = dockerfile.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped.startswith("#"):
            return None
        found = _SYNTAX.match(stripped)
        if found:
            return number, found.group(1)
    return None


def run_build(
    argv: list[str],
    env: Mapping[str, str],
    progress: Progress,
    scrub: Callable[[str], str],
) -> PlainProgress:
    """Run the CLI, streaming its output as scrubbed progress lines; return what it said.

    Raises BumperError when the CLI cannot start; a failed build is read from the returned
    tracker (its ``returncode`` is not 0).
    """
    tracker = PlainProgress()
    try:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=dict(env),
        )
    except OSError as exc:
        raise BumperError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    assert process.stdout is not None
    with process:
        for raw in process.stdout:
            line = scrub(raw.rstrip("\n"))
            tracker.feed(line)
            if line.strip() and not _VERTEX_DIGEST.match(line):
                progress.line(line)
    tracker.returncode = process.returncode
    return tracker


def read_report(builder: Builder, report_file: Path) -> CliBuild:
    """The image ID (and, from buildx, the pushed digest) the CLI wrote after a build."""
    try:
        text = report_file.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if builder.kind == ENGINE:
        if not text:
            raise BumperError(f"{builder.name} reported no image ID")
        return CliBuild(image_id=text, digest=None)
    try:
        metadata = json.loads(text) if text else {}
    except ValueError as exc:
        raise BumperError(f"cannot read docker buildx's metadata file: {exc}") from exc
    digest = metadata.get("containerimage.digest")
    image_id = metadata.get("containerimage.config.digest") or digest or ""
    return CliBuild(image_id=str(image_id), digest=str(digest) if digest else None)
