"""Mode ``pull-request``: exactly one up-to-date pull request per image (or group).

Every run rebuilds bumper's branch (``bumper/<image>`` by default) from the *current*
head of the base, with the bump re-planned there, so the pull request never conflicts
and never carries stale changes. The branch may be rewritten only while it holds
bumper's own commits for these images: a commit someone else pushed there stops bumper
(unless ``--force``). When the base already has the target, no pull request is opened
and an open one for this image is closed with a comment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bumper.delivery.apicommit import Staged, branch_clone, is_verified, replay, stage
from bumper.delivery.contract import (
    MERGE_METHODS,
    BumpOutcome,
    DeliverOptions,
    DeliveryRequest,
    DeliveryResult,
    PullRequestInfo,
    PullRequestOptions,
    resolve_token,
)
from bumper.delivery.github import (
    GitHubRepo,
    api_errors,
    client,
    error_message,
    explain,
    github_location,
    is_not_fast_forward,
    require_token,
    status_of,
)
from bumper.delivery.loopguard import bumped_images
from bumper.delivery.messages import branch_name, placeholders, render_body, render_title
from bumper.delivery.workspace import Workspace, validate
from bumper.edit.reference import ReferenceError, canonical_name, parse_reference
from bumper.edit.versions import is_downgrade
from bumper.errors import BumperError
from bumper.git import Failure, GitCommandError
from bumper.retry import Race, until_landed

AUTO_MERGE_SETTING = 'Settings → General → Pull Requests → "Allow auto-merge"'
PR_PERMISSION = "pull-requests: write"


class PullRequestBump(Protocol):
    """What pull-request mode needs of a bump besides planning it: the ``name`` its branch
    is named after, the canonical ``images`` whose bumper commits it may replace (any
    bumper commit when ``grouped``), the ``version`` it proposes (None for several images)
    and whether going back is allowed."""

    name: str
    images: frozenset[str]
    version: str | None
    allow_downgrade: bool
    grouped: bool

    def __call__(self, root: Any) -> BumpOutcome: ...


@dataclass(frozen=True)
class BranchState:
    """What bumper's branch holds beyond the base."""

    head: str | None = None
    foreign: tuple[str, ...] = ()
    image: str | None = None  # the newest Bumped-Image trailer for these images
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


@dataclass
class _Run:
    """One pull-request delivery: state shared by the steps of the retry loop."""

    bump: PullRequestBump
    repo: GitHubRepo
    remote: Any
    branch: str
    base: str
    options: DeliverOptions
    pr: PullRequestOptions
    env: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)

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
            trailers = bumped_images(commit.commit.message or "")
            names = {canonical_name(_image_name(t) or "") for t in trailers}
            if trailers and (self.bump.grouped or names <= self.bump.images):
                image = trailers[0]
            elif not trailers and len(parents) > 1 and not set(parents[1:]) & ahead:
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
        if state.image is None or self.bump.version is None:
            return None
        try:
            proposed = parse_reference(state.image).tag
        except ReferenceError:
            return None
        return proposed if is_downgrade(proposed, self.bump.version) else None

    # -- writing the branch

    def publish(
        self, work: Workspace, staged: Staged, state: BranchState
    ) -> tuple[str, bool | None]:
        """Point the branch at the staged bump on the base head; (sha, verified)."""
        assert staged.sha is not None
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
                raise Race("the pull-request branch moved")
            ref.edit(sha, force=True)
        except RequestException as err:
            raise explain(err, action, self.repo) from None
        except GithubException as err:
            if is_not_fast_forward(err) or status_of(err) == 404:
                raise Race("the pull-request branch moved") from None
            raise explain(err, action, self.repo) from None

    def push(self, work: Workspace, expected: str | None) -> None:
        """Push the clone's HEAD to the branch, forced only over the exact commit checked."""
        try:
            work.push(f"refs/heads/{self.branch}", lease=expected or "")
        except GitCommandError as err:
            if err.failure in (Failure.RACE, Failure.TRANSIENT):
                raise Race("the pull-request branch moved") from None
            if err.failure is Failure.CANNOT_WRITE:
                raise BumperError(
                    f"the token cannot push to {self.repo.slug}: it needs 'contents: write' "
                    "permission (in a workflow: permissions: contents: write)"
                ) from None
            raise BumperError(f"{err.message} (pushing branch '{self.branch}')") from None

    # -- the pull request

    def ensure_pull(self, pull: Any | None, pushed: bool, outcome: BumpOutcome) -> tuple[Any, str]:
        """Create the pull request, or bring the open one's title and body up to date."""
        from github import GithubException

        values = placeholders(outcome, [row.path for row in outcome.rows])
        title = render_title(self.pr.title, values, outcome.title)
        body = render_body(self.pr.body, outcome, values, self.base, self.env)
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
                ) from None
        changed = pull.title != title or (pull.body or "") != body
        if changed:
            with api_errors("updating the pull request", self.repo, permission=PR_PERMISSION):
                pull.edit(title=title, body=body)
        return pull, "updated" if (changed or pushed) else "none"

    def decorate(self, pull: Any, created: bool) -> None:
        """Labels, assignees and the milestone (added when missing), reviewers (on
        creation), auto-merge."""
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
        if self.pr.milestone:
            self.set_milestone(pull)
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

    def set_milestone(self, pull: Any) -> None:
        """Put the pull request in the milestone named (by title) or numbered."""
        wanted = str(self.pr.milestone)
        current = pull.milestone
        if current is not None and wanted in (current.title, str(current.number)):
            return
        with api_errors("reading milestones", self.repo, permission="issues: read"):
            milestones = list(self.remote.get_milestones(state="open"))
        found = next((m for m in milestones if wanted in (m.title, str(m.number))), None)
        if found is None:
            raise BumperError(f"milestone {wanted!r} not found among the open milestones of "
                              f"{self.repo.slug}")  # fmt: skip
        with api_errors("setting the milestone", self.repo, permission="issues: write"):
            self.remote.get_issue(pull.number).edit(milestone=found)

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
        if self.pr.delete_branch:
            self.delete_branch()

    def delete_branch(self) -> None:
        """Delete bumper's branch (its pull request is closed or merged)."""
        from github import GithubException

        try:
            self.remote.get_git_ref(f"heads/{self.branch}").delete()
        except GithubException as err:
            if status_of(err) != 404:
                raise explain(err, f"deleting branch '{self.branch}'", self.repo) from None

    # -- the loop

    def run(self, work: Workspace) -> DeliveryResult:
        options = replace(self.options, pull_request=True)
        return until_landed(
            lambda number: self.attempt(work, options, number),
            attempts=self.options.max_attempts,
            what=f"branch '{self.branch}' of {self.repo.slug}",
            refresh=work.refresh,
            base_delay=self.options.base_delay,
            max_delay=self.options.max_delay,
        )

    def result(self, operation: str, pull: Any | None, attempt: int, *, changed: bool = False,
               head_sha: str | None = None, commit: str | None = None,
               verified: bool | None = None, reason: str = "") -> DeliveryResult:  # fmt: skip
        number = pull.number if pull is not None else None
        url = pull.html_url if pull is not None else None
        info = PullRequestInfo(operation, self.branch, self.base, number, url, head_sha, reason)
        if operation in ("created", "updated"):
            summary = f"{operation} pull request #{number}: {url}"
        elif operation == "closed":
            summary = f"closed pull request #{number} ({url}): {reason}"
        elif number is not None:
            summary = f"pull request #{number} is up to date: {url}"
        else:
            summary = f"no pull request needed: {reason}"
        summary += "".join(f"\nwarning: {w}" for w in self.warnings)
        return DeliveryResult(
            "pull-request", changed and operation in ("created", "updated"), summary,
            commit=commit, commit_url=f"{self.repo.web_url}/commit/{commit}" if commit else None,
            verified=verified, pushed=commit is not None, branch=self.branch,
            remote=self.repo.web_url, attempts=attempt, pull_request=info,
            warnings=tuple(self.warnings),
        )  # fmt: skip

    def attempt(self, work: Workspace, options: DeliverOptions, attempt: int) -> DeliveryResult:
        pull = self.open_pull()
        state = self.inspect(work.head, self.branch_head())
        # Never [skip ci] on a pull-request commit: a skipped required check blocks merging.
        staged = stage(
            work, self.bump, options, skip_ci=False, env=self.env, pushed=self.pr.via == "git"
        )
        if staged.sha is None:
            return self.nothing_to_do(pull, state, staged.outcome, attempt)
        self.refuse_foreign(state, pull)
        newer = None if self.bump.allow_downgrade else self.newer_on_branch(state)
        if newer is not None:
            self.warnings.append(f"'{self.branch}' already proposes {newer}; not going back")
            return self.result("none", pull, attempt, head_sha=state.head,
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
        pull, operation = self.ensure_pull(pull, not same, staged.outcome)
        self.decorate(pull, created=operation == "created")
        return self.result(operation, pull, attempt, changed=True, head_sha=head,
                           commit=commit, verified=verified)  # fmt: skip

    def nothing_to_do(self, pull: Any | None, state: BranchState, outcome: BumpOutcome,
                      attempt: int) -> DeliveryResult:  # fmt: skip
        image = outcome.image if not outcome.images else ", ".join(outcome.images)
        if outcome.skipped:
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
    bump: PullRequestBump,
    repo: GitHubRepo,
    *,
    token: str | None,
    options: DeliverOptions | None = None,
    pr: PullRequestOptions | None = None,
    env: Mapping[str, str] | None = None,
) -> DeliveryResult:
    """Open, update or close bumper's pull request for ``bump`` in ``repo``."""
    options = options or DeliverOptions()
    pr = pr or PullRequestOptions()
    env = os.environ if env is None else env
    validate(options)
    if pr.via not in ("api", "git"):
        raise BumperError(f"--via must be api or git, not {pr.via!r}")
    if pr.auto_merge is not None and pr.auto_merge.lower() not in MERGE_METHODS:
        raise BumperError(f"--auto-merge must be one of {', '.join(MERGE_METHODS)}")
    token = require_token(token)
    branch = branch_name(pr.branch, bump.name)
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
    run = _Run(bump, repo, remote, branch, base, options, pr, env)
    with branch_clone(repo, base, token, env) as work:
        return run.run(work)


def pull_request_mode(
    bump: Any, request: DeliveryRequest, env: Mapping[str, str]
) -> DeliveryResult:
    """Mode ``pull-request``: one up-to-date pull request per image (or group)."""
    pr = request.pull_request or PullRequestOptions()
    location, template = github_location(request, env, need_branch=False)
    pr = replace(pr, branch=template, via=request.via or "api")
    token = resolve_token(request.token, env)
    return deliver_pull_request(bump, location, token=token, options=request.options, pr=pr,
                                env=env)  # fmt: skip
