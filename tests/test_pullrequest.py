"""Pull-request mode end to end: the ``bumper`` CLI against the fake GitHub.

The fake is a real HTTP server on 127.0.0.1 backed by real bare repositories, so every
commit bumper makes through the API or pushes with git is a real git object checked
here with git itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bumper.cli import main
from bumper.delivery.contract import DeliveryRequest, PullRequestOptions
from bumper.delivery.github import github_repo
from bumper.delivery.messages import branch_name, branch_safe
from tests import fakegithub_fixtures
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import IDENTITY, create_bare_repo

fake_github_factory = fakegithub_fixtures.fake_github_factory

REPO = "acme/manifests"
TOKEN = "ghs_test-pr-TOKEN-value"
APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:1.0.0  # released by CI
        - name: worker
          image: ghcr.io/acme/worker:2.0.0
"""
FILES = {"k8s/app.yaml": APP, "README.md": "manifests\n"}
APP_BRANCH = "bumper/ghcr.io-acme-app"


# --------------------------------------------------------------------------- helpers


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def show(bare: Path, rev: str, path: str) -> str:
    """A file's exact content at ``rev``."""
    done = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=bare, capture_output=True, text=True, check=True
    )
    return done.stdout


def commit_to(bare: Path, branch: str, files: dict[str, str], message: str) -> str:
    """Someone else's commit on ``branch`` of the bare repository; returns its sha."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        git(work, "clone", "--quiet", "--branch", branch, str(bare), "w")
        for name, content in files.items():
            target = work / "w" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git(work / "w", "add", "--all")
        git(work / "w", "commit", "--quiet", "-m", message)
        git(work / "w", "push", "--quiet", "origin", f"HEAD:{branch}")
        return git(work / "w", "rev-parse", "HEAD")


def github_env(fake: FakeGitHub, token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_SERVER_URL": fake.base_url,
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_TOKEN": token,
        **extra,
    }


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return create_bare_repo(tmp_path / "remotes" / "manifests.git", FILES)


@pytest.fixture
def fake(bare: Path, fake_github_factory: Callable[..., FakeGitHub]) -> FakeGitHub:
    return fake_github_factory({REPO: bare}, tokens={TOKEN: {}})


@pytest.fixture
def bumper(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """``bumper set-image IMAGE k8s --repo acme/manifests --pull-request ARGS`` with the
    fake's URLs and token in the environment (``env=`` adds or overrides variables)."""
    monkeypatch.chdir(tmp_path)

    def run(image: str, *args: str, env: dict[str, str] | None = None) -> Result:
        argv = ["set-image", image, "k8s", "--repo", REPO, "--pull-request", *args]
        full = {**github_env(fake), **(env or {})}
        return CliRunner().invoke(main, argv, env=full, catch_exceptions=False)

    yield run


def delivery(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["delivery"]  # type: ignore[no-any-return]


def open_pulls(fake: FakeGitHub) -> list[dict[str, Any]]:
    return fake.pulls(REPO, state="open")


# --------------------------------------------------------------------------- create, update


def test_creates_one_verified_pull_request_from_the_base_head(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    base_head = fake.branch_sha(REPO, "main")
    # Inside the workflow of this very repository: a direct push would get [skip ci],
    # a pull-request commit never does.
    env = {"GITHUB_REPOSITORY": REPO, "GITHUB_SHA": "a" * 40, "GITHUB_RUN_ID": "42"}
    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "--via", "api", "-o", "json", env=env))

    [pull] = open_pulls(fake)
    head = fake.branch_sha(REPO, APP_BRANCH)
    assert out["operation"] == "created"
    assert (out["number"], out["url"], out["head_sha"]) == (pull["number"], pull["html_url"], head)
    assert out["verified"] is True and fake.commit_verification(REPO, head)["verified"]
    assert pull["title"] == "Bump ghcr.io/acme/app to 1.1.0"
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (APP_BRANCH, "main")
    assert git(bare, "rev-list", "--parents", "-n1", head).split() == [head, base_head]
    message = git(bare, "log", "-1", "--format=%B", head)
    assert "[skip ci]" not in message
    assert "Bumped-Image: ghcr.io/acme/app:1.1.0" in message
    assert show(bare, head, "k8s/app.yaml") == APP.replace("app:1.0.0", "app:1.1.0")
    body = pull["body"]
    assert "| `k8s/app.yaml:10` | `ghcr.io/acme/app:1.0.0` | `ghcr.io/acme/app:1.1.0` |" in body
    assert f"[{REPO}@aaaaaaa]({fake.base_url}/{REPO}/commit/{'a' * 40})" in body
    assert f"({fake.base_url}/{REPO}/actions/runs/42)" in body
    assert "<details><summary>Diff</summary>" in body
    assert "+          image: ghcr.io/acme/app:1.1.0  # released by CI" in body


def test_second_bump_updates_the_same_pull_request_and_a_rerun_changes_nothing(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    first = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))
    second = delivery(bumper("ghcr.io/acme/app:1.2.0", "-o", "json"))
    again = delivery(bumper("ghcr.io/acme/app:1.2.0", "-o", "json"))

    [pull] = fake.pulls(REPO)
    head = fake.branch_sha(REPO, APP_BRANCH)
    assert [first["operation"], second["operation"], again["operation"]] == [
        "created",
        "updated",
        "none",
    ]
    assert first["number"] == second["number"] == again["number"] == pull["number"]
    assert first["head_sha"] != second["head_sha"] == again["head_sha"] == head
    assert again["commit"] is None
    assert pull["title"] == "Bump ghcr.io/acme/app to 1.2.0"
    # One bumper commit on the base, never a stack of them.
    assert git(bare, "rev-list", "--count", f"main..{head}") == "1"
    assert "ghcr.io/acme/app:1.2.0" in show(bare, head, "k8s/app.yaml")


def test_two_images_get_two_pull_requests(fake: FakeGitHub, bumper: Callable[..., Result]) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0").exit_code == 0
    assert bumper("ghcr.io/acme/worker:2.1.0").exit_code == 0
    assert bumper("ghcr.io/acme/app:1.2.0").exit_code == 0

    pulls = {p["head"]["ref"]: p["title"] for p in open_pulls(fake)}
    assert pulls == {
        APP_BRANCH: "Bump ghcr.io/acme/app to 1.2.0",
        "bumper/ghcr.io-acme-worker": "Bump ghcr.io/acme/worker to 2.1.0",
    }


def test_base_moved_rebuilds_the_branch_on_the_new_base_without_conflict(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0").exit_code == 0
    # Someone changes the very line on the base: the old PR branch would now conflict.
    moved = commit_to(bare, "main", {"k8s/app.yaml": APP.replace("1.0.0", "1.0.5")}, "hotfix")

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    head = fake.branch_sha(REPO, APP_BRANCH)
    assert out["operation"] == "updated" and out["head_sha"] == head
    assert git(bare, "rev-list", "--parents", "-n1", head).split() == [head, moved]
    [pull] = open_pulls(fake)
    assert pull["mergeable"] is True
    assert "| `ghcr.io/acme/app:1.0.5` | `ghcr.io/acme/app:1.1.0` |" in pull["body"]


# --------------------------------------------------------------------------- foreign commits


def test_foreign_commit_on_the_branch_stops_bumper_unless_forced(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0").exit_code == 0
    fix = commit_to(bare, APP_BRANCH, {"k8s/extra.yaml": "a: 1\n"}, "colleague's fix")

    refused = bumper("ghcr.io/acme/app:1.2.0")

    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1
    assert "has commits bumper did not make" in refused.stderr
    assert fix[:12] in refused.stderr and "--force" in refused.stderr
    assert fake.branch_sha(REPO, APP_BRANCH) == fix

    forced = delivery(bumper("ghcr.io/acme/app:1.2.0", "--force", "-o", "json"))
    head = fake.branch_sha(REPO, APP_BRANCH)
    assert forced["operation"] == "updated" and head != fix
    assert git(bare, "rev-list", "--count", f"main..{head}") == "1"


def test_updating_the_branch_from_the_base_is_not_a_foreign_commit(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0").exit_code == 0
    commit_to(bare, "main", {"README.md": "moved\n"}, "docs")
    with tempfile.TemporaryDirectory() as tmp:  # GitHub's "Update branch" button
        git(Path(tmp), "clone", "--quiet", "--branch", APP_BRANCH, str(bare), "w")
        git(Path(tmp) / "w", "merge", "--quiet", "--no-edit", "origin/main")
        git(Path(tmp) / "w", "push", "--quiet", "origin", f"HEAD:{APP_BRANCH}")

    assert delivery(bumper("ghcr.io/acme/app:1.2.0", "-o", "json"))["operation"] == "updated"


# --------------------------------------------------------------------------- nothing to do


def test_already_at_target_opens_nothing(fake: FakeGitHub, bumper: Callable[..., Result]) -> None:
    out = delivery(bumper("ghcr.io/acme/app:1.0.0", "-o", "json"))

    assert out["operation"] == "none" and out["number"] is None
    assert "'main' already has ghcr.io/acme/app:1.0.0" in out["summary"]
    assert fake.pulls(REPO) == []
    assert fake.branch_sha(REPO, APP_BRANCH) is None


def test_open_pull_request_is_closed_with_a_comment_when_the_base_has_the_target(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0").exit_code == 0
    commit_to(bare, "main", {"k8s/app.yaml": APP.replace("1.0.0", "1.1.0")}, "manual bump")

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    pull = fake.pull(REPO, out["number"])
    assert out["operation"] == "closed" and pull["state"] == "closed"
    assert pull["comments_list"] == ["Closing: 'main' already has ghcr.io/acme/app:1.1.0. (bumper)"]


def test_late_older_build_neither_rewinds_nor_closes_a_newer_pull_request(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    created = delivery(bumper("ghcr.io/acme/app:1.3.0", "-o", "json"))
    late = delivery(bumper("ghcr.io/acme/app:1.2.0", "-o", "json"))

    assert late["operation"] == "none" and late["head_sha"] == created["head_sha"]
    assert "already proposes 1.3.0" in late["summary"]
    assert [p["title"] for p in open_pulls(fake)] == ["Bump ghcr.io/acme/app to 1.3.0"]


# --------------------------------------------------------------------------- decoration


def test_labels_reviewers_assignees_draft_and_auto_merge_are_recorded(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    args = ["--label", "deploy", "--label", "prod", "--reviewer", "alice"]
    args += ["--team-reviewer", "platform", "--assignee", "bob", "--draft"]
    args += ["--auto-merge", "squash", "--title", "deploy: {name} {old_tag} -> {tag}"]
    out = delivery(bumper("ghcr.io/acme/app:1.1.0", *args, "-o", "json"))
    # Rerunning adds nothing twice.
    assert delivery(bumper("ghcr.io/acme/app:1.1.0", *args, "-o", "json"))["operation"] == "none"

    pull = fake.pull(REPO, out["number"])
    assert pull["title"] == "deploy: ghcr.io/acme/app 1.0.0 -> 1.1.0"
    assert [label["name"] for label in pull["labels"]] == ["deploy", "prod"]
    assert [u["login"] for u in pull["requested_reviewers"]] == ["alice"]
    assert [t["slug"] for t in pull["requested_teams"]] == ["platform"]
    assert [u["login"] for u in pull["assignees"]] == ["bob"]
    assert pull["draft"] is True
    assert pull["auto_merge"]["merge_method"] == "squash"


def test_auto_merge_not_allowed_by_the_repository_says_which_setting(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    fake.repo(REPO).allow_auto_merge = False

    result = bumper("ghcr.io/acme/app:1.1.0", "--auto-merge", "rebase")

    assert result.exit_code == 1
    assert "pull request #1 is open, but auto-merge is not allowed in acme/manifests" in (
        result.stderr
    )
    assert '"Allow auto-merge"' in result.stderr
    assert len(open_pulls(fake)) == 1


def test_auto_merge_on_a_pull_request_without_required_checks_is_a_warning(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    fake.repo(REPO).requires_checks = False

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "--auto-merge", "merge", "-o", "json"))

    assert out["operation"] == "created"
    assert "auto-merge not enabled: pull request #1 can already be merged" in out["warnings"][0]
    assert "\nwarning: auto-merge not enabled" in out["summary"]


def test_reviewer_who_is_not_a_collaborator_is_a_warning(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    fake.repo(REPO).collaborators = {"alice"}

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "--reviewer", "mallory", "-o", "json"))

    assert out["operation"] == "created"
    assert out["warnings"][0].startswith("reviewers not requested: ")


# --------------------------------------------------------------------------- races, limits


def test_race_on_the_branch_update_is_retried(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    assert bumper("ghcr.io/acme/app:1.1.0", "--via", "api").exit_code == 0
    fake.faults.update({"ref_update_races": 1, "race_moves_branch": False})

    out = delivery(bumper("ghcr.io/acme/app:1.2.0", "--via", "api", "-o", "json"))

    assert out["operation"] == "updated" and out["attempts"] == 2
    assert [e.status for e in fake.calls("PATCH", "/git/refs/")] == [422, 200]
    assert fake.branch_sha(REPO, APP_BRANCH) == out["head_sha"]


def test_competing_runs_for_one_image_end_with_one_pull_request(
    fake: FakeGitHub, bare: Path, tmp_path: Path
) -> None:
    """Racing on creating the branch ("Reference already exists") and the pull request
    ("A pull request already exists") is retried as an update."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}}
    env.update(github_env(fake))
    argv = [sys.executable, "-m", "bumper", "set-image", "ghcr.io/acme/app:1.1.0", "k8s"]
    argv += ["--repo", REPO, "--pull-request", "-o", "json"]
    procs = [
        subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    operations = sorted(json.loads(out)["delivery"]["operation"] for out, _ in outputs)
    assert operations.count("created") == 1
    [pull] = fake.pulls(REPO)
    head = fake.branch_sha(REPO, APP_BRANCH)
    assert pull["head"]["sha"] == head
    assert git(bare, "rev-list", "--count", f"main..{head}") == "1"


@pytest.mark.parametrize("kind", ["secondary", "429", "primary"])
def test_rate_limit_answers_are_waited_out(
    fake: FakeGitHub, bumper: Callable[..., Result], kind: str
) -> None:
    fake.faults.update({"rate_limits": 1, "rate_limit_kind": kind, "match": "POST .*/pulls$"})

    out = delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))

    assert out["operation"] == "created"
    assert [e.status for e in fake.calls("POST", "/pulls$")][-2:] in ([403, 201], [429, 201])


def test_server_errors_are_retried(fake: FakeGitHub, bumper: Callable[..., Result]) -> None:
    fake.faults.update({"server_errors": 2, "server_error_status": 502, "match": "/pulls"})

    assert delivery(bumper("ghcr.io/acme/app:1.1.0", "-o", "json"))["operation"] == "created"


def test_rate_limit_longer_than_bumper_waits_fails_clearly(
    fake: FakeGitHub, bumper: Callable[..., Result]
) -> None:
    fake.faults.update({"rate_limits": 1, "rate_limit_kind": "primary", "retry_after": 3600})

    result = bumper("ghcr.io/acme/app:1.1.0")

    assert result.exit_code == 1
    assert "GitHub's rate limit asks to wait" in result.stderr
    assert result.stderr.count("\n") == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (
            {"permissions": {"contents": "read", "pull_requests": "read", "metadata": "read"}},
            "needs 'contents: write' permission",
        ),
        (
            {"permissions": {"contents": "write", "pull_requests": "read", "metadata": "read"}},
            "the token needs 'pull-requests: write' permission",
        ),
        (
            {"can_create_pull_requests": False},
            "GitHub Actions is not permitted to create pull requests in acme/manifests: enable "
            "Settings → Actions → General → Workflow permissions → "
            '"Allow GitHub Actions to create and approve pull requests"',
        ),
    ],
)
@pytest.mark.parametrize("via", ["api", "git"])
def test_permission_errors_are_one_clear_line(
    bare: Path,
    fake_github_factory: Callable[..., FakeGitHub],
    tmp_path: Path,
    token: dict[str, Any],
    expected: str,
    via: str,
) -> None:
    fake = fake_github_factory({REPO: bare}, tokens={"limited-token-value": token})
    argv = ["set-image", "ghcr.io/acme/app:1.1.0", "k8s", "--repo", REPO, "--pull-request"]
    argv += ["--via", via, "--author", "CI <ci@example.com>"]
    env = github_env(fake, token="limited-token-value")

    result = CliRunner().invoke(main, argv, env=env, catch_exceptions=False)

    assert result.exit_code == 1
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert "limited-token-value" not in result.stderr + result.stdout
    assert open_pulls(fake) == []


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {"GITHUB_TOKEN": "wrong"}, "GitHub rejected the token (401 Bad credentials)"),
        (("--repo", "acme/nope"), {}, "repository acme/nope not found"),
        (("--base", "release"), {}, "base branch 'release' not found in acme/manifests"),
        ((), {"GITHUB_TOKEN": ""}, "needs a token: pass --token or set GITHUB_TOKEN"),
        (("--branch", "x/{image}"), {}, "unknown placeholder {image} in --branch"),
        (("--title", "{nope}"), {}, "unknown placeholder {nope} in --title"),
    ],
)
def test_usage_and_lookup_errors(
    bumper: Callable[..., Result], args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    result = bumper("ghcr.io/acme/app:1.1.0", *args, env=env)

    assert result.exit_code == 1
    assert expected in result.stderr
    assert TOKEN not in result.stderr


# --------------------------------------------------------------------------- via git, checkout


def test_via_git_pushes_the_branch_and_force_updates_only_its_own_commit(
    fake: FakeGitHub, bare: Path, bumper: Callable[..., Result]
) -> None:
    actions = {"GITHUB_ACTIONS": "true"}
    first = delivery(bumper("ghcr.io/acme/app:1.1.0", "--via", "git", "-o", "json", env=actions))
    second = delivery(bumper("ghcr.io/acme/app:1.2.0", "--via", "git", "-o", "json", env=actions))

    head = fake.branch_sha(REPO, APP_BRANCH)
    assert (first["operation"], second["operation"]) == ("created", "updated")
    assert second["head_sha"] == head and second["verified"] is None
    assert git(bare, "rev-list", "--count", f"main..{head}") == "1"
    assert git(bare, "log", "-1", "--format=%an", head) == "github-actions[bot]"
    assert not fake.commit_verification(REPO, head)["verified"]
    assert len(fake.pulls(REPO)) == 1

    fix = commit_to(bare, APP_BRANCH, {"k8s/extra.yaml": "a: 1\n"}, "fix")
    refused = bumper("ghcr.io/acme/app:1.3.0", "--via", "git", env=actions)
    assert refused.exit_code == 1 and fake.branch_sha(REPO, APP_BRANCH) == fix


def test_checkout_origin_names_the_repository(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    header = "Authorization: token " + TOKEN
    git(
        tmp_path,
        "-c",
        f"http.extraheader={header}",
        "clone",
        "--quiet",
        f"{fake.base_url}/{REPO}.git",
        str(checkout),
    )
    monkeypatch.chdir(checkout / "k8s")  # paths are taken relative to where the user is
    argv = ["set-image", "ghcr.io/acme/app:1.1.0", ".", "--pull-request", "-o", "json"]

    result = CliRunner().invoke(main, argv, env=github_env(fake), catch_exceptions=False)

    out = delivery(result)
    assert out["operation"] == "created" and out["branch"] == APP_BRANCH
    assert json.loads(result.stdout)["files"] == ["k8s/app.yaml"]
    assert (checkout / "k8s/app.yaml").read_text() == APP  # the local files are not touched


def test_pull_request_mode_commits_through_the_api_by_default(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bumper.delivery.modes import deliver
    from bumper.pipeline import Bump

    bump = Bump(["ghcr.io/acme/app:1.1.0"], ["k8s"], relative_to_root=True)
    request = DeliveryRequest(pull_request=PullRequestOptions(), repo=REPO)

    result = deliver(bump, request, github_env(fake))

    assert result.mode == "pull-request" and result.verified is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--label", "x"), "--label applies to pull-request mode only"),
        (("--draft",), "--draft applies to pull-request mode only"),
        (("--via", "api", "--commit"), "--via api makes the commit on GitHub"),
    ],
)
def test_pull_request_options_without_pull_request_mode_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "app.yaml").write_text("image: ghcr.io/acme/app:1.0.0\n")
    monkeypatch.chdir(tmp_path)
    argv = ["set-image", "ghcr.io/acme/app:1.1.0", ".", "--commit", *args]

    result = CliRunner().invoke(main, argv, catch_exceptions=False)

    assert result.exit_code == 2 and message in result.stderr
    assert (tmp_path / "app.yaml").read_text() == "image: ghcr.io/acme/app:1.0.0\n"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("ghcr.io/acme/app", "ghcr.io-acme-app"),
        ("nginx", "nginx"),
        ("localhost:5000/team/app", "localhost-5000-team-app"),
        ("registry.example.com/a..b/c", "registry.example.com-a.b-c"),
        ("ghcr.io/acme/app.lock", "ghcr.io-acme-app"),
    ],
)
def test_branch_safe_names(name: str, safe: str) -> None:
    assert branch_safe(name) == safe
    assert branch_name(None, name) == f"bumper/{safe}"


@pytest.mark.parametrize(
    ("location", "env", "expected"),
    [
        ("acme/x", {}, ("acme/x", "https://github.com", "https://api.github.com")),
        (
            "https://github.com/acme/x.git",
            {},
            ("acme/x", "https://github.com", "https://api.github.com"),
        ),
        (
            "git@github.com:acme/x.git",
            {},
            ("acme/x", "https://github.com", "https://api.github.com"),
        ),
        ("https://ghe.corp/acme/x", {}, ("acme/x", "https://ghe.corp", "https://ghe.corp/api/v3")),
        (
            "acme/x",
            {"GITHUB_SERVER_URL": "https://ghe.corp"},
            ("acme/x", "https://ghe.corp", "https://ghe.corp/api/v3"),
        ),
        (
            "http://127.0.0.1:8080/acme/x.git",
            {
                "GITHUB_SERVER_URL": "http://127.0.0.1:8080",
                "GITHUB_API_URL": "http://127.0.0.1:8080/api/v3",
            },
            ("acme/x", "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v3"),
        ),
    ],
)
def test_github_repository_locations(
    location: str, env: dict[str, str], expected: tuple[str, str, str]
) -> None:
    repo = github_repo(location, env)
    assert (repo.slug, repo.server_url, repo.api_url) == expected


# --------------------------------------------------------------------------- standalone


def test_bumper_command_against_the_standalone_fake(tmp_path: Path) -> None:
    """What an outside check does: the fake as a process, ``bumper`` as a process."""
    bare = create_bare_repo(tmp_path / "m.git", FILES)
    script = Path(__file__).with_name("fakegithub.py")
    server = subprocess.Popen(
        [sys.executable, str(script), "--repo", f"{REPO}={bare}", "--token", "T0KEN"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
            "GITHUB_SERVER_URL": base,
            "GITHUB_API_URL": f"{base}/api/v3",
            "GITHUB_TOKEN": "T0KEN",
        }
        bumper = [sys.executable, "-m", "bumper", "set-image"]
        argv = ["k8s", "--repo", REPO, "--pull-request", "--label", "deploy", "-o", "json"]
        runs = [
            subprocess.run(
                [*bumper, f"ghcr.io/acme/app:{tag}", *argv],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )
            for tag in ("1.1.0", "1.2.0")
        ]
        state_url = f"{base}/_fake/state"
        import urllib.request

        with urllib.request.urlopen(state_url, timeout=10) as answer:
            state = json.load(answer)[REPO]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr
    operations = [json.loads(r.stdout)["delivery"]["operation"] for r in runs]
    assert operations == ["created", "updated"]
    [pull] = state["pulls"]
    assert pull["title"] == "Bump ghcr.io/acme/app to 1.2.0"
    assert state["branches"][APP_BRANCH] == pull["head"]["sha"]
    assert "T0KEN" not in runs[0].stderr + runs[1].stderr
