"""``bumper images``: every image reference under some paths, for people and scripts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bumper.edit.files import collect_sources
from bumper.edit.plan import ParsedFile, Problem, read_manifest, with_file
from bumper.edit.yamltext import LineIndex
from bumper.errors import BumperError


@dataclass(frozen=True)
class Found:
    """One reference as the file spells it."""

    path: str
    line: int
    column: int
    shape: str
    name: str
    tag: str | None
    digest: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return with_file(self.__dict__)


def list_images(
    paths: Iterable[str | Path] = (".",),
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
) -> tuple[list[Found], list[Problem]]:
    """All references under ``paths`` and the files that could not be parsed. With
    ``root``, paths are taken inside that folder and reported as given.

    Raises BumperError when a file named in ``paths`` cannot be parsed.
    """
    found: list[Found] = []
    problems: list[Problem] = []
    for source in collect_sources([str(p) for p in paths] or ["."], include, exclude, root):
        parsed = read_manifest(source)
        if isinstance(parsed, Problem):
            if parsed.explicit:
                raise BumperError(str(parsed))
            problems.append(parsed)
            continue
        assert isinstance(parsed, ParsedFile)
        lines = LineIndex(parsed.text.text)
        for site in parsed.sites():
            if getattr(site, "doubtful", False):
                continue  # not clearly an image map: not a reference to list
            line, column = lines.locate(site.offset)
            found.append(
                Found(
                    source.display,
                    line,
                    column,
                    site.shape,
                    site.name,
                    site.tag,
                    site.digest,
                    site.problem,
                )
            )
    return found, problems
