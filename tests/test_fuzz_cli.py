"""Fuzzers for the command line's output, run as a separate process.

- ``--dry-run`` prints a patch that ``git apply`` accepts and that makes exactly the
  bytes a real run writes (CR-only files, U+2028/U+2029 inside values, no final
  newline, BOM, non-ASCII).
- ``--output json`` prints one valid JSON document on stdout, errors included.
- A finished write is never turned into a failure by the output: file names that are
  not valid UTF-8, a stdout that only takes ASCII.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import (
    cli,
    draw_case,
    fuzz_settings,
    one_line_error,
    show,
    tree,
)

FLAGS = ["--allow-missing", "--allow-downgrade"]


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts
    }


@fuzz_settings(10, share=20)
@given(data=st.data())
def test_the_dry_run_patch_is_what_a_run_writes(data: st.DataObject) -> None:
    files, bump, _ = draw_case(data)
    context = f"set-image {bump.argument}\n{show(files)}"
    with tree(files) as dry_root, tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        real_root = Path(name) / "real"
        shutil.copytree(dry_root, real_root, symlinks=True)
        dry = cli(["set-image", bump.argument, ".", "--dry-run", *FLAGS], dry_root)
        assert one_line_error(dry) is None, f"{one_line_error(dry)}\n{context}"
        real = cli(["set-image", bump.argument, ".", "--output", "json", *FLAGS], real_root)
        assert one_line_error(real) is None, f"{one_line_error(real)}\n{context}"
        try:
            report = json.loads(real.stdout)
        except ValueError:
            raise AssertionError(f"--output json printed {real.stdout!r}\n{context}") from None
        assert real.returncode == dry.returncode, f"{real.stderr!r}\n{dry.stderr!r}\n{context}"
        if real.returncode != 0:
            assert "error" in report, f"an error without 'error' in JSON: {report}\n{context}"
            return
        patch = dry.stdout
        if patch:
            applied = subprocess.run(
                ["git", "apply", "--whitespace=nowarn", "-"],
                cwd=dry_root,
                input=patch,
                capture_output=True,
                check=False,
            )
            assert applied.returncode == 0, (
                f"git apply refuses the --dry-run patch: {applied.stderr.decode()}\n"
                f"{patch.decode('utf-8', 'replace')}\n{context}"
            )
        assert _tree_bytes(dry_root) == _tree_bytes(real_root), (
            f"the --dry-run patch is not the write\n{patch!r}\n{context}"
        )
        assert report["changed"] == bool(patch), f"{report}\n{context}"


# File names that are not UTF-8 (Latin-1 bytes, a lone surrogate's bytes), or merely odd.
NAMES = [
    b"caf\xe9.yaml",
    b"\xff\xfe.yaml",
    b"\xed\xa0\x80.yaml",
    "ünï ✓.yaml".encode(),
    b"a b.yaml",
]


@fuzz_settings(12, share=50)
@given(
    name=st.sampled_from(NAMES),
    output=st.sampled_from(["text", "json"]),
    encoding=st.sampled_from(["ascii:strict", "utf-8:strict", "latin-1:strict"]),
    dry_run=st.booleans(),
)
def test_output_never_breaks_a_finished_write(
    name: bytes, output: str, encoding: str, dry_run: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as folder:
        root = Path(folder)
        path = os.path.join(os.fsencode(root), name)
        with open(path, "wb") as handle:
            handle.write(b"image: ghcr.io/acme/app:1.0.0\n")
        args = ["set-image", "ghcr.io/acme/app:2.0.0", ".", "--output", output]
        result = cli(
            [*args, "--dry-run"] if dry_run else args, root, env={"PYTHONIOENCODING": encoding}
        )
        with open(path, "rb") as handle:
            written = handle.read()
    context = f"file {name!r}, --output {output}, stdout {encoding}, dry-run {dry_run}"
    err = result.stderr.decode("utf-8", "replace")
    assert one_line_error(result) is None, f"{one_line_error(result)}\n{context}"
    assert result.returncode == 0, f"exit {result.returncode}: {err}\n{context}"
    expected = b"image: ghcr.io/acme/app:" + (b"1.0.0" if dry_run else b"2.0.0") + b"\n"
    assert written == expected, context
    if output == "json":
        try:
            json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"--output json printed {result.stdout!r}\n{context}") from None
