"""Delivering a bump to git: commit only what changed, land it race-safely, keep tokens secret.

Everything here is real: git repositories and bare remotes in temporary folders, a
smart-HTTP git server on 127.0.0.1 that demands a token, and the real planner.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bumper.delivery.contract import BumpFn, BumpOutcome, DeliverOptions, resolve_token
from bumper.delivery.github import repository_url
from bumper.delivery.gitpush import deliver_checkout, deliver_remote
from bumper.delivery.messages import wants_skip_ci
from bumper.delivery.workspace import ACTIONS_BOT
from bumper.edit.plan import plan_set_image
from bumper.errors import BumperError
from bumper.git import Failure, classify

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # the test helpers live next to the tests

from githttp import GitHttpServer  # noqa: E402

TOKEN = "ghs_test-s3cret-TOKEN-value"
READ_ONLY = "ghs_test-readONLY-token"

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
          image: ghcr.io/acme/app:1.4.1  # released by CI
"""
WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: ghcr.io/acme/worker:2.0.0
"""
FLEET_SIZE = 20


def fleet() -> str:
    """One Deployment with FLEET_SIZE containers, each its own image at 1.0.0."""
    containers = "".join(
        f"        - name: app{i:02}\n          image: registry.local/team/app{i:02}:1.0.0\n"
        for i in range(FLEET_SIZE)
    )
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: fleet\n"
        "spec:\n  template:\n    spec:\n      containers:\n" + containers
    )


def planner(target: str, *paths: str, allow_downgrade: bool = False) -> BumpFn:
    """The adapter the CLI uses: plan with the real planner in the given work tree."""

    def bump(root: Path) -> BumpOutcome:
        plan = plan_set_image(target, [root / p for p in paths or (".",)],
                              allow_downgrade=allow_downgrade)  # fmt: skip
        return BumpOutcome(
            files=plan.changed_files,
            apply=plan.apply,
            name=plan.target.written_name,
            tag=plan.target.tag,
            digest=plan.target.digest,
            old_tags=[c.old_tag for c in plan.changes if c.old_tag],
            summaries=[
                f"{Path(c.path).relative_to(root)}:{c.line}: {c.old} -> {c.new}"
                for c in plan.changes
            ],
        )

    return bump


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def make_remote(path: Path, files: dict[str, str]) -> Path:
    """A bare repository at ``path`` whose main branch holds ``files``."""
    git(path.parent, "init", "--quiet", "--bare", "-b", "main", path.name)
    seed = path.parent / f"{path.name}-seed"
    git(path.parent, "clone", "--quiet", str(path), str(seed))
    for name, text in files.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "initial manifests")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return path


def remote_file(remote: Path, name: str, ref: str = "main") -> str:
    return git(remote, "show", f"{ref}:{name}")


def last_commit(repo: Path, fmt: str, ref: str = "HEAD") -> str:
    return git(repo, "log", "-1", f"--format={fmt}", ref)


def push_competing_change(remote: Path, where: Path, name: str, text: str) -> None:
    """Another pipeline lands a commit on main."""
    if not where.exists():
        git(remote.parent, "clone", "--quiet", str(remote), str(where))
    git(where, "pull", "--quiet", "--ff-only")
    (where / name).parent.mkdir(parents=True, exist_ok=True)
    (where / name).write_text(text)
    git(where, "add", name)
    git(where, "commit", "--quiet", "-m", f"competing change to {name}")
    git(where, "push", "--quiet", "origin", "HEAD:main")


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A known git identity and none of the CI variables of the machine running the tests."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text(
        "[user]\n\tname = Test Person\n\temail = person@example.test\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "GITHUB_TOKEN",
                 "BUMPER_TOKEN", "GIT_CONFIG_COUNT", "GIT_DIR", "GIT_WORK_TREE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "manifests.git", {"k8s/app.yaml": APP, "k8s/worker.yaml": WORKER})


@pytest.fixture
def checkout(tmp_path: Path, remote: Path) -> Path:
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    return work


# --- commit only what changed -----------------------------------------------------------


def test_commit_only_the_changed_files_and_leave_other_work_alone(checkout: Path) -> None:
    (checkout / "README.md").write_text("work in progress\n")
    (checkout / "notes.txt").write_text("staged, not mine\n")
    git(checkout, "add", "notes.txt")

    result = deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout)

    assert (result.changed, result.pushed, result.files) == (True, False, ("k8s/app.yaml",))
    assert git(checkout, "show", "--format=", "--name-only", "HEAD") == "k8s/app.yaml"
    assert result.commit == git(checkout, "rev-parse", "HEAD")
    app = (checkout / "k8s/app.yaml").read_text()
    assert app == APP.replace("app:1.4.1", "app:1.4.2")
    assert git(checkout, "status", "--porcelain") == "A  notes.txt\n?? README.md"


@pytest.mark.parametrize("mode", ["checkout", "remote"])
def test_rerun_commits_and_pushes_nothing(mode: str, remote: Path, checkout: Path) -> None:
    bump = planner("ghcr.io/acme/app:1.4.2", "k8s")

    def deliver() -> object:
        if mode == "checkout":
            return deliver_checkout(bump, path=checkout, push=True)
        return deliver_remote(bump, remote.as_uri(), branch="main")

    first = deliver()
    head = git(remote, "rev-parse", "main")
    second = deliver()

    assert first.changed and first.pushed
    assert (second.changed, second.up_to_date, second.commit) == (False, True, None)
    assert not second.pushed
    assert second.summary() == "already up to date"
    assert git(remote, "rev-parse", "main") == head
    assert git(remote, "rev-list", "--count", "main") == "2"


def test_a_bump_that_writes_identical_bytes_commits_nothing(checkout: Path) -> None:
    app = checkout / "k8s/app.yaml"

    def same_bytes(root: Path) -> BumpOutcome:
        return BumpOutcome(files=[app], apply=lambda: app.write_text(APP), name="ghcr.io/acme/app",
                           tag="1.4.1")  # fmt: skip

    result = deliver_checkout(same_bytes, path=checkout, push=True)

    assert (result.up_to_date, result.commit) == (True, None)
    assert git(checkout, "rev-list", "--count", "HEAD") == "1"


def test_outside_a_work_tree_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BumperError, match="not inside a git work tree"):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2"), path=tmp_path)


# --- message, trailer, author, [skip ci] --------------------------------------------------

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("target", "template", "subject"),
    [
        ("ghcr.io/acme/app:1.4.2", None, "chore(deploy): bump ghcr.io/acme/app to 1.4.2"),
        ("ghcr.io/acme/app:1.4.2", "deploy {name}: {old_tag} -> {new_tag}",
         "deploy ghcr.io/acme/app: 1.4.1 -> 1.4.2"),
        ("ghcr.io/acme/app:1.4.2", "release {image} ({files})",
         "release ghcr.io/acme/app:1.4.2 (k8s/app.yaml)"),
        (f"ghcr.io/acme/app:1.4.2@{DIGEST}", "{name} {tag} {digest}",
         f"ghcr.io/acme/app 1.4.2 {DIGEST}"),
        (f"ghcr.io/acme/app@{DIGEST}", None, f"chore(deploy): bump ghcr.io/acme/app to {DIGEST}"),
    ],
)  # fmt: skip
def test_message_template_and_trailer(checkout: Path, target: str, template: str | None,
                                      subject: str) -> None:  # fmt: skip
    deliver_checkout(planner(target, "k8s"), path=checkout,
                     options=DeliverOptions(message=template))  # fmt: skip

    assert last_commit(checkout, "%s") == subject
    assert last_commit(checkout, "%(trailers:key=Bumped-Image,valueonly)") == target


def test_default_message_lists_each_change_in_the_body(checkout: Path) -> None:
    deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout)

    assert last_commit(checkout, "%B").strip() == (
        "chore(deploy): bump ghcr.io/acme/app to 1.4.2\n\n"
        "k8s/app.yaml:10: ghcr.io/acme/app:1.4.1 -> ghcr.io/acme/app:1.4.2\n\n"
        "Bumped-Image: ghcr.io/acme/app:1.4.2"
    )


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("bump {nmae}", "unknown placeholder {nmae}"),
        ("bump {name", "invalid --message template"),
        ("{changes}", "empty commit subject"),
    ],
)
def test_bad_template_fails_before_anything_is_written(checkout: Path, template: str,
                                                       error: str) -> None:  # fmt: skip
    with pytest.raises(BumperError, match=error.replace("{", r"\{")):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout,
                         options=DeliverOptions(message=template))  # fmt: skip
    assert (checkout / "k8s/app.yaml").read_text() == APP
    assert git(checkout, "rev-list", "--count", "HEAD") == "1"


@pytest.mark.parametrize(
    ("author", "github_actions", "expected"),
    [
        (None, None, "Test Person <person@example.test>"),
        (None, "true", ACTIONS_BOT),
        ("Release Bot <release@acme.test>", None, "Release Bot <release@acme.test>"),
        ("Release Bot <release@acme.test>", "true", "Release Bot <release@acme.test>"),
    ],
)
def test_author(checkout: Path, monkeypatch: pytest.MonkeyPatch, author: str | None,
                github_actions: str | None, expected: str) -> None:  # fmt: skip
    if github_actions:
        monkeypatch.setenv("GITHUB_ACTIONS", github_actions)

    deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout,
                     options=DeliverOptions(author=author))  # fmt: skip

    assert last_commit(checkout, "%an <%ae>") == expected
    assert last_commit(checkout, "%cn <%ce>") == expected


@pytest.mark.parametrize(
    ("author", "error"),
    [("release-bot", "--author must look like 'Name <email>'"), (None, "no author identity")],
)
def test_author_errors(checkout: Path, hermetic_git: Path, author: str | None, error: str) -> None:
    (hermetic_git / "gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    with pytest.raises(BumperError, match=error):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout,
                         options=DeliverOptions(author=author))  # fmt: skip
    assert (checkout / "k8s/app.yaml").read_text() == APP


GH = {"GITHUB_REPOSITORY": "acme/manifests"}
GHES = {"GITHUB_REPOSITORY": "acme/manifests", "GITHUB_SERVER_URL": "https://git.acme.test"}


@pytest.mark.parametrize(
    ("mode", "url", "env", "pull_request", "skip"),
    [
        ("auto", "https://github.com/acme/manifests", GH, False, True),
        ("auto", "https://github.com/Acme/Manifests.git", GH, False, True),
        ("auto", "git@github.com:acme/manifests.git", GH, False, True),
        ("auto", "https://github.com/acme/manifests", GH, True, False),
        ("auto", "https://github.com/acme/other-manifests", GH, False, False),
        ("auto", "https://git.acme.test/acme/manifests", GH, False, False),
        ("auto", "https://git.acme.test/acme/manifests", GHES, False, True),
        ("auto", "https://github.com/acme/manifests", {}, False, False),
        ("always", "https://github.com/acme/other", {}, False, True),
        ("always", "https://github.com/acme/manifests", GH, True, True),
        ("never", "https://github.com/acme/manifests", GH, False, False),
    ],
)
def test_skip_ci(mode: str, url: str, env: dict[str, str], pull_request: bool, skip: bool) -> None:
    assert wants_skip_ci(mode, url, pull_request=pull_request, env=env) is skip


def test_skip_ci_rejects_unknown_mode() -> None:
    with pytest.raises(BumperError, match="--skip-ci must be one of auto, always, never"):
        wants_skip_ci("sometimes", "https://github.com/a/b", pull_request=False, env={})


@pytest.mark.parametrize(
    ("repository", "skip_ci", "subject"),
    [
        ("acme/manifests", "auto", "chore(deploy): bump ghcr.io/acme/app to 1.4.2 [skip ci]"),
        ("acme/app", "auto", "chore(deploy): bump ghcr.io/acme/app to 1.4.2"),
        ("acme/app", "always", "chore(deploy): bump ghcr.io/acme/app to 1.4.2 [skip ci]"),
        ("acme/manifests", "never", "chore(deploy): bump ghcr.io/acme/app to 1.4.2"),
    ],
)
def test_skip_ci_on_a_real_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                repository: str, skip_ci: str, subject: str) -> None:  # fmt: skip
    srv = tmp_path / "srv"
    (srv / "acme").mkdir(parents=True)
    bare = make_remote(srv / "acme" / "manifests", {"k8s/app.yaml": APP})
    with GitHttpServer(srv, token=TOKEN) as server:
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{server.port}")
        monkeypatch.setenv("GITHUB_REPOSITORY", repository)
        deliver_remote(planner("ghcr.io/acme/app:1.4.2", "k8s"), "acme/manifests",
                       token=TOKEN, options=DeliverOptions(skip_ci=skip_ci))  # fmt: skip

    assert last_commit(bare, "%s", "main") == subject


# --- refusing to mix with local work --------------------------------------------------------


@pytest.mark.parametrize(
    ("prepare", "error"),
    [
        ("edit", "k8s/app.yaml: has uncommitted changes"),
        ("stage", "k8s/app.yaml: has uncommitted changes"),
        ("untracked", "k8s/new.yaml: not tracked by git"),
    ],
)
def test_refuse_when_a_file_to_commit_has_local_changes(checkout: Path, prepare: str,
                                                        error: str) -> None:  # fmt: skip
    app = checkout / "k8s/app.yaml"
    if prepare in ("edit", "stage"):
        app.write_text(APP.replace("name: app\n", "name: app  # local edit\n", 1))
    if prepare == "stage":
        git(checkout, "add", "k8s/app.yaml")
    if prepare == "untracked":
        (checkout / "k8s/new.yaml").write_text(APP)
    before = {p: p.read_text() for p in (checkout / "k8s").iterdir()}
    head = git(checkout, "rev-parse", "HEAD")

    with pytest.raises(BumperError, match=error):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)

    assert {p: p.read_text() for p in (checkout / "k8s").iterdir()} == before
    assert git(checkout, "rev-parse", "HEAD") == head


# --- checkout mode: where the push goes ----------------------------------------------------


def test_push_goes_to_the_upstream_of_the_current_branch(checkout: Path, remote: Path) -> None:
    result = deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)

    assert (result.pushed, result.branch, result.remote) == (True, "main", str(remote))
    assert git(remote, "rev-parse", "main") == result.commit == git(checkout, "rev-parse", "HEAD")
    assert "ghcr.io/acme/app:1.4.2" in remote_file(remote, "k8s/app.yaml")


def test_push_to_a_named_branch_from_a_detached_head(checkout: Path, remote: Path) -> None:
    git(remote, "branch", "release", "main")
    git(checkout, "checkout", "--quiet", "--detach", "HEAD")

    result = deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout,
                              push=True, branch="release")  # fmt: skip

    assert result.branch == "release"
    assert "ghcr.io/acme/app:1.4.2" in remote_file(remote, "k8s/app.yaml", "release")
    assert "ghcr.io/acme/app:1.4.1" in remote_file(remote, "k8s/app.yaml", "main")


def test_detached_head_without_branch_is_refused(checkout: Path) -> None:
    git(checkout, "checkout", "--quiet", "--detach", "HEAD")
    with pytest.raises(BumperError, match=r"a detached HEAD has no upstream branch.*--branch"):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)


def test_unknown_branch_is_reported(checkout: Path, remote: Path) -> None:
    with pytest.raises(BumperError, match=f"branch 'nope' not found in {remote}"):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout,
                         push=True, branch="nope")  # fmt: skip
    assert git(remote, "branch", "--list") == "* main"


def test_unpushed_local_commits_are_refused(checkout: Path, remote: Path) -> None:
    (checkout / "other.txt").write_text("mine\n")
    git(checkout, "add", "other.txt")
    git(checkout, "commit", "--quiet", "-m", "local work")

    with pytest.raises(BumperError, match=r"HEAD has 1 commit.* not on origin/main"):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)
    assert git(remote, "rev-list", "--count", "main") == "1"


def test_a_stale_checkout_is_brought_up_to_the_remote_head(
    tmp_path: Path, checkout: Path, remote: Path
) -> None:
    newer_worker = WORKER.replace("2.0.0", "2.1.0")
    push_competing_change(remote, tmp_path / "other", "k8s/worker.yaml", newer_worker)

    result = deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)

    assert result.attempts == 1
    assert "ghcr.io/acme/worker:2.1.0" in remote_file(remote, "k8s/worker.yaml")
    assert "ghcr.io/acme/app:1.4.2" in remote_file(remote, "k8s/app.yaml")


# --- races ------------------------------------------------------------------------------------


def racing(bump: BumpFn, remote: Path, where: Path, times: int) -> BumpFn:
    """``bump``, but the first ``times`` calls let another pipeline push just before."""
    calls = iter(range(times))

    def bump_while_racing(root: Path) -> BumpOutcome:
        n = next(calls, None)
        if n is not None:
            push_competing_change(remote, where, f"other/{n}.txt", f"{n}\n")
        return bump(root)

    return bump_while_racing


@pytest.mark.parametrize("mode", ["checkout", "remote"])
def test_rejected_push_is_replanned_on_the_new_head(mode: str, tmp_path: Path, checkout: Path,
                                                    remote: Path) -> None:  # fmt: skip
    bump = racing(planner("ghcr.io/acme/app:1.4.2", "k8s"), remote, tmp_path / "rival", times=2)
    options = DeliverOptions(base_delay=0.01)
    if mode == "checkout":
        result = deliver_checkout(bump, path=checkout, push=True, options=options)
    else:
        result = deliver_remote(bump, remote.as_uri(), options=options)

    assert (result.pushed, result.attempts) == (True, 3)
    assert git(remote, "rev-list", "--merges", "main") == ""
    assert git(remote, "rev-list", "--count", "main") == "4"
    assert git(remote, "ls-tree", "--name-only", "main", "other/") == "other/0.txt\nother/1.txt"
    trailer = last_commit(remote, "%(trailers:key=Bumped-Image,valueonly)", "main")
    assert trailer == "ghcr.io/acme/app:1.4.2"


def test_too_many_races_gives_the_attempt_count(tmp_path: Path, remote: Path) -> None:
    bump = racing(planner("ghcr.io/acme/app:1.4.2", "k8s"), remote, tmp_path / "rival", times=99)

    options = DeliverOptions(max_attempts=3, base_delay=0.01)
    with pytest.raises(BumperError, match=r"gave up after 3 attempts: branch 'main' .*kept moving"):
        deliver_remote(bump, remote.as_uri(), options=options)
    assert "ghcr.io/acme/app:1.4.1" in remote_file(remote, "k8s/app.yaml")


CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from test_deliver import planner
from bumper.delivery.gitpush import deliver_remote
url, target, start = sys.argv[2], sys.argv[3], float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))
print(json.dumps(deliver_remote(planner(target, "k8s"), url, branch="main").to_dict()))
"""


def run_pipelines(url: str, targets: list[str]) -> list[dict[str, object]]:
    """Start one process per target at the same instant; return their results."""
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(TESTS), url, target, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for target in targets
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_twenty_pipelines_bumping_one_file_all_land(tmp_path: Path) -> None:
    bare = make_remote(tmp_path / "fleet.git", {"k8s/fleet.yaml": fleet()})
    targets = [f"registry.local/team/app{i:02}:1.1.{i}" for i in range(FLEET_SIZE)]

    results = run_pipelines(bare.as_uri(), targets)

    assert all(r["pushed"] for r in results)
    assert max(r["attempts"] for r in results) > 1  # they really raced
    expected = fleet()
    for i in range(FLEET_SIZE):
        expected = expected.replace(f"app{i:02}:1.0.0", f"app{i:02}:1.1.{i}")
    assert remote_file(bare, "k8s/fleet.yaml") + "\n" == expected
    assert git(bare, "rev-list", "--merges", "main") == ""
    assert git(bare, "rev-list", "--count", "main") == str(FLEET_SIZE + 1)


@pytest.fixture
def app_at_1_1(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "app.git", {"k8s/app.yaml": APP.replace("1.4.1", "1.1.0")})


@pytest.mark.parametrize("order", [("1.2.0", "1.3.0"), ("1.3.0", "1.2.0")])
def test_a_late_older_build_never_overwrites_a_newer_one(
    app_at_1_1: Path, order: tuple[str, str]
) -> None:
    remote = app_at_1_1
    first, second = (
        deliver_remote(planner(f"ghcr.io/acme/app:{version}", "k8s"), remote.as_uri())
        for version in order
    )

    assert first.pushed
    assert second.pushed is (order[1] == "1.3.0")
    assert "image: ghcr.io/acme/app:1.3.0 " in remote_file(remote, "k8s/app.yaml")


@pytest.mark.parametrize("targets", [["1.2.0", "1.3.0"], ["1.3.0", "1.2.0"]])
def test_two_racing_pipelines_end_at_the_newer_version(
    app_at_1_1: Path, targets: list[str]
) -> None:
    results = run_pipelines(app_at_1_1.as_uri(), [f"ghcr.io/acme/app:{t}" for t in targets])

    assert "image: ghcr.io/acme/app:1.3.0 " in remote_file(app_at_1_1, "k8s/app.yaml")
    assert [r["changed"] for r in results].count(True) in (1, 2)
    assert git(app_at_1_1, "rev-list", "--merges", "main") == ""


# --- remote mode over smart HTTP with a token ---------------------------------------------


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[tuple[GitHttpServer, Path]]:
    srv = tmp_path / "srv"
    srv.mkdir()
    bare = make_remote(srv / "manifests.git", {"k8s/app.yaml": APP})
    with GitHttpServer(srv, token=TOKEN, read_only_token=READ_ONLY) as server:
        yield server, bare


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Route temporary directories into the test's folder so they can be inspected."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def secret_spellings(token: str) -> list[bytes]:
    header = base64.b64encode(f"x-access-token:{token}".encode())
    return [token.encode(), header]


def files_containing(root: Path, needles: list[bytes]) -> list[Path]:
    return [
        p for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and any(n in p.read_bytes() for n in needles)
    ]  # fmt: skip


def test_remote_mode_uses_the_token_without_persisting_or_printing_it(
    http_remote: tuple[GitHttpServer, Path],
    private_tmp: Path,
    tmp_path: Path,
    hermetic_git: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, bare = http_remote
    caplog.set_level("DEBUG")
    seen_during_run: list[Path] = []
    real_bump = planner("ghcr.io/acme/app:1.4.2", "k8s")

    def bump(root: Path) -> BumpOutcome:
        assert root.is_relative_to(private_tmp)
        seen_during_run.extend(files_containing(root, secret_spellings(TOKEN)))
        assert git(root, "config", "--get", "remote.origin.url") == server.url("manifests.git")
        return real_bump(root)

    result = deliver_remote(bump, server.url("manifests.git"), token=TOKEN)

    assert result.pushed and result.remote == server.url("manifests.git")
    assert "ghcr.io/acme/app:1.4.2" in remote_file(bare, "k8s/app.yaml")
    assert {r.status for r in server.requests} == {200}  # the token was sent every time
    assert seen_during_run == []
    assert list(private_tmp.iterdir()) == []  # the clone is gone
    assert files_containing(tmp_path, secret_spellings(TOKEN)) == []
    assert files_containing(hermetic_git, secret_spellings(TOKEN)) == []
    out, err = capfd.readouterr()
    for text in (out, err, caplog.text, repr(result), json.dumps(result.to_dict())):
        assert TOKEN not in text


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("ghs_wrongTOKEN0000", "authentication failed for http://.*: the token was rejected"),
        (None, "authentication failed for .*: no token given; pass --token or set GITHUB_TOKEN"),
        (READ_ONLY, "cannot write to http://.*: a GitHub token needs 'contents: write'"),
    ],
)
def test_token_problems_are_explained_without_the_token(
    http_remote: tuple[GitHttpServer, Path], private_tmp: Path, token: str | None, error: str
) -> None:
    server, bare = http_remote
    head = git(bare, "rev-parse", "main")

    with pytest.raises(BumperError, match=error) as raised:
        deliver_remote(planner("ghcr.io/acme/app:1.4.2", "k8s"), server.url("manifests.git"),
                       token=token)  # fmt: skip

    assert token is None or token not in str(raised.value)
    assert git(bare, "rev-parse", "main") == head
    assert list(private_tmp.iterdir()) == []


def test_unknown_repository_and_branch_over_http(http_remote: tuple[GitHttpServer, Path]) -> None:
    server, _ = http_remote
    bump = planner("ghcr.io/acme/app:1.4.2", "k8s")
    with pytest.raises(BumperError, match=r"repository http://.*/nope.git not found"):
        deliver_remote(bump, server.url("nope.git"), token=TOKEN)
    with pytest.raises(BumperError, match=r"branch 'nope' not found in http://"):
        deliver_remote(bump, server.url("manifests.git"), branch="nope", token=TOKEN)


def test_checkout_token_replaces_a_stale_persisted_header(
    http_remote: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    """actions/checkout leaves an extraheader in .git/config; ours must replace, not add."""
    server, bare = http_remote
    url = server.url("manifests.git")
    work = tmp_path / "work"
    stale = base64.b64encode(b"x-access-token:expired").decode()
    subprocess.run(
        ["git", "-c", f"http.{url}.extraheader=AUTHORIZATION: basic "
         + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode(),
         "clone", "--quiet", url, str(work)],
        check=True,
    )  # fmt: skip
    git(work, "config", f"http.{url}.extraheader", f"AUTHORIZATION: basic {stale}")

    result = deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=work, push=True,
                              token=TOKEN)  # fmt: skip

    assert result.pushed
    assert git(bare, "rev-parse", "main") == result.commit
    assert TOKEN not in (work / ".git/config").read_text()


# --- server refusals --------------------------------------------------------------------------

HOOK = "#!/bin/sh\ncat >/dev/null\n{body}\nexit 1\n"


@pytest.mark.parametrize(
    ("hook_output", "error"),
    [
        ("GH006: Protected branch update failed for refs/heads/main.",
         "branch 'main' of .* is protected .*use pull-request mode \\(--pull-request\\)"),
        ("GitLab: You are not allowed to push code to protected branches on this project.",
         "is protected .*--pull-request"),
        ("TF402455: Pushes to this branch are not permitted; you must use a pull request.",
         "is protected .*--pull-request"),
        ("policy: commits must be signed",
         "rejected the push to 'main': error: policy: commits must be signed$"),
    ],
)  # fmt: skip
def test_server_refusals_are_explained(remote: Path, checkout: Path, hook_output: str,
                                       error: str) -> None:  # fmt: skip
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(body=f"echo 'error: {hook_output}' >&2"))
    hook.chmod(0o755)
    head = git(remote, "rev-parse", "main")

    with pytest.raises(BumperError, match=error):
        deliver_checkout(planner("ghcr.io/acme/app:1.4.2", "k8s"), path=checkout, push=True)

    assert git(remote, "rev-parse", "main") == head
    assert git(checkout, "rev-parse", "HEAD") == head  # the unpushed commit was dropped
    assert (checkout / "k8s/app.yaml").read_text() == APP


@pytest.mark.parametrize(
    ("output", "failure"),
    [
        (" ! [rejected]        HEAD -> main (fetch first)", Failure.RACE),
        (" ! [rejected]        HEAD -> main (non-fast-forward)", Failure.RACE),
        (" ! [remote rejected] HEAD -> main (cannot lock ref 'refs/heads/main': is at 1 but "
         "expected 2)", Failure.RACE),
        (" ! [remote rejected] HEAD -> main (failed to update ref)", Failure.RACE),
        ("remote: error: GH006: Protected branch update failed for refs/heads/main.\n"
         " ! [remote rejected] main -> main (protected branch hook declined)", Failure.PROTECTED),
        ("remote: error: GH013: Repository rule violations found for refs/heads/main.",
         Failure.PROTECTED),
        ("remote: GitLab: You are not allowed to push code to protected branches on this project."
         "\n ! [remote rejected] main -> main (pre-receive hook declined)", Failure.PROTECTED),
        ("remote: Permission to acme/manifests.git denied to github-actions[bot].\n"
         "fatal: unable to access 'https://github.com/acme/manifests/': The requested URL "
         "returned error: 403", Failure.CANNOT_WRITE),
        ("ERROR: The key you are authenticating with has been marked as read only.",
         Failure.CANNOT_WRITE),
        ("remote: ERROR: This deploy key does not have write access to this project.",
         Failure.CANNOT_WRITE),
        ("remote: Invalid username or password.\nfatal: Authentication failed for "
         "'https://github.com/acme/manifests/'", Failure.AUTH),
        ("remote: HTTP Basic: Access denied", Failure.AUTH),
        ("fatal: could not read Username for 'https://github.com': terminal prompts disabled",
         Failure.AUTH),
        ("git@github.com: Permission denied (publickey).", Failure.AUTH),
        ("warning: Could not find remote branch nope to clone.\n"
         "fatal: Remote branch nope not found in upstream origin", Failure.BRANCH_NOT_FOUND),
        ("fatal: couldn't find remote ref refs/heads/nope", Failure.BRANCH_NOT_FOUND),
        ("remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found",
         Failure.REPO_NOT_FOUND),
        ("error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502",
         Failure.TRANSIENT),
        (" ! [remote rejected] main -> main (pre-receive hook declined)", Failure.REJECTED),
        ("fatal: something nobody expected", Failure.UNKNOWN),
    ],
)  # fmt: skip
def test_classify_push_failures_from_any_server(output: str, failure: Failure) -> None:
    assert classify(output) is failure


# --- inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "env", "url"),
    [
        ("acme/manifests", {}, "https://github.com/acme/manifests"),
        ("acme/manifests", {"GITHUB_SERVER_URL": "https://git.acme.test/"},
         "https://git.acme.test/acme/manifests"),
        ("https://gitlab.acme.test/team/manifests.git", {},
         "https://gitlab.acme.test/team/manifests.git"),
        ("git@github.com:acme/manifests.git", {}, "git@github.com:acme/manifests.git"),
    ],
)  # fmt: skip
def test_repository_url(repo: str, env: dict[str, str], url: str) -> None:
    assert repository_url(repo, env) == url


@pytest.mark.parametrize(
    ("explicit", "env", "token"),
    [
        ("from-flag", {"BUMPER_TOKEN": "b", "GITHUB_TOKEN": "g"}, "from-flag"),
        (None, {"BUMPER_TOKEN": "b", "GITHUB_TOKEN": "g"}, "b"),
        (None, {"GITHUB_TOKEN": "g"}, "g"),
        (None, {}, None),
    ],
)
def test_resolve_token(explicit: str | None, env: dict[str, str], token: str | None) -> None:
    assert resolve_token(explicit, env) == token


def test_local_paths_become_file_urls(remote: Path) -> None:
    assert repository_url(str(remote), {}) == remote.as_uri()
    with pytest.raises(BumperError, match="not a git URL or an existing path"):
        repository_url("./no/such/repo", {})
