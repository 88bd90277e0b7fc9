"""Image references: the distribution grammar, normalization, and what matches what."""

from __future__ import annotations

import pytest

from bumper.edit.reference import Reference, ReferenceError, canonical_name, parse_reference
from bumper.edit.target import Target, parse_target
from bumper.edit.versions import is_downgrade

D = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", Reference("nginx")),
        ("nginx:1.25", Reference("nginx", "1.25")),
        (f"nginx@{D}", Reference("nginx", None, D)),
        (f"ghcr.io/acme/app:1.4.2@{D}", Reference("ghcr.io/acme/app", "1.4.2", D)),
        ("localhost:5000/app:v1", Reference("localhost:5000/app", "v1")),
        ("[::1]:5000/app:v1", Reference("[::1]:5000/app", "v1")),
        ("127.0.0.1:5000/a/b/c:1", Reference("127.0.0.1:5000/a/b/c", "1")),
        (
            "registry.example.com/a__b/c-d/e.f:_tag",
            Reference("registry.example.com/a__b/c-d/e.f", "_tag"),
        ),
        ("Registry.Example.com/app:1", Reference("Registry.Example.com/app", "1")),
        ("app:" + "t" * 128, Reference("app", "t" * 128)),
    ],
)
def test_valid_references(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected
    assert str(parse_reference(text)) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Nginx:1", "lowercase"),
        ("acme/App:1", "lowercase"),
        ("app:.bad", "tag '.bad'"),
        ("app:" + "t" * 129, "1-128"),
        ("app@sha256:123", "digest"),
        (f"app@{D.upper().replace('SHA256', 'sha256')}", "lowercase hex"),
        ("app@md5", "digest"),
        ("a//b:1", "path component ''"),
        ("a/-b:1", "path component '-b'"),
        ("app:1 ", "whitespace"),
        ("nginx:café", "tag 'café'"),
        ("nginx:١٢", "tag '١٢'"),
        ("host:port/app:1", "registry 'host:port'"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(ReferenceError) as error:
        parse_reference(text)
    assert reason in str(error.value)


@pytest.mark.parametrize(
    "spelling",
    [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/library/nginx",
        "index.docker.io/nginx",
    ],
)
def test_docker_hub_spellings_are_one_repository(spelling: str) -> None:
    assert canonical_name(spelling) == "docker.io/library/nginx"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("app", "app-worker"),
        ("app", "apps"),
        ("app", "team/app"),
        ("app", "app/sub"),
        ("localhost/app", "localhost:5000/app"),
        ("ghcr.io/acme/app", "acme/app"),
        ("docker.io/team/app", "team/app/x"),
    ],
)
def test_different_repositories(a: str, b: str) -> None:
    assert canonical_name(a) != canonical_name(b)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("ghcr.io/acme/app:1.4.2", Target("ghcr.io/acme/app", "1.4.2")),
        (f"ghcr.io/acme/app@{D}", Target("ghcr.io/acme/app", None, D)),
        (
            "ghcr.io/acme/app=registry.acme.io/app",
            Target("ghcr.io/acme/app", None, None, "registry.acme.io/app"),
        ),
        (f"old=new:2@{D}", Target("old", "2", D, "new")),
    ],
)
def test_targets(text: str, target: Target) -> None:
    assert parse_target(text) == target
    assert str(parse_target(text)) == text


@pytest.mark.parametrize(
    ("current", "new", "downgrade"),
    [
        ("v2.11.0", "v2.10.0", True),
        ("2.11.0", "v2.10.0", True),
        ("1.0.0", "1.0.0-rc.1", True),
        ("v2.10.0", "v2.11.0", False),
        ("1.0.0-rc.1", "1.0.0", False),
        ("3.19", "3.18", False),
        ("sha-bbbbbbb", "sha-aaaaaaa", False),
        ("latest", "1.0.0", False),
        ("2024.05.1", "2024.04.1", False),
        (None, "1.0.0", False),
    ],
)
def test_downgrade_guard_compares_semver_only(
    current: str | None, new: str, downgrade: bool
) -> None:
    assert is_downgrade(current, new) is downgrade
