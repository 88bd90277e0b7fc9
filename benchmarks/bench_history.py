"""How fast is ``bumper history`` on a long-lived manifests repository? Prints figures,
asserts nothing.

Builds a repository of 10,000 commits with ``git fast-import`` (each one bumps one of
20 images in one of 20 files, with bumper's trailers; every tenth is a hand edit
without trailers, which history reads from the diff), then times, medians of runs:

- ``git log -p`` over the same paths (the floor: the one pass history makes);
- ``bumper history IMAGE k8s`` (start-up included) and ``bumper history k8s``.

    python benchmarks/bench_history.py [--commits 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGES = [f"ghcr.io/acme/service-{i}" for i in range(20)]
BIN = Path(sys.executable).parent


def build(root: Path, commits: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    versions = [0] * len(IMAGES)
    lines = []
    stamp = 1_700_000_000
    for number in range(commits):
        index = number % len(IMAGES)
        versions[index] += 1
        image = IMAGES[index]
        content = f"image: {image}:1.0.{versions[index]}\n".encode()
        manual = number % 10 == 9
        message = (
            f"hand edit {number}\n"
            if manual
            else f"chore(deploy): bump {image} to 1.0.{versions[index]}\n\n"
            f"Bumped-Image: {image}:1.0.{versions[index]}\n"
        ).encode()
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer Bench <b@example.com> {stamp + number} +0000\n".encode())
        lines.append(f"data {len(message)}\n".encode() + message)
        lines.append(f"M 100644 inline k8s/service-{index}.yaml\n".encode())
        lines.append(f"data {len(content)}\n".encode() + content + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(lines), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)


def median(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bumper-history-") as tmp:
        root = Path(tmp) / "repo"
        start = time.perf_counter()
        build(root, args.commits)
        print(f"{args.commits} commits built in {time.perf_counter() - start:.1f} s")
        floor = median(["git", "log", "-p", "--format=%H%n%B", "--", "k8s"], root, args.runs)
        one = median([str(BIN / "bumper"), "history", IMAGES[3], "k8s"], root, args.runs)
        every = median([str(BIN / "bumper"), "history", "k8s"], root, args.runs)
        count = subprocess.run(
            [str(BIN / "bumper"), "history", IMAGES[3], "k8s", "--output", "json"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.count('"commit"')  # fmt: skip
        print(f"git log -p (the one pass)      median {floor:.3f} s")
        print(f"bumper history IMAGE k8s       median {one:.3f} s  ({count} events)  "
              f"ratio {one / floor:.2f}x")  # fmt: skip
        print(f"bumper history k8s (every one) median {every:.3f} s  ratio {every / floor:.2f}x")


if __name__ == "__main__":
    main()
