"""How fast is ``bumper set-image`` on a big manifests repo? Prints ratios, asserts nothing.

Generates a synthetic repo (10,000 files by default: Deployments, StatefulSets,
CronJobs, kustomizations, Helm values, compose files, Argo CD Applications, ConfigMaps;
block and flow style, quoted and plain, comments, CRLF; the target image in ~20% of
the files, similar names everywhere) and times, in the same run, medians of:

- ``sed``: ``grep -rlF NAME: | xargs sed -i s#NAME:OLD#NAME:NEW#g``, what people use
  today and close to the floor (read everything, rewrite the candidates). It also gets
  cases wrong that bumper gets right (env values, annotations, Helm splits);
- ``ruamel``: a ruamel.yaml round-trip (load, change, dump) of the candidate files;
- ``bumper``: ``bumper set-image NAME:NEW DIR`` as a command, start-up included;

on this machine's disk and on tmpfs (/dev/shm), where the CPU work shows (bumper's
atomic temp-file-and-rename writes cost it more on a disk than the round-trip's plain
overwrites do). Also
``bumper --help`` against ``python -c "import click"``, and which heavy modules a
``set-image`` run imports.

    python benchmarks/bench_set_image.py [--files 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET = "ghcr.io/acme/billing-api"
OLD, NEW = "1.4.1", "1.4.2"
OTHERS = [
    "ghcr.io/acme/billing-api-worker",
    "ghcr.io/acme/billing",
    "ghcr.io/acme/team/billing-api",
    "nginx",
    "docker.io/library/redis",
    "quay.io/prometheus/node-exporter",
    "registry.k8s.io/ingress-nginx/controller",
] + [f"ghcr.io/acme/service-{i}" for i in range(40)]

BIN = Path(sys.executable).parent


def _image(rng: random.Random, with_target: bool) -> str:
    name = TARGET if with_target else rng.choice(OTHERS)
    tag = OLD if name == TARGET else rng.choice(["1.0.0", "v2.3.1", "latest", "sha-1a2b3c4"])
    ref = f"{name}:{tag}"
    return rng.choice([ref, f'"{ref}"', f"'{ref}'"])


def _deployment(rng: random.Random, target: bool, index: int) -> str:
    kind = rng.choice(["Deployment", "StatefulSet", "DaemonSet", "Rollout"])
    containers = []
    slot = rng.randrange(3) if target else -1
    for c in range(3):
        image = _image(rng, c == slot)
        if rng.random() < 0.2:
            containers.append(f"        - {{name: c{c}, image: {image.strip(chr(39) + chr(34))}}}")
        else:
            # Now and then the image also appears where it must not be edited.
            decoy = f"{TARGET}:{OLD}" if rng.random() < 0.05 else "http://ledger:8080"
            containers.append(
                f"        - name: c{c}   # container {c}\n          image: {image}\n"
                f"          env:\n            - name: UPSTREAM\n"
                f"              value: {decoy}\n"
                f"          resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}"
            )
    return (
        f"# service {index}\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: svc-{index}\n"
        f"  labels: {{app: svc-{index}, tier: backend}}\n  annotations:\n"
        f"    deploy/source: acme/service-{index}\nspec:\n  replicas: {rng.randint(1, 5)}\n"
        f"  selector:\n    matchLabels: {{app: svc-{index}}}\n  template:\n    metadata:\n"
        f"      labels: {{app: svc-{index}}}\n    spec:\n      containers:\n"
        + "\n".join(containers)
        + "\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n"
        "  ports: [{port: 80, targetPort: 8080}]\n"
    )


def _cronjob(rng: random.Random, target: bool, index: int) -> str:
    return (
        f"apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: job-{index}}}\nspec:\n"
        f"  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        f"          restartPolicy: OnFailure\n          containers:\n"
        f"          - name: job\n            image: {_image(rng, target)}\n"
        f"            args: [--once, --verbose]\n"
    )


def _kustomization(rng: random.Random, target: bool, index: int) -> str:
    name = TARGET if target else rng.choice(OTHERS)
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: team-{index % 17}\nresources:\n  - ../../base\n  - service.yaml\n"
        f"images:\n  - name: {name}\n    newTag: \"{OLD}\"\n  - name: busybox\n    newTag: '1.36'\n"
    )


def _values(rng: random.Random, target: bool, index: int) -> str:
    repository = "acme/billing-api" if target else "acme/" + rng.choice(["billing", "ledger"])
    return (
        f"# Default values for chart {index}.\nreplicaCount: 2\nimage:\n  registry: ghcr.io\n"
        f'  repository: {repository}\n  tag: "{OLD}"   # overridden per env\n'
        f'  digest: ""\n  pullPolicy: IfNotPresent\nservice:\n  type: ClusterIP\n  port: 80\n'
        "resources: {}\nnodeSelector: {}\ntolerations: []\n"
    )


def _compose(rng: random.Random, target: bool, index: int) -> str:
    return (
        f'services:\n  api:\n    image: {_image(rng, target)}\n    ports: ["80{index % 10}:80"]\n'
        f"    environment:\n      - LOG_LEVEL=info\n  db:\n    image: postgres:16\n"
    )


def _application(rng: random.Random, target: bool, index: int) -> str:
    name = TARGET if target else rng.choice(OTHERS)
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n"
        f"  name: app-{index}\n  namespace: argocd\nspec:\n  project: default\n  source:\n"
        f"    repoURL: https://git.example.com/acme/manifests.git\n    path: apps/{index}\n"
        f"    kustomize:\n      images:\n        - {name}:{OLD}\n"
        "  destination: {server: 'https://kubernetes.default.svc', namespace: apps}\n"
    )


def _configmap(rng: random.Random, target: bool, index: int) -> str:
    image = f"{TARGET}:{OLD}" if rng.random() < 0.3 else "nginx:1.27"
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{index}\ndata:\n"
        f"  IMAGE: {image}\n  LOG_LEVEL: info\n  config.yaml: |\n    image: {image}\n"
    )


SHAPES: list[tuple[float, Callable[[random.Random, bool, int], str]]] = [
    (0.45, _deployment),
    (0.1, _cronjob),
    (0.12, _kustomization),
    (0.12, _values),
    (0.08, _compose),
    (0.05, _application),
    (0.08, _configmap),
]


def generate(root: Path, files: int, seed: int = 7) -> None:
    """Write the synthetic repo; about 20% of the files reference the target."""
    rng = random.Random(seed)
    weights = [w for w, _ in SHAPES]
    for index in range(files):
        make = rng.choices([f for _, f in SHAPES], weights)[0]
        target = rng.random() < 0.2 and make is not _configmap
        text = make(rng, target, index)
        if rng.random() < 0.03:
            text = text.replace("\n", "\r\n")
        folder = root / f"team-{index % 50}" / f"app-{index % 400}"
        folder.mkdir(parents=True, exist_ok=True)
        name = "kustomization.yaml" if make is _kustomization else f"m{index}.yaml"
        (folder / name).write_text(text, newline="")


def _sed(tree: Path) -> None:
    command = (
        f"grep -rlF --include='*.yaml' '{TARGET}:' . | "
        f"xargs -r sed -i 's#{TARGET}:{OLD}#{TARGET}:{NEW}#g'"
    )
    subprocess.run(command, shell=True, cwd=tree, check=True)


RUAMEL = f"""
import subprocess, sys
from ruamel.yaml import YAML
yaml = YAML()
yaml.preserve_quotes = True
files = subprocess.run(["grep", "-rlF", "--include=*.yaml", "{TARGET.rsplit("/", 1)[-1]}", "."],
                       capture_output=True, text=True).stdout.split()
def fix(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str) and value.startswith("{TARGET}:"):
                node[key] = "{TARGET}:{NEW}"
            else:
                fix(value)
    elif isinstance(node, list):
        for item in node:
            fix(item)
for name in files:
    with open(name) as handle:
        docs = list(yaml.load_all(handle))
    for doc in docs:
        fix(doc)
    with open(name, "w") as handle:
        yaml.dump_all(docs, handle)
"""


def _ruamel(tree: Path) -> None:
    subprocess.run([sys.executable, "-c", RUAMEL], cwd=tree, check=True)


def _bumper(tree: Path) -> None:
    subprocess.run(
        [str(BIN / "bumper"), "set-image", f"{TARGET}:{NEW}", "."],
        cwd=tree,
        check=True,
        stderr=subprocess.DEVNULL,
    )


def _median(pristine: Path, scratch: Path, action: Callable[[Path], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        if scratch.exists():
            shutil.rmtree(scratch)
        shutil.copytree(pristine, scratch)
        subprocess.run(["sync"], check=True)
        start = time.perf_counter()
        action(scratch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _command_median(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ruamel-runs", type=int, default=1)
    args = parser.parse_args()

    for label, base in (("disk", None), ("tmpfs", "/dev/shm")):
        if base is not None and not Path(base).is_dir():
            print(f"[{label}] skipped: {base} missing")
            continue
        with tempfile.TemporaryDirectory(dir=base, prefix="bumper-bench-") as tmp:
            pristine, scratch = Path(tmp) / "pristine", Path(tmp) / "scratch"
            generate(pristine, args.files)
            size = sum(p.stat().st_size for p in pristine.rglob("*.yaml"))
            candidates = subprocess.run(
                ["grep", "-rlF", f"{TARGET}:", "."], cwd=pristine, capture_output=True, text=True
            ).stdout.split()
            print(
                f"[{label}] {args.files} files, {size / 1e6:.1f} MB, "
                f"{len(candidates)} contain '{TARGET}:'"
            )
            sed = _median(pristine, scratch, _sed, args.runs)
            bumper = _median(pristine, scratch, _bumper, args.runs)
            print(f"[{label}] sed    median {sed:.3f} s")
            print(
                f"[{label}] bumper median {bumper:.3f} s   bumper/sed = {bumper / sed:.2f}x "
                "(target <= 2x)"
            )
            ruamel = _median(pristine, scratch, _ruamel, args.ruamel_runs)
            print(
                f"[{label}] ruamel round-trip median {ruamel:.3f} s   "
                f"ruamel/bumper = {ruamel / bumper:.1f}x (target >= 20x)"
            )

    click = _command_median([sys.executable, "-c", "import click"], args.runs * 4)
    help_time = _command_median([str(BIN / "bumper"), "--help"], args.runs * 4)
    print(
        f"[start-up] python -c 'import click' {click * 1000:.0f} ms, bumper --help "
        f"{help_time * 1000:.0f} ms   ratio = {help_time / click:.2f}x (target <= 1.3x)"
    )

    probe = (
        "import sys\nfrom bumper.cli import main\n"
        "try:\n    main(['set-image', '--allow-missing', 'ghcr.io/acme/x:1', '.'])\n"
        "except SystemExit:\n    pass\n"
        "print(','.join(m for m in ('docker', 'github', 'requests') if m in sys.modules) or '-')\n"
    )
    with tempfile.TemporaryDirectory() as empty:
        heavy = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=empty,
            capture_output=True,
            text=True,
            env={**os.environ},
        ).stdout.strip()
    print(f"[imports] heavy modules imported by set-image: {heavy}")


if __name__ == "__main__":
    main()
