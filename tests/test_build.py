"""`bumper build` and `bumper release`: tags, labels, errors, and real builds pushed to a real
registry whose API is read back to check the digest bumper reports."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from bumper.build.buildkit import select_builder
from bumper.build.dockerfile import buildkit_features
from bumper.build.engine import oci_labels
from bumper.build.source import SourceContext, source_context, version_from_tags, web_url
from bumper.build.tags import (
    auto_tag,
    lowercase_name,
    resolve_tag,
    resolve_tags,
    sanitize_tag,
    split_name,
)
from bumper.cli.build import build_command, release_command
from bumper.edit.reference import ReferenceError, parse_reference
from bumper.errors import BumperError
from tests.docker_fixtures import (  # noqa: F401 (the *_fixture names register fixtures)
    REGISTRY,
    Registry,
    auth_registry_fixture,
    docker_client_fixture,
    docker_config_fixture,
    free_port,
    git,
    missing,
    registry_fixture,
    run_image,
    unique_repo,
)

cli = click.Group("bumper", commands=[build_command, release_command])


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def error_line(result: Result) -> str:
    """The one error line; the command must fail with exactly one stderr line and no stdout."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("bumper: error: ")
    return lines[-1]


def project(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


# --- names and tags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "name", "tag"),
    [
        ("ghcr.io/acme/app:1.4.2", "ghcr.io/acme/app", "1.4.2"),
        ("ghcr.io/acme/app", "ghcr.io/acme/app", None),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app", None),
        ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app", "v2"),
        ("nginx:Feature_X", "nginx", "Feature_X"),
    ],
)
def test_split_name_keeps_the_name_and_the_tag(reference: str, name: str, tag: str | None) -> None:
    assert split_name(reference) == (name, tag)


@pytest.mark.parametrize(
    "reference",
    ["bad name", "team//app", "-app", "app_:1", "NC1/App", "ghcr.io/Acme/App:1.0", "app:Bad Tag!"],
)
def test_split_name_refuses_with_the_reference_grammars_own_message(reference: str) -> None:
    """One grammar: `bumper build` refuses exactly what set-image refuses, in the same words."""
    with pytest.raises(ReferenceError) as expected:
        parse_reference(reference)
    with pytest.raises(BumperError) as refused:
        split_name(reference)
    assert str(refused.value) == str(expected.value)


def test_split_name_refuses_a_digest() -> None:
    with pytest.raises(BumperError, match="give NAME\\[:TAG\\] to build, not a digest"):
        split_name("app@sha256:" + "a" * 64)


@pytest.mark.parametrize(
    ("reference", "lowered"),
    [
        ("ghcr.io/Acme/App", "ghcr.io/acme/app"),
        ("ghcr.io/Acme/App:Feature_X", "ghcr.io/acme/app:Feature_X"),
        ("127.0.0.1:5000/Team/App", "127.0.0.1:5000/team/app"),
    ],
)
def test_lowercase_name_is_for_front_doors_that_promise_it(reference: str, lowered: str) -> None:
    assert lowercase_name(reference) == lowered


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("1.4.2", "1.4.2"),
        ("feature/login", "feature-login"),
        ("Feature_Branch", "Feature_Branch"),
        ("fix #12: crash", "fix--12--crash"),
        ("renovate/node-20.x", "renovate-node-20.x"),
        (".hidden", "hidden"),
        ("-dash", "dash"),
        ("ünïcode", "n-code"),
        ("a:b@c", "a-b-c"),
        ("x" * 200, "x" * 128),
    ],
)
def test_sanitize_tag(raw: str, clean: str) -> None:
    assert sanitize_tag(raw) == clean


@pytest.mark.parametrize("raw", ["", "...", "--"])
def test_sanitize_tag_refuses_an_empty_result(raw: str) -> None:
    with pytest.raises(BumperError, match="no valid characters"):
        sanitize_tag(raw)


@pytest.mark.parametrize(
    ("tags", "version"),
    [
        ((), None),
        (("release", "v1"), None),
        (("v1.4.2",), "1.4.2"),
        (("v1.4.2-rc.1", "v1.4.2"), "1.4.2"),
        (("v1.10.0", "v1.9.0"), "1.10.0"),
        (("v2.0.0+build.5",), "2.0.0+build.5"),
        (("1.4.2",), None),
        (("v1.2.3.4",), "1.2.3.4"),
        (("v1.2.3.4", "v1.2.3"), "1.2.3"),
    ],
)
def test_version_from_tags(tags: tuple[str, ...], version: str | None) -> None:
    assert version_from_tags(tags) == version


@pytest.mark.parametrize(
    ("reference", "tag_option", "context", "expected"),
    [
        ("app:1.0.0", None, None, ("app", "1.0.0")),
        ("app", "2.0.0", None, ("app", "2.0.0")),
        ("app:2.0.0", "2.0.0", None, ("app", "2.0.0")),
        (
            "app",
            "auto",
            SourceContext(commit="0123456789abcdef", tags=("v3.1.0",)),
            ("app", "3.1.0"),
        ),
        ("app", "auto", SourceContext(commit="0123456789abcdef"), ("app", "sha-0123456")),
        # A tag bumper derives is sanitised (build metadata has a '+').
        (
            "app",
            "auto",
            SourceContext(commit="0123", tags=("v2.0.0+build.5",)),
            ("app", "2.0.0-build.5"),
        ),
    ],
)
def test_resolve_tag(
    reference: str, tag_option: str | None, context: SourceContext | None, expected: tuple[str, str]
) -> None:
    assert resolve_tag(reference, tag_option, context) == expected


@pytest.mark.parametrize(
    ("reference", "tag_option", "message"),
    [
        ("app", None, "no tag for app"),
        ("app:1.0.0", "2.0.0", "two tags given"),
        ("app", "auto", "--tag auto needs a git commit"),
        # A tag the user wrote is checked, never rewritten.
        ("app", "Bad Tag!", "invalid tag 'Bad Tag!': a tag is 1-128 characters"),
        ("app", "feature/x", "invalid tag 'feature/x'"),
        ("app", ".hidden", "invalid tag '.hidden'"),
        ("app", "x" * 129, "invalid tag 'xxx"),
    ],
)
def test_resolve_tag_errors(reference: str, tag_option: str | None, message: str) -> None:
    with pytest.raises(BumperError, match=re.escape(message)):
        resolve_tag(reference, tag_option, SourceContext())


SHA = SourceContext(commit="0123456789abcdef")


@pytest.mark.parametrize(
    ("reference", "tag_options", "expected"),
    [
        ("app:1.0.0", (), ("1.0.0",)),
        ("app", ("1.0.0", "latest"), ("1.0.0", "latest")),
        ("app:1.0.0", ("latest", "stable"), ("1.0.0", "latest", "stable")),
        ("app:1.0.0", ("1.0.0", "latest"), ("1.0.0", "latest")),
        ("app", ("auto", "main"), ("sha-0123456", "main")),
        ("app", ("main", "auto", "main"), ("main", "sha-0123456")),
    ],
)
def test_resolve_tags_the_tag_in_the_name_then_each_tag_option(
    reference: str, tag_options: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    """The first tag is the one printed and deployed; the others name the same image."""
    assert resolve_tags(reference, tag_options, SHA) == ("app", expected)


@pytest.mark.parametrize(
    ("tag_options", "message"),
    [((), "no tag for app"), (("1.0.0", "Bad Tag!"), "invalid tag 'Bad Tag!'")],
)
def test_resolve_tags_errors(tag_options: tuple[str, ...], message: str) -> None:
    with pytest.raises(BumperError, match=re.escape(message)):
        resolve_tags("app", tag_options, SHA)


# --- where the build comes from: git and GitHub Actions ---------------------------------


def make_repo(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "Dockerfile").write_text("FROM bumper-test/busybox\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return git(root, "rev-parse", "HEAD")


def test_auto_tag_in_git_is_the_short_sha_without_a_version_tag(tmp_path: Path) -> None:
    commit = make_repo(tmp_path)
    git(tmp_path, "tag", "not-a-version")
    assert auto_tag(source_context(tmp_path, env={})) == f"sha-{commit[:7]}"


def test_auto_tag_in_git_uses_the_version_tag_on_the_commit(tmp_path: Path) -> None:
    make_repo(tmp_path)
    git(tmp_path, "tag", "-a", "v1.4.2-rc.1", "-m", "annotated")
    git(tmp_path, "tag", "v1.4.2")
    assert auto_tag(source_context(tmp_path, env={})) == "1.4.2"


def test_auto_tag_ignores_version_tags_on_older_commits(tmp_path: Path) -> None:
    make_repo(tmp_path)
    git(tmp_path, "tag", "v1.0.0")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "second")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert auto_tag(source_context(tmp_path, env={})) == f"sha-{head[:7]}"


def test_git_context_labels_come_from_the_commit_and_a_credential_free_origin(
    tmp_path: Path,
) -> None:
    commit = make_repo(tmp_path)
    git(
        tmp_path, "remote", "add", "origin", "https://x-access-token:s3cr3t@github.com/acme/app.git"
    )
    context = source_context(tmp_path, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert context == SourceContext(
        commit=commit,
        tags=(),
        source="https://github.com/acme/app",
        created="2023-11-14T22:13:20Z",
    )


def test_actions_pull_request_uses_the_head_commit_not_the_merge_commit(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": "feedface" + "0" * 32}}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": "bada55" + "0" * 34,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/app",
    }
    context = source_context(tmp_path, env=env)
    assert context.commit == "feedface" + "0" * 32
    assert context.source == "https://github.com/acme/app"
    assert auto_tag(context) == "sha-feedfac"


@pytest.mark.parametrize(
    ("ref", "tag"),
    [
        ("refs/tags/v2.0.0", "2.0.0"),
        ("refs/tags/nightly", "sha-abcdef0"),
        ("refs/heads/main", "sha-abcdef0"),
    ],
)
def test_actions_tag_comes_from_github_ref(tmp_path: Path, ref: str, tag: str) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "abcdef0" + "1" * 33, "GITHUB_REF": ref}
    assert auto_tag(source_context(tmp_path, env=env)) == tag


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:acme/app.git", "https://github.com/acme/app"),
        ("https://github.com/acme/app.git", "https://github.com/acme/app"),
        ("https://user:token@gitlab.example.com/g/sub/app", "https://gitlab.example.com/g/sub/app"),
        ("ssh://git@github.com:22/acme/app.git", "https://github.com/acme/app"),
        ("/srv/git/app.git", None),
    ],
)
def test_web_url_never_keeps_credentials(remote: str, url: str | None) -> None:
    assert web_url(remote) == url


def test_oci_labels_are_added_unless_the_user_sets_them() -> None:
    context = SourceContext(
        commit="c0ffee", source="https://github.com/acme/app", created="2024-01-01T00:00:00Z"
    )
    labels = oci_labels(
        context, "1.2.3", {"org.opencontainers.image.source": "https://x", "team": "a"}
    )
    assert labels == {
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.source": "https://x",
        "org.opencontainers.image.revision": "c0ffee",
        "org.opencontainers.image.created": "2024-01-01T00:00:00Z",
        "team": "a",
    }


# --- errors found before the engine is asked anything ---------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "found"),
    [
        ("FROM a\nRUN echo hi\nCOPY . /app\n", []),
        (
            "FROM a\nRUN --mount=type=cache,target=/root/.cache pip install x\n",
            [(2, "RUN --mount")],
        ),
        ("FROM a\nRUN --network=none make\n", [(2, "RUN --network")]),
        ("FROM a\nRUN \\\n  --mount=type=secret,id=npm npm ci\n", [(2, "RUN --mount")]),
        ("FROM a\nCOPY --link . /app\n", [(2, "COPY --link")]),
        ("FROM a\nCOPY --chmod=755 run.sh /\n", [(2, "COPY --chmod")]),
        ("FROM a\nCOPY --from=build /out /out\n", []),
        ("FROM a\nRUN <<EOF\necho hi\nEOF\n", [(2, "RUN with a heredoc")]),
        ("FROM a\nCOPY <<-'EOT' /etc/x.conf\nx\nEOT\n", [(2, "COPY with a heredoc")]),
        ("FROM a\nRUN cat <<< 'here-string' > /x\n", []),
        ("FROM a\n# RUN --mount=type=cache x\nRUN echo ok\n", []),
        ("# escape=`\nFROM a\nRUN `\n  --mount=type=cache,target=/c make\n", [(3, "RUN --mount")]),
        ("FROM a\nRUN echo --mount=not-a-flag\n", []),
    ],
)
def test_buildkit_features(dockerfile: str, found: list[tuple[int, str]]) -> None:
    assert buildkit_features(dockerfile) == found


def test_buildkit_dockerfile_is_refused_by_the_legacy_builder_with_the_way_out(
    tmp_path: Path,
) -> None:
    project(tmp_path, "FROM bumper-test/busybox\nRUN --mount=type=cache,target=/c echo hi\n")
    result = run(
        "build",
        "127.0.0.1:5000/acme/app:1.0.0",
        "--context",
        str(tmp_path),
        env={"DOCKER_BUILDKIT": "0"},
    )
    line = error_line(result)
    assert f"{tmp_path / 'Dockerfile'}:2:" in line
    assert "needs BuildKit (RUN --mount)" in line
    assert "the docker SDK's legacy builder (DOCKER_BUILDKIT=0)" in line
    assert "docker buildx plugin" in line
    assert "docker/build-push-action" in line
    assert "bumper set-image NAME:TAG@DIGEST" in line
    assert "builder: the docker SDK's legacy builder (DOCKER_BUILDKIT=0)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["NC1/App:1.0"],
            "invalid image reference 'NC1/App:1.0': repository name must be lowercase",
        ),
        (["app", "--tag", "Bad Tag!"], "invalid tag 'Bad Tag!'"),
        (["app:1.0", "--tag", "ok", "--tag", "no/slash"], "invalid tag 'no/slash'"),
    ],
)
def test_invalid_names_and_tags_are_refused_before_the_engine_is_asked(
    tmp_path: Path, args: list[str], message: str
) -> None:
    project(tmp_path, "FROM bumper-test/busybox\n")
    env = {"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    line = error_line(run("build", *args, "--context", str(tmp_path), env=env))
    assert line.startswith(f"bumper: error: {message}")


def test_build_and_set_image_refuse_an_uppercase_name_in_the_same_words(tmp_path: Path) -> None:
    from bumper.cli import main

    project(tmp_path, "FROM bumper-test/busybox\n")
    built = run("build", "NC1/App:1.0", "--context", str(tmp_path))
    set_image = CliRunner().invoke(main, ["set-image", "NC1/App:1.0", str(tmp_path)])
    assert set_image.exit_code == 1
    assert error_line(built) == set_image.stderr.strip().splitlines()[-1]


def test_missing_dockerfile(tmp_path: Path) -> None:
    line = error_line(run("build", "127.0.0.1:5000/acme/app:1.0.0", "--context", str(tmp_path)))
    assert line == f"bumper: error: Dockerfile not found: {tmp_path / 'Dockerfile'}"


def test_missing_named_dockerfile(tmp_path: Path) -> None:
    result = run("build", "app:1.0.0", "--context", str(tmp_path), "--file", str(tmp_path / "Nope"))
    assert error_line(result).endswith(f"Dockerfile not found: {tmp_path / 'Nope'}")


@pytest.mark.parametrize("args", [["app:latest"], ["app", "--tag", "latest"]])
def test_latest_is_refused_before_building(tmp_path: Path, args: list[str]) -> None:
    project(tmp_path, "FROM bumper-test/busybox\n")
    line = error_line(run("build", *args, "--context", str(tmp_path)))
    assert "refusing to push the mutable tag 'latest'" in line
    assert "--allow-latest" in line


def test_no_tag_at_all_is_an_error(tmp_path: Path) -> None:
    project(tmp_path, "FROM bumper-test/busybox\n")
    line = error_line(run("build", "app", "--context", str(tmp_path)))
    assert "no tag for app: give app:TAG or --tag auto|TAG" in line


def test_unreachable_engine_names_the_socket(tmp_path: Path) -> None:
    project(tmp_path, "FROM bumper-test/busybox\n")
    socket_path = tmp_path / "no-such.sock"
    result = run(
        "build",
        "app:1.0.0",
        "--no-push",
        "--context",
        str(tmp_path),
        env={"DOCKER_HOST": f"unix://{socket_path}"},
    )
    line = error_line(result)
    assert line.startswith(
        f"bumper: error: cannot reach the Docker engine at unix://{socket_path}: "
        "No such file or directory"
    )


def test_username_without_password_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUMPER_PASSWORD", raising=False)
    project(tmp_path, "FROM bumper-test/busybox\n")
    result = run(
        "build",
        "127.0.0.1:5000/acme/app:1.0.0",
        "--context",
        str(tmp_path),
        "--username",
        "me",
        env={"DOCKER_HOST": f"unix://{tmp_path / 'no.sock'}"},
    )
    assert error_line(result) == (
        "bumper: error: --username needs a password: --password-stdin or BUMPER_PASSWORD"
    )


# --- real builds, real pushes ---------------------------------------------------------------

APP_DOCKERFILE = """\
FROM bumper-test/busybox AS build
ARG GREETING=hello
RUN echo "$GREETING from build" > /greeting && echo "run-step-output $GREETING"
COPY app.txt /app.txt

FROM bumper-test/busybox
COPY --from=build /greeting /greeting
COPY --from=build /app.txt /app.txt
RUN echo final-stage-ran
CMD ["cat", "/greeting"]
"""

# This engine has no bridge network: BuildKit's RUN steps need the host's, as a user of
# such an engine would pass it (the legacy builder takes it too).
NETWORK = ("--network", "host")


@pytest.fixture(params=["buildkit", "sdk"], name="builder")
def builder_fixture(
    request: pytest.FixtureRequest, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run the test with BuildKit (the machine's) and with the SDK's legacy builder."""
    if request.param == "sdk":
        monkeypatch.setenv("DOCKER_BUILDKIT", "0")
        return "sdk"
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    kind = select_builder(None, os.environ).kind
    if kind == "sdk":
        missing("no BuildKit: neither docker buildx nor a docker CLI driving the engine's")
    return kind


@pytest.mark.docker
def test_build_push_reports_the_registry_digest(
    tmp_path: Path, builder: str, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    context = project(tmp_path / "app", APP_DOCKERFILE, {"app.txt": "v1\n"})
    result = run(
        "build",
        f"{REGISTRY}/{repo}:1.0.0",
        "--context",
        str(context),
        "--build-arg",
        "GREETING=bonjour",
        "--label",
        "team=payments",
        "--no-cache",
        *NETWORK,
    )
    assert result.exit_code == 0, result.output
    digest = registry.manifest_digest(repo, "1.0.0")
    assert digest is not None
    assert result.stdout.splitlines()[-1] == f"{REGISTRY}/{repo}:1.0.0@{digest}"
    assert registry.tags(repo) == ["1.0.0"]
    # One line says which builder; progress is readable lines on stderr, not raw JSON.
    said = [line for line in result.stderr.splitlines() if line.startswith("builder: ")]
    assert len(said) == 1
    assert ("legacy builder" in said[0]) == (builder == "sdk")
    assert "run-step-output bonjour" in result.stderr
    assert ("Step 1/" in result.stderr) == (builder == "sdk")
    assert "final-stage-ran" in result.stderr
    assert '{"stream"' not in result.stderr
    labels = registry.config(repo, "1.0.0")["config"]["Labels"]
    assert labels["team"] == "payments"
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert "org.opencontainers.image.created" in labels
    assert run_image(docker_client, f"{REGISTRY}/{repo}:1.0.0") == "bonjour from build\n"
    assert run_image(docker_client, f"{REGISTRY}/{repo}:1.0.0", "cat", "/app.txt") == "v1\n"


@pytest.mark.docker
def test_extra_tags_name_the_same_digest_and_latest_may_be_one_of_them(
    tmp_path: Path, builder: str, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\nRUN echo tagged > /t\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1.2.0", "--tag", "1.2", "--tag", "latest",
        "--context", str(tmp_path), "--output", "json", *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    digest = registry.manifest_digest(repo, "1.2.0")
    assert sorted(registry.tags(repo)) == ["1.2", "1.2.0", "latest"]
    assert {registry.manifest_digest(repo, tag) for tag in ("1.2", "latest")} == {digest}
    document = json.loads(result.stdout)
    assert document["ref"] == f"{REGISTRY}/{repo}:1.2.0@{digest}"
    assert document["tags"] == ["1.2.0", "1.2", "latest"]
    assert document["builder"] == builder


@pytest.mark.docker
def test_build_target_stops_at_the_named_stage(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    context = project(tmp_path, APP_DOCKERFILE, {"app.txt": "v1\n"})
    result = run(
        "build", f"{REGISTRY}/{repo}", "--tag", "build-stage", "--context", str(context),
        "--target", "build", "--output", "json", *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "final-stage-ran" not in result.stderr
    document = json.loads(result.stdout)
    digest = registry.manifest_digest(repo, "build-stage")
    assert document == {
        "image": f"{REGISTRY}/{repo}",
        "tag": "build-stage",
        "digest": digest,
        "image_id": docker_client.inspect_image(f"{REGISTRY}/{repo}:build-stage")["Id"],
        "ref": f"{REGISTRY}/{repo}:build-stage@{digest}",
        "tags": ["build-stage"],
        "builder": select_builder(None, os.environ).kind,
    }
    # The build stage has no CMD of its own: it still has the base image's shell.
    assert registry.config(repo, "build-stage")["config"]["Cmd"] == ["/bin/sh"]


@pytest.mark.docker
def test_dockerfile_outside_the_context_and_pushing_twice_is_stable(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    context = project(tmp_path / "ctx", "", {"app.txt": "v1\n"})
    (context / "Dockerfile").unlink()
    dockerfile = tmp_path / "docker" / "app.Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM bumper-test/busybox\nCOPY app.txt /app.txt\n")
    args = [
        "build",
        f"{REGISTRY}/{repo}:2.0.0",
        "--context",
        str(context),
        "--file",
        str(dockerfile),
    ]
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    first, second = run(*args, env=env), run(*args, env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    digest = registry.manifest_digest(repo, "2.0.0")
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
    assert first.stdout.splitlines()[-1].endswith(f"@{digest}")


@pytest.mark.docker
def test_tag_auto_in_a_git_repo_pushes_the_version_and_labels_the_revision(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    commit = make_repo(tmp_path)
    git(tmp_path, "tag", "v0.3.1")
    result = run("build", f"{REGISTRY}/{repo}", "--tag", "auto", "--context", str(tmp_path))
    assert result.exit_code == 0, result.output
    digest = registry.manifest_digest(repo, "0.3.1")
    assert result.stdout.splitlines()[-1] == f"{REGISTRY}/{repo}:0.3.1@{digest}"
    labels = registry.config(repo, "0.3.1")["config"]["Labels"]
    assert labels["org.opencontainers.image.revision"] == commit
    assert labels["org.opencontainers.image.version"] == "0.3.1"


@pytest.mark.docker
def test_no_push_builds_only(
    tmp_path: Path, builder: str, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\nRUN echo built > /x\n")
    result = run(
        "build", f"{REGISTRY}/{repo}:1.0.0", "--no-push", "--context", str(tmp_path), *NETWORK
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{REGISTRY}/{repo}:1.0.0\n"
    assert registry.tags(repo) == []
    assert docker_client.inspect_image(f"{REGISTRY}/{repo}:1.0.0")["Id"].startswith("sha256:")


@pytest.mark.docker
def test_latest_is_pushed_when_explicitly_allowed(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    result = run("build", f"{REGISTRY}/{repo}:latest", "--allow-latest", "--context", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"{REGISTRY}/{repo}:latest@{registry.manifest_digest(repo, 'latest')}"
    )


@pytest.mark.docker
def test_failed_run_step_shows_the_step_and_its_output_tail(
    tmp_path: Path, builder: str, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(
        tmp_path,
        "FROM bumper-test/busybox\nRUN echo fine\n"
        "RUN echo compiling && echo 'error: missing semicolon' && exit 3\n",
    )
    line = error_line(
        run("build", f"{REGISTRY}/{repo}:1.0.0", "--context", str(tmp_path), *NETWORK)
    )
    assert line.startswith("bumper: error: build failed at ")
    assert "RUN echo compiling" in line
    if builder == "sdk":
        assert "build failed at Step 3/" in line
        assert "returned a non-zero code: 3" in line
    else:
        assert "build failed at [3/3] RUN echo compiling" in line
        assert "exit code: 3" in line
    assert line.endswith("output tail: compiling | error: missing semicolon")
    assert registry.tags(repo) == []


@pytest.mark.docker
def test_buildkit_without_a_network_for_run_says_what_to_pass(
    tmp_path: Path, docker_client: Any, docker_config: Path
) -> None:
    """Debian's engine here runs without a bridge: the error names the way out."""
    if select_builder(None, os.environ).kind != "buildkit":
        pytest.skip("only the engine's BuildKit on an engine without a bridge network")
    project(tmp_path, "FROM bumper-test/busybox\nRUN echo hi\n")
    line = error_line(run("build", "app:1.0.0", "--no-push", "--context", str(tmp_path)))
    assert line.endswith(
        "network bridge not found (this engine has no bridge network: pass --network host)"
    )


@pytest.mark.docker
def test_unreachable_registry(tmp_path: Path, docker_client: Any, docker_config: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    project(tmp_path, "FROM bumper-test/busybox\n")
    line = error_line(run("build", f"{host}/acme/app:1.0.0", "--context", str(tmp_path)))
    assert f"registry {host} is unreachable" in line
    assert "connection refused" in line


@pytest.mark.docker
def test_login_with_password_stdin_pushes_to_an_auth_registry(
    tmp_path: Path, docker_client: Any, auth_registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\nCOPY Dockerfile /copied\n")
    result = run(
        "build", f"{auth_registry.host}/{repo}:1.0.0", "--context", str(tmp_path),
        "--username", str(auth_registry.username), "--password-stdin",
        input=f"{auth_registry.password}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    digest = auth_registry.manifest_digest(repo, "1.0.0")
    assert result.stdout.splitlines()[-1] == f"{auth_registry.host}/{repo}:1.0.0@{digest}"
    assert str(auth_registry.password) not in result.output
    # No login was stored in the docker config: credentials stay in memory. (The docker
    # CLI that drives BuildKit keeps its build node ID there, nothing else.)
    assert not (docker_config / "config.json").exists()
    for stored in docker_config.rglob("*"):
        assert (
            not stored.is_file() or str(auth_registry.password).encode() not in stored.read_bytes()
        )


@pytest.mark.docker
def test_password_from_env_in_actions_is_masked(
    tmp_path: Path,
    docker_client: Any,
    auth_registry: Registry,
    docker_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    env = {
        "GITHUB_ACTIONS": "true",
        "BUMPER_USERNAME": str(auth_registry.username),
        "BUMPER_PASSWORD": str(auth_registry.password),
    }
    result = run("build", f"{auth_registry.host}/{repo}:1.0.0", "--context", str(tmp_path), env=env)
    assert result.exit_code == 0, result.output
    stderr = result.stderr.splitlines()
    assert stderr[0] == f"::add-mask::{auth_registry.password}"
    assert str(auth_registry.password) not in "\n".join(stderr[1:]) + result.stdout
    assert f"::group::Build {auth_registry.host}/{repo}:1.0.0" in stderr
    assert f"::group::Push {auth_registry.host}/{repo}:1.0.0" in stderr
    assert stderr.count("::endgroup::") == 2


@pytest.mark.docker
def test_credentials_stored_by_docker_login_are_used(
    tmp_path: Path, docker_client: Any, auth_registry: Registry, docker_config: Path
) -> None:
    import base64

    secret = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode())
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": secret.decode()}}})
    )
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    result = run("build", f"{auth_registry.host}/{repo}:1.0.0", "--context", str(tmp_path))
    assert result.exit_code == 0, result.output
    digest = auth_registry.manifest_digest(repo, "1.0.0")
    assert result.stdout.splitlines()[-1].endswith(f"@{digest}")


@pytest.mark.docker
@pytest.mark.parametrize("how", ["wrong-password", "no-credentials"])
def test_refused_credentials_give_one_clean_line(
    tmp_path: Path, docker_client: Any, auth_registry: Registry, docker_config: Path, how: str
) -> None:
    repo = unique_repo()
    project(tmp_path, "FROM bumper-test/busybox\n")
    args = ["build", f"{auth_registry.host}/{repo}:1.0.0", "--context", str(tmp_path)]
    wrong = "not-the-pw-" + str(auth_registry.password)[::-1]
    if how == "wrong-password":
        args += ["--username", str(auth_registry.username), "--password-stdin"]
    result = run(*args, input=wrong if how == "wrong-password" else None)
    line = error_line(result)
    assert f"registry {auth_registry.host} refused the credentials" in line
    assert wrong not in result.output
    assert str(auth_registry.password) not in result.output
    assert auth_registry.tags(repo) == []


@pytest.mark.docker
def test_release_pins_the_registry_digest_in_the_manifests(
    tmp_path: Path,
    docker_client: Any,
    registry: Registry,
    docker_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = unique_repo()
    context = project(tmp_path / "app", "FROM bumper-test/busybox\nRUN echo release > /r\n")
    manifests = tmp_path / "k8s"
    manifests.mkdir()
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: app  # the web app\n"
        f"          image: {REGISTRY}/{repo}:0.9.0\n"
    )
    (manifests / "deploy.yaml").write_text(deployment)
    monkeypatch.chdir(tmp_path)
    result = run(
        "release", f"{REGISTRY}/{repo}:1.0.0", "--context", str(context), "--pin-digest", "k8s",
        *NETWORK,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    digest = registry.manifest_digest(repo, "1.0.0")
    ref = f"{REGISTRY}/{repo}:1.0.0@{digest}"
    assert result.stdout.splitlines()[-1] == ref
    assert (manifests / "deploy.yaml").read_text() == deployment.replace(
        f"{REGISTRY}/{repo}:0.9.0", ref
    )


@pytest.mark.docker
def test_release_checks_the_manifests_before_building(
    tmp_path: Path, docker_client: Any, registry: Registry, docker_config: Path
) -> None:
    repo = unique_repo()
    context = project(tmp_path / "app", "FROM bumper-test/busybox\n")
    manifests = tmp_path / "k8s"
    manifests.mkdir()
    (manifests / "deploy.yaml").write_text(
        "kind: Pod\nspec:\n  containers:\n    - image: other:1\n"
    )
    line = error_line(
        run("release", f"{REGISTRY}/{repo}:1.0.0", "--context", str(context), str(manifests))
    )
    assert "no reference to" in line
    assert registry.tags(repo) == []
