"""Does every reference exist in its registry? (``bumper verify``, ``set-image --verify``)

Each distinct reference is asked once, all of them concurrently; the answer is reported
for every place that spells it. References bumper would never edit (template
placeholders and the like) are skipped with their note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bumper.edit.inventory import Found
from bumper.edit.reference import Reference, ReferenceError, canonical_name, parse_reference
from bumper.registry.client import Check, RegistryClient

STATUS_SKIPPED = "skipped"


@dataclass(frozen=True)
class VerifyResult:
    """One reference's answer; ``found`` says where it is written (None for references
    given as text). ``status``: ok, missing, mismatch, unauthorized, unreachable, error
    or skipped."""

    reference: str
    status: str
    message: str = ""
    digest: str | None = None
    found: Found | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def problem(self) -> bool:
        """True when the reference is missing or could not be verified."""
        return self.status not in ("ok", STATUS_SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        where: dict[str, Any] = {}
        if self.found is not None:
            where = {"file": self.found.path, "line": self.found.line, "name": self.found.name}
        return {
            **where,
            "reference": self.reference,
            "status": self.status,
            "message": self.message,
            "digest": self.digest,
        }


def _as_reference(item: Found | Reference | str) -> Reference | str:
    """The reference to check, or why it cannot be checked."""
    if isinstance(item, Reference):
        return item
    if isinstance(item, str):
        return parse_reference(item)
    if item.note:
        return item.note
    try:
        return parse_reference(str(Reference(item.name, item.tag, item.digest)))
    except ReferenceError as error:
        return error.message


def _key(ref: Reference) -> tuple[str, str | None, str | None]:
    tag = ref.tag if ref.tag or ref.digest else "latest"
    return canonical_name(ref.name), tag, ref.digest


def verify_references(
    items: Iterable[Found | Reference | str], *, client: RegistryClient
) -> list[VerifyResult]:
    """Check each item (an inventory ``Found``, a ``Reference`` or ``NAME[:TAG][@DIGEST]``
    text), one result per item in order. Text that is not a valid reference raises
    ReferenceError; a ``Found`` that is not checkable is ``skipped``."""
    entries = [(item, _as_reference(item)) for item in items]
    distinct: dict[tuple[str, str | None, str | None], Reference] = {}
    for _, ref in entries:
        if isinstance(ref, Reference):
            distinct.setdefault(_key(ref), ref)
    keys = list(distinct)
    checks: dict[tuple[str, str | None, str | None], Check] = dict(
        zip(keys, client.map(lambda key: client.check(distinct[key]), keys), strict=True)
    )
    results: list[VerifyResult] = []
    for item, ref in entries:
        found = item if isinstance(item, Found) else None
        if not isinstance(ref, Reference):
            shown = str(Reference(found.name, found.tag, found.digest)) if found else str(item)
            results.append(VerifyResult(shown, STATUS_SKIPPED, ref, None, found))
            continue
        check = checks[_key(ref)]
        shown = str(ref) if ref.tag or ref.digest else f"{ref.name}:latest"
        results.append(VerifyResult(shown, check.status, check.message, check.digest, found))
    return results
