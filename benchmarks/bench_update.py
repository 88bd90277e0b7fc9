"""How long does ``bumper update`` take on a repo with many images behind a slow registry?

Prints figures, asserts nothing. Starts a real registry (``docker-registry`` on a free
127.0.0.1 port) behind the tests' fault proxy, which adds a fixed latency to every
request, pushes IMAGES repositories with a dozen semver tags each, generates a manifests
repo that references each image from a Deployment, a Helm values file or a kustomization
(on an old tag, ~3 references per image), and times ``bumper update`` (fresh copy of the
repo each run, median of RUNS):

- with the default concurrency, and with ``--jobs 1`` (one request at a time);
- against the *sequential sum*: the time the proxy spent answering, added over every
  request of the run — what a client asking one request after another would wait.

The target is a wall time of at most 0.2x the sequential sum.

    python benchmarks/bench_update.py [--images 50] [--latency 0.05] [--runs 3] [--pin-digest]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.docker_fixtures import REGISTRY_BINARY  # noqa: E402
from tests.registry_fixtures import FaultProxy, start_registry, stop_registry  # noqa: E402

TAGS = [f"1.{minor}.{patch}" for minor in range(4) for patch in range(3)] + [
    "latest",
    "sha-1a2b3c4",
]
BIN = Path(sys.executable).parent


def _update_command() -> list[str]:
    """``bumper update`` once the main group has it; until then the command itself."""
    bumper = BIN / "bumper"
    probe = subprocess.run([str(bumper), "update", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [str(bumper), "update"]
    code = (
        "import sys; from bumper.cli.registry import update_command; "
        "update_command.main(sys.argv[1:], prog_name='bumper update')"
    )
    return [sys.executable, "-c", code]


def _repo(folder: Path, images: list[str]) -> None:
    """Each image referenced on tag 1.0.0 from a Deployment, Helm values or a
    kustomization, plus a second Deployment for every other image."""
    for index, image in enumerate(images):
        app = folder / f"apps/app-{index:03d}"
        app.mkdir(parents=True)
        (app / "deployment.yaml").write_text(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: app-{index}\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: main\n          image: {image}:1.0.0\n"
            "          ports: [{containerPort: 8080}]\n"
        )
        host, _, path = image.partition("/")
        (app / "values.yaml").write_text(
            f"image:\n  registry: {host}\n  repository: {path}\n  tag: 1.0.0\nreplicas: 2\n"
        )
        (app / "kustomization.yaml").write_text(
            f"resources: [deployment.yaml]\nimages:\n  - name: {image}\n    newTag: 1.0.0\n"
        )
        if index % 2:
            (app / "canary.yaml").write_text(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                f"  name: app-{index}-canary\nspec:\n  template:\n    spec:\n      containers:\n"
                f"        - name: main\n          image: {image}:1.0.0\n"
            )


def _run(command: list[str], repo: Path, args: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [*command, *args, "apps"], cwd=repo, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"bumper update failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pin-digest", action="store_true", help="also resolve digests")
    parser.add_argument("--jobs", type=int, help="concurrency of the first run (default: bumper's)")
    options = parser.parse_args()
    if not Path(REGISTRY_BINARY).is_file():
        raise SystemExit(f"{REGISTRY_BINARY} is not installed (run `bash .ci/services` as root)")

    work = Path(tempfile.mkdtemp(prefix="bench-update-"))
    os.environ["DOCKER_CONFIG"] = str(work / "docker-config")  # no developer credentials
    (work / "registry").mkdir()
    registry = start_registry(work / "registry", "open")
    proxy = FaultProxy(registry.host)
    try:
        pusher = registry.pusher
        names = [f"bench/service-{i:03d}" for i in range(options.images)]
        for name in names:
            pusher.tags(name, TAGS)
        images = [f"{proxy.host}/{name}" for name in names]
        template = work / "template"
        _repo(template, images)
        command = _update_command()
        extra = ["--pin-digest"] if options.pin_digest else []
        proxy.latency = options.latency
        print(
            f"bumper update: {options.images} images, {len(list(template.rglob('*.yaml')))} "
            f"files, {options.latency * 1000:g} ms added per request, median of {options.runs}"
        )
        results: dict[str, tuple[float, float, int]] = {}
        jobs = ["--jobs", str(options.jobs)] if options.jobs else []
        first = f"--jobs {options.jobs}" if options.jobs else "concurrent (default)"
        for label, args in ((first, [*extra, *jobs]), ("--jobs 1", [*extra, "--jobs", "1"])):
            walls, sums, counts = [], [], []
            for _ in range(options.runs):
                repo = work / "repo"
                shutil.rmtree(repo, ignore_errors=True)
                shutil.copytree(template, repo)
                before_busy, before_count = proxy.busy, len(proxy.log)
                wall, summary = _run(command, repo, args)
                walls.append(wall)
                sums.append(proxy.busy - before_busy)
                counts.append(len(proxy.log) - before_count)
            results[label] = (
                statistics.median(walls),
                statistics.median(sums),
                int(statistics.median(counts)),
            )
            wall, total, count = results[label]
            print(
                f"  {label:22s} wall {wall:6.2f} s   sequential sum {total:6.2f} s "
                f"({count} requests)   wall/sum {wall / total:5.2f}x   [{summary}]"
            )
        (concurrent, _, _), (sequential, total, _) = results.values()
        print(
            f"  concurrent wall / --jobs 1 wall: {concurrent / sequential:.2f}x; "
            f"/ --jobs 1 sequential sum: {concurrent / total:.2f}x (target ≤ 0.2x)"
        )
    finally:
        proxy.close()
        stop_registry(registry)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
