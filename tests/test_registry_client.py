"""The Distribution API client against real registries: tags, digests, existence, auth,
retries and failures. Registries run on 127.0.0.1 (see registry_fixtures)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bumper.registry.client import (
    RegistryClient,
    RegistryError,
    Settings,
    check_exists,
    resolve_digest,
)
from bumper.registry.credentials import Credentials
from tests.docker_fixtures import free_port
from tests.registry_fixtures import (
    PUSHER,
    READER,
    Fault,
    FaultProxy,
    RunningRegistry,
    TokenIssuer,
    basic_registry_fixture,  # noqa: F401
    isolated_docker_config_fixture,  # noqa: F401
    open_registry_fixture,  # noqa: F401
    proxy_fixture,  # noqa: F401
    token_issuer_fixture,  # noqa: F401
    token_registry_fixture,  # noqa: F401
    unique_name,
)

pytestmark = pytest.mark.usefixtures("isolated_docker_config")

FAST = Settings(backoff=0.05, max_wait=5.0)


def client_for(
    login: tuple[str, str] | None = None, host: str = "", **settings: float
) -> RegistryClient:
    explicit = {host: login} if login else {}
    return RegistryClient(
        credentials=Credentials(explicit), settings=Settings(**{**FAST.__dict__, **settings})
    )


# -- tags ------------------------------------------------------------------------------


@pytest.mark.parametrize(("page_size", "requests"), [(1000, 1), (10, 2)])
def test_every_tag_of_a_registry_that_ignores_n_and_last(
    open_registry: RunningRegistry, proxy: FaultProxy, page_size: int, requests: int
) -> None:
    # Distribution 2.8 answers every tag whatever n and last say: a page longer than
    # asked for is followed by one last= request that brings nothing new.
    name = unique_name()
    pushed = open_registry.pusher.tags(name, [f"1.{i}.0" for i in range(30)])
    with client_for(page_size=page_size) as client:
        assert sorted(client.list_tags(f"{proxy.host}/{name}")) == sorted(pushed)
    assert proxy.requests_to("/tags/list") == requests


@pytest.fixture(scope="module", name="many_tags")
def many_tags_fixture(open_registry: RunningRegistry) -> tuple[str, list[str]]:
    """A repository with 260 tags."""
    name = unique_name()
    return name, list(open_registry.pusher.tags(name, [f"2.{i}.{i % 7}" for i in range(260)]))


@pytest.mark.parametrize(
    ("link", "page_size", "pages"),
    [
        # 260 tags; the registry caps pages at 40 and says where the next one is.
        ("relative", 1000, 7),
        ("absolute", 1000, 7),
        # No Link: a full page (as many as asked for) continues with last=.
        ("none", 40, 7),
        ("none", 65, 5),  # the fifth page is empty
    ],
)
def test_hundreds_of_tags_are_read_page_by_page(
    many_tags: tuple[str, list[str]], proxy: FaultProxy, link: str, page_size: int, pages: int
) -> None:
    name, pushed = many_tags
    proxy.page, proxy.link = 40 if link != "none" else page_size, link
    with client_for(page_size=page_size) as client:
        tags = client.list_tags(f"{proxy.host}/{name}")
    assert sorted(tags) == sorted(pushed)
    assert len(tags) == len(set(tags))
    assert proxy.requests_to("/tags/list") == pages


def test_a_next_page_on_another_host_is_refused(
    open_registry: RunningRegistry, proxy: FaultProxy
) -> None:
    name = unique_name()
    open_registry.pusher.tags(name, [f"3.{i}.0" for i in range(5)])
    proxy.page, proxy.link = 2, "cross-host"
    with client_for() as client, pytest.raises(RegistryError) as raised:
        client.list_tags(f"{proxy.host}/{name}")
    assert "next-page link" in str(raised.value)
    assert "elsewhere.invalid" in str(raised.value)
    assert proxy.requests_to("/tags/list") == 1


def test_tags_of_a_missing_repository(open_registry: RunningRegistry) -> None:
    with client_for() as client, pytest.raises(RegistryError) as raised:
        client.list_tags(f"{open_registry.host}/{unique_name()}")
    assert raised.value.status == "missing"
    assert f"not found in registry {open_registry.host}" in str(raised.value)


# -- digests and existence -------------------------------------------------------------


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_multi_platform_images_resolve_to_the_index_digest(
    open_registry: RunningRegistry, docker: bool
) -> None:
    name = unique_name()
    pushed = open_registry.pusher.index(name, "1.0.0", docker=docker)
    single = open_registry.pusher.image(name, "1.0.1", docker=docker)
    image = f"{open_registry.host}/{name}"
    assert resolve_digest(image, "1.0.0") == pushed.digest
    assert pushed.digest not in pushed.children
    assert resolve_digest(image, "1.0.1") == single.digest


def test_a_digest_without_the_header_is_the_hash_of_the_manifest(
    open_registry: RunningRegistry, proxy: FaultProxy
) -> None:
    name = unique_name()
    pushed = open_registry.pusher.index(name, "1.0.0")
    proxy.drop_headers = {"docker-content-digest"}
    with client_for() as client:
        assert client.digest(f"{proxy.host}/{name}", "1.0.0") == pushed.digest
    assert proxy.log[-2:] == [
        ("HEAD", f"/v2/{name}/manifests/1.0.0"),
        ("GET", f"/v2/{name}/manifests/1.0.0"),
    ]


def test_existence_of_tags_and_digests(open_registry: RunningRegistry) -> None:
    name = unique_name()
    first = open_registry.pusher.image(name, "1.0.0")
    second = open_registry.pusher.image(name, "1.1.0")
    image = f"{open_registry.host}/{name}"
    unknown = "sha256:" + "0" * 64
    expected = {
        f"{image}:1.0.0": ("ok", ""),
        f"{image}@{first.digest}": ("ok", ""),
        f"{image}:1.0.0@{first.digest}": ("ok", ""),
        f"{image}:9.9.9": (
            "missing",
            f"{image}:9.9.9 does not exist in registry {open_registry.host}",
        ),
        f"{image}@{unknown}": (
            "missing",
            f"{image}@{unknown} does not exist in registry {open_registry.host}",
        ),
        # A pin that disagrees with its tag: drift or a copy-paste slip.
        f"{image}:1.0.0@{second.digest}": (
            "mismatch",
            f"tag 1.0.0 points to {first.digest}; the pinned {second.digest} still exists",
        ),
        f"{image}:1.0.0@{unknown}": (
            "missing",
            f"tag 1.0.0 points to {first.digest}; the pinned {unknown} does not exist in the "
            "repository",
        ),
        f"{image}:9.9.9@{first.digest}": (
            "missing",
            f"{image}:9.9.9 does not exist in registry {open_registry.host}; the pinned digest "
            "exists",
        ),
    }
    with client_for() as client:
        answers = {ref: client.check(ref) for ref in expected}
    assert {ref: (a.status, a.message) for ref, a in answers.items()} == expected
    assert answers[f"{image}:1.0.0"].digest == first.digest


def test_check_exists_raises_one_line_naming_registry_and_reference(
    open_registry: RunningRegistry,
) -> None:
    name = unique_name()
    pushed = open_registry.pusher.image(name, "1.0.0")
    image = f"{open_registry.host}/{name}"
    assert check_exists(f"{image}:1.0.0") == pushed.digest
    with pytest.raises(RegistryError) as raised:
        check_exists(f"{image}:1.0.1")
    assert str(raised.value) == f"{image}:1.0.1 does not exist in registry {open_registry.host}"
    assert raised.value.exit_code == 1


# -- auth ------------------------------------------------------------------------------


def test_basic_auth(basic_registry: RunningRegistry) -> None:
    name = unique_name()
    pushed = basic_registry.pusher.image(name, "1.0.0")
    image = f"{basic_registry.host}/{name}"
    with client_for(READER, basic_registry.host) as client:
        assert client.digest(image, "1.0.0") == pushed.digest
    with client_for() as client:
        anonymous = client.check(f"{image}:1.0.0")
    assert (anonymous.status, anonymous.message) == (
        "unauthorized",
        f"registry {basic_registry.host} requires a login (docker login {basic_registry.host}, "
        "or --username/--password-stdin)",
    )
    with client_for((READER[0], "wrong"), basic_registry.host) as client:
        refused = client.check(f"{image}:1.0.0")
    assert (refused.status, refused.message) == (
        "unauthorized",
        f"registry {basic_registry.host} refused the credentials from --username for {name}",
    )


def test_the_bearer_flow_against_the_token_registry(
    token_registry: RunningRegistry, token_issuer: TokenIssuer
) -> None:
    names = [unique_name() for _ in range(2)]
    pushed = [token_registry.pusher.image(name, "1.0.0") for name in names]
    with client_for(READER, token_registry.host) as client:
        for _ in range(3):
            for name, image in zip(names, pushed, strict=True):
                assert client.digest(f"{token_registry.host}/{name}", "1.0.0") == image.digest
                assert client.list_tags(f"{token_registry.host}/{name}") == ["1.0.0"]
    # One token per repository scope, reused for every later request.
    for name in names:
        assert token_issuer.count(f"repository:{name}:pull") == 1


@pytest.mark.parametrize("answer", ["token", "access_token"])
def test_tokens_in_either_field(
    token_registry: RunningRegistry, token_issuer: TokenIssuer, answer: str
) -> None:
    name = unique_name()
    pushed = token_registry.pusher.image(name, "1.0.0")
    token_issuer.answer = answer
    try:
        with client_for(READER, token_registry.host) as client:
            assert client.digest(f"{token_registry.host}/{name}", "1.0.0") == pushed.digest
    finally:
        token_issuer.answer = "token"


def test_token_auth_failures_are_unauthorized(token_registry: RunningRegistry) -> None:
    public = unique_name("public")
    private = unique_name()
    token_registry.pusher.image(public, "1.0.0")
    token_registry.pusher.image(private, "1.0.0")
    host = token_registry.host
    with client_for() as client:
        assert client.check(f"{host}/{public}:1.0.0").ok
        anonymous = client.check(f"{host}/{private}:1.0.0")
    assert anonymous.status == "unauthorized"
    assert anonymous.message.startswith(f"registry {host} denied anonymous access to {private}")
    with client_for((PUSHER[0], "wrong"), host) as client:
        refused = client.check(f"{host}/{private}:1.0.0")
    assert refused.status == "unauthorized"
    assert refused.message == (
        f"registry {host}: the token service {token_registry.issuer.url.split('/')[2]} "  # type: ignore[union-attr]
        f"refused the credentials from --username for repository:{private}:pull"
    )


def test_credentials_never_go_to_a_plain_http_realm_elsewhere(
    open_registry: RunningRegistry, proxy: FaultProxy
) -> None:
    challenge = 'Bearer realm="http://auth.example.invalid/token",service="registry"'
    proxy.faults = [Fault("/manifests/", 401, {"WWW-Authenticate": challenge})]
    with client_for(READER, proxy.host) as client:
        answer = client.check(f"{proxy.host}/{unique_name()}:1.0.0")
    assert (answer.status, answer.message) == (
        "unauthorized",
        f"registry {proxy.host}: refusing to send credentials to the plain-HTTP token realm "
        "auth.example.invalid",
    )


# -- failures and retries --------------------------------------------------------------


def test_connection_refused_fails_fast_in_one_line() -> None:
    host = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with RegistryClient() as client:
        answer = client.check(f"{host}/team/app:1.0.0")
    assert time.monotonic() - started < 3
    assert (answer.status, answer.message) == (
        "unreachable",
        f"registry {host} is unreachable: connection refused",
    )


def test_a_slow_registry_times_out(open_registry: RunningRegistry, proxy: FaultProxy) -> None:
    proxy.latency = 1.0
    with client_for(read_timeout=0.3) as client:
        answer = client.check(f"{proxy.host}/{unique_name()}:1.0.0")
    assert (answer.status, answer.message) == (
        "unreachable",
        f"registry {proxy.host} is unreachable: no answer within 0.3 s",
    )


def test_429_and_5xx_are_retried_honouring_retry_after(
    open_registry: RunningRegistry, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique_name()
    pushed = open_registry.pusher.image(name, "1.0.0")
    proxy.faults = [
        Fault("/manifests/", 429, {"Retry-After": "1"}),
        Fault("/manifests/", 503),
    ]
    caplog.set_level(logging.INFO, logger="bumper")
    started = time.monotonic()
    with client_for() as client:
        assert client.digest(f"{proxy.host}/{name}", "1.0.0") == pushed.digest
    assert time.monotonic() - started >= 1
    assert [r.getMessage() for r in caplog.records] == [
        f"registry {proxy.host} answered 429 Too Many Requests; retrying in 1 s (retry 1 of 3)",
        f"registry {proxy.host} answered 503 Service Unavailable; retrying in 0.1 s (retry 2 of 3)",
    ]


def test_retries_are_bounded(open_registry: RunningRegistry, proxy: FaultProxy) -> None:
    proxy.faults = [Fault("/manifests/", 502, times=10)]
    with client_for() as client:
        answer = client.check(f"{proxy.host}/{unique_name()}:1.0.0")
    assert answer.status == "error"
    assert answer.message.startswith(f"registry {proxy.host} answered 502 Bad Gateway")
    assert proxy.requests_to("/manifests/") == 4


def test_a_retry_after_beyond_the_bound_is_not_waited_for(
    open_registry: RunningRegistry, proxy: FaultProxy
) -> None:
    proxy.faults = [Fault("/manifests/", 429, {"Retry-After": "120"})]
    started = time.monotonic()
    with client_for() as client:
        answer = client.check(f"{proxy.host}/{unique_name()}:1.0.0")
    assert time.monotonic() - started < 2
    assert answer.message == (
        f"registry {proxy.host} answered 429 and asks to retry after 120 s "
        "(bumper waits at most 5 s); try again later"
    )


def test_a_low_rate_limit_is_announced_once(
    open_registry: RunningRegistry, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique_name()
    open_registry.pusher.tags(name, ["1.0.0", "1.1.0"])
    proxy.add_headers = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "4;w=21600"}
    caplog.set_level(logging.INFO, logger="bumper")
    with client_for() as client:
        client.digest(f"{proxy.host}/{name}", "1.0.0")
        client.digest(f"{proxy.host}/{name}", "1.1.0")
    assert [r.getMessage() for r in caplog.records] == [
        f"registry {proxy.host}: 4 of 100 pulls left in the rate-limit window "
        "(a login raises the limit)"
    ]


def test_requests_for_different_images_run_concurrently(
    open_registry: RunningRegistry, proxy: FaultProxy
) -> None:
    names = [unique_name() for _ in range(8)]
    for name in names:
        open_registry.pusher.image(name, "1.0.0")
    proxy.latency = 0.2
    with client_for(jobs=8) as client:
        started = time.monotonic()
        answers = client.map(lambda n: client.check(f"{proxy.host}/{n}:1.0.0"), names)
        elapsed = time.monotonic() - started
    assert all(answer.ok for answer in answers)
    assert proxy.peak >= 4
    assert elapsed < 0.2 * len(names) / 2


def test_plain_http_only_for_loopback_or_declared_insecure(tmp_path: Path) -> None:
    from bumper.registry.endpoint import locate

    table = {
        "nginx": ("docker.io", "https://registry-1.docker.io", "library/nginx"),
        "index.docker.io/team/app": ("docker.io", "https://registry-1.docker.io", "team/app"),
        "ghcr.io/acme/app": ("ghcr.io", "https://ghcr.io", "acme/app"),
        "localhost:5000/app": ("localhost:5000", "http://localhost:5000", "app"),
        "127.0.0.2:5000/app": ("127.0.0.2:5000", "http://127.0.0.2:5000", "app"),
        "[::1]:5000/app": ("[::1]:5000", "http://[::1]:5000", "app"),
        "registry.lan:5000/app": ("registry.lan:5000", "http://registry.lan:5000", "app"),
        "registry.example.com/app": (
            "registry.example.com",
            "https://registry.example.com",
            "app",
        ),
    }
    for name, (domain, base, path) in table.items():
        endpoint, repository = locate(name, insecure=["registry.lan:5000"])
        assert (endpoint.domain, endpoint.base, repository) == (domain, base, path), name
