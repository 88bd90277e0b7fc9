"""BuildKit builds: option values as buildx spells them, what each builder may be asked,
and real builds on the engine's BuildKit (cache mounts, secrets, stages, frontends) pushed
to the real registry, whose blobs are read back to prove a secret is in no layer.

buildx-only paths run where the buildx plugin answers and are skipped (with the reason) here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from bumper.build.buildkit import (
    BUILDX,
    ENGINE,
    SDK,
    Builder,
    CliBuild,
    PlainProgress,
    check_options,
    command,
    login_config,
    read_report,
    select_builder,
    syntax_directive,
)
from bumper.build.options import BuildOptions
from bumper.build.specs import BuildSecret, parse_cache, parse_secret
from bumper.cli.build import build_command, release_command
from bumper.errors import BumperError
from tests.docker_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    MANIFEST_TYPES,
    REGISTRY,
    Registry,
    docker_client_fixture,
    docker_config_fixture,
    missing,
    registry_fixture,
    run_image,
    unique_repo,
)

cli = click.Group("bumper", commands=[build_command, release_command])
NETWORK = ("--network", "host")  # this engine has no bridge network for RUN steps


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    return result.stderr.strip().splitlines()[-1]


# --- option values, as buildx spells them ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "secret"),
    [
        ("id=npm,src=/run/npmrc", BuildSecret(id="npm", src="/run/npmrc")),
        ("id=npm,source=/run/npmrc", BuildSecret(id="npm", src="/run/npmrc")),
        ("src=/run/npmrc", BuildSecret(id="npmrc", src="/run/npmrc")),
        ("id=tok,env=GH_TOKEN", BuildSecret(id="tok", env="GH_TOKEN")),
        ("env=GH_TOKEN", BuildSecret(id="GH_TOKEN", env="GH_TOKEN")),
        ("type=env,id=GH_TOKEN", BuildSecret(id="GH_TOKEN", env="GH_TOKEN")),
        ("type=env,id=tok,src=GH_TOKEN", BuildSecret(id="tok", env="GH_TOKEN")),
        ("type=file,id=a,src=/x", BuildSecret(id="a", src="/x")),
        ('id=a,"src=/dir,with,commas"', BuildSecret(id="a", src="/dir,with,commas")),
    ],
)
def test_parse_secret(spec: str, secret: BuildSecret) -> None:
    assert parse_secret(spec) == secret


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("id=tok", "give src=FILE or env=NAME"),
        ("id=tok,src=/x,env=Y", "not both"),
        ("id=tok,type=ssh,src=/x", "type must be file or env"),
        ("id=tok,value=hunter2", "unknown field 'value'"),
        ("id=tok,env=NOT-A-NAME", "is not a variable name"),
        ("id=a b,src=/x", "secret id 'a b'"),
        ("id", "expected key=value fields"),
    ],
)
def test_parse_secret_errors(spec: str, message: str) -> None:
    with pytest.raises(BumperError, match=message):
        parse_secret(spec)


def test_a_secret_value_is_never_in_its_repr_nor_on_a_command_line() -> None:
    secret = BuildSecret(id="tok", value="hunter2-value")
    assert "hunter2" not in repr(secret)
    assert secret.spec("BUMPER_BUILD_SECRET_0") == "id=tok,env=BUMPER_BUILD_SECRET_0"


@pytest.mark.parametrize(
    ("option", "spec", "kind", "attrs"),
    [
        ("--cache-from", "ghcr.io/acme/app:cache", "registry", {"ref": "ghcr.io/acme/app:cache"}),
        ("--cache-from", "type=registry,ref=r:c", "registry", {"ref": "r:c"}),
        ("--cache-from", "type=local,src=/tmp/c", "local", {"src": "/tmp/c"}),
        ("--cache-from", "type=gha,scope=app", "gha", {"scope": "app"}),
        ("--cache-to", "type=inline", "inline", {}),
        ("--cache-to", "type=registry,ref=r:c,mode=max", "registry", {"ref": "r:c", "mode": "max"}),
        ("--cache-to", "type=local,dest=/tmp/c", "local", {"dest": "/tmp/c"}),
        ("--cache-to", "type=gha,mode=max", "gha", {"mode": "max"}),
    ],
)
def test_parse_cache(option: str, spec: str, kind: str, attrs: dict[str, str]) -> None:
    parsed = parse_cache(option, spec)
    assert (parsed.type, dict(parsed.attrs), parsed.text) == (kind, attrs, spec)


@pytest.mark.parametrize(
    ("option", "spec", "message"),
    [
        ("--cache-to", "type=bogus", "unknown cache type 'bogus'"),
        ("--cache-to", "mode=max", "give type=registry|local|gha|inline"),
        ("--cache-to", "type=registry", "type=registry needs ref=IMAGE"),
        ("--cache-to", "type=local,src=/x", "type=local needs dest=DIR"),
        ("--cache-from", "type=local,dest=/x", "type=local needs src=DIR"),
        ("--cache-from", "type=inline", "inline cache is read with type=registry,ref=IMAGE"),
    ],
)
def test_parse_cache_errors(option: str, spec: str, message: str) -> None:
    with pytest.raises(BumperError, match=message):
        parse_cache(option, spec)


# --- what each builder may be asked ----------------------------------------------------------

BUILDX_BUILDER = Builder(BUILDX, "/usr/bin/docker", "v0.12.1")
ENGINE_BUILDER = Builder(ENGINE, "/usr/bin/docker", "20.10.24")
SDK_BUILDER = Builder(SDK, reason="DOCKER_BUILDKIT=0")
ENGINE_NAME = "the engine's BuildKit (DOCKER_BUILDKIT=1 /usr/bin/docker build)"
SDK_NAME = "the docker SDK's legacy builder"
IN_ACTIONS = {"GITHUB_ACTIONS": "true", "ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_CACHE_URL": "u"}

# (options, {builder: the error, or None when it can}), env outside Actions.
CAPABILITIES: list[tuple[dict[str, Any], dict[Builder, str | None]]] = [
    (
        {"platform": "linux/amd64,linux/arm64"},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: "--platform linux/amd64,linux/arm64: several platforms need docker "
            f"buildx; {ENGINE_NAME} builds one platform",
            SDK_BUILDER: "--platform linux/amd64,linux/arm64: several platforms need docker "
            f"buildx; {SDK_NAME} builds one platform",
        },
    ),
    ({"platform": "linux/amd64"}, {BUILDX_BUILDER: None, ENGINE_BUILDER: None, SDK_BUILDER: None}),
    (
        {"build_contexts": {"lib": "../lib"}},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: f"--build-context needs docker buildx; {ENGINE_NAME} cannot do it",
            SDK_BUILDER: f"--build-context needs docker buildx; {SDK_NAME} cannot do it",
        },
    ),
    (
        {"provenance": "mode=max"},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: f"--provenance needs docker buildx; {ENGINE_NAME} cannot do it",
            SDK_BUILDER: f"--provenance needs docker buildx; {SDK_NAME} cannot do it",
        },
    ),
    (
        {"sbom": "true"},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: f"--sbom needs docker buildx; {ENGINE_NAME} cannot do it",
            SDK_BUILDER: f"--sbom needs docker buildx; {SDK_NAME} cannot do it",
        },
    ),
    (
        {"secrets": (BuildSecret(id="tok", env="TOKEN"),)},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: None,
            SDK_BUILDER: f"--secret needs BuildKit; {SDK_NAME} cannot do it",
        },
    ),
    (
        {"ssh": ("default",)},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: None,
            SDK_BUILDER: f"--ssh needs BuildKit; {SDK_NAME} cannot do it",
        },
    ),
    (
        {"cache_from": ("ghcr.io/acme/app:cache", "type=registry,ref=ghcr.io/acme/app:c2")},
        {BUILDX_BUILDER: None, ENGINE_BUILDER: None, SDK_BUILDER: None},
    ),
    (
        {"cache_from": ("type=local,src=/tmp/cache",)},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: f"--cache-from type=local,src=/tmp/cache: {ENGINE_NAME} reads only "
            "image references (type=registry,ref=IMAGE); docker buildx reads local and gha caches",
            SDK_BUILDER: f"--cache-from type=local,src=/tmp/cache: {SDK_NAME} reads only image "
            "references (type=registry,ref=IMAGE); docker buildx reads local and gha caches",
        },
    ),
    (
        {"cache_to": ("type=inline",)},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: None,
            SDK_BUILDER: f"--cache-to type=inline: {SDK_NAME} exports no cache; "
            "docker buildx exports registry, local and gha caches",
        },
    ),
    (
        {"cache_to": ("type=registry,ref=r/app:cache,mode=max",)},
        {
            BUILDX_BUILDER: None,
            ENGINE_BUILDER: f"--cache-to type=registry,ref=r/app:cache,mode=max: {ENGINE_NAME} "
            "exports only type=inline; docker buildx exports registry, local and gha caches",
            SDK_BUILDER: f"--cache-to type=registry,ref=r/app:cache,mode=max: {SDK_NAME} "
            "exports no cache; docker buildx exports registry, local and gha caches",
        },
    ),
    (
        {"cache_to": ("type=gha,mode=max",)},
        {
            BUILDX_BUILDER: "--cache-to type=gha works only inside GitHub Actions",
            ENGINE_BUILDER: f"--cache-to type=gha,mode=max: {ENGINE_NAME} exports only "
            "type=inline; docker buildx exports registry, local and gha caches",
        },
    ),
    (
        {"network": "host", "pull": True, "no_cache": True},
        {BUILDX_BUILDER: None, ENGINE_BUILDER: None, SDK_BUILDER: None},
    ),
]


@pytest.mark.parametrize(
    ("given", "builder", "error"),
    [(given, builder, error) for given, table in CAPABILITIES for builder, error in table.items()],
)
def test_an_option_the_builder_cannot_do_is_one_line_naming_both(
    given: dict[str, Any], builder: Builder, error: str | None
) -> None:
    options = BuildOptions(image="app", tag="1.0.0", **given)
    if error is None:
        check_options(options, builder, {})
        return
    with pytest.raises(BumperError) as refused:
        check_options(options, builder, {})
    assert str(refused.value) == error


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({}, "--cache-from type=gha works only inside GitHub Actions"),
        ({"GITHUB_ACTIONS": "true"}, "--cache-from type=gha needs ACTIONS_RUNTIME_TOKEN"),
        (IN_ACTIONS, None),
    ],
)
def test_the_gha_cache_needs_the_actions_runtime(env: dict[str, str], error: str | None) -> None:
    options = BuildOptions(image="app", tag="1.0.0", cache_from=("type=gha,scope=app",))
    if error is None:
        check_options(options, BUILDX_BUILDER, env)
        return
    with pytest.raises(BumperError, match=error):
        check_options(options, BUILDX_BUILDER, env)


FULL_OPTIONS = BuildOptions(
    image="ghcr.io/acme/app",
    tag="1.2.0",
    extra_tags=("1.2", "latest"),
    context="/src/app",
    build_args={"VERSION": "1.2.0"},
    labels={"team": "web"},
    target="runtime",
    platform="linux/amd64",
    pull=True,
    no_cache=True,
    network="host",
    cache_from=("type=registry,ref=ghcr.io/acme/app:cache",),
    cache_to=("type=inline",),
    ssh=("default",),
)


def test_the_buildx_command_line() -> None:
    argv = command(
        FULL_OPTIONS,
        BUILDX_BUILDER,
        dockerfile=Path("/src/app/Dockerfile"),
        labels={"team": "web"},
        tags=("1.2.0", "1.2", "latest"),
        secret_specs=["id=npm,src=/run/npmrc"],
        report_file=Path("/tmp/m.json"),
    )
    assert argv == [
        "/usr/bin/docker", "buildx", "build", "--progress=plain",
        "--file=/src/app/Dockerfile", "--metadata-file=/tmp/m.json",
        "--tag=ghcr.io/acme/app:1.2.0", "--tag=ghcr.io/acme/app:1.2",
        "--tag=ghcr.io/acme/app:latest", "--build-arg=VERSION=1.2.0", "--label=team=web",
        "--target=runtime", "--platform=linux/amd64", "--pull", "--no-cache", "--network=host",
        "--cache-from=type=registry,ref=ghcr.io/acme/app:cache", "--cache-to=type=inline",
        "--secret=id=npm,src=/run/npmrc", "--ssh=default", "--push", "/src/app",
    ]  # fmt: skip


def test_the_buildx_command_line_for_attestations_contexts_and_platforms_without_push() -> None:
    options = BuildOptions(
        image="app",
        tag="1",
        context="/src",
        platform="linux/amd64,linux/arm64",
        build_contexts={"lib": "/src/lib"},
        provenance="mode=max",
        sbom="true",
        push=False,
    )
    argv = command(
        options, BUILDX_BUILDER, dockerfile=Path("/src/Dockerfile"), labels={}, tags=("1",),
        secret_specs=[], report_file=Path("/tmp/m.json"),
    )  # fmt: skip
    assert argv == [
        "/usr/bin/docker", "buildx", "build", "--progress=plain", "--file=/src/Dockerfile",
        "--metadata-file=/tmp/m.json", "--tag=app:1", "--platform=linux/amd64,linux/arm64",
        "--build-context=lib=/src/lib", "--provenance=mode=max", "--sbom=true",
        # Several platforms cannot be loaded into the engine: no --load, and no --push.
        "/src",
    ]  # fmt: skip


def test_the_engine_buildkit_command_line() -> None:
    argv = command(
        FULL_OPTIONS,
        ENGINE_BUILDER,
        dockerfile=Path("/src/app/Dockerfile"),
        labels={"team": "web"},
        tags=("1.2.0", "1.2"),
        secret_specs=["id=tok,env=TOKEN"],
        report_file=Path("/tmp/iid"),
    )
    assert argv == [
        "/usr/bin/docker", "build", "--progress=plain", "--file=/src/app/Dockerfile",
        "--iidfile=/tmp/iid", "--tag=ghcr.io/acme/app:1.2.0", "--tag=ghcr.io/acme/app:1.2",
        "--build-arg=VERSION=1.2.0", "--label=team=web", "--target=runtime",
        "--platform=linux/amd64", "--pull", "--no-cache", "--network=host",
        # The engine reads a registry cache by its image reference, and writes inline cache
        # metadata when the build argument asks.
        "--cache-from=ghcr.io/acme/app:cache", "--build-arg=BUILDKIT_INLINE_CACHE=1",
        "--secret=id=tok,env=TOKEN", "--ssh=default", "/src/app",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("# syntax=docker/dockerfile:1\nFROM a\n", (1, "docker/dockerfile:1")),
        ("# escape=`\n#syntax = r/front:2\nFROM a\n", (2, "r/front:2")),
        ("FROM a\n# syntax=docker/dockerfile:1\n", None),
        ("FROM a\n", None),
    ],
)
def test_syntax_directive_only_at_the_top(
    tmp_path: Path, text: str, found: tuple[int, str] | None
) -> None:
    (tmp_path / "Dockerfile").write_text(text)
    assert syntax_directive(tmp_path / "Dockerfile") == found


def test_plain_progress_finds_the_failing_step_its_error_and_output() -> None:
    """Lines as the engine's BuildKit prints them (20.10 client, --progress=plain)."""
    tracker = PlainProgress()
    for line in [
        "#5 [2/3] RUN echo fine",
        "#5 sha256:3698506f67a881be02512c3354aceb92683aa2e7c8a270cbf50ba7ce1537c85a",
        "#5 0.040 fine",
        "#5 DONE 0.0s",
        "#6 [3/3] RUN make",
        "#6 0.029 compiling",
        "#6 0.029 error: missing semicolon",
        "#6 ERROR: executor failed running [/bin/sh -c make]: exit code: 3",
        "------",
        " > [3/3] RUN make:",
        "------",
        "executor failed running [/bin/sh -c make]: exit code: 3",
    ]:
        tracker.feed(line)
    assert tracker.message() == (
        "[3/3] RUN make",
        "executor failed running [/bin/sh -c make]: exit code: 3",
        ["compiling", "error: missing semicolon"],
    )


def test_buildx_logs_in_through_a_private_copy_of_the_docker_config(tmp_path: Path) -> None:
    """--username with buildx: a temporary DOCKER_CONFIG mirrors the user's (builders stay)
    with this registry's login; the user's own files are never written."""
    user = tmp_path / "docker"
    (user / "buildx").mkdir(parents=True)
    original = {
        "auths": {"ghcr.io": {"auth": "b2xkOm9sZA=="}, "other.io": {"auth": "eDp5"}},
        "credHelpers": {"ghcr.io": "gcloud", "gcr.io": "gcloud"},
    }
    (user / "config.json").write_text(json.dumps(original))
    with login_config("ghcr.io", "me", "pw-secret", {"DOCKER_CONFIG": str(user)}) as folder:
        config = json.loads((Path(folder) / "config.json").read_text())
        assert config["auths"] == {
            "ghcr.io": {"auth": "bWU6cHctc2VjcmV0"},
            "other.io": {"auth": "eDp5"},
        }
        assert config["credHelpers"] == {"gcr.io": "gcloud"}
        assert (Path(folder) / "buildx").resolve() == user / "buildx"
        assert (Path(folder) / "config.json").stat().st_mode & 0o077 == 0
    assert not Path(folder).exists()
    assert json.loads((user / "config.json").read_text()) == original


def test_buildx_login_refuses_a_credential_store_it_would_bypass(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"credsStore": "desktop"}')
    refused = pytest.raises(BumperError, match=re.escape("run `docker login ghcr.io` instead"))
    with refused, login_config("ghcr.io", "me", "pw", {"DOCKER_CONFIG": str(tmp_path)}):
        pass


@pytest.mark.parametrize(
    ("builder", "report", "image_id", "digest"),
    [
        (ENGINE_BUILDER, "sha256:1d\n", "sha256:1d", None),
        (
            BUILDX_BUILDER,
            '{"containerimage.config.digest": "sha256:c0", "containerimage.digest": "sha256:d1"}',
            "sha256:c0",
            "sha256:d1",
        ),
        # An index for several platforms has no one config: its digest names it.
        (BUILDX_BUILDER, '{"containerimage.digest": "sha256:d2"}', "sha256:d2", "sha256:d2"),
    ],
)
def test_what_the_cli_reports_after_a_build(
    tmp_path: Path, builder: Builder, report: str, image_id: str, digest: str | None
) -> None:
    (tmp_path / "report").write_text(report)
    assert read_report(builder, tmp_path / "report") == CliBuild(image_id, digest)


# --- which builder this machine has ---------------------------------------------------------


def test_docker_buildkit_0_selects_the_legacy_builder() -> None:
    assert select_builder(None, {"DOCKER_BUILDKIT": "0"}) == SDK_BUILDER


def test_a_docker_cli_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BumperError, match=f"docker CLI {tmp_path / 'docker'} not found"):
        select_builder(str(tmp_path / "docker"), dict(os.environ))


@pytest.mark.docker
def test_the_engines_own_client_drives_its_buildkit_when_there_is_no_buildx(
    docker_client: Any,
) -> None:
    """Debian's engine with its matching /usr/bin/docker; a newer docker first on PATH
    cannot drive BuildKit without the buildx plugin, so it is not the one chosen."""
    builder = select_builder(None, dict(os.environ))
    if builder.kind == BUILDX:
        pytest.skip("the buildx plugin is installed: buildx is the builder")
    if not os.access("/usr/bin/docker", os.X_OK):
        missing("Debian's docker CLI /usr/bin/docker is not installed")
    assert builder.kind == ENGINE
    assert builder.cli == "/usr/bin/docker"
    assert builder.describe().startswith(
        "builder: the engine's BuildKit (DOCKER_BUILDKIT=1 /usr/bin/docker build, docker CLI "
    )


# --- real builds on the engine's BuildKit ----------------------------------------------------


@pytest.fixture(name="buildkit")
def buildkit_fixture(docker_client: Any, monkeypatch: pytest.MonkeyPatch) -> Builder:
    """This machine's BuildKit builder (the engine's here; buildx where it is installed)."""
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    builder = select_builder(None, dict(os.environ))
    if builder.kind == SDK:
        missing(f"no BuildKit builder ({builder.reason})")
    return builder


def project(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


def _get(host: str, path: str) -> bytes:
    request = urllib.request.Request(f"http://{host}{path}", headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def registry_blobs(host: str, repo: str, reference: str) -> list[bytes]:
    """Every byte the registry holds for ``repo:reference``: the manifest (and an index's
    manifests), the image config and each layer, decompressed."""
    body = _get(host, f"/v2/{repo}/manifests/{reference}")
    manifest = json.loads(body)
    blobs = [body]
    for entry in manifest.get("manifests", []):
        blobs += registry_blobs(host, repo, entry["digest"])
    for descriptor in [manifest.get("config"), *manifest.get("layers", [])]:
        if descriptor:
            blob = _get(host, f"/v2/{repo}/blobs/{descriptor['digest']}")
            blobs.append(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
    return blobs


def layer_files(host: str, repo: str, tag: str) -> dict[str, bytes]:
    """The files in an image's layers (the last layer that writes a path wins)."""
    import io
    import tarfile

    files: dict[str, bytes] = {}
    manifest = json.loads(_get(host, f"/v2/{repo}/manifests/{tag}"))
    for layer in manifest["layers"]:
        blob = _get(host, f"/v2/{repo}/blobs/{layer['digest']}")
        with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    files[member.name] = extracted.read()
    return files


@pytest.mark.docker
def test_a_cache_mount_is_kept_from_one_build_to_the_next(
    tmp_path: Path, buildkit: Builder, docker_client: Any, docker_config: Path
) -> None:
    """Build 2 runs the step again (another RUN_ID) and finds what build 1 wrote in the cache."""
    cache_id = f"bumper-test-{uuid.uuid4().hex[:10]}"
    project(
        tmp_path,
        "FROM bumper-test/busybox\nARG RUN_ID\n"
        f"RUN --mount=type=cache,id={cache_id},target=/cache "
        "sh -c 'echo \"$RUN_ID\" >> /cache/runs && cp /cache/runs /runs'\n",
    )
    image = f"bumper-test/cache-{cache_id}"
    for run_id in ("first", "second"):
        result = run(
            "build", f"{image}:{run_id}", "--no-push", "--context", str(tmp_path),
            "--build-arg", f"RUN_ID={run_id}", *NETWORK,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert run_image(docker_client, f"{image}:first", "cat", "/runs") == "first\n"
    assert run_image(docker_client, f"{image}:second", "cat", "/runs") == "first\nsecond\n"


SECRET_DOCKERFILE = """\
FROM bumper-test/busybox
RUN --mount=type=secret,id=token --mount=type=secret,id=npmrc \\
    sha256sum /run/secrets/token /run/secrets/npmrc | cut -d' ' -f1 > /proof \\
    && echo "printed by the step: $(cat /run/secrets/token)"
"""


@pytest.mark.docker
def test_secrets_reach_the_run_and_no_layer_no_log_line(
    tmp_path: Path,
    buildkit: Builder,
    docker_client: Any,
    registry: Registry,
    docker_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    npmrc = f"//npm.example/:_authToken=npm-{uuid.uuid4().hex}\nalways-auth=true\n"
    (tmp_path / "npmrc").write_text(npmrc)
    monkeypatch.setenv("APP_TOKEN", token)
    repo = unique_repo()
    context = project(tmp_path / "app", SECRET_DOCKERFILE)
    result = run(
        "build", f"{REGISTRY}/{repo}:1.0.0", "--context", str(context),
        "--secret", "id=token,env=APP_TOKEN", "--secret", f"id=npmrc,src={tmp_path / 'npmrc'}",
        "--no-cache", *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # It reached the RUN: the image holds the secrets' hashes, never the secrets.
    proof = layer_files(REGISTRY, repo, "1.0.0")["proof"].decode().split()
    assert proof == [hashlib.sha256(text.encode()).hexdigest() for text in (token, npmrc)]
    # In no layer, no config, no manifest, no history entry.
    blobs = registry_blobs(REGISTRY, repo, "1.0.0")
    history = json.dumps(docker_client.history(f"{REGISTRY}/{repo}:1.0.0")).encode()
    for secret in (token, *npmrc.splitlines()):
        assert all(secret.encode() not in blob for blob in [*blobs, history])
    # In no output, even where the step printed it.
    assert "printed by the step: ***" in result.stderr
    assert token not in result.output and "npm-" not in result.output
    assert result.stdout.splitlines()[-1].endswith(f"@{registry.manifest_digest(repo, '1.0.0')}")


@pytest.mark.docker
def test_a_failing_step_that_prints_a_secret_fails_without_showing_it(
    tmp_path: Path, buildkit: Builder, docker_client: Any, docker_config: Path
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    (tmp_path / "token").write_text(token)
    context = project(
        tmp_path / "app",
        "FROM bumper-test/busybox\n"
        'RUN --mount=type=secret,id=token echo "bad $(cat /run/secrets/token)" && exit 4\n',
    )
    result = run(
        "build", "bumper-test/secret-fail:1", "--no-push", "--context", str(context),
        "--secret", f"id=token,src={tmp_path / 'token'}", *NETWORK,
    )  # fmt: skip
    line = error_line(result)
    assert line.startswith("bumper: error: build failed at [2/2] RUN --mount=type=secret")
    assert line.endswith("output tail: bad ***")
    assert token not in result.output


@pytest.mark.docker
def test_secrets_are_masked_first_in_github_actions(
    tmp_path: Path, buildkit: Builder, docker_client: Any, docker_config: Path
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    context = project(
        tmp_path,
        "FROM bumper-test/busybox\n"
        'RUN --mount=type=secret,id=t echo "token: $(cat /run/secrets/t)"\n',
    )
    result = run(
        "build", "bumper-test/masked:1", "--no-push", "--context", str(context),
        "--secret", "id=t,env=MASKED_TOKEN", "--no-cache", *NETWORK,
        env={"GITHUB_ACTIONS": "true", "MASKED_TOKEN": token},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"::add-mask::{token}"
    # The step printed it (a secret's content is no part of BuildKit's cache key, so
    # --no-cache makes it run); bumper scrubbed it too.
    assert any(line.endswith("token: ***") for line in lines)
    assert token not in "\n".join(lines[1:]) + result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--secret", "id=t,env=BUMPER_TEST_UNSET"], "environment variable BUMPER_TEST_UNSET"),
        (["--secret", "id=t,src=/no/such/secret"], "cannot read src=/no/such/secret"),
    ],
)
def test_a_missing_secret_is_one_line_before_anything_is_built(
    tmp_path: Path, args: list[str], message: str
) -> None:
    project(tmp_path, "FROM bumper-test/busybox\n")
    env = {"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    line = error_line(run("build", "app:1", "--context", str(tmp_path), *args, env=env))
    assert message in line


MULTI_STAGE = """\
FROM bumper-test/busybox AS deps
RUN --mount=type=cache,target=/root/.cache echo deps > /deps

FROM deps AS test
RUN echo test-stage-ran && cp /deps /tested

FROM bumper-test/busybox AS runtime
COPY --from=deps /deps /deps
RUN echo runtime-stage-ran
"""


@pytest.mark.docker
@pytest.mark.parametrize(
    ("target", "ran", "skipped", "files"),
    [
        ("test", "test-stage-ran", "runtime-stage-ran", {"deps", "tested"}),
        ("runtime", "runtime-stage-ran", "test-stage-ran", {"deps"}),
    ],
)
def test_target_builds_only_the_stages_it_needs(
    tmp_path: Path,
    buildkit: Builder,
    docker_client: Any,
    registry: Registry,
    docker_config: Path,
    target: str,
    ran: str,
    skipped: str,
    files: set[str],
) -> None:
    repo = unique_repo()
    context = project(tmp_path, MULTI_STAGE)
    result = run(
        "build", f"{REGISTRY}/{repo}:{target}", "--target", target, "--context", str(context),
        *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ran in result.stderr
    assert skipped not in result.stderr
    written = set(layer_files(REGISTRY, repo, target)) & {"deps", "tested"}
    assert written == files


@pytest.mark.docker
def test_a_syntax_frontend_that_cannot_be_pulled_is_one_clear_line(
    tmp_path: Path, buildkit: Builder, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    frontend = f"{REGISTRY}/bumper-test/no-such-frontend-{uuid.uuid4().hex[:8]}:1"
    context = project(tmp_path, f"# syntax={frontend}\nFROM bumper-test/busybox\n")
    line = error_line(
        run("build", "bumper-test/frontend:1", "--no-push", "--context", str(context))
    )
    assert line.startswith(
        f"bumper: error: {context / 'Dockerfile'}:1: the Dockerfile frontend {frontend} named "
        f"by its '# syntax=' line cannot be used by {buildkit.name}: "
    )
    assert "not found" in line
    assert line.endswith(
        "make that image pullable, or remove the line to use the builder's built-in frontend"
    )


@pytest.mark.docker
def test_inline_cache_metadata_is_written_into_the_pushed_image(
    tmp_path: Path, buildkit: Builder, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    context = project(tmp_path, "FROM bumper-test/busybox\nRUN echo cached > /c\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1", "--cache-to", "type=inline",
        "--cache-from", f"{REGISTRY}/{repo}:1", "--context", str(context), *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "moby.buildkit.cache.v0" in registry.config(repo, "1")


@pytest.mark.docker
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "linux/amd64", "--platform", "linux/arm64"], "several platforms need"),
        (["--cache-to", "type=local,dest=/tmp/c"], "exports only type=inline"),
        (["--build-context", "lib=."], "--build-context needs docker buildx"),
        (["--provenance", "mode=max"], "--provenance needs docker buildx"),
        (["--sbom", "true"], "--sbom needs docker buildx"),
    ],
)
def test_the_engines_buildkit_refuses_what_only_buildx_does(
    tmp_path: Path,
    buildkit: Builder,
    docker_client: Any,
    registry: Registry,
    docker_config: Path,
    args: list[str],
    message: str,
) -> None:
    if buildkit.kind == BUILDX:
        pytest.skip("the buildx plugin is installed: it does all of these")
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    result = run("build", f"{REGISTRY}/{repo}:1", "--context", str(tmp_path), *args)
    line = error_line(result)
    assert message in line and ENGINE_NAME in line
    assert registry.tags(repo) == []


@pytest.mark.docker
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--secret", "id=t,env=PATH"], "--secret"),
        (["--ssh", "default"], "--ssh"),
        (["--cache-to", "type=inline"], "--cache-to type=inline"),
    ],
)
def test_the_legacy_builder_refuses_what_needs_buildkit(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path, args: list[str],
    flag: str,
) -> None:  # fmt: skip
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1", "--context", str(tmp_path), *args,
        env={"DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    line = error_line(result)
    assert line.startswith(f"bumper: error: {flag}")
    assert SDK_NAME in line
    assert registry.tags(repo) == []


# --- buildx: runs where the plugin answers ---------------------------------------------------


@pytest.fixture(name="buildx")
def buildx_fixture(buildkit: Builder) -> Builder:
    if buildkit.kind != BUILDX:
        pytest.skip(
            "docker buildx is not installed here (Debian's docker.io 20.10 has no buildx "
            "plugin); these run where it is, e.g. on GitHub's runners"
        )
    return buildkit


@pytest.mark.docker
def test_buildx_pushes_every_tag_and_reports_the_registrys_digest(
    tmp_path: Path, buildx: Builder, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\nRUN echo buildx > /b\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1.0.0", "--tag", "1.0", "--context", str(tmp_path),
        "--output", "json", *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    digest = registry.manifest_digest(repo, "1.0.0")
    assert document["builder"] == BUILDX
    assert document["digest"] == digest == registry.manifest_digest(repo, "1.0")
    assert document["ref"] == f"{REGISTRY}/{repo}:1.0.0@{digest}"


@pytest.mark.docker
def test_buildx_named_build_context(
    tmp_path: Path, buildx: Builder, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shared.txt").write_text("from the lib context\n")
    context = project(tmp_path / "app", "FROM bumper-test/busybox\nCOPY --from=lib shared.txt /\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1", "--context", str(context),
        "--build-context", f"lib={tmp_path / 'lib'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert layer_files(REGISTRY, repo, "1")["shared.txt"] == b"from the lib context\n"


# --- end to end: one `bumper release` -------------------------------------------------------

RELEASE_DOCKERFILE = """\
FROM bumper-test/busybox AS build
RUN --mount=type=cache,id={cache_id},target=/cache \\
    --mount=type=secret,id=deploy_token \\
    sh -c 'date >> /cache/builds; wc -l < /cache/builds > /builds \\
      && sha256sum /run/secrets/deploy_token | cut -d" " -f1 > /token.sha256'

FROM bumper-test/busybox
COPY --from=build /builds /token.sha256 /
"""


@pytest.mark.docker
def test_release_builds_a_buildkit_dockerfile_pushes_and_bumps_in_one_command(
    tmp_path: Path,
    buildkit: Builder,
    docker_client: Any,
    registry: Registry,
    docker_config: Path,
    run_bumper: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cache mount and a secret, built, pushed and bumped by `bumper release`; the digest
    printed last is the registry's, and the secret is in no layer."""
    repo = unique_repo()
    token = f"deploy-{uuid.uuid4().hex}"
    monkeypatch.setenv("DEPLOY_TOKEN", token)
    project(tmp_path / "app", RELEASE_DOCKERFILE.format(cache_id=f"bumper-{uuid.uuid4().hex[:10]}"))
    (tmp_path / "k8s").mkdir()
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: app  # the web app\n"
        f"          image: {REGISTRY}/{repo}:0.9.0\n"
    )
    (tmp_path / "k8s" / "deploy.yaml").write_text(deployment)
    result = run_bumper(
        "release", f"{REGISTRY}/{repo}:1.0.0", "--context", "app", "k8s", "--pin-digest",
        "--secret", "id=deploy_token,env=DEPLOY_TOKEN", "--network", "host",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    digest = registry.manifest_digest(repo, "1.0.0")
    ref = f"{REGISTRY}/{repo}:1.0.0@{digest}"
    assert result.stdout.splitlines()[-1] == ref
    assert (tmp_path / "k8s" / "deploy.yaml").read_text() == deployment.replace(
        f"{REGISTRY}/{repo}:0.9.0", ref
    )
    files = layer_files(REGISTRY, repo, "1.0.0")
    assert files["builds"] == b"1\n"
    assert files["token.sha256"].decode().strip() == hashlib.sha256(token.encode()).hexdigest()
    assert all(token.encode() not in blob for blob in registry_blobs(REGISTRY, repo, "1.0.0"))
    assert token not in result.output
