"""The fake GitHub behaves like GitHub for PyGithub and for git clients."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException, InputGitAuthor, InputGitTreeElement

from tests import fakegithub_fixtures
from tests.fakegithub import FakeGitHub
from tests.fakegithub_fixtures import DEFAULT_TOKEN, create_bare_repo

fake_github = fakegithub_fixtures.fake_github
fake_github_factory = fakegithub_fixtures.fake_github_factory

REPO = "acme/manifests"


# --------------------------------------------------------------------------- helpers


def gh(fake: FakeGitHub, token: str | None = None, **kwargs: Any) -> Github:
    # PyGithub throttles to 0.25 s per request and 1 s per write by default; not needed here.
    return Github(
        base_url=fake.api_url,
        auth=Auth.Token(token or fake.token),
        seconds_between_requests=None,
        seconds_between_writes=None,
        **kwargs,
    )


def raw(
    fake: FakeGitHub | str,
    method: str,
    path: str,
    body: Any = None,
    auth: str | None = "default",
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request without any client retry logic: (status, headers, JSON body)."""
    base = fake if isinstance(fake, str) else fake.base_url
    url = f"{base}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if auth == "default":
        assert isinstance(fake, FakeGitHub)
        auth = f"token {fake.token}"
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, headers, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, payload = err.code, dict(err.headers), err.read()
    return status, headers, json.loads(payload) if payload.strip() else None


def git(cwd: Path, *args: str, token: str | None = None, check: bool = True) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "GIT_ASKPASS": "/bin/false",
    }
    prefix = ["git"]
    if token is not None:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        prefix += ["-c", f"http.extraheader=Authorization: Basic {basic}"]
    proc = subprocess.run(
        [*prefix, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout.strip() + proc.stderr.strip() if not check else proc.stdout.strip()


def head_of(fake: FakeGitHub, branch: str = "main") -> str:
    sha = fake.branch_sha(REPO, branch)
    assert sha is not None
    return sha


def api_commit(fake: FakeGitHub, files: dict[str, str], parent: str, **kwargs: Any) -> str:
    """Make a commit through the Git Data API on top of ``parent``; return its sha."""
    repo = gh(fake).get_repo(REPO)
    base = repo.get_git_tree(repo.get_git_commit(parent).tree.sha)
    elements = [InputGitTreeElement(p, "100644", "blob", content=c) for p, c in files.items()]
    tree = repo.create_git_tree(elements, base)
    return repo.create_git_commit("change", tree, [repo.get_git_commit(parent)], **kwargs).sha


def branch_with_commit(fake: FakeGitHub, branch: str, content: str = "image: a:2\n") -> str:
    sha = api_commit(fake, {"k8s/app.yaml": content}, head_of(fake))
    gh(fake).get_repo(REPO).create_git_ref(f"refs/heads/{branch}", sha)
    return sha


# --------------------------------------------------------------------------- repo, auth


def test_repository_and_branch_look_like_github(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    assert repo.full_name == REPO
    assert repo.default_branch == "main"
    assert repo.clone_url == f"{fake_github.base_url}/{REPO}.git"
    assert repo.allow_auto_merge is True
    assert repo.get_branch("main").commit.sha == head_of(fake_github)
    with pytest.raises(GithubException) as err:
        repo.get_branch("nope")
    assert (err.value.status, err.value.data["message"]) == (404, "Branch not found")


@pytest.mark.parametrize(
    ("auth", "status", "message"),
    [
        (None, 404, "Not Found"),  # private repository, anonymous
        ("token wrong", 401, "Bad credentials"),
        (f"token {DEFAULT_TOKEN}", 200, None),
        (f"Bearer {DEFAULT_TOKEN}", 200, None),
        (
            f"Basic {base64.b64encode(f'x-access-token:{DEFAULT_TOKEN}'.encode()).decode()}",
            200,
            None,
        ),
    ],
)
def test_rest_auth(fake_github: FakeGitHub, auth: str | None, status: int, message: str) -> None:
    code, headers, body = raw(fake_github, "GET", f"/api/v3/repos/{REPO}", auth=auth)
    assert code == status
    assert "X-GitHub-Request-Id" in headers
    if message:
        assert body["message"] == message
        assert body["documentation_url"].startswith("https://docs.github.com/rest")
    else:
        assert int(headers["X-RateLimit-Remaining"]) < int(headers["X-RateLimit-Limit"])


def test_unknown_repository_and_token_scoped_to_another_repo(
    tmp_path: Path, fake_github_factory: Any
) -> None:
    bare = create_bare_repo(tmp_path / "m.git", {"a": "1\n"})
    other = create_bare_repo(tmp_path / "o.git", {"a": "1\n"})
    fake = fake_github_factory(
        {REPO: bare, "acme/other": other},
        tokens={"scoped": {"repositories": [REPO]}},
    )
    assert raw(fake, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    assert raw(fake, "GET", "/api/v3/repos/acme/other")[0] == 404
    assert raw(fake, "GET", "/api/v3/repos/acme/nothing")[0] == 404


# --------------------------------------------------------------------------- git data


def test_api_commit_is_a_real_verified_git_commit(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = gh(fake_github).get_repo(REPO)
    parent = repo.get_git_commit(head_of(fake_github))
    blob = repo.create_git_blob(base64.b64encode(b"image: a:2\n").decode(), "base64")
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("k8s/app.yaml", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("README.md", "100644", "blob", sha=None),
            InputGitTreeElement("deep/new/file.txt", "100755", "blob", content="x\n"),
        ],
        repo.get_git_tree(parent.tree.sha),
    )
    commit = repo.create_git_commit("chore: bump", tree, [parent])
    assert commit.raw_data["verification"]["verified"] is True
    assert commit.raw_data["verification"]["reason"] == "valid"
    assert commit.author.name == "github-actions[bot]"
    assert commit.committer.email == "noreply@github.com"
    assert repo.get_commit(commit.sha).commit.verification.verified is True

    repo.get_git_ref("heads/main").edit(commit.sha)
    clone = tmp_path / "clone"
    git(
        tmp_path,
        "clone",
        "-q",
        f"{fake_github.base_url}/{REPO}.git",
        str(clone),
        token=DEFAULT_TOKEN,
    )
    assert git(clone, "rev-parse", "HEAD") == commit.sha
    assert (clone / "k8s/app.yaml").read_text() == "image: a:2\n"
    assert not (clone / "README.md").exists()
    assert git(clone, "ls-files", "-s", "deep/new/file.txt").startswith("100755")
    assert git(clone, "log", "-1", "--format=%s") == "chore: bump"


def test_custom_author_is_not_verified(fake_github: FakeGitHub) -> None:
    author = InputGitAuthor("Someone", "someone@example.com", "2024-01-02T03:04:05Z")
    sha = api_commit(fake_github, {"a.txt": "a\n"}, head_of(fake_github), author=author)
    commit = gh(fake_github).get_repo(REPO).get_git_commit(sha)
    assert commit.raw_data["verification"]["verified"] is False
    assert commit.raw_data["verification"]["reason"] == "unsigned"
    assert (commit.author.name, commit.author.date.year) == ("Someone", 2024)


def test_tree_and_contents_read_back(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    paths = [e.path for e in repo.get_git_tree("main", recursive=True).tree]
    assert paths == ["README.md", "k8s", "k8s/app.yaml"]
    content = repo.get_contents("k8s/app.yaml", ref="main")
    assert content.decoded_content == b"image: ghcr.io/acme/app:1.0.0\n"
    assert repo.get_git_blob(content.sha).content.replace("\n", "") == content.content.replace(
        "\n", ""
    )


@pytest.mark.parametrize(
    ("kind", "force", "status", "message"),
    [
        ("fast-forward", False, 200, None),
        ("rewind", False, 422, "Update is not a fast forward"),
        ("rewind", True, 200, None),
        ("sideways", False, 422, "Update is not a fast forward"),
    ],
)
def test_ref_update_fast_forward_rules(
    fake_github: FakeGitHub, kind: str, force: bool, status: int, message: str | None
) -> None:
    start = head_of(fake_github)
    ahead = api_commit(fake_github, {"a": "1\n"}, start)
    if kind != "fast-forward":
        raw(fake_github, "PATCH", f"/api/v3/repos/{REPO}/git/refs/heads/main", {"sha": ahead})
    target = {"fast-forward": ahead, "rewind": start}.get(kind) or api_commit(
        fake_github, {"b": "2\n"}, start
    )
    code, _, body = raw(
        fake_github,
        "PATCH",
        f"/api/v3/repos/{REPO}/git/refs/heads/main",
        {"sha": target, "force": force},
    )
    assert code == status
    if message:
        assert body["message"] == message
        assert head_of(fake_github) == ahead
    else:
        assert body["object"]["sha"] == target == head_of(fake_github)


def test_create_and_delete_refs(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    ref = repo.create_git_ref("refs/heads/bumper/app", head_of(fake_github))
    assert ref.ref == "refs/heads/bumper/app"
    with pytest.raises(GithubException) as err:
        repo.create_git_ref("refs/heads/bumper/app", head_of(fake_github))
    assert (err.value.status, err.value.data["message"]) == (422, "Reference already exists")
    assert [r.ref for r in repo.get_git_matching_refs("heads/bumper/")] == ["refs/heads/bumper/app"]
    ref.delete()
    assert fake_github.branch_sha(REPO, "bumper/app") is None
    with pytest.raises(GithubException) as err:
        repo.get_git_ref("heads/bumper/app").edit(head_of(fake_github))
    assert err.value.data["message"] in ("Not Found", "Reference does not exist")


# --------------------------------------------------------------------------- pull requests


def test_pull_request_lifecycle(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    head_sha = branch_with_commit(fake_github, "bumper/app")
    pr = repo.create_pull(base="main", head="bumper/app", title="Bump app", body="table")
    assert (pr.number, pr.state, pr.draft) == (1, "open", False)
    assert pr.html_url == f"{fake_github.base_url}/{REPO}/pull/1"
    assert pr.head.ref == "bumper/app" and pr.head.sha == head_sha
    assert pr.head.label == "acme:bumper/app"
    assert pr.base.ref == "main" and pr.base.sha == head_of(fake_github)
    assert pr.node_id.startswith("PR_")

    with pytest.raises(GithubException) as err:
        repo.create_pull(base="main", head="acme:bumper/app", title="again")
    assert err.value.status == 422
    assert (
        err.value.data["errors"][0]["message"]
        == "A pull request already exists for acme:bumper/app."
    )

    # New commits on the branch show up as the PR's head.
    newer = api_commit(fake_github, {"k8s/app.yaml": "image: a:3\n"}, head_sha)
    repo.get_git_ref("heads/bumper/app").edit(newer)
    assert repo.get_pull(1).head.sha == newer

    pr.edit(title="Bump app to 3", body="new table")
    assert (repo.get_pull(1).title, repo.get_pull(1).body) == ("Bump app to 3", "new table")
    pr.edit(state="closed")
    assert repo.get_pull(1).state == "closed"
    assert repo.create_pull(base="main", head="bumper/app", title="reopened").number == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"head": "acme:bumper/a"}, [1]),
        ({"head": "acme:bumper/b"}, [2]),
        ({"head": "acme:bumper/none"}, []),
        ({"head": "other:bumper/a"}, []),
        ({"head": "bumper/a"}, [2, 1]),  # GitHub ignores a head filter without owner
        ({"base": "main"}, [2, 1]),
        ({"base": "dev"}, []),
        ({"state": "closed"}, [3]),
        ({"state": "all"}, [3, 2, 1]),
    ],
)
def test_list_pulls_filters(
    fake_github: FakeGitHub, query: dict[str, str], expected: list[int]
) -> None:
    repo = gh(fake_github).get_repo(REPO)
    for branch in ("bumper/a", "bumper/b", "bumper/c"):
        branch_with_commit(fake_github, branch, f"image: {branch}\n")
        repo.create_pull(base="main", head=branch, title=branch)
    repo.get_pull(3).edit(state="closed")
    assert [p.number for p in repo.get_pulls(**query)] == expected


@pytest.mark.parametrize(
    ("head", "base", "error"),
    [
        ("main", "main", {"message": "No commits between main and main"}),
        ("nope", "main", {"field": "head", "code": "invalid"}),
        ("bumper/app", "nope", {"field": "base", "code": "invalid"}),
    ],
)
def test_create_pull_validation(
    fake_github: FakeGitHub, head: str, base: str, error: dict[str, str]
) -> None:
    branch_with_commit(fake_github, "bumper/app")
    code, _, body = raw(
        fake_github,
        "POST",
        f"/api/v3/repos/{REPO}/pulls",
        {"head": head, "base": base, "title": "t"},
    )
    assert (code, body["message"]) == (422, "Validation Failed")
    assert error.items() <= body["errors"][0].items()


def test_labels_reviewers_assignees_comments(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    branch_with_commit(fake_github, "bumper/app")
    pr = repo.create_pull(base="main", head="bumper/app", title="Bump", draft=True)
    pr.add_to_labels("deploy", "bumper")
    pr.add_to_labels("deploy")
    pr.create_review_request(reviewers=["alice"], team_reviewers=["platform"])
    pr.add_to_assignees("bob")
    pr.create_issue_comment("Closing: already up to date")
    with pytest.raises(GithubException) as err:
        pr.create_review_request(reviewers=["github-actions[bot]"])
    assert (
        err.value.data["errors"][0]["message"]
        == "Review cannot be requested from pull request author."
    )

    state = fake_github.pull(REPO, pr.number)
    assert [label["name"] for label in state["labels"]] == ["deploy", "bumper"]
    assert [u["login"] for u in state["requested_reviewers"]] == ["alice"]
    assert [t["slug"] for t in state["requested_teams"]] == ["platform"]
    assert [u["login"] for u in state["assignees"]] == ["bob"]
    assert state["comments_list"] == ["Closing: already up to date"]
    assert state["draft"] is True
    users, teams = pr.get_review_requests()
    assert ([u.login for u in users], [t.slug for t in teams]) == (["alice"], ["platform"])
    assert [c.body for c in pr.get_issue_comments()] == ["Closing: already up to date"]


def test_deleting_the_head_branch_closes_the_pull(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    branch_with_commit(fake_github, "bumper/app")
    pr = repo.create_pull(base="main", head="bumper/app", title="Bump")
    repo.get_git_ref("heads/bumper/app").delete()
    assert repo.get_pull(pr.number).state == "closed"


def test_merge_moves_the_base_branch(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    branch_with_commit(fake_github, "bumper/app", "image: merged\n")
    pr = repo.create_pull(base="main", head="bumper/app", title="Bump")
    result = pr.merge(merge_method="squash")
    assert result.merged
    assert repo.get_contents("k8s/app.yaml", ref="main").decoded_content == b"image: merged\n"
    assert repo.get_pull(pr.number).merged is True


def test_pagination_follows_link_headers(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github, per_page=2).get_repo(REPO)
    for n in range(5):
        branch_with_commit(fake_github, f"bumper/{n}", f"image: {n}\n")
        repo.create_pull(base="main", head=f"bumper/{n}", title=str(n))
    code, headers, body = raw(fake_github, "GET", f"/api/v3/repos/{REPO}/pulls?per_page=2")
    assert code == 200 and len(body) == 2
    assert 'rel="next"' in headers["Link"] and 'rel="last"' in headers["Link"]
    assert [p.number for p in repo.get_pulls()] == [5, 4, 3, 2, 1]


# --------------------------------------------------------------------------- GraphQL


def test_auto_merge_mutation(fake_github: FakeGitHub) -> None:
    repo = gh(fake_github).get_repo(REPO)
    branch_with_commit(fake_github, "bumper/app")
    pr = repo.create_pull(base="main", head="bumper/app", title="Bump")
    data = pr.enable_automerge(merge_method="SQUASH")
    assert data["actor"]["login"] == "github-actions[bot]"
    assert repo.get_pull(pr.number).raw_data["auto_merge"]["merge_method"] == "squash"

    _, body = gh(fake_github).requester.graphql_query(
        'query($o: String!) { repository(owner: $o, name: "manifests") {'
        " autoMergeAllowed pullRequest(number: 1) { id headRefName"
        " autoMergeRequest { mergeMethod enabledBy { login } } } } }",
        {"o": "acme"},
    )
    pull = body["data"]["repository"]["pullRequest"]
    assert pull["id"] == pr.node_id and pull["headRefName"] == "bumper/app"
    assert pull["autoMergeRequest"] == {
        "mergeMethod": "SQUASH",
        "enabledBy": {"login": "github-actions[bot]"},
    }


def test_auto_merge_refused_when_repository_disallows_it(fake_github: FakeGitHub) -> None:
    fake_github.repo(REPO).allow_auto_merge = False
    branch_with_commit(fake_github, "bumper/app")
    pr = gh(fake_github).get_repo(REPO).create_pull(base="main", head="bumper/app", title="Bump")
    code, _, body = raw(
        fake_github,
        "POST",
        "/api/graphql",
        {
            "query": "mutation($input: EnablePullRequestAutoMergeInput!) {"
            " enablePullRequestAutoMerge(input: $input) { clientMutationId } }",
            "variables": {"input": {"pullRequestId": pr.node_id, "mergeMethod": "SQUASH"}},
        },
    )
    assert code == 200
    assert body["data"] == {"enablePullRequestAutoMerge": None}
    assert body["errors"][0]["type"] == "UNPROCESSABLE"
    assert body["errors"][0]["message"] == "Auto merge is not allowed for this repository"
    with pytest.raises(GithubException):
        pr.enable_automerge(merge_method="SQUASH")
    assert fake_github.pull(REPO, pr.number)["auto_merge"] is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            '{ repository(owner: "acme", name: "manifests") { nope } }',
            "Field 'nope' doesn't exist on type 'Repository'",
        ),
        (
            '{ repository(owner: "acme", name: "x") { id } }',
            "Could not resolve to a Repository with the name 'acme/x'.",
        ),
        ('{ node(id: "PR_x") { id } }', "Could not resolve to a node with the global id of 'PR_x'"),
        ("{ repository(", "Parse error on end of file"),
    ],
)
def test_graphql_errors(fake_github: FakeGitHub, query: str, message: str) -> None:
    code, _, body = raw(fake_github, "POST", "/api/graphql", {"query": query})
    assert code == 200
    assert body["errors"][0]["message"] == message


def test_graphql_node_lookup_by_id(fake_github: FakeGitHub) -> None:
    branch_with_commit(fake_github, "bumper/app")
    pr = gh(fake_github).get_repo(REPO).create_pull(base="main", head="bumper/app", title="Bump")
    _, data = gh(fake_github).requester.graphql_node(pr.node_id, "number state", "PullRequest")
    assert data["data"]["node"] == {"__typename": "PullRequest", "number": 1, "state": "OPEN"}


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    ("token_spec", "method", "path", "body", "status", "message"),
    [
        (
            {"permissions": {"contents": "read", "pull_requests": "write"}},
            "POST",
            "/git/blobs",
            {"content": "x"},
            403,
            "Resource not accessible by integration",
        ),
        (
            {"permissions": {"contents": "write", "pull_requests": "read"}},
            "POST",
            "/pulls",
            {"head": "bumper/app", "base": "main", "title": "t"},
            403,
            "Resource not accessible by integration",
        ),
        (
            {"kind": "user", "login": "alice", "permissions": {"contents": "read"}},
            "PATCH",
            "/git/refs/heads/main",
            {"sha": "0" * 40},
            403,
            "Resource not accessible by personal access token",
        ),
        (
            {"can_create_pull_requests": False},
            "POST",
            "/pulls",
            {"head": "bumper/app", "base": "main", "title": "t"},
            403,
            "GitHub Actions is not permitted to create or approve pull requests.",
        ),
    ],
)
def test_permission_errors(
    tmp_path: Path,
    fake_github_factory: Any,
    token_spec: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    bare = create_bare_repo(tmp_path / "m.git", {"a": "1\n"})
    subprocess.run(["git", "-C", str(bare), "branch", "bumper/app", "main"], check=True)
    fake = fake_github_factory({REPO: bare}, tokens={"limited": token_spec})
    code, _, answer = raw(fake, method, f"/api/v3/repos/{REPO}{path}", body)
    assert (code, answer["message"]) == (status, message)
    assert fake.pulls(REPO) == []


# --------------------------------------------------------------------------- faults


def test_ref_update_race_moves_the_branch_with_a_real_commit(fake_github: FakeGitHub) -> None:
    start = head_of(fake_github)
    mine = api_commit(fake_github, {"k8s/app.yaml": "image: a:2\n"}, start)
    fake_github.faults.ref_update_races = 1
    fake_github.faults.race_files = {"other.yaml": "theirs\n"}
    ref = gh(fake_github).get_repo(REPO).get_git_ref("heads/main")
    with pytest.raises(GithubException) as err:
        ref.edit(mine)
    assert (err.value.status, err.value.data["message"]) == (422, "Update is not a fast forward")
    moved = head_of(fake_github)
    assert moved != start and fake_github.repo(REPO).git.is_ancestor(start, moved)
    # The client re-plans on the new head; the second try lands.
    again = api_commit(fake_github, {"k8s/app.yaml": "image: a:2\n"}, moved)
    ref.edit(again)
    repo = gh(fake_github).get_repo(REPO)
    assert repo.get_contents("other.yaml", ref="main").decoded_content == b"theirs\n"


def test_concurrent_ref_updates_lose_nothing(fake_github: FakeGitHub) -> None:
    all_planned = threading.Barrier(8)

    def bump(n: int) -> int:
        repo = gh(fake_github).get_repo(REPO)
        for attempt in range(1, 50):
            sha = api_commit(fake_github, {f"apps/{n}.yaml": f"{n}\n"}, head_of(fake_github))
            if attempt == 1:
                all_planned.wait()  # every first try starts from the same head
            try:
                repo.get_git_ref("heads/main").edit(sha)
            except GithubException as err:
                assert err.data["message"] == "Update is not a fast forward"
                continue
            return attempt
        raise AssertionError("never landed")

    with ThreadPoolExecutor(8) as pool:
        attempts = list(pool.map(bump, range(8)))
    names = {
        e.path for e in gh(fake_github).get_repo(REPO).get_git_tree("main", recursive=True).tree
    }
    assert {f"apps/{n}.yaml" for n in range(8)} <= names
    history = fake_github.repo(REPO).git.run("rev-list", "--parents", "main").decode()
    assert [len(line.split()) for line in history.splitlines()] == [2] * 8 + [1]
    assert sorted(attempts)[:2] == [1, 2]  # one first try wins, the others rebase


@pytest.mark.parametrize(
    ("kind", "status"),
    [("secondary", 403), ("429", 429), ("primary", 403)],
)
def test_rate_limit_answers(fake_github: FakeGitHub, kind: str, status: int) -> None:
    fake_github.faults.update({"rate_limits": 1, "rate_limit_kind": kind})
    code, headers, body = raw(fake_github, "GET", f"/api/v3/repos/{REPO}")
    assert code == status
    if kind == "primary":
        assert headers["X-RateLimit-Remaining"] == "0"
        assert body["message"].startswith("API rate limit exceeded")
    else:
        assert headers["Retry-After"] == "1"
        assert body["message"].startswith("You have exceeded a secondary rate limit")
    assert raw(fake_github, "GET", f"/api/v3/repos/{REPO}")[0] == 200


def test_pygithub_retries_secondary_rate_limit_and_server_error(fake_github: FakeGitHub) -> None:
    fake_github.faults.update({"rate_limits": 1, "server_errors": 1, "match": "/pulls$"})
    branch_with_commit(fake_github, "bumper/app")
    pr = gh(fake_github).get_repo(REPO).create_pull(base="main", head="bumper/app", title="t")
    assert pr.number == 1
    statuses = [e.status for e in fake_github.calls("POST", "/pulls$")]
    assert statuses == [403, 502, 201]


def test_refuse_next_pull_request_creation(fake_github: FakeGitHub) -> None:
    fake_github.faults.refuse_pull_requests = 1
    branch_with_commit(fake_github, "bumper/app")
    repo = gh(fake_github).get_repo(REPO)
    with pytest.raises(GithubException) as err:
        repo.create_pull(base="main", head="bumper/app", title="t")
    assert err.value.status == 403
    assert repo.create_pull(base="main", head="bumper/app", title="t").number == 1


def test_faults_over_http_endpoint(fake_github: FakeGitHub) -> None:
    code, _, body = raw(
        fake_github, "POST", "/_fake/faults", {"server_errors": 1, "server_error_status": 503}
    )
    assert code == 200 and body["server_errors"] == 1
    assert raw(fake_github, "GET", f"/api/v3/repos/{REPO}")[0] == 503
    assert raw(fake_github, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    assert raw(fake_github, "POST", "/_fake/faults", {"bogus": 1})[0] == 422


def test_event_log(fake_github: FakeGitHub) -> None:
    gh(fake_github).get_repo(REPO).get_branch("main")
    raw(fake_github, "GET", f"/api/v3/repos/{REPO}/branches/nope")
    assert [(e.method, e.path, e.status) for e in fake_github.events] == [
        ("GET", f"/api/v3/repos/{REPO}", 200),
        ("GET", f"/api/v3/repos/{REPO}/branches/main", 200),
        ("GET", f"/api/v3/repos/{REPO}/branches/nope", 404),
    ]
    assert fake_github.events[0].login == "github-actions[bot]"


# --------------------------------------------------------------------------- git smart HTTP


def test_git_clone_and_push_with_token(fake_github: FakeGitHub, tmp_path: Path) -> None:
    url = f"{fake_github.base_url}/{REPO}.git"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", url, str(clone), token=DEFAULT_TOKEN)
    assert (clone / "k8s/app.yaml").read_text() == "image: ghcr.io/acme/app:1.0.0\n"
    (clone / "k8s/app.yaml").write_text("image: ghcr.io/acme/app:1.1.0\n")
    git(clone, "commit", "-qam", "bump")
    git(clone, "push", "-q", "origin", "HEAD:main", token=DEFAULT_TOKEN)
    assert head_of(fake_github) == git(clone, "rev-parse", "HEAD")
    # A rejected non-fast-forward push, as when two pipelines race.
    git(clone, "reset", "-q", "--hard", "HEAD~1")
    git(clone, "commit", "-q", "--allow-empty", "-m", "late")
    out = git(clone, "push", "origin", "HEAD:main", token=DEFAULT_TOKEN, check=False)
    assert "rejected" in out
    # The token never lands in the clone's config.
    assert DEFAULT_TOKEN not in (clone / ".git/config").read_text()


@pytest.mark.parametrize(
    ("token", "expected"),
    [(None, "Authentication failed"), ("wrong", "Authentication failed")],
)
def test_git_without_valid_token_is_refused(
    fake_github: FakeGitHub, tmp_path: Path, token: str | None, expected: str
) -> None:
    out = git(
        tmp_path, "clone", f"{fake_github.base_url}/{REPO}.git", "c", token=token, check=False
    )
    assert expected in out or "could not read Username" in out
    assert not (tmp_path / "c").exists()
    assert any(e.status == 401 for e in fake_github.events)


def test_git_push_refused_for_read_only_token_and_protected_branch(
    tmp_path: Path, fake_github_factory: Any
) -> None:
    bare = create_bare_repo(tmp_path / "m.git", {"a": "1\n"})
    fake = fake_github_factory(
        {REPO: bare},
        tokens={"rw": {}, "ro": {"permissions": {"contents": "read"}}},
        repo_settings={"protected_branches": {"main"}},
    )
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"{fake.base_url}/{REPO}.git", str(clone), token="ro")
    git(clone, "commit", "-q", "--allow-empty", "-m", "x")
    out = git(clone, "push", "origin", "HEAD:refs/heads/feature", token="ro", check=False)
    assert "403" in out
    out = git(clone, "push", "origin", "HEAD:main", token="rw", check=False)
    assert "GH006: Protected branch update failed for refs/heads/main." in out
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/feature", token="rw")
    assert fake.branch_sha(REPO, "feature") == git(clone, "rev-parse", "HEAD")


# --------------------------------------------------------------------------- standalone


def test_standalone_server(tmp_path: Path) -> None:
    bare = create_bare_repo(tmp_path / "m.git", {"a": "1\n"})
    script = Path(__file__).with_name("fakegithub.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--repo", f"{REPO}={bare}", "--token", "T"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        repo = Github(
            base_url=f"{base}/api/v3", auth=Auth.Token("T"), seconds_between_requests=None
        ).get_repo(REPO)
        assert repo.get_branch("main").commit.sha == git(bare, "rev-parse", "main")
        with urllib.request.urlopen(f"{base}/_fake/state", timeout=10) as resp:
            assert json.load(resp)[REPO]["pulls"] == []
        # The control endpoints drive what the in-process fake exposes as objects.
        readonly = {"value": "ro", "permissions": {"contents": "read"}}
        assert raw(base, "POST", "/_fake/tokens", readonly, auth=None)[0] == 201
        settings = {"allow_auto_merge": False}
        assert raw(base, "POST", f"/_fake/repos/{REPO}/settings", settings, auth=None)[0] == 200
        blob = raw(base, "POST", f"/api/v3/repos/{REPO}/git/blobs", {"content": "x"}, "token ro")
        assert blob[0] == 403
        assert (
            raw(base, "GET", f"/api/v3/repos/{REPO}", auth="token T")[2]["allow_auto_merge"]
            is False
        )
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
