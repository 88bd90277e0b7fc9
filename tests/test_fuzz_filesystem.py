"""Fuzzers for what surrounds the edit: links, special files, two runs at once, signals,
owners and modes. Each example runs ``python -m bumper`` as its own process.

- A walk never writes outside the folder it was given (symlinks to files and folders
  outside), never hangs or reads forever (FIFOs, sockets, ``/dev/zero``), writes a
  symlinked file inside the tree through its target and keeps the link, reports one
  physical file reached through several links once, and keeps owner, group and mode.
- A FIFO, a socket or a device named on the command line is one clear line (exit 1).
- Two runs for different images over the same files never lose an update: each lands
  completely, or fails with a line and nothing of it written.
- SIGTERM/SIGINT while a run writes leaves no temporary files and no half-bumped tree.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import cli, fuzz_settings, one_line_error

IMAGE = "ghcr.io/acme/app:2.0.0"
OLD = b"ghcr.io/acme/app:1.0.0"
NEW = b"ghcr.io/acme/app:2.0.0"


def manifest(name: str, images: tuple[str, ...] = ("ghcr.io/acme/app:1.0.0",)) -> bytes:
    containers = "".join(
        f"      - name: c{i}\n        image: {image}\n" for i, image in enumerate(images)
    )
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        f"  template:\n    spec:\n      containers:\n{containers}"
    ).encode()


def listing(root: Path) -> set[str]:
    """Every name under ``root`` (links not followed), to spot temp files left behind."""
    names = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        names.update(os.path.relpath(os.path.join(folder, n), root) for n in dirs + files)
    return names


# Special entries a tree may hold, by the name they get in it.
SPECIALS = {
    "in-link.yaml": "a symlink to a.yaml (relative)",
    "in-absolute.yaml": "a symlink to a.yaml (absolute path)",
    "sub/again.yaml": "a second symlink to a.yaml, in a subfolder",
    "out-link.yaml": "a symlink to a manifest outside the tree",
    "out-dir": "a symlink to a folder of manifests outside the tree",
    "fifo.yaml": "a FIFO",
    "zero.yaml": "a symlink to /dev/zero",
    "null.yaml": "a symlink to /dev/null",
    "dangling.yaml": "a symlink to nothing",
    "loop1.yaml": "a symlink loop",
    "sock.yaml": "a unix socket",
}


def make_special(tree: Path, outside: Path, name: str) -> None:
    path = tree / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if name == "in-link.yaml":
        path.symlink_to("a.yaml")
    elif name == "in-absolute.yaml":
        path.symlink_to(tree / "a.yaml")
    elif name == "sub/again.yaml":
        path.symlink_to("../a.yaml")
    elif name == "out-link.yaml":
        path.symlink_to(os.path.relpath(outside / "victim.yaml", tree))
    elif name == "out-dir":
        path.symlink_to(outside / "dir")
    elif name == "fifo.yaml":
        os.mkfifo(path)
    elif name == "zero.yaml":
        path.symlink_to("/dev/zero")
    elif name == "null.yaml":
        path.symlink_to("/dev/null")
    elif name == "dangling.yaml":
        path.symlink_to("missing.yaml")
    elif name == "loop1.yaml":
        path.symlink_to("loop2.yaml")
        (tree / "loop2.yaml").symlink_to("loop1.yaml")
    else:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))


OWNERS = [(0, 0), (1000, 1000), (65534, 65534), (1000, 0)]


@fuzz_settings(12, share=50)
@given(
    specials=st.lists(st.sampled_from(sorted(SPECIALS)), max_size=5, unique=True),
    in_git=st.booleans(),
    mode=st.sampled_from([0o644, 0o600, 0o664, 0o755, 0o444, 0o640]),
    owner=st.sampled_from(OWNERS),
)
def test_a_walk_stays_in_its_tree_and_keeps_links_owners_and_modes(
    specials: list[str], in_git: bool, mode: int, owner: tuple[int, int]
) -> None:
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        base = Path(name)
        outside, tree = base / "outside", base / "tree"
        (outside / "dir").mkdir(parents=True)
        (outside / "victim.yaml").write_bytes(manifest("victim"))
        (outside / "dir" / "inner.yaml").write_bytes(manifest("inner"))
        tree.mkdir()
        main = tree / "a.yaml"
        main.write_bytes(manifest("a"))
        os.chmod(main, mode)
        if os.geteuid() == 0:
            os.chown(main, *owner)
        for special in specials:
            make_special(tree, outside, special)
        if in_git:
            subprocess.run(["git", "init", "-q", str(tree)], check=True)
        links = {p: os.readlink(p) for p in tree.rglob("*") if p.is_symlink()}
        before = listing(tree)
        layout = f"tree with a.yaml and {[SPECIALS[s] for s in specials]}, git={in_git}"
        try:
            result = cli(["set-image", IMAGE, "tree", "--output", "json"], base, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"set-image hangs on a {layout}")
        err = result.stderr.decode("utf-8", "replace")
        assert one_line_error(result) is None, f"{one_line_error(result)}\n{layout}"
        assert result.returncode == 0, f"exit {result.returncode}: {err}\n{layout}"
        assert (outside / "victim.yaml").read_bytes() == manifest("victim"), (
            f"wrote through a link to a file outside the tree\n{layout}"
        )
        assert (outside / "dir" / "inner.yaml").read_bytes() == manifest("inner"), (
            f"wrote into a folder outside the tree\n{layout}"
        )
        assert main.read_bytes() == manifest("a").replace(OLD, NEW), f"a.yaml not bumped\n{layout}"
        assert {p: os.readlink(p) for p in links if p.is_symlink()} == links, (
            f"a symlink was replaced by a file\n{layout}"
        )
        stat = main.stat()
        assert stat.st_mode & 0o7777 == mode, f"mode {oct(stat.st_mode & 0o7777)}, was {oct(mode)}"
        if os.geteuid() == 0:
            assert (stat.st_uid, stat.st_gid) == owner, (
                f"owner {(stat.st_uid, stat.st_gid)}, was {owner}\n{layout}"
            )
        assert listing(tree) == before, f"files left behind: {listing(tree) - before}\n{layout}"
        report = json.loads(result.stdout)
        onto_main = [
            change
            for change in report["changes"]
            if (base / change["file"]).resolve() == main.resolve()
        ]
        assert len(onto_main) == 1, f"one reference in one file, reported as {onto_main}\n{layout}"


@pytest.mark.parametrize("special", ["fifo.yaml", "zero.yaml", "sock.yaml"])
def test_a_special_file_named_on_the_command_line_is_one_clear_line(special: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        base = Path(name)
        (base / "outside").mkdir()
        (base / "tree").mkdir()
        make_special(base / "tree", base / "outside", special)
        try:
            result = cli(["set-image", IMAGE, f"tree/{special}"], base, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"set-image hangs reading {SPECIALS[special]} named on the command line")
    err = result.stderr.decode("utf-8", "replace").strip()
    assert one_line_error(result) is None, one_line_error(result)
    assert result.returncode == 1, err
    assert len(err.splitlines()) == 1, err
    assert "no such file" not in err.lower(), f"{SPECIALS[special]} called missing: {err}"


@fuzz_settings(10, share=50)
@given(files=st.integers(1, 60), delay=st.integers(0, 40), same_image=st.booleans())
def test_two_runs_at_once_never_lose_an_update(files: int, delay: int, same_image: bool) -> None:
    first, second = "ghcr.io/acme/one", "ghcr.io/acme/two"
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        root = Path(name)
        for index in range(files):
            (root / f"f{index}.yaml").write_bytes(
                manifest(f"w{index}", (f"{first}:1.0.0", f"{second}:1.0.0"))
            )
        before = listing(root)
        # Same image twice: different tags, so the order decides, but both exit 0 or
        # one fails cleanly; never a mix of the two in one tree.
        wants = [f"{first}:2.0.0", f"{first}:3.0.0" if same_image else f"{second}:2.0.0"]
        procs = []
        for index, want in enumerate(wants):
            if index:
                time.sleep(delay / 1000)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bumper", "set-image", want, "."],
                    cwd=root,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        outcomes = []
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            outcomes.append((proc.returncode, err.decode("utf-8", "replace")))
        texts = [(root / f"f{index}.yaml").read_bytes() for index in range(files)]
        left = listing(root) - before
    context = f"{files} files, second run {delay} ms later: {outcomes}"
    assert not left, f"files left behind: {left}\n{context}"
    for (code, err), want in zip(outcomes, wants, strict=True):
        assert "Traceback" not in err, err
        if code != 0:
            assert len(err.strip().splitlines()) == 1, f"{want}: not one line\n{context}"
    if same_image:
        finals = {wants[1].encode() in text for text in texts}
        assert len(finals) == 1, f"the tree mixes both runs' tags\n{context}"
        return
    for (code, _), want in zip(outcomes, wants, strict=True):
        landed = [want.encode() in text for text in texts]
        if code == 0:
            assert all(landed), (
                f"{want} exited 0 but is missing in {landed.count(False)} files\n{context}"
            )
        else:
            assert not any(landed), f"{want} failed but wrote {landed.count(True)} files\n{context}"


@fuzz_settings(12, share=50)
@given(
    files=st.integers(50, 600),
    delay=st.integers(60, 500),
    signum=st.sampled_from([signal.SIGTERM, signal.SIGINT]),
)
def test_a_signal_while_writing_leaves_all_or_nothing(files: int, delay: int, signum: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        root = Path(name)
        for index in range(files):
            (root / f"f{index:03}.yaml").write_bytes(manifest(f"w{index}"))
        before = listing(root)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bumper", "set-image", IMAGE, "."],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay / 1000)
        proc.send_signal(signum)
        _, err_bytes = proc.communicate(timeout=60)
        texts = [(root / f"f{index:03}.yaml").read_bytes() for index in range(files)]
        left = listing(root) - before
    err = err_bytes.decode("utf-8", "replace")
    bumped = sum(NEW in text for text in texts)
    context = (
        f"{signal.Signals(signum).name} after {delay} ms, {files} files: exit {proc.returncode}, "
        f"{bumped} bumped\n{err}"
    )
    assert not left, f"temporary files left behind: {sorted(left)[:5]}\n{context}"
    assert bumped in (0, files), f"a half-bumped tree\n{context}"
    if proc.returncode == 0:
        assert bumped == files, context
    elif bumped:
        assert err.strip(), f"interrupted after writing, without a word\n{context}"
    assert "Traceback" not in err, context
