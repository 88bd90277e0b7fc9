"""Which files to read, how to read them byte-faithfully, and how to write them atomically."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bumper.errors import BumperError

UTF8_BOM = b"\xef\xbb\xbf"
MANIFEST_SUFFIXES = (".yaml", ".yml")


class FileError(BumperError):
    """A file that cannot be read as text; ``path`` names it."""

    def __init__(self, message: str, path: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message, f"{path}:{line}:{column}")
        self.path = path
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Source:
    """A file to plan: where it is, how the user named it, and whether they named it.

    ``template`` marks a Helm chart template named explicitly: never edited.
    """

    path: Path
    display: str
    explicit: bool
    template: bool = False


@dataclass
class TextFile:
    """A decoded manifest: ``text`` is what the parser sees; ``bom`` is put back on write."""

    text: str
    bom: bool

    def encode(self, text: str) -> bytes:
        return (UTF8_BOM if self.bom else b"") + text.encode("utf-8")


def decode(data: bytes, display: str) -> TextFile:
    """Decode UTF-8 (with or without BOM) without touching line endings."""
    bom = data.startswith(UTF8_BOM)
    if bom:
        data = data[len(UTF8_BOM) :]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError("UTF-16 files are not supported; save it as UTF-8", display)
    try:
        return TextFile(data.decode("utf-8"), bom)
    except UnicodeDecodeError as error:
        prefix = data[: error.start]
        line = prefix.count(b"\n") + 1
        column = error.start - (prefix.rfind(b"\n") + 1) + 1
        raise FileError("not valid UTF-8 text", display, line, column) from None


def _write_temp(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temp file beside ``path``, with ``path``'s mode."""
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bumper", dir=path.parent)
    try:
        # No fsync: like git's default (core.fsync off) and sed -i, a rename is atomic for
        # every reader; fsync per file would cost ~3 ms each on a disk, minutes on a monorepo.
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        Path(tmp_name).unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp_name


def write_all_atomic(writes: list[tuple[Path, bytes]]) -> None:
    """Replace every file, all or none: first every new content goes to a temp file
    beside its target (a full disk or a read-only folder fails here, before any file
    changed), then each temp file is renamed over its target (atomic for readers)."""
    if len(writes) >= 64:
        # Creating many files is I/O-bound: threads overlap the file system's waits.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(_write_temp, path, data) for path, data in writes]
        errors = [f.exception() for f in futures if f.exception() is not None]
        temps = [
            (f.result(), path)
            for f, (path, _) in zip(futures, writes, strict=True)
            if f.exception() is None
        ]
    else:
        errors, temps = [], []
        for path, data in writes:
            try:
                temps.append((_write_temp(path, data), path))
            except OSError as error:
                errors.append(error)
                break
    if errors:
        for tmp_name, _ in temps:
            Path(tmp_name).unlink(missing_ok=True)
        raise errors[0]
    for tmp_name, path in temps:
        os.replace(tmp_name, path)


def _git_listed(directory: Path) -> list[str] | None:
    """Non-ignored files under ``directory`` (relative, sorted) when it is inside a git
    work tree, else None."""
    probe = directory.resolve()
    for candidate in (probe, *probe.parents):
        if (candidate / ".git").exists():
            break
    else:
        return None
    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=directory,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(
        {name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0") if name}
    )


def _walk(directory: str, prefix: str = "") -> Iterator[str]:
    """Every file below ``directory`` (relative, sorted), never entering ``.git``."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != ".git":
                yield from _walk(entry.path, f"{prefix}{entry.name}/")
        elif entry.is_file():
            yield prefix + entry.name


def _template_folders(relative: list[str]) -> tuple[str, ...]:
    """``templates/`` folders of Helm charts (folders holding a Chart.yaml)."""
    folders = []
    for name in relative:
        if name == "Chart.yaml" or name.endswith("/Chart.yaml"):
            folders.append(name[: -len("Chart.yaml")] + "templates/")
    return tuple(folders)


def _in_chart_templates(path: Path) -> bool:
    """True for a path at or below the ``templates/`` folder of a Helm chart."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        if folder.name == "templates" and (folder.parent / "Chart.yaml").is_file():
            return True
    return False


def _glob_match(display: str, patterns: tuple[str, ...]) -> bool:
    name = display.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(display, p) or fnmatch.fnmatch(name, p) for p in patterns)


def collect_sources(
    paths: Iterable[str | Path],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Source]:
    """Files to plan, in a stable order.

    Directories are walked for ``*.yaml``/``*.yml`` (git-ignored files, ``.git`` and
    Helm chart templates left out); a file named explicitly is read whatever its
    extension. ``include``/``exclude`` globs match the displayed path or the file name.
    With ``root``, paths are read inside it but displayed as given.
    """
    sources: list[Source] = []
    seen: set[str] = set()
    for raw in paths:
        arg = str(raw) or "."
        path = Path(arg) if root is None else root / arg
        if path.is_file():
            key = os.path.realpath(path)
            if key not in seen and not (exclude and _glob_match(arg, exclude)):
                seen.add(key)
                template = path.suffix == ".tpl" or _in_chart_templates(path)
                sources.append(Source(path, arg, explicit=True, template=template))
            continue
        if not path.is_dir():
            raise BumperError(f"{arg}: no such file or directory")
        if _in_chart_templates(path):
            continue
        listed = _git_listed(path)
        relative = listed if listed is not None else list(_walk(str(path)))
        templates = _template_folders(relative)
        prefix = "" if arg in (".", "./") else arg.rstrip("/") + "/"
        base = os.path.realpath(path)
        for name in relative:
            if not name.endswith(MANIFEST_SUFFIXES) or name.startswith(templates):
                continue
            display = prefix + name
            if include and not _glob_match(display, include):
                continue
            if exclude and _glob_match(display, exclude):
                continue
            key = os.path.join(base, name)
            if key in seen:
                continue
            seen.add(key)
            sources.append(Source(path / name, display, explicit=False))
    return sources
