"""Pull-request mode: exactly one up-to-date pull request per image.

Every run rebuilds bumper's branch (``bumper/<image>`` by default) from the *current*
head of the base, with the bump re-planned there, so the pull request never conflicts
and never carries stale changes. The branch may be rewritten only while it holds
bumper's own commits for this image: a commit someone else pushed there stops bumper
(unless ``--force``). When the base already has the target, no pull request is opened
and an open one for this image is closed with a comment.
"""

from __future__ import annotations

import os
import re
import string
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumper.delivery.apicommit import BranchClone, Staged, is_verified, replay, stage
from bumper.delivery.github import (
    GitHubRepo,
    api_errors,
    client,
    error_message,
    explain,
    is_not_fast_forward,
    require_token,
    status_of,
)
from bumper.delivery.gitpush import PLACEHOLDERS, DeliverOptions, _validate, backoff
from bumper.delivery.loopguard import bumped_image
from bumper.edit.reference import ReferenceError, canonical_name, format_reference, parse_reference
from bumper.edit.versions import is_downgrade
from bumper.errors import BumperError
from bumper.git import Failure, GitCommandError, run_git

if TYPE_CHECKING:
    from bumper.delivery.bump import Bump
    from bumper.edit.plan import Plan

DEFAULT_BRANCH = "bumper/{name}"
DEFAULT_TITLE = "Bump {name} to {version}"
MERGE_METHODS = ("merge", "squash", "rebase")
AUTO_MERGE_SETTING = 'Settings → General → Pull Requests → "Allow auto-merge"'
# GitHub refuses bodies over 65536 characters; the diff is cut well before that.
MAX_DIFF = 40_000
MAX_TABLE_ROWS = 200
PR_PERMISSION = "pull-requests: write"


@dataclass(frozen=True)
class PullRequestOptions:
    """What the pull request looks like. ``branch`` and ``title`` are templates
    (``{name}`` in the branch is the image name made branch-safe); ``via`` is ``api``
    (Verified commits) or ``git``."""

    base: str | None = None
    branch: str | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: str | None = None
    force: bool = False
    via: str = "api"


@dataclass(frozen=True)
class PullRequestResult:
    """What pull-request mode did: ``operation`` is created, updated, closed or none."""

    operation: str
    branch: str
    base: str
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    commit: str | None = None
    verified: bool | None = None
    changed: bool = False
    attempts: int = 1
    reason: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line for a person (plus one line per warning)."""
        if self.operation in ("created", "updated"):
            text = f"{self.operation} pull request #{self.number}: {self.url}"
        elif self.operation == "closed":
            text = f"closed pull request #{self.number} ({self.url}): {self.reason}"
        elif self.number is not None:
            text = f"pull request #{self.number} is up to date: {self.url}"
        else:
            text = f"no pull request needed: {self.reason}"
        return text + "".join(f"\nwarning: {w}" for w in self.warnings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--output json`` and Action outputs)."""
        return {
            "operation": self.operation,
            "number": self.number,
            "url": self.url,
            "head_sha": self.head_sha,
            "branch": self.branch,
            "base": self.base,
            "commit": self.commit,
            "verified": self.verified,
            "changed": self.changed,
            "attempts": self.attempts,
            "reason": self.reason,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- templates


def branch_safe(name: str) -> str:
    """An image name as one branch-name component: ``ghcr.io/acme/app`` ->
    ``ghcr.io-acme-app``. Slashes go too, so ``app`` and ``app/worker`` never collide
    as a file and a directory under ``refs/heads``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    safe = re.sub(r"\.{2,}", ".", safe).strip("-.")
    return safe.removesuffix(".lock") or "image"


def branch_name(template: str | None, name: str) -> str:
    """The pull-request branch from ``template`` (placeholder ``{name}``)."""
    template = template or DEFAULT_BRANCH
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        unknown = [f for f in fields if f != "name"]
        if unknown:
            raise BumperError(f"unknown placeholder {{{unknown[0]}}} in --branch; use {{name}}")
        branch = template.format(name=branch_safe(name))
    except (ValueError, IndexError) as err:
        raise BumperError(f"invalid --branch template {template!r}: {err}") from None
    check = run_git(["check-ref-format", "--branch", branch], capture_output=True, check=False)
    if check.returncode != 0 or branch.startswith("-"):
        raise BumperError(f"--branch {template!r} gives {branch!r}, not a valid branch name")
    return branch


def placeholders(bump: Bump) -> dict[str, str]:
    """Template values (the same as the commit message's) for the bump's last plan."""
    target, plan = bump.target, bump.last_plan
    changes = plan.changes if plan is not None else []
    files = plan.to_dict()["files"] if plan is not None else []
    return {
        "image": format_reference(target.written_name, target.tag, target.digest),
        "name": target.written_name,
        "tag": target.tag or "",
        "new_tag": target.tag or "",
        "old_tag": ", ".join(dict.fromkeys(c.old_tag for c in changes if c.old_tag)),
        "digest": target.digest or "",
        "version": target.tag or target.digest or "",
        "files": ", ".join(files),
        "changes": "\n".join(f"{c.path}:{c.line}: {c.old} -> {c.new}" for c in changes),
    }


def render_title(template: str | None, values: Mapping[str, str]) -> str:
    """The pull-request title from ``template`` (the commit-message placeholders)."""
    template = template or DEFAULT_TITLE
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        unknown = [f for f in fields if f not in values]
        if unknown:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise BumperError(f"unknown placeholder {{{unknown[0]}}} in --title; use {known}")
        title = " ".join(template.format_map(dict(values)).split())
    except (ValueError, IndexError) as err:
        raise BumperError(f"invalid --title template {template!r}: {err}") from None
    if not title:
        raise BumperError("--title gives an empty pull-request title")
    return title


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_body(plan: Plan, values: Mapping[str, str], base: str,
                env: Mapping[str, str]) -> str:  # fmt: skip
    """The pull-request description: what changes where, where the build came from,
    and the diff in a collapsed block."""
    lines = [f"Bumps {_cell(values['name'])} to {_cell(values['version'])} on `{base}`.", ""]
    lines += ["| File | Old | New |", "| --- | --- | --- |"]
    changes = plan.changes
    for change in changes[:MAX_TABLE_ROWS]:
        where = _cell(f"{change.path}:{change.line}")
        lines.append(f"| {where} | {_cell(change.old)} | {_cell(change.new)} |")
    if len(changes) > MAX_TABLE_ROWS:
        lines.append(f"| … {len(changes) - MAX_TABLE_ROWS} more | | |")
    lines.append("")
    if values["digest"]:
        lines += [f"Digest: {_cell(values['digest'])}", ""]
    source = _source_line(env)
    if source:
        lines += [source, ""]
    diff = plan.diff()
    if len(diff) > MAX_DIFF:
        cut = diff.rfind("\n", 0, MAX_DIFF) + 1
        diff = diff[:cut] + f"... diff truncated ({len(diff) - cut} more characters)\n"
    lines += ["<details><summary>Diff</summary>", "", "```diff", diff.rstrip("\n"), "```", ""]
    lines += ["</details>", ""]
    lines.append(
        "<sub>Opened by bumper. The branch is rebuilt from the base on every bump; "
        "commits pushed to it by others stop bumper from touching it.</sub>"
    )
    return "\n".join(lines) + "\n"


def _source_line(env: Mapping[str, str]) -> str | None:
    """Links to the commit and workflow run that built the image, inside Actions."""
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    repository, sha, run = (
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_SHA"),
        env.get("GITHUB_RUN_ID"),
    )
    if not repository:
        return None
    parts = []
    if sha:
        parts.append(f"[{repository}@{sha[:7]}]({server}/{repository}/commit/{sha})")
    if run:
        parts.append(f"[workflow run {run}]({server}/{repository}/actions/runs/{run})")
    return ("Built from " + " in ".join(parts) + ".") if parts else None


# --------------------------------------------------------------------------- the branch


@dataclass(frozen=True)
class BranchState:
    """What bumper's branch holds beyond the base."""

    head: str | None = None
    foreign: tuple[str, ...] = ()
    image: str | None = None  # the newest Bumped-Image trailer for this image
    tree: str | None = None
    parents: tuple[str, ...] = ()
    commits: int = 0


def _image_name(trailer: str) -> str | None:
    try:
        return parse_reference(trailer).name
    except ReferenceError:
        return None


def _describe(commit: Any) -> str:
    subject = (commit.commit.message or "").partition("\n")[0][:60]
    author = commit.commit.author.name if commit.commit.author else "unknown"
    return f"{commit.sha[:12]} by {author}: {subject!r}"


class _Race(Exception):
    """The branch moved while bumper was updating it: re-read and try again."""


class _PullRequestRun:
    """One pull-request delivery: state shared by the steps of the retry loop."""

    def __init__(self, bump: Bump, repo: GitHubRepo, remote: Any, branch: str, base: str,
                 options: DeliverOptions, pr: PullRequestOptions,
                 env: Mapping[str, str]) -> None:  # fmt: skip
        self.bump, self.repo, self.remote = bump, repo, remote
        self.branch, self.base = branch, base
        self.options, self.pr, self.env = options, pr, env
        self.names = {bump.target.canonical, canonical_name(bump.target.written_name)}
        self.warnings: list[str] = []

    # -- reading

    def open_pull(self) -> Any | None:
        """The open pull request from bumper's branch into the base, if any."""
        with api_errors("listing pull requests", self.repo, permission="pull-requests: read"):
            pulls = self.remote.get_pulls(
                state="open", head=f"{self.repo.owner}:{self.branch}", base=self.base
            )
            return next(iter(pulls), None)

    def branch_head(self) -> str | None:
        from github import GithubException
        from requests import RequestException

        try:
            return self.remote.get_git_ref(f"heads/{self.branch}").object.sha  # type: ignore[no-any-return]
        except RequestException as err:
            raise explain(err, "reading the pull-request branch", self.repo) from None
        except GithubException as err:
            if status_of(err) == 404:
                return None
            raise explain(err, "reading the pull-request branch", self.repo) from None

    def inspect(self, base_head: str, head: str | None) -> BranchState:
        """Classify the commits the branch has beyond the base."""
        if head is None:
            return BranchState()
        with api_errors("comparing the branch with the base", self.repo):
            commits = list(self.remote.compare(base_head, head).commits)
        ahead = {c.sha for c in commits}
        foreign: list[str] = []
        image = None
        for commit in commits:
            parents = [p.sha for p in commit.parents]
            trailer = bumped_image(commit.commit.message or "")
            if trailer is not None and canonical_name(_image_name(trailer) or "") in self.names:
                image = trailer
            elif trailer is None and len(parents) > 1 and not set(parents[1:]) & ahead:
                continue  # GitHub's "Update branch": a merge of the base, nothing of its own
            else:
                foreign.append(_describe(commit))
        last = commits[-1] if commits else None
        return BranchState(
            head=head,
            foreign=tuple(foreign),
            image=image,
            tree=last.commit.tree.sha if last else None,
            parents=tuple(p.sha for p in last.parents) if last else (),
            commits=len(commits),
        )

    def refuse_foreign(self, state: BranchState, pull: Any | None) -> None:
        if not state.foreign or self.pr.force:
            return
        where = f"pull request #{pull.number}" if pull is not None else "it"
        more = f" (and {len(state.foreign) - 1} more)" if len(state.foreign) > 1 else ""
        raise BumperError(
            f"branch '{self.branch}' of {self.repo.slug} has commits bumper did not make: "
            f"{state.foreign[0]}{more}; bumper will not overwrite them: merge or close {where} "
            "and delete the branch, or rerun with --force"
        )

    def newer_on_branch(self, state: BranchState) -> str | None:
        """The version the branch proposes when it is newer than the target (semver)."""
        if state.image is None:
            return None
        try:
            proposed = parse_reference(state.image).tag
        except ReferenceError:
            return None
        return proposed if is_downgrade(proposed, self.bump.target.tag) else None

    # -- writing the branch

    def publish(
        self, work: BranchClone, staged: Staged, state: BranchState
    ) -> tuple[str, bool | None]:
        """Point the branch at the staged bump on the base head; (sha, verified)."""
        if self.pr.via == "git":
            self.push(work, state.head)
            return staged.sha, None
        with api_errors("creating the commit", self.repo):
            commit = replay(self.remote, work, staged, work.head, self.options.author)
        self.move_branch(commit.sha, state.head)
        return commit.sha, is_verified(commit)

    def move_branch(self, sha: str, expected: str | None) -> None:
        """Create the branch, or move it from ``expected`` (bumper's own commits only)."""
        from github import GithubException
        from requests import RequestException

        action = f"updating branch '{self.branch}'"
        try:
            if expected is None:
                self.remote.create_git_ref(f"refs/heads/{self.branch}", sha)
                return
            ref = self.remote.get_git_ref(f"heads/{self.branch}")
            # The REST API has no compare-and-swap for a forced update: check just before.
            if ref.object.sha != expected:
                raise _Race
            ref.edit(sha, force=True)
        except RequestException as err:
            raise explain(err, action, self.repo) from None
        except GithubException as err:
            if is_not_fast_forward(err) or status_of(err) == 404:
                raise _Race from None
            raise explain(err, action, self.repo) from None

    def push(self, work: BranchClone, expected: str | None) -> None:
        """Push the clone's HEAD to the branch, forced only over the exact commit checked."""
        lease = f"--force-with-lease=refs/heads/{self.branch}:{expected or ''}"
        try:
            work.git.run("push", "--porcelain", "--quiet", lease, "origin",
                         f"HEAD:refs/heads/{self.branch}")  # fmt: skip
        except GitCommandError as err:
            if err.failure in (Failure.RACE, Failure.TRANSIENT):
                raise _Race from None
            if err.failure is Failure.CANNOT_WRITE:
                raise BumperError(
                    f"the token cannot push to {self.repo.slug}: it needs 'contents: write' "
                    "permission (in a workflow: permissions: contents: write)"
                ) from None
            raise BumperError(f"{err.message} (pushing branch '{self.branch}')") from None

    # -- the pull request

    def ensure_pull(self, pull: Any | None, pushed: bool) -> tuple[Any, str]:
        """Create the pull request, or bring the open one's title and body up to date."""
        from github import GithubException

        plan = self.bump.last_plan
        assert plan is not None
        values = placeholders(self.bump)
        title = render_title(self.pr.title, values)
        body = render_body(plan, values, self.base, self.env)
        if pull is None:
            try:
                created = self.remote.create_pull(
                    base=self.base, head=self.branch, title=title, body=body, draft=self.pr.draft
                )
                return created, "created"
            except GithubException as err:
                if "already exists" not in error_message(err).lower():
                    raise explain(err, "creating the pull request", self.repo,
                                  permission=PR_PERMISSION) from None  # fmt: skip
            pull = self.open_pull()
            if pull is None:
                raise BumperError(
                    f"GitHub says a pull request from '{self.branch}' exists but lists none open"
                )
        changed = pull.title != title or (pull.body or "") != body
        if changed:
            with api_errors("updating the pull request", self.repo, permission=PR_PERMISSION):
                pull.edit(title=title, body=body)
        return pull, "updated" if (changed or pushed) else "none"

    def decorate(self, pull: Any, created: bool) -> None:
        """Labels and assignees (added when missing), reviewers (on creation), auto-merge."""
        from github import GithubException

        with api_errors("labelling the pull request", self.repo, permission=PR_PERMISSION):
            have = {label.name for label in pull.labels}
            missing = [name for name in self.pr.labels if name not in have]
            if missing:
                pull.add_to_labels(*missing)
            assigned = {user.login for user in pull.assignees}
            missing = [login for login in self.pr.assignees if login not in assigned]
            if missing:
                pull.add_to_assignees(*missing)
        # Asking again on every bump would re-notify people who already reviewed.
        if created and (self.pr.reviewers or self.pr.team_reviewers):
            try:
                pull.create_review_request(
                    reviewers=list(self.pr.reviewers), team_reviewers=list(self.pr.team_reviewers)
                )
            except GithubException as err:
                if status_of(err) != 422:
                    raise explain(err, "requesting reviewers", self.repo,
                                  permission=PR_PERMISSION) from None  # fmt: skip
                self.warnings.append(f"reviewers not requested: {error_message(err)}")
        if self.pr.auto_merge:
            self.enable_auto_merge(pull)

    def enable_auto_merge(self, pull: Any) -> None:
        from github import GithubException

        method = str(self.pr.auto_merge).upper()
        current = (pull.raw_data.get("auto_merge") or {}).get("merge_method")
        if current and current.upper() == method:
            return
        try:
            pull.enable_automerge(merge_method=method)
        except GithubException as err:
            text = error_message(err)
            if "not allowed" in text.lower():
                raise BumperError(
                    f"pull request #{pull.number} is open, but auto-merge is not allowed in "
                    f"{self.repo.slug}: enable {AUTO_MERGE_SETTING}"
                ) from None
            if "clean status" in text.lower():
                self.warnings.append(
                    f"auto-merge not enabled: pull request #{pull.number} can already be "
                    "merged (no required checks are pending)"
                )
                return
            raise explain(err, "enabling auto-merge", self.repo,
                          permission=PR_PERMISSION) from None  # fmt: skip

    def close(self, pull: Any, reason: str) -> None:
        with api_errors("closing the pull request", self.repo, permission=PR_PERMISSION):
            pull.create_issue_comment(f"Closing: {reason}. (bumper)")
            pull.edit(state="closed")

    # -- the loop

    def run(self, work: BranchClone) -> PullRequestResult:
        options = replace(self.options, pull_request=True)
        attempts = self.options.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self.attempt(work, options, attempt)
            except _Race:
                if attempt < attempts:
                    time.sleep(backoff(attempt, options.base_delay, options.max_delay))
                work.refresh()
        raise BumperError(
            f"gave up after {attempts} attempts: branch '{self.branch}' of {self.repo.slug} "
            "kept changing under concurrent updates; raise --max-attempts"
        )

    def result(
        self, operation: str, pull: Any | None, attempt: int, **extra: Any
    ) -> PullRequestResult:
        return PullRequestResult(
            operation=operation,
            branch=self.branch,
            base=self.base,
            number=pull.number if pull is not None else None,
            url=pull.html_url if pull is not None else None,
            attempts=attempt,
            warnings=tuple(self.warnings),
            **extra,
        )

    def attempt(
        self, work: BranchClone, options: DeliverOptions, attempt: int
    ) -> PullRequestResult:
        pull = self.open_pull()
        state = self.inspect(work.head, self.branch_head())
        # Never [skip ci] on a pull-request commit: a skipped required check blocks merging.
        staged = stage(
            work, self.bump, options, skip_ci=False, env=self.env, pushed=self.pr.via == "git"
        )
        image = placeholders(self.bump)["image"]
        if staged is None:
            return self.nothing_to_do(pull, state, image, attempt)
        self.refuse_foreign(state, pull)
        newer = None if self.bump.options.get("allow_downgrade") else self.newer_on_branch(state)
        if newer is not None:
            self.warnings.append(f"'{self.branch}' already proposes {newer}; not going back")
            return self.result("none", pull, attempt, head_sha=state.head, changed=True,
                               reason=f"the branch proposes newer {newer}")  # fmt: skip
        same = (
            not state.foreign
            and state.commits == 1
            and state.tree == staged.tree
            and state.parents == (work.head,)
        )
        commit, verified, head = None, None, state.head
        if not same:
            commit, verified = self.publish(work, staged, state)
            head = commit
        pull, operation = self.ensure_pull(pull, pushed=not same)
        self.decorate(pull, created=operation == "created")
        return self.result(operation, pull, attempt, head_sha=head, commit=commit,
                           verified=verified, changed=True)  # fmt: skip

    def nothing_to_do(self, pull: Any | None, state: BranchState, image: str,
                      attempt: int) -> PullRequestResult:  # fmt: skip
        plan = self.bump.last_plan
        if plan is not None and plan.skips:
            reason = f"'{self.base}' is newer than {image}; nothing to propose"
            return self.result("none", pull, attempt, head_sha=state.head, reason=reason)
        reason = f"'{self.base}' already has {image}"
        if pull is None:
            return self.result("none", None, attempt, reason=reason)
        newer = self.newer_on_branch(state)
        if state.foreign or newer:
            why = (
                "it holds commits bumper did not make" if state.foreign else f"it proposes {newer}"
            )
            self.warnings.append(f"pull request #{pull.number} left open: {why}")
            return self.result("none", pull, attempt, head_sha=state.head, reason=reason)
        self.close(pull, reason)
        return self.result("closed", pull, attempt, head_sha=state.head, reason=reason)


def deliver_pull_request(
    bump: Bump,
    repo: GitHubRepo,
    *,
    token: str | None,
    options: DeliverOptions | None = None,
    pr: PullRequestOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> PullRequestResult:
    """Open, update or close bumper's pull request for ``bump`` in ``repo``."""
    options = options or DeliverOptions()
    pr = pr or PullRequestOptions()
    env = os.environ if env is None else env
    _validate(options)
    if pr.via not in ("api", "git"):
        raise BumperError(f"--via must be api or git, not {pr.via!r}")
    if pr.auto_merge is not None and pr.auto_merge.lower() not in MERGE_METHODS:
        raise BumperError(f"--auto-merge must be one of {', '.join(MERGE_METHODS)}")
    token = require_token(token)
    branch = branch_name(pr.branch, bump.target.written_name)
    github = client(repo, token)
    with api_errors("reading the repository", repo, permission="contents: read"):
        remote = github.get_repo(repo.slug)
        base = pr.base or remote.default_branch
    if branch == base:
        raise BumperError(f"the pull-request branch '{branch}' cannot be the base branch")
    missing = f"base branch '{base}' not found in {repo.slug}"
    with api_errors("reading the base branch", repo, permission="contents: read",
                    not_found=missing):  # fmt: skip
        remote.get_branch(base)
    run = _PullRequestRun(bump, repo, remote, branch, base, options, pr, env)
    with tempfile.TemporaryDirectory(prefix="bumper-") as tmp:
        return run.run(BranchClone(repo, base, token, env, Path(tmp)))
