"""Which files to read, how to read them byte-faithfully, and how to write them atomically."""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import os
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bumper.edit.nonmanifest import config_by_path, refusal
from bumper.edit.yamltext import line_column
from bumper.errors import BumperError
from bumper.git import run_git

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

    ``template`` marks a Helm chart template named explicitly: never edited. ``skip`` is
    why a file found by a walk must not be read (a symlink leading out of the folder, a
    FIFO or device): it becomes a warning.
    """

    path: Path
    display: str
    explicit: bool
    template: bool = False
    skip: str | None = None


@dataclass
class TextFile:
    """A decoded manifest: ``text`` is what the parser sees; ``bom`` is put back on write."""

    text: str
    bom: bool

    def encode(self, text: str) -> bytes:
        return (UTF8_BOM if self.bom else b"") + text.encode("utf-8")


# YAML's own encoding detection (spec 5.2): a BOM, or the NUL bytes that ASCII text
# makes in each encoding. Only UTF-8 is read: the others are named so the user can act.
_OTHER_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
_CODECS = {
    "UTF-32 (big-endian)": "utf-32-be",
    "UTF-32 (little-endian)": "utf-32-le",
    "UTF-16 (big-endian)": "utf-16-be",
    "UTF-16 (little-endian)": "utf-16-le",
}


def text_in_any_encoding(data: bytes) -> str:
    """The file's text for a search, whatever YAML encoding it is in (undecodable bytes
    replaced): a walk finds a UTF-16 manifest, and then reports that it is not UTF-8."""
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM) :].decode("utf-8", "replace")
    encoding = _other_encoding(data)
    if encoding is None:
        return data.decode("utf-8", "replace")
    return data.decode(_CODECS[encoding], "replace").lstrip("\ufeff")


def _other_encoding(data: bytes) -> str | None:
    for bom, name in _OTHER_ENCODINGS:
        if data.startswith(bom):
            return name
    head = data[:4]
    if len(head) == 4 and head[:3] == b"\0\0\0" and head[3]:
        return "UTF-32 (big-endian)"
    if len(head) == 4 and head[0] and head[1:] == b"\0\0\0":
        return "UTF-32 (little-endian)"
    if len(head) >= 2 and head[0] == 0 and head[1]:
        return "UTF-16 (big-endian)"
    if len(head) >= 2 and head[0] and head[1] == 0:
        return "UTF-16 (little-endian)"
    return None


def decode(data: bytes, display: str) -> TextFile:
    """Decode UTF-8 (with or without BOM) without touching line endings."""
    bom = data.startswith(UTF8_BOM)
    if bom:
        data = data[len(UTF8_BOM) :]
    else:
        encoding = _other_encoding(data)
        if encoding is not None:
            raise FileError(f"{encoding} files are not supported; save it as UTF-8", display)
    try:
        return TextFile(data.decode("utf-8"), bom)
    except UnicodeDecodeError as error:
        prefix = data[: error.start]
        text = prefix.decode("utf-8", "replace")
        line, column = line_column(text, len(text))
        raise FileError("not valid UTF-8 text", display, line, column) from None


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file; a FIFO, device or socket is refused without blocking
    on it (``OSError`` carries the reason)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        kind = _special_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise OSError(0, f"not a regular file ({kind})", str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _special_kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a file"


class MissingPath(BumperError):
    """A path given to plan does not exist."""


class StaleFile(BumperError):
    """A file changed on disk between planning and writing (another run, an editor):
    nothing was written; planning again on the new content is safe."""


class Interrupted(BumperError):
    """SIGINT or SIGTERM arrived while files were being written; the message says whether
    the bump was completed or nothing was written."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


# How long to wait for another bumper process writing the same files.
LOCK_TIMEOUT = 60.0


class _Written:
    """How many files this process has replaced: what an interruption can claim."""

    count = 0


def files_written() -> int:
    """How many files this process has written (for the message when it is stopped)."""
    return _Written.count


def _write_temp(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temp file beside ``path``, with ``path``'s owner and mode
    (as ``sed -i`` keeps them)."""
    info = os.stat(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bumper", dir=path.parent)
    try:
        # No fsync: like git's default (core.fsync off) and sed -i, a rename is atomic for
        # every reader; fsync per file would cost ~3 ms each on a disk, minutes on a monorepo.
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        created = os.fstat(fd)
        if (created.st_uid, created.st_gid) != (info.st_uid, info.st_gid):
            # Only root may give a file away; anyone else keeps their own, as sed -i does.
            with contextlib.suppress(PermissionError):
                os.fchown(fd, info.st_uid, info.st_gid)
        # After chown, which clears set-id bits.
        os.fchmod(fd, info.st_mode & 0o7777)
    except BaseException:
        os.close(fd)
        Path(tmp_name).unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp_name


def _lock(path: Path, deadline: float) -> int:
    """An exclusive advisory lock on the file ``path`` names now, held by the returned
    descriptor. A rename by another writer swaps the file under the lock: then lock the
    new one."""
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise BumperError(
                        f"{path}: another process kept it locked for {LOCK_TIMEOUT:.0f}s "
                        "(a bumper run writing the same files?); nothing written"
                    ) from None
                time.sleep(0.01)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def _signals_recorded() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of dying mid-write (CI cancels jobs this way); the
    caller decides when to stop. Only the main thread can take signals in Python."""
    import signal

    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        signal.signal(signum, lambda number, _frame: caught.append(number))
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _write_temps(writes: list[tuple[Path, bytes]], caught: list[int]) -> list[tuple[str, Path]]:
    """Every new content in a temp file beside its target; on any failure or signal the
    temp files made so far are removed and the error raised."""
    temps: list[tuple[str, Path]] = []
    errors: list[BaseException] = []
    try:
        if len(writes) >= 64:
            # Creating many files is I/O-bound: threads overlap the file system's waits.
            from concurrent.futures import ThreadPoolExecutor

            def one(path: Path, data: bytes) -> str | None:
                return None if caught else _write_temp(path, data)

            with ThreadPoolExecutor(max_workers=8) as pool:
                futures = [pool.submit(one, path, data) for path, data in writes]
            for future, (path, _) in zip(futures, writes, strict=True):
                error = future.exception()
                if error is not None:
                    errors.append(error)
                elif (name := future.result()) is not None:
                    temps.append((name, path))
        else:
            for path, data in writes:
                if caught:
                    break
                temps.append((_write_temp(path, data), path))
        if errors:
            raise errors[0]
        if caught:
            raise Interrupted(
                f"stopped by {_signal_name(caught[0])} before writing; nothing written",
                caught[0],
            )
    except BaseException:
        for tmp_name, _ in temps:
            Path(tmp_name).unlink(missing_ok=True)
        raise
    return temps


def write_all_atomic(writes: list[tuple[Path, bytes, bytes]]) -> None:
    """Replace every file, all or none: ``(path, expected bytes, new bytes)``.

    Each file is locked (an advisory lock other bumper runs wait for) and must still hold
    the expected bytes, else :class:`StaleFile` and nothing is written. Then every new
    content goes to a temp file beside its target (a full disk or a read-only folder fails
    here, before any file changed), then each temp file is renamed over its target (atomic
    for readers). SIGINT/SIGTERM before the renames removes the temp files; during them,
    the renames are finished first. Either way :class:`Interrupted` says what happened.
    """
    ordered = sorted(writes, key=lambda write: str(write[0]))
    with _signals_recorded() as caught:
        deadline = time.monotonic() + LOCK_TIMEOUT
        locks: list[int] = []
        try:
            for path, expected, _ in ordered:
                locks.append(_lock(path, deadline))
                if read_regular(path) != expected:
                    raise StaleFile(f"{path}: changed on disk while planning; nothing written")
            temps = _write_temps([(path, new) for path, _, new in ordered], caught)
            renamed = 0
            try:
                for tmp_name, path in temps:
                    os.replace(tmp_name, path)
                    renamed += 1
                    _Written.count += 1
            except BaseException:
                for tmp_name, _ in temps[renamed:]:
                    Path(tmp_name).unlink(missing_ok=True)
                raise
        finally:
            for fd in locks:
                os.close(fd)
        if caught:
            raise Interrupted(
                f"stopped by {_signal_name(caught[0])} after writing every file: "
                "the bump is complete",
                caught[0],
            )


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
        result = run_git(
            ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=directory,
            capture_output=True,
            check=True,
        )
    except (OSError, BumperError, subprocess.CalledProcessError):
        return None
    return sorted(
        {name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0") if name}
    )


def _walk(directory: str, prefix: str = "") -> Iterator[str]:
    """Every file below ``directory`` (relative, sorted), never entering ``.git`` or a
    symlinked folder."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != ".git":
                yield from _walk(entry.path, f"{prefix}{entry.name}/")
        else:
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


def _walked_file(path: str, base: str) -> tuple[tuple[int, int] | None, bool, str | None]:
    """(identity, is a symlink, reason to skip) of a file a walk found: a symlink is
    followed only to a regular file inside the walked folder ``base`` (a real path)."""
    try:
        info = os.lstat(path)
        link = stat.S_ISLNK(info.st_mode)
        if link:
            real = os.path.realpath(path)
            if not (real == base or real.startswith(base.rstrip(os.sep) + os.sep)):
                return None, link, "a symlink to a file outside the folder walked"
            info = os.stat(real)
    except OSError:
        return None, False, None  # vanished, or a dangling symlink: nothing to read
    kind = _special_kind(info.st_mode)
    if kind is not None:
        return None, link, f"not a regular file ({kind})"
    return (info.st_dev, info.st_ino), link, None


def _named_file(path: Path, arg: str) -> tuple[int, int]:
    """The identity of a file named on the command line, or a one-line error."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        dangling = os.path.islink(path)
        what = "a symlink to a missing file" if dangling else "no such file or directory"
        raise MissingPath(f"{arg}: {what}") from None
    except OSError as error:
        raise BumperError(f"{arg}: cannot read: {error.strerror}") from None
    kind = _special_kind(info.st_mode)
    if kind is not None:
        raise BumperError(f"{arg}: not a regular file ({kind}); nothing written")
    return info.st_dev, info.st_ino


def collect_sources(
    paths: Iterable[str | Path],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Source]:
    """Files to plan, in a stable order, each physical file once.

    Directories are walked for ``*.yaml``/``*.yml`` (git-ignored files, ``.git``, Helm
    chart templates, CI folders and tool configuration left out; symlinks followed only
    to regular files inside the folder); a file named explicitly is read whatever its
    extension, and refused when it is CI configuration or not a regular file.
    ``include``/``exclude`` globs match the displayed path or the file name. With
    ``root``, paths are read inside it but displayed as given.
    """
    sources: list[Source] = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        arg = str(raw) or "."
        path = Path(arg) if root is None else root / arg
        if not path.is_dir():
            identity = _named_file(path, arg)
            config = config_by_path(arg)
            if config is not None:
                raise BumperError(f"{arg}: {refusal(config)}")
            if identity not in seen and not (exclude and _glob_match(arg, exclude)):
                seen.add(identity)
                template = path.suffix == ".tpl" or _in_chart_templates(path)
                sources.append(Source(path, arg, explicit=True, template=template))
            continue
        if _in_chart_templates(path):
            continue
        listed = _git_listed(path)
        relative = listed if listed is not None else list(_walk(str(path)))
        templates = _template_folders(relative)
        prefix = "" if arg in (".", "./") else arg.rstrip("/") + "/"
        base = os.path.realpath(path)
        folder = os.fspath(path)
        found: list[tuple[bool, str, tuple[int, int], Source]] = []
        for name in relative:
            if not name.endswith(MANIFEST_SUFFIXES) or name.startswith(templates):
                continue
            display = prefix + name
            if config_by_path(display) is not None:
                continue
            if include and not _glob_match(display, include):
                continue
            if exclude and _glob_match(display, exclude):
                continue
            full = os.path.join(folder, name)
            identity, link, skip = _walked_file(full, base)
            if skip is not None:
                sources.append(Source(Path(full), display, explicit=False, skip=skip))
            elif identity is not None:
                source = Source(Path(full), display, explicit=False)
                found.append((link, display, identity, source))
        # A file reached by several names is one file: its own name before a symlink's.
        kept: list[Source] = []
        for _, _, identity, source in sorted(found, key=lambda item: (item[0], item[1])):
            if identity not in seen:
                seen.add(identity)
                kept.append(source)
        sources += sorted(kept, key=lambda source: source.display)
    return sources
