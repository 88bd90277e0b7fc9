"""What bumper writes for people: commit messages, pull-request titles, bodies and
branch names, from templates with one set of placeholders, rendered by one function.

Placeholders: ``{name}``, ``{tag}`` (also ``{new_tag}``), ``{old_tag}``, ``{digest}``,
``{version}`` (the tag, else the digest), ``{image}`` (``NAME:TAG@DIGEST``), ``{files}``,
``{changes}`` (one line per change) and ``{description}`` (what a grouped bump,
promotion or rollback is). Branch names take ``{name}`` only.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from bumper.delivery.contract import SKIP_CI_MODES, BumpOutcome
from bumper.errors import BumperError
from bumper.git import run_git

DEFAULT_MESSAGE = "chore(deploy): bump {name} to {version}\n\n{changes}"
DEFAULT_TITLE = "Bump {name} to {version}"
DEFAULT_BRANCH = "bumper/{name}"
SKIP_CI = "[skip ci]"
PLACEHOLDERS = (
    "image", "name", "tag", "new_tag", "old_tag", "digest", "version", "files", "changes",
    "description",
)  # fmt: skip
# GitHub refuses bodies over 65536 characters; the diff is cut well before that.
MAX_DIFF = 40_000
MAX_TABLE_ROWS = 200


def placeholders(outcome: BumpOutcome, files: Sequence[str] = ()) -> dict[str, str]:
    """The values every template can use, for one planned change."""
    return {
        "image": outcome.image,
        "name": outcome.name,
        "tag": outcome.tag or "",
        "new_tag": outcome.tag or "",
        "old_tag": ", ".join(dict.fromkeys(outcome.old_tags)),
        "digest": outcome.digest or "",
        "version": outcome.version or outcome.tag or outcome.digest or "",
        "files": ", ".join(files),
        "changes": "\n".join(outcome.summaries),
        "description": outcome.description,
    }


def render(template: str, values: Mapping[str, str], option: str) -> str:
    """Fill ``template``; an unknown placeholder or a broken template is one clear line
    naming ``option`` (``--message``, ``--title`` …)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        unknown = [f for f in fields if f not in values]
        if unknown:
            known = ", ".join("{" + p + "}" for p in values)
            raise BumperError(f"unknown placeholder {{{unknown[0]}}} in {option}; use {known}")
        return template.format_map(dict(values))
    except (ValueError, IndexError) as err:
        raise BumperError(f"invalid {option} template {template!r}: {err}") from None


def render_message(template: str | None, outcome: BumpOutcome, files: Sequence[str]) -> str:
    """The commit message from the template (without ``[skip ci]`` and trailers)."""
    if template is None:
        template = f"{_escape(outcome.title)}\n\n{{changes}}" if outcome.title else DEFAULT_MESSAGE
    text = render(template, placeholders(outcome, files), "--message")
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if not lines or not lines[0]:
        raise BumperError("--message gives an empty commit subject")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """``text`` as a template that renders to itself."""
    return text.replace("{", "{{").replace("}", "}}")


def render_title(template: str | None, values: Mapping[str, str], default: str = "") -> str:
    """The pull-request title from ``template`` (else ``default``, else a bump's title)."""
    template = template or (_escape(default) if default else DEFAULT_TITLE)
    title = " ".join(render(template, values, "--title").split())
    if not title:
        raise BumperError("--title gives an empty pull-request title")
    return title


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
    branch = render(template, {"name": branch_safe(name)}, "--branch")
    check = run_git(["check-ref-format", "--branch", branch], capture_output=True, check=False)
    if check.returncode != 0 or branch.startswith("-"):
        raise BumperError(f"--branch {template!r} gives {branch!r}, not a valid branch name")
    return branch


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_body(
    template: str | None,
    outcome: BumpOutcome,
    values: Mapping[str, str],
    base: str,
    env: Mapping[str, str],
) -> str:
    """The pull-request description: the user's template, or what changes where, where
    the build came from, and the diff in a collapsed block."""
    if template is not None:
        return render(template, values, "--body").rstrip("\n") + "\n"
    what = outcome.description or f"Bumps {_cell(values['name'])} to {_cell(values['version'])}"
    lines = [f"{what} on `{base}`.", ""]
    lines += ["| File | Old | New |", "| --- | --- | --- |"]
    rows = outcome.rows
    for row in rows[:MAX_TABLE_ROWS]:
        lines.append(f"| {_cell(f'{row.path}:{row.line}')} | {_cell(row.old)} | {_cell(row.new)} |")
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"| … {len(rows) - MAX_TABLE_ROWS} more | | |")
    lines.append("")
    if values["digest"]:
        lines += [f"Digest: {_cell(values['digest'])}", ""]
    source = _source_line(env)
    if source:
        lines += [source, ""]
    diff = outcome.diff
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


def check_skip_ci_mode(mode: str) -> None:
    """Refuse a ``--skip-ci`` value that is not auto, always or never."""
    if mode not in SKIP_CI_MODES:
        raise BumperError(f"--skip-ci must be one of {', '.join(SKIP_CI_MODES)}, not {mode!r}")


def _repo_slug(url: str) -> tuple[str, str] | None:
    """(host, owner/name) of an http(s), ssh or scp-style URL, lower-cased."""
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", url)
    parts = urlsplit(url)
    host, path = (scp.group(1), scp.group(2)) if scp else (parts.hostname, parts.path)
    if not host:
        return None
    path = path.strip("/").removesuffix(".git")
    return host.lower(), path.lower()


def wants_skip_ci(
    mode: str, url: str, *, pull_request: bool, env: Mapping[str, str] | None = None
) -> bool:
    """Whether the commit subject gets ``[skip ci]``.

    ``always``/``never`` are literal. ``auto`` adds it only to a direct push to the
    repository the workflow runs in (``GITHUB_REPOSITORY`` on ``GITHUB_SERVER_URL``),
    where the push would start the same workflow again; never to a pull-request commit.
    """
    check_skip_ci_mode(mode)
    if mode != "auto":
        return mode == "always"
    env = os.environ if env is None else env
    current = env.get("GITHUB_REPOSITORY")
    if pull_request or not current:
        return False
    server = urlsplit(env.get("GITHUB_SERVER_URL") or "https://github.com").hostname or ""
    return _repo_slug(url) == (server.lower(), current.lower())


def parse_author(author: str, option: str = "--author") -> tuple[str, str]:
    """Split ``Name <email>``."""
    match = re.fullmatch(r"\s*([^<>]*?)\s*<([^<>\s]+)>\s*", author)
    if not match or not match.group(1):
        raise BumperError(f"{option} must look like 'Name <email>', not {author!r}")
    return match.group(1), match.group(2)
