"""The release lifecycle in real git repositories: grouped bumps, promotion, history and
rollbacks that stick, locally, against bare remotes and through the fake GitHub."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bumper.cli import main
from tests import fakegithub_fixtures
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import IDENTITY, create_bare_repo

fake_github_factory = fakegithub_fixtures.fake_github_factory

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
REPO = "acme/manifests"
TOKEN = "ghs_test-lifecycle-TOKEN"
STAGING = "images:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: 1.0.0\n"
PROD = "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n"
SERVICES = "".join(
    f"- name: {name}\n  image: ghcr.io/acme/{name}:1.0.0\n" for name in ("api", "web", "worker")
)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"},
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with staging (kustomize) and prod (Helm values), identity configured."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    files = {"staging/kustomization.yaml": STAGING, "prod/values.yaml": PROD,
             "services.yaml": "containers:\n" + SERVICES}  # fmt: skip
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", ".")
    git(work, "commit", "-qm", "initial manifests")
    monkeypatch.chdir(work)
    return work


def bumper(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def head_message(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%B")


# --- grouped bumps --------------------------------------------------------------------


def test_a_group_of_three_images_is_one_commit(repo: Path) -> None:
    before = git(repo, "rev-parse", "HEAD")
    result = bumper(
        "set-image", "ghcr.io/acme/api:1.1.0", "services.yaml",
        "--image", "ghcr.io/acme/web:1.2.0", "--image", "ghcr.io/acme/worker:1.3.0",
        "--group", "release-7", "--commit",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert git(repo, "rev-list", "--count", f"{before}..HEAD") == "1"
    text = (repo / "services.yaml").read_text()
    assert all(
        f"{n}:{v}" in text for n, v in (("api", "1.1.0"), ("web", "1.2.0"), ("worker", "1.3.0"))
    )
    message = head_message(repo)
    assert message.count("Bumped-Image:") == 3
    assert message.startswith("chore(deploy): bump release-7 to api:1.1.0, web:1.2.0, worker:1.3.0")


def test_a_group_with_one_bad_image_writes_nothing(repo: Path) -> None:
    result = bumper(
        "set-image", "ghcr.io/acme/api:1.1.0", "services.yaml", "--image", "ghcr.io/acme/nope:1",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no reference to ghcr.io/acme/nope found" in result.stderr
    assert "nothing written" in result.stderr
    assert (repo / "services.yaml").read_text() == "containers:\n" + SERVICES


def test_images_from_a_file_and_stdin(repo: Path, tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text("# the release\nghcr.io/acme/web:2.0.0\n\nghcr.io/acme/worker:2.0.0\n")
    result = bumper("set-image", "ghcr.io/acme/api:2.0.0", "services.yaml",
                    "--images-from", str(listing), "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("+- name:") == 0 and result.stdout.count("2.0.0") == 3
    piped = CliRunner().invoke(
        main, ["set-image", "ghcr.io/acme/api:2.0.0", "services.yaml", "--images-from", "-"],
        input="ghcr.io/acme/web:2.0.0\n",
    )  # fmt: skip
    assert piped.exit_code == 0
    assert "web:2.0.0" in (repo / "services.yaml").read_text()


# --- promotion ------------------------------------------------------------------------


def test_promote_copies_tag_and_digest_between_kustomize_and_helm(repo: Path) -> None:
    assert bumper("set-image", f"ghcr.io/acme/app:1.2.0@{D1}", "staging", "--commit").exit_code == 0
    result = bumper("promote", "--from", "staging", "--to", "prod", "--commit")
    assert result.exit_code == 0, result.stderr
    assert (repo / "prod/values.yaml").read_text() == (
        f"image:\n  repository: ghcr.io/acme/app\n  tag: 1.2.0\n  digest: {D1}\n"
    )
    message = head_message(repo)
    assert message.startswith("Promote app 1.2.0@sha256:")
    assert "Promoted-From: staging" in message
    assert f"Bumped-Image: ghcr.io/acme/app:1.2.0@{D1}" in message


def test_promote_refuses_two_versions_in_the_source(repo: Path) -> None:
    (repo / "staging/extra.yaml").write_text("image: ghcr.io/acme/app:9.9.9\n")
    result = bumper("promote", "--from", "staging", "--to", "prod")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("bumper: error: ghcr.io/acme/app is at ") and "\n" not in line
    assert "staging/kustomization.yaml:4" in line and "staging/extra.yaml:1" in line
    assert (repo / "prod/values.yaml").read_text() == PROD


def test_promote_keeps_the_downgrade_guard(repo: Path) -> None:
    (repo / "prod/values.yaml").write_text(PROD.replace("1.0.0", "2.0.0"))
    result = bumper("promote", "--from", "staging", "--to", "prod")
    assert result.exit_code == 0
    assert "skipped: downgrade 2.0.0 → 1.0.0" in result.stderr
    forced = bumper("promote", "--from", "staging", "--to", "prod", "--allow-downgrade")
    assert forced.exit_code == 0 and "tag: 1.0.0" in (repo / "prod/values.yaml").read_text()


def test_promote_only_the_images_named(repo: Path) -> None:
    result = bumper("promote", "--from", "staging", "--to", "prod", "--image", "ghcr.io/acme/web")
    assert result.exit_code == 1 and "ghcr.io/acme/web is not in staging" in result.stderr


# --- history and rollback --------------------------------------------------------------


def _release_train(repo: Path) -> None:
    """1.1.0 then 1.2.0@D1 in staging, promoted to prod, then 1.3.0@D2 everywhere."""
    for image in ("ghcr.io/acme/app:1.1.0", f"ghcr.io/acme/app:1.2.0@{D1}"):
        assert bumper("set-image", image, "staging", "--commit").exit_code == 0
    assert bumper("promote", "--from", "staging", "--to", "prod", "--commit").exit_code == 0
    assert bumper("set-image", f"ghcr.io/acme/app:1.3.0@{D2}", ".", "--commit").exit_code == 0


def test_history_lists_bumps_promotions_and_rollbacks_newest_first(repo: Path) -> None:
    _release_train(repo)
    assert bumper("rollback", "ghcr.io/acme/app", "prod", "--commit").exit_code == 0
    result = bumper("history", "ghcr.io/acme/app", "prod", "--output", "json")
    assert result.exit_code == 0, result.stderr
    events = json.loads(result.stdout)["events"]
    steps = [(e["kind"], e["old"]["tag"] if e["old"] else None, e["new"]["tag"]) for e in events]
    assert steps == [
        ("rollback", "1.3.0", "1.2.0"),
        ("bump", "1.2.0", "1.3.0"),
        ("promotion", "1.0.0", "1.2.0"),
        ("change", None, "1.0.0"),
    ]
    assert events[0]["new"]["digest"] == D1 and events[0]["rolled_back_from"] == f"1.3.0@{D2}"
    assert events[2]["promoted_from"] == "staging"
    text = bumper("history", "ghcr.io/acme/app", "staging").stdout.splitlines()
    assert [line.split()[2] for line in text] == ["bump", "bump", "bump", "change"]


def test_rollback_restores_the_exact_previous_version_and_sticks(repo: Path) -> None:
    _release_train(repo)
    result = bumper("rollback", "ghcr.io/acme/app", "prod", "--commit")
    assert result.exit_code == 0, result.stderr
    assert (repo / "prod/values.yaml").read_text() == (
        f'image:\n  repository: ghcr.io/acme/app\n  tag: 1.2.0\n  digest: "{D1}"\n'
    ) or f"digest: {D1}" in (repo / "prod/values.yaml").read_text()
    assert f"Rolled-Back-From: ghcr.io/acme/app:1.3.0@{D2}" in head_message(repo)
    # The broken release's pipeline runs again: refused, one line, nothing written.
    rerun = bumper("set-image", f"ghcr.io/acme/app:1.3.0@{D2}", "prod", "--commit")
    assert rerun.exit_code == 1
    assert "refusing to deploy ghcr.io/acme/app:1.3.0@" in rerun.stderr
    assert "rolled back in commit" in rerun.stderr and "--force" in rerun.stderr
    assert "1.2.0" in (repo / "prod/values.yaml").read_text()
    # A newer release goes through.
    newer = bumper("set-image", f"ghcr.io/acme/app:1.4.0@{D3}", "prod", "--commit")
    assert newer.exit_code == 0, newer.stderr


def test_force_deploys_a_rolled_back_version(repo: Path) -> None:
    _release_train(repo)
    assert bumper("rollback", "ghcr.io/acme/app", "prod", "--commit").exit_code == 0
    forced = bumper("set-image", f"ghcr.io/acme/app:1.3.0@{D2}", "prod", "--commit", "--force")
    assert forced.exit_code == 0, forced.stderr
    # Deployed again on purpose: no longer refused.
    assert bumper("rollback", "ghcr.io/acme/app", "prod", "--dry-run").exit_code == 0


@pytest.mark.parametrize(
    ("args", "tag"), [((), "1.2.0"), (("--steps", "2"), "1.0.0"), (("--to", "1.0.0"), "1.0.0")]
)
def test_rollback_chooses_the_version(repo: Path, args: tuple[str, ...], tag: str) -> None:
    _release_train(repo)
    result = bumper("rollback", "ghcr.io/acme/app", "prod", "--dry-run", *args)
    assert result.exit_code == 0, result.stderr
    assert f"→ {tag}" in result.stderr


def test_rollback_without_an_earlier_version_is_exit_1(repo: Path) -> None:
    result = bumper("rollback", "ghcr.io/acme/app", "prod")
    assert result.exit_code == 1
    assert "no version of ghcr.io/acme/app 1 step(s) before 1.0.0" in result.stderr


def test_rollback_usage_errors(repo: Path) -> None:
    result = bumper("rollback", "ghcr.io/acme/app", "prod", "--to", "1.0.0", "--steps", "2")
    assert result.exit_code == 2


# --- with a remote: concurrency and pull requests ----------------------------------------


def test_parallel_promotions_and_bumps_all_land(tmp_path: Path) -> None:
    files = {"staging/kustomization.yaml": STAGING.replace("1.0.0", "1.5.0"),
             "prod/values.yaml": PROD, "services.yaml": "containers:\n" + SERVICES}  # fmt: skip
    bare = create_bare_repo(tmp_path / "manifests.git", files)
    url = bare.as_uri()
    commands = [
        ["promote", "--from", "staging", "--to", "prod", "--repo", url],
        *(
            ["set-image", f"ghcr.io/acme/{name}:3.0.0", "services.yaml", "--repo", url]
            for name in ("api", "web", "worker")
        ),
    ]
    env = {**IDENTITY, "PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bumper", *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), errors
    services = git(bare, "show", "main:services.yaml")
    assert all(f"{name}:3.0.0" in services for name in ("api", "web", "worker"))
    assert "tag: 1.5.0" in git(bare, "show", "main:prod/values.yaml")


@pytest.fixture
def fake(tmp_path: Path, fake_github_factory: Callable[..., FakeGitHub]) -> FakeGitHub:
    files = {"staging/kustomization.yaml": STAGING.replace("1.0.0", f"1.5.0\n  digest: {D1}"),
             "prod/values.yaml": PROD, "services.yaml": "containers:\n" + SERVICES}  # fmt: skip
    bare = create_bare_repo(tmp_path / "remotes" / "manifests.git", files)
    return fake_github_factory({REPO: bare}, tokens={TOKEN: {}})


@pytest.fixture
def github(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    yield {
        "GITHUB_SERVER_URL": fake.base_url,
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_TOKEN": TOKEN,
    }


def test_a_group_is_one_pull_request_with_every_change(
    fake: FakeGitHub, github: dict[str, str]
) -> None:
    args = ["set-image", "ghcr.io/acme/api:1.1.0", "services.yaml", "--image",
            "ghcr.io/acme/web:1.1.0", "--image", "ghcr.io/acme/worker:1.1.0", "--group",
            "release-8", "--repo", REPO, "--pull-request", "--output", "json"]  # fmt: skip
    result = bumper(*args, env=github)
    assert result.exit_code == 0, result.stderr
    delivery = json.loads(result.stdout)["delivery"]
    assert delivery["operation"] == "created" and delivery["branch"] == "bumper/release-8"
    pulls = fake.pulls(REPO, state="open")
    assert len(pulls) == 1
    body = pulls[0]["body"]
    assert all(f"ghcr.io/acme/{name}:1.1.0" in body for name in ("api", "web", "worker"))
    again = bumper(*args, env=github)
    assert json.loads(again.stdout)["delivery"]["operation"] == "none"
    assert len(fake.pulls(REPO, state="open")) == 1


def test_promotion_pull_request_says_what_moves_where(
    fake: FakeGitHub, github: dict[str, str]
) -> None:
    result = bumper("promote", "--from", "staging", "--to", "prod", "--repo", REPO,
                    "--pull-request", "--output", "json", env=github)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    pull = fake.pulls(REPO, state="open")[0]
    assert pull["title"] == f"Promote app 1.5.0@{D1} from staging to prod"
    assert "from `staging` to `prod`" in pull["body"]
    assert pull["head"]["ref"] == "bumper/promote-staging-to-prod"
