"""Where registry logins come from: the Docker config (auths, credHelpers, credsStore),
explicit credentials, GITHUB_TOKEN for ghcr.io in Actions; and the WWW-Authenticate
challenges they answer. Logins are proven against the real Basic and token registries."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from bumper.registry.auth import Challenge, parse_challenges
from bumper.registry.client import RegistryClient, Settings, retry_after
from bumper.registry.credentials import Credentials, Login
from tests.registry_fixtures import (
    IDENTITY_TOKEN,
    READER,
    RunningRegistry,
    basic_registry_fixture,  # noqa: F401
    credential_helper,
    isolated_docker_config_fixture,  # noqa: F401
    token_issuer_fixture,  # noqa: F401
    token_registry_fixture,  # noqa: F401
    unique_name,
    with_path,
    write_docker_config,
)


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(lambda host: {"auths": {host: {"auth": _auth(*READER)}}}, id="auths"),
        pytest.param(
            lambda host: {"auths": {f"http://{host}/v2/": {"auth": _auth(*READER)}}},
            id="auths-url-key",
        ),
        pytest.param(
            lambda host: {"auths": {host: {"username": READER[0], "password": READER[1]}}},
            id="auths-fields",
        ),
        pytest.param(lambda host: {"credHelpers": {host: "bumpertest"}}, id="credHelpers"),
        pytest.param(
            lambda host: {"credsStore": "bumpertest", "auths": {host: {}}}, id="credsStore"
        ),
    ],
)
def test_docker_config_logins_open_the_basic_registry(
    basic_registry: RunningRegistry,
    isolated_docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config: object,
) -> None:
    host = basic_registry.host
    write_docker_config(isolated_docker_config, config(host))  # type: ignore[operator]
    helpers = credential_helper(tmp_path / "bin", "bumpertest", {host: READER})
    monkeypatch.setenv("PATH", with_path(helpers))
    name = unique_name()
    pushed = basic_registry.pusher.image(name, "1.0.0")
    with RegistryClient() as client:
        assert client.digest(f"{host}/{name}", "1.0.0") == pushed.digest


def test_an_identity_token_is_exchanged_at_the_realm(
    token_registry: RunningRegistry, isolated_docker_config: Path
) -> None:
    host = token_registry.host
    write_docker_config(
        isolated_docker_config, {"auths": {host: {"identitytoken": IDENTITY_TOKEN}}}
    )
    name = unique_name()
    pushed = token_registry.pusher.image(name, "1.0.0")
    with RegistryClient() as client:
        assert client.digest(f"{host}/{name}", "1.0.0") == pushed.digest


def test_a_missing_helper_is_a_warning_then_anonymous(
    basic_registry: RunningRegistry,
    isolated_docker_config: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = basic_registry.host
    write_docker_config(isolated_docker_config, {"credHelpers": {host: "nosuchhelper"}})
    caplog.set_level(logging.INFO, logger="bumper")
    with RegistryClient(settings=Settings(jobs=1)) as client:
        answer = client.check(f"{host}/{unique_name()}:1.0.0")
    assert answer.status == "unauthorized"
    assert [r.getMessage() for r in caplog.records] == [
        f"credential helper docker-credential-nosuchhelper is not installed; "
        f"trying {host} anonymously"
    ]


HUB = "https://index.docker.io/v1/"


@pytest.mark.parametrize(
    ("domain", "config", "env", "explicit", "expected"),
    [
        # docker login's key for Docker Hub serves every spelling of it.
        ("docker.io", {"auths": {HUB: {"auth": _auth("hub", "pw")}}}, {}, {}, ("hub", "pw")),
        # Explicit credentials win over the config.
        (
            "ghcr.io",
            {"auths": {"ghcr.io": {"auth": _auth("cfg", "pw")}}},
            {},
            {"ghcr.io": ("cli", "secret")},
            ("cli", "secret"),
        ),
        # GITHUB_TOKEN for ghcr.io, only inside Actions, only when nothing else is known.
        (
            "ghcr.io",
            {},
            {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "tok", "GITHUB_ACTOR": "octo"},
            {},
            ("octo", "tok"),
        ),
        ("ghcr.io", {}, {"GITHUB_TOKEN": "tok"}, {}, None),
        ("quay.io", {}, {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "tok"}, {}, None),
        (
            "ghcr.io",
            {"auths": {"ghcr.io": {"auth": _auth("cfg", "pw")}}},
            {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "tok"},
            {},
            ("cfg", "pw"),
        ),
        # A key for another registry, or a malformed entry, gives nothing.
        ("ghcr.io", {"auths": {"ghcr.io.evil": {"auth": _auth("x", "y")}}}, {}, {}, None),
        ("ghcr.io", {"auths": {"ghcr.io": {"auth": "%%%"}}}, {}, {}, None),
    ],
)
def test_which_login_a_registry_gets(
    tmp_path: Path,
    domain: str,
    config: dict[str, object],
    env: dict[str, str],
    explicit: dict[str, tuple[str, str]],
    expected: tuple[str, str] | None,
) -> None:
    folder = write_docker_config(tmp_path / "cfg", config)
    credentials = Credentials(explicit, env={"DOCKER_CONFIG": str(folder), **env})
    login = credentials.for_registry(domain)
    assert ((login.username, login.secret) if login else None) == expected


def test_secrets_stay_out_of_reprs() -> None:
    login = Login("user", "hunter2-secret", "--username")
    credentials = Credentials({"ghcr.io": ("user", "hunter2-secret")})
    assert "hunter2" not in repr(login)
    assert "hunter2" not in repr(credentials)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull,push"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull,push",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            'Basic realm="a, b", Bearer realm="https://x/token", service=reg',
            [
                Challenge("basic", {"realm": "a, b"}),
                Challenge("bearer", {"realm": "https://x/token", "service": "reg"}),
            ],
        ),
        ('Bearer realm="say \\"hi\\""', [Challenge("bearer", {"realm": 'say "hi"'})]),
        ("", []),
    ],
)
def test_challenges_are_parsed(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds
