"""The Action's inputs: ``INPUT_<NAME>`` environment variables read strictly.

``action.yml`` hands every input to ``bumper action`` as an ``INPUT_<NAME>`` variable
(upper case, ``-`` as ``_``); an empty value means "not given". A bad value is an error
naming the input, never a silent default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bumper.delivery.contract import MERGE_METHODS, SKIP_CI_MODES, VIA
from bumper.edit.reference import valid_digest
from bumper.errors import BumperError

TRUE = ("true", "True", "TRUE")
FALSE = ("false", "False", "FALSE")
MODES = ("push", "pull-request")
COMMANDS = ("release", "promote", "rollback", "update")
TAG_STRATEGIES = ("auto", "sha")


def env_name(name: str) -> str:
    """The environment variable that carries input ``name`` (``tag-strategy`` →
    ``INPUT_TAG_STRATEGY``)."""
    return "INPUT_" + name.upper().replace("-", "_").replace(" ", "_")


class Inputs:
    """Strict readers over the ``INPUT_*`` variables; an empty value means "not given"."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        """The trimmed value, or ``default`` when empty."""
        value = self.env.get(env_name(name), "").strip()
        return value or default

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise BumperError(f"input '{name}' is required")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """``true``/``false`` (YAML 1.2 core spellings); anything else is an error."""
        value = self.text(name)
        if value is None:
            return default
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise BumperError(f"input '{name}' must be true or false, not {value!r}")

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(name, default)
        if value is not None and value not in choices:
            raise BumperError(f"input '{name}' must be one of {', '.join(choices)}, not {value!r}")
        return value

    def items(self, name: str) -> list[str]:
        """A list given one per line (commas also separate, as in most actions)."""
        raw = self.env.get(env_name(name), "")
        return [item.strip() for item in re.split(r"[\n,]", raw) if item.strip()]

    def lines(self, name: str) -> list[str]:
        """A list given one per line only (paths may hold commas)."""
        raw = self.env.get(env_name(name), "")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def pairs(self, name: str) -> dict[str, str]:
        """``KEY=VALUE`` per line."""
        result: dict[str, str] = {}
        for line in self.lines(name):
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise BumperError(f"input '{name}': expected KEY=VALUE per line, not {line!r}")
            result[key.strip()] = value.strip()
        return result


@dataclass(frozen=True)
class Settings:
    """Every input of the action, parsed and checked."""

    command: str
    image: str | None
    images: list[str]
    group: str | None
    tag: str | None
    tags: list[str]
    tag_strategy: str
    build: bool
    push: bool
    context: str
    file: str | None
    build_args: dict[str, str]
    target: str | None
    image_labels: dict[str, str]
    platforms: list[str]
    secrets: dict[str, str] = field(repr=False)
    secret_files: dict[str, str]
    secret_envs: dict[str, str]
    cache_from: list[str]
    cache_to: list[str]
    provenance: str | None
    sbom: str | None
    network: str | None
    pull: bool
    no_cache: bool
    build_contexts: dict[str, str]
    ssh: list[str]
    digest: str | None
    pin_digest: bool
    verify: bool
    paths: list[str]
    source: str | None
    destination: str | None
    rollback_to: str | None
    rollback_steps: int
    policy: str | None
    repository: str
    base: str | None
    branch: str | None
    mode: str
    title: str | None
    body: str | None
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    assignees: tuple[str, ...]
    milestone: str | None
    draft: bool
    auto_merge: str | None
    delete_branch: bool
    commit_message: str | None
    author: str | None
    committer: str | None
    signoff: bool
    skip_ci: str
    token: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    allow_downgrade: bool
    force: bool
    dry_run: bool
    via: str


def _count(read: Inputs, name: str, default: int) -> int:
    text = read.text(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise BumperError(f"input '{name}' must be a whole number of at least 1, not {text!r}")
    return int(text)


def parse_inputs(env: Mapping[str, str]) -> Settings:
    """Read and check every input; raise BumperError naming the first bad one."""
    read = Inputs(env)
    command = read.choice("command", COMMANDS, "release") or "release"
    digest = read.text("digest")
    if digest is not None and not valid_digest(digest):
        raise BumperError(f"input 'digest' must look like sha256:<64 hex>, not {digest!r}")
    labels = read.items("labels")
    for label in labels:
        if "=" in label:
            raise BumperError(
                f"input 'labels' holds pull-request labels, not {label!r}: "
                "image labels (KEY=VALUE) go in 'image-labels'"
            )
    mode = read.choice("mode", MODES, "pull-request") or "pull-request"
    paths = read.lines("paths")
    if not paths and command != "promote":
        raise BumperError("input 'paths' is required: the manifest files or folders to bump")
    source, destination = read.text("from"), read.text("to")
    if command == "promote" and (source is None or destination is None):
        raise BumperError("command 'promote' needs the inputs 'from' and 'to'")
    image = read.text("image")
    if image is None and command in ("release", "rollback"):
        raise BumperError("input 'image' is required")
    repository = read.text("repository") or env.get("GITHUB_REPOSITORY")
    if not repository:
        raise BumperError("input 'repository' is required outside GitHub Actions")
    build = read.boolean("build", command == "release") and command == "release"
    platforms = read.items("platforms")
    single = read.text("platform")
    return Settings(
        command=command,
        image=image,
        images=read.lines("images"),
        group=read.text("group"),
        tag=read.text("tag"),
        tags=read.items("tags"),
        tag_strategy=read.choice("tag-strategy", TAG_STRATEGIES, "auto") or "auto",
        build=build,
        push=read.boolean("push", True),
        context=read.text("context", ".") or ".",
        file=read.text("file"),
        build_args=read.pairs("build-args"),
        target=read.text("target"),
        image_labels=read.pairs("image-labels"),
        platforms=([single] if single else []) + platforms,
        secrets=read.pairs("secrets"),
        secret_files=read.pairs("secret-files"),
        secret_envs=read.pairs("secret-envs"),
        cache_from=read.lines("cache-from"),
        cache_to=read.lines("cache-to"),
        provenance=read.text("provenance"),
        sbom=read.text("sbom"),
        network=read.text("network"),
        pull=read.boolean("pull", False),
        no_cache=read.boolean("no-cache", False),
        build_contexts=read.pairs("build-contexts"),
        ssh=read.lines("ssh"),
        digest=digest,
        pin_digest=read.boolean("pin-digest", False),
        # An image built elsewhere is checked in its registry before it is deployed.
        verify=read.boolean("verify", not build),
        paths=paths,
        source=source,
        destination=destination,
        rollback_to=read.text("rollback-to"),
        rollback_steps=_count(read, "rollback-steps", 1),
        policy=read.text("policy"),
        repository=repository,
        base=read.text("base"),
        branch=read.text("branch"),
        mode=mode,
        title=read.text("title"),
        body=read.text("body"),
        labels=tuple(labels),
        reviewers=tuple(read.items("reviewers")),
        team_reviewers=tuple(read.items("team-reviewers")),
        assignees=tuple(read.items("assignees")),
        milestone=read.text("milestone"),
        draft=read.boolean("draft", False),
        auto_merge=read.choice("auto-merge", MERGE_METHODS, None),
        delete_branch=read.boolean("delete-branch", False),
        commit_message=read.text("commit-message"),
        author=read.text("author"),
        committer=read.text("committer"),
        signoff=read.boolean("signoff", False),
        skip_ci=read.choice("skip-ci", SKIP_CI_MODES, "auto") or "auto",
        token=read.text("token"),
        username=read.text("username"),
        password=read.text("password"),
        allow_downgrade=read.boolean("allow-downgrade", False),
        force=read.boolean("force", False),
        dry_run=read.boolean("dry-run", False),
        via=read.choice("via", VIA, None) or ("api" if mode == "pull-request" else "git"),
    )
