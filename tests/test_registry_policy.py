"""Tag policies and semver ranges: which tag is the newest one a reference may move to."""

from __future__ import annotations

import pytest
import semver

from bumper.errors import UsageError
from bumper.registry.policy import make_policy
from bumper.registry.ranges import parse_range

ISSUE_TAGS = ["1.0.0", "1.2.0", "1.10.0", "1.11.0-rc.1", "2.0.0", "latest", "sha-abc1234"]


@pytest.mark.parametrize(
    ("spec", "current", "picked"),
    [
        # The issue's table.
        ("semver:^1", "1.0.0", "1.10.0"),
        ("semver", "1.0.0", "2.0.0"),
        ("semver", "2.0.0", None),
        # Never backwards: the newest ^1 is older than the current 2.0.0.
        ("semver:^1", "2.0.0", None),
        # A pre-release only when the range names one.
        ("semver:~1.11", "1.10.0", None),
        ("semver:>=1.11.0-0 <2", "1.10.0", "1.11.0-rc.1"),
        # A current pre-release is not left for an older stable version.
        ("semver", "1.11.0-rc.1", "2.0.0"),
        ("semver:^1", "1.11.0-rc.1", None),
        # A leading v on the current tag is fine; non-semver current tags move.
        ("semver:^1", "v1.2.0", "1.10.0"),
        ("semver", "latest", "2.0.0"),
        ("semver:1.x || >=2", "1.2.0", "2.0.0"),
        ("semver:1.2 - 1.10", "1.0.0", "1.10.0"),
        ("semver:!=2.0.0", "1.0.0", "1.10.0"),
        ("alphabetical", "latest", "sha-abc1234"),
        ("alphabetical:desc", "1.2.0", "1.0.0"),
    ],
)
def test_the_newest_allowed_tag_is_picked(spec: str, current: str, picked: str | None) -> None:
    assert make_policy(spec).select(ISSUE_TAGS, current).tag == picked


@pytest.mark.parametrize(
    ("current", "reason"),
    [
        ("2.0.0", "up to date: 2.0.0 is the newest semver:^3 || ^2 allows"),
        ("1.0.0", "newest semver:^3 || ^2"),
    ],
)
def test_the_selection_says_why(current: str, reason: str) -> None:
    assert make_policy("semver:^3 || ^2").select(ISSUE_TAGS, current).reason == reason


def test_no_candidate_is_reported_not_silently_kept() -> None:
    selection = make_policy("semver:^3").select(ISSUE_TAGS, "1.0.0")
    assert (selection.tag, selection.reason) == (None, "no tag matches semver:^3 (of 7 tags)")


@pytest.mark.parametrize(
    ("tags", "picked"),
    [
        # Hex and date-like tags are not versions: they never win by looking large.
        (["1.2.3", "20240105", "deadbee", "1234567", "3.19"], "1.2.3"),
        # v-prefixed and plain spellings of one version: the current tag's style wins.
        (["v1.3.0", "1.3.0"], "1.3.0"),
        # Signatures, attestations and SBOMs are never picked.
        (["1.2.4.sig", "sha256-ab12.att", "1.2.4.sbom", "1.2.3"], "1.2.3"),
    ],
)
def test_only_real_versions_are_candidates(tags: list[str], picked: str | None) -> None:
    assert make_policy("semver").select(tags, "1.0.0").tag == picked


@pytest.mark.parametrize(
    ("kwargs", "tags", "current", "picked"),
    [
        # Flux's timestamp pattern: order by the extracted number, not the string.
        (
            {
                "spec": "numerical",
                "filter_tags": r"^main-[a-f0-9]+-(?P<ts>\d+)$",
                "extract": "$ts",
            },
            ["main-abc1234-9", "main-def5678-10", "feature-aaa-99", "main-0a0a0a0-8"],
            "main-0a0a0a0-8",
            "main-def5678-10",
        ),
        ({"spec": "numerical:desc"}, ["3", "10", "2", "x"], "5", "2"),
        ({"spec": "numerical"}, ["3", "10", "2.5", "x"], "5", "10"),
        (
            {"spec": "alphabetical", "filter_tags": "^rel-", "exclude": ["-broken$"]},
            ["rel-2024-01", "rel-2024-03-broken", "rel-2024-02", "zzz"],
            "rel-2024-01",
            "rel-2024-02",
        ),
        (
            {"spec": "semver:^1", "filter_tags": r"^app-(?P<v>.+)$", "extract": "${v}"},
            ["app-1.4.0", "app-1.5.0", "other-1.9.0", "app-2.0.0"],
            "app-1.4.0",
            "app-1.5.0",
        ),
        # Never backwards for ordered policies either: the current value is newer.
        ({"spec": "numerical"}, ["3", "10"], "12", None),
    ],
)
def test_filters_extracts_and_orders(
    kwargs: dict[str, object], tags: list[str], current: str, picked: str | None
) -> None:
    spec = str(kwargs.pop("spec"))
    policy = make_policy(spec, **kwargs)  # type: ignore[arg-type]
    assert policy.select(tags, current).tag == picked


@pytest.mark.parametrize(
    ("text", "admitted", "refused"),
    [
        ("^1.2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0", "2.0.0-rc.1", "1.5.0-rc.1"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
        ("^0", ["0.0.1", "0.9.9"], ["1.0.0"]),
        ("~1.4", ["1.4.0", "1.4.7"], ["1.5.0", "1.3.9"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("~>1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
        (">=1.4 <2", ["1.4.0", "1.99.0"], ["1.3.9", "2.0.0"]),
        (">=1.4, <2", ["1.4.0"], ["2.0.0"]),
        ("1.x", ["1.0.0", "1.9.9"], ["2.0.0", "0.9.0"]),
        ("1.2.*", ["1.2.0", "1.2.9"], ["1.3.0"]),
        ("1.2", ["1.2.0", "1.2.5"], ["1.3.0"]),
        ("*", ["0.0.1", "9.0.0"], ["1.0.0-rc.1"]),
        (">1.2", ["1.3.0", "2.0.0"], ["1.2.9"]),
        ("<=1.2", ["1.2.9", "0.1.0"], ["1.3.0"]),
        ("<1.2", ["1.1.9"], ["1.2.0"]),
        ("1.2.3 - 1.4", ["1.2.3", "1.4.9"], ["1.2.2", "1.5.0"]),
        ("v1.2.3", ["1.2.3"], ["1.2.4"]),
        ("=1.2.3", ["1.2.3"], ["1.2.4"]),
        ("!=1.2.3", ["1.2.4", "1.2.2"], ["1.2.3"]),
        ("!=1.2", ["1.3.0"], ["1.2.7"]),
        ("^1.2 || ^3", ["1.3.0", "3.1.0"], ["2.0.0"]),
        # Naming a pre-release opts the alternative in to pre-releases it bounds; as in
        # Masterminds (and so Flux), 2.0.0-rc.1 is below 2 (npm would say <2.0.0-0).
        (">=1.0.0-0 <2", ["1.5.0-rc.1", "1.0.0-alpha", "2.0.0-rc.1"], ["0.9.0-rc.1", "2.0.0"]),
        ("^1.2.3-beta.2", ["1.2.3-beta.3", "1.2.3", "1.9.0-rc.1"], ["1.2.3-beta.1", "2.0.0-0"]),
        ("^1 || >=2.0.0-rc.1", ["2.0.0-rc.2", "1.2.0"], ["1.3.0-rc.1"]),
    ],
)
def test_ranges_follow_masterminds(text: str, admitted: list[str], refused: list[str]) -> None:
    semver_range = parse_range(text)
    for version in admitted:
        assert semver_range.admits(semver.Version.parse(version)), (text, version)
    for version in refused:
        assert not semver_range.admits(semver.Version.parse(version)), (text, version)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_policy("semver:^1.x.3"), "'1.x.3': a number after a wildcard"),
        (lambda: make_policy("semver:>2 <1"), "'>2 <1' can never match"),
        (lambda: make_policy("semver:"), "empty (use * for any version)"),
        (lambda: make_policy("semver:banana"), "cannot read 'banana'"),
        (lambda: make_policy("semver:1.2-rc.1"), "a pre-release needs a full version"),
        (lambda: make_policy("semver:^1 ||"), "an empty alternative around '||'"),
        (lambda: make_policy("semver:>=1.2.3-01"), "is not a semantic version"),
        (lambda: make_policy("semver:<*"), "<* can never match"),
        (lambda: make_policy("newest"), "unknown policy 'newest'"),
        (lambda: make_policy("numerical:up"), "order must be asc or desc, not 'up'"),
        (lambda: make_policy(filter_tags="(unclosed"), "invalid filter-tags regex '(unclosed'"),
        (lambda: make_policy(exclude=["[z-a]"]), "invalid exclude regex '[z-a]'"),
        (lambda: make_policy(extract="$v"), "extract needs a filter-tags regex"),
        (
            lambda: make_policy(filter_tags="^(?P<ts>\\d+)$", extract="$time"),
            "has no group named 'time' (named groups: ts)",
        ),
        (lambda: make_policy(filter_tags="^(\\d+)$", extract="$2"), "has no group 2"),
        (lambda: make_policy(filter_tags="^x", extract="plain"), "names no group"),
    ],
)
def test_bad_input_is_a_usage_error_not_an_empty_match(call: object, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        call()  # type: ignore[operator]
    assert message in str(raised.value)
    assert raised.value.exit_code == 2
