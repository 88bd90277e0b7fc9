"""The ``bumper verify`` and ``bumper update`` commands (registered by bumper.cli).

Only click is imported here at start-up; the registry client (and ``requests``) load
when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bumper.cli.common import (
    delivery_options,
    delivery_request,
    echo_json,
    one_line_errors,
    output_option,
    path_argument,
    split_delivery,
)
from bumper.errors import BumperError, UsageError

if TYPE_CHECKING:
    from bumper.delivery.contract import DeliveryRequest
    from bumper.edit.inventory import Found
    from bumper.edit.plan import Plan
    from bumper.registry.client import RegistryClient
    from bumper.registry.update import Note, UpdateDecision
    from bumper.registry.verify import VerifyResult

F = TypeVar("F", bound=Callable[..., Any])


def _image_names(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    from bumper.edit.reference import ReferenceError, parse_reference

    for value in values:
        try:
            ref = parse_reference(value)
        except ReferenceError as error:
            raise click.BadParameter(error.message) from None
        if ref.tag or ref.digest:
            raise click.BadParameter(f"{value!r}: give the name without tag or digest")
    return values


def _registry_options(func: F) -> F:
    """How to reach and log in to registries."""
    options = [
        click.option(
            "--image",
            "images",
            multiple=True,
            metavar="NAME",
            callback=_image_names,
            help="Only references to this image (repeatable; default: every reference).",
        ),
        click.option(
            "--insecure-registry",
            "insecure",
            multiple=True,
            metavar="HOST",
            help="Reach HOST over plain HTTP (loopback registries always may); repeatable.",
        ),
        click.option(
            "--username",
            envvar="BUMPER_USERNAME",
            help="Registry user [env BUMPER_USERNAME]; without it, the credentials "
            "`docker login` stored (and GITHUB_TOKEN for ghcr.io in Actions) are used.",
        ),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the registry password from stdin (else env BUMPER_PASSWORD).",
        ),
        click.option(
            "--registry",
            "login_registry",
            metavar="HOST",
            help="The registry --username logs in to (default: the one registry the "
            "references use).",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(1, 64),
            default=16,
            show_default=True,
            help="Registry requests in flight at once.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _client(
    domains: Callable[[], set[str]],
    *,
    insecure: tuple[str, ...],
    username: str | None,
    password_stdin: bool,
    login_registry: str | None,
    jobs: int,
) -> RegistryClient:
    from bumper.registry.client import RegistryClient, Settings
    from bumper.registry.credentials import Credentials

    explicit: dict[str, tuple[str, str]] = {}
    if login_registry and not username:
        raise UsageError("--registry names where --username logs in; give --username")
    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username")
    if username:
        if password_stdin:
            password = sys.stdin.read().rstrip("\r\n")
            if not password:
                raise BumperError("--password-stdin: nothing was read from stdin")
        else:
            password = os.environ.get("BUMPER_PASSWORD", "")
            if not password:
                raise UsageError("--username needs --password-stdin (or env BUMPER_PASSWORD)")
        host = login_registry
        if host is None:
            used = sorted(domains())
            if len(used) != 1:
                listed = ", ".join(used) or "none"
                raise UsageError(
                    f"--username: the references use several registries ({listed}); "
                    "name one with --registry HOST"
                )
            host = used[0]
        explicit[host] = (username, password)
    return RegistryClient(
        credentials=Credentials(explicit),
        insecure=insecure,
        settings=Settings(jobs=jobs),
    )


def _actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape(text: str, *, property_value: bool = False) -> str:
    """Workflow-command escaping (``%``, newlines; also ``:`` and ``,`` in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _annotation(path: str, line: int, text: str) -> str:
    return f"::error file={_escape(path, property_value=True)},line={line}::{_escape(text)}"


def _problem_line(result: VerifyResult) -> str:
    """``file:line  NAME:TAG  status: why`` (the reference is not repeated in the why)."""
    where = f"{result.found.path}:{result.found.line}" if result.found else "-"
    message = result.message
    if message.startswith(result.reference):
        message = message[len(result.reference) :].lstrip(": ")
    return f"{where}  {result.reference}  {result.status}" + (f": {message}" if message else "")


def _references(paths: tuple[str, ...], images: tuple[str, ...], *, warn: bool) -> list[Found]:
    """The references to work on (those of ``images`` when given)."""
    from bumper.edit.inventory import list_images
    from bumper.edit.reference import canonical_name

    found, problems = list_images(list(paths) or ["."])
    if warn:
        for problem in problems:
            click.echo(f"warning: {problem} (file skipped)", err=True)
    if images:
        wanted = {canonical_name(name) for name in images}
        found = [f for f in found if canonical_name(f.name) in wanted]
    return found


def _domains(found: Iterable[Found]) -> set[str]:
    from bumper.edit.reference import split_domain

    return {split_domain(f.name)[0] for f in found}


@click.command("verify")
@path_argument
@_registry_options
@output_option("one line per problem on stdout, a summary on stderr")
@click.option(
    "--allow-missing", is_flag=True, help="Exit 0 when an --image has no reference at all."
)
@one_line_errors
def verify_command(
    paths: tuple[str, ...],
    images: tuple[str, ...],
    insecure: tuple[str, ...],
    username: str | None,
    password_stdin: bool,
    login_registry: str | None,
    jobs: int,
    output: str,
    allow_missing: bool,
) -> None:
    """Check that every image reference under PATH (default: .) exists in its registry.

    One line per problem: file:line, the reference, and missing, mismatch (the tag no
    longer points to the pinned digest), unauthorized, unreachable or error; an ::error
    annotation in GitHub Actions. Each distinct reference is asked once. References
    with template placeholders are skipped with a note. Exit 0 when all exist, 1 when
    any is missing or could not be verified, 2 on usage errors.
    """
    from bumper.edit.reference import canonical_name
    from bumper.registry.verify import verify_references

    found = _references(paths, images, warn=True)
    absent = [i for i in images if canonical_name(i) not in {canonical_name(f.name) for f in found}]
    if absent and not allow_missing:
        where = ", ".join(paths) or "."
        raise BumperError(
            f"no reference to {absent[0]} found in {where} "
            "(check the name, or pass --allow-missing)"
        )
    client = _client(
        lambda: _domains(found),
        insecure=insecure,
        username=username,
        password_stdin=password_stdin,
        login_registry=login_registry,
        jobs=jobs,
    )
    with client:
        results = verify_references(found, client=client)
    problems = [r for r in results if r.problem]
    distinct = len({r.reference for r in results if r.status != "skipped"})
    if output == "json":
        document = {
            "ok": not problems,
            "checked": distinct,
            "results": [r.to_dict() for r in results],
        }
        echo_json(document)
    else:
        for result in results:
            if result.status == "skipped" and result.found is not None:
                click.echo(
                    f"note: {result.found.path}:{result.found.line}  {result.reference}  "
                    f"skipped: {result.message}",
                    err=True,
                )
        for result in problems:
            line = _problem_line(result)
            if _actions() and result.found is not None:
                click.echo(_annotation(result.found.path, result.found.line, line))
            else:
                click.echo(line)
        click.echo(_verify_summary(len(results), distinct, problems), err=True)
    if problems:
        sys.exit(1)


def _verify_summary(total: int, distinct: int, problems: list[VerifyResult]) -> str:
    if total == 0:
        return "no image references found"
    if not problems:
        return f"all {distinct} distinct reference{'s' * (distinct != 1)} exist"
    bad = len({p.reference for p in problems})
    return f"{bad} of {distinct} distinct references are missing or could not be verified"


@click.command("update")
@path_argument
@_registry_options
@click.option(
    "--policy",
    metavar="POLICY",
    help="semver (newest stable; the default for semver tags), semver:RANGE (^1.2, ~1.4, "
    "'>=1.4 <2', 1.x), numerical[:asc|desc] or alphabetical[:asc|desc]. A '# bumper:' "
    "marker on a reference's line wins.",
)
@click.option(
    "--filter-tags", metavar="REGEX", help="Only tags matching REGEX (searched, not anchored)."
)
@click.option(
    "--extract",
    metavar="TEMPLATE",
    help="Order by this part of the tag: $name / ${name} / $1 of --filter-tags' groups.",
)
@click.option(
    "--exclude-tags",
    "--exclude",
    "exclude_tags",
    multiple=True,
    metavar="REGEX",
    help="Never pick tags matching REGEX (repeatable; added to the default that leaves out "
    "*.sig, *.att, *.sbom and sha256-* tags).",
)
@click.option(
    "--pin-digest",
    is_flag=True,
    help="Write NAME:TAG@DIGEST with the digest the registry serves (the index digest "
    "for multi-platform images).",
)
@click.option("--dry-run", is_flag=True, help="Show the unified diff; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the unified diff of the change.")
@output_option("summary on stderr (the diff on stdout)")
@click.option(
    "--allow-missing", is_flag=True, help="Exit 0 when an --image has no reference at all."
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Update what could be resolved even when a registry failed for other references "
    "(still exit 1).",
)
@delivery_options
@one_line_errors
def update_command(
    paths: tuple[str, ...],
    images: tuple[str, ...],
    insecure: tuple[str, ...],
    username: str | None,
    password_stdin: bool,
    login_registry: str | None,
    jobs: int,
    policy: str | None,
    filter_tags: str | None,
    extract: str | None,
    exclude_tags: tuple[str, ...],
    pin_digest: bool,
    dry_run: bool,
    show_diff: bool,
    output: str,
    allow_missing: bool,
    keep_going: bool,
    **params: Any,
) -> None:
    """Move each image reference under PATH (default: .) to the newest tag its policy allows.

    For each repository the registry's tags are listed (every page), the policy keeps
    some, and the newest wins; a semver policy never moves a reference backwards. The
    policy of a reference is its '# bumper: policy=… ' marker, else a Flux
    {"$imagepolicy": …} marker whose ImagePolicy is under PATH, else --policy, else
    semver for references whose tag is a semantic version. Every image is planned
    before anything is written; nothing is written when a registry cannot be asked
    (unless --keep-going). Exit 1 on registry failures or an unreadable named file,
    2 on usage errors (a bad regex, range or marker).

    With --commit, --push or --repo every update lands as one commit (decided again on
    the branch's head when it moved); with --pull-request each image gets its own pull
    request, as set-image opens them.
    """
    from bumper.registry.policy import make_policy
    from bumper.registry.update import decide_updates, plan_moves

    chosen = None
    if policy is not None or filter_tags is not None or extract is not None or exclude_tags:
        chosen = make_policy(
            policy or "semver", filter_tags=filter_tags, extract=extract, exclude=exclude_tags
        )
    client = _client(
        lambda: _domains(_references(paths, images, warn=False)),
        insecure=insecure,
        username=username,
        password_stdin=password_stdin,
        login_registry=login_registry,
        jobs=jobs,
    )
    request = delivery_request(split_delivery(params))
    if dry_run and request is not None and request.repo is not None:
        raise UsageError("--dry-run plans in a checkout; it cannot be combined with --repo")

    def decide(root: Path | None) -> UpdateDecision:
        with client:
            return decide_updates(
                list(paths) or ["."],
                client=client,
                images=images,
                policy=chosen,
                pin_digest=pin_digest,
                allow_missing=allow_missing,
                root=root,
            )

    if request is not None and not dry_run:
        _deliver_updates(decide, list(paths) or ["."], request, output)
        return
    decision = decide(None)
    failures = decision.failures
    if failures and not keep_going:
        _report_failures(decision, output, written=False)
        sys.exit(1)
    plan = plan_moves(decision.moves)
    diff = plan.diff() if (dry_run or show_diff) else None
    if not dry_run:
        plan.apply()
    if output == "json":
        document = {**decision.to_dict(), **plan.to_dict(), "dry_run": dry_run}
        if diff is not None:
            document["diff"] = diff
        echo_json(document)
    else:
        if diff:
            click.echo(diff, nl=False)
        for line in _update_lines(decision, plan, dry_run=dry_run):
            click.echo(line, err=True)
    if failures:
        sys.exit(1)


def _deliver_updates(
    decide: Callable[[Path | None], UpdateDecision],
    paths: list[str],
    request: DeliveryRequest,
    output: str,
) -> None:
    """Land the updates and say what happened."""
    from bumper.pipeline import deliver_updates

    decision, results = deliver_updates(decide, paths, request)
    if decision.failures:
        _report_failures(decision, output, written=False)
        sys.exit(1)
    if output == "json":
        document = decision.to_dict()
        document["deliveries"] = [r.delivery.to_dict() for r in results if r.delivery]
        echo_json(document)
        return
    for note in decision.notes:
        click.echo(_note_line(note), err=True)
    for result in results:
        if result.delivery is not None:
            click.echo(result.delivery.summary(), err=True)
    if not decision.moves:
        click.echo("every reference is at the newest tag its policy allows", err=True)


def _note_line(note: Note) -> str:
    from bumper.edit.reference import format_reference

    f = note.found
    current = format_reference(f.name, f.tag, f.digest)
    return f"{f.path}:{f.line}  {current}  {note.status}: {note.message}"


def _report_failures(decision: UpdateDecision, output: str, *, written: bool) -> None:
    failures = decision.failures
    if output == "json":
        document = {**decision.to_dict(), "changed": False, "written": written}
        echo_json(document)
    for note in failures:
        if _actions():
            click.echo(_annotation(note.found.path, note.found.line, _note_line(note)))
        click.echo(_note_line(note), err=True)
    click.echo(
        f"nothing written: {len(failures)} reference(s) could not be resolved "
        "(--keep-going updates the others)",
        err=True,
    )


def _update_lines(decision: UpdateDecision, plan: Plan, *, dry_run: bool) -> list[str]:
    from bumper.render import count_line, reference_lines

    lines = [f"warning: {p} (file skipped)" for p in decision.problems]
    lines += reference_lines(plan)
    lines += [_note_line(note) for note in decision.notes]
    lines.append(count_line(plan, dry_run=dry_run) or "nothing to update")
    return lines
