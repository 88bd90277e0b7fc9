"""The engine never writes a wrong byte: one table of cases per rule of issue 9, each an
input file, the IMAGE, and the exact bytes expected (or the reason a reference is left
alone), then the rules about files, processes and output that a table cannot show.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from tests.conftest import read_tree, write_tree

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
BUMPER = [sys.executable, "-m", "bumper"]

# id, file name, before, IMAGE, after (None: left byte-identical)
BYTES: list[tuple[str, str, str, str, str | None]] = [
    # 1. a key added after a block scalar goes after all of the scalar's lines
    (
        "keep-chomping-blank-line-stays-in-the-scalar",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  notes: |+\n    hello\n\n",
        "ghcr.io/acme/app:2.0.0",
        "image:\n  repository: ghcr.io/acme/app\n  notes: |+\n    hello\n\n  tag: 2.0.0\n",
    ),
    (
        "deeper-whitespace-line-stays-in-the-scalar",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  notes: |\n    hello\n        \nnext: 1\n",
        "ghcr.io/acme/app:2.0.0",
        "image:\n  repository: ghcr.io/acme/app\n  notes: |\n    hello\n        \n"
        "  tag: 2.0.0\nnext: 1\n",
    ),
    (
        "folded-strip-with-indicator",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  notes: >2-\n     indented\n\n  # c\nx: 1\n",
        "ghcr.io/acme/app:2.0.0",
        "image:\n  repository: ghcr.io/acme/app\n  notes: >2-\n     indented\n\n"
        "  tag: 2.0.0\n  # c\nx: 1\n",
    ),
    (
        "keep-chomping-in-a-nested-last-value",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  extra:\n    notes: |+\n      hi\n\n\n",
        "ghcr.io/acme/app:2.0.0",
        "image:\n  repository: ghcr.io/acme/app\n  extra:\n    notes: |+\n      hi\n\n\n"
        "  tag: 2.0.0\n",
    ),
    # 2. an alias reads the anchor defined most recently before it
    (
        "redefined-anchor",
        "values.yaml",
        "a: &x ghcr.io/acme/other:1\nb:\n  image: *x\nc: &x ghcr.io/acme/app:1\nd:\n  image: *x\n",
        "ghcr.io/acme/app:2",
        "a: &x ghcr.io/acme/other:1\nb:\n  image: *x\nc: &x ghcr.io/acme/app:2\nd:\n  image: *x\n",
    ),
    # 5. kinds whose image is a repository to watch
    (
        "flux-image-repository",
        "flux.yaml",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n"
        "  name: app\nspec:\n  image: ghcr.io/acme/app\n---\napiVersion: v1\nkind: Pod\n"
        "spec:\n  containers:\n  - image: ghcr.io/acme/app:1\n",
        "ghcr.io/acme/app:2",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n"
        "  name: app\nspec:\n  image: ghcr.io/acme/app\n---\napiVersion: v1\nkind: Pod\n"
        "spec:\n  containers:\n  - image: ghcr.io/acme/app:2\n",
    ),
    (
        "skaffold-config",
        "skaffold.yaml",
        "apiVersion: skaffold/v4beta6\nkind: Config\nbuild:\n  artifacts:\n"
        "  - image: ghcr.io/acme/app\n---\nkind: Pod\nspec:\n  containers:\n"
        "  - image: ghcr.io/acme/app:1\n",
        "ghcr.io/acme/app:2",
        "apiVersion: skaffold/v4beta6\nkind: Config\nbuild:\n  artifacts:\n"
        "  - image: ghcr.io/acme/app\n---\nkind: Pod\nspec:\n  containers:\n"
        "  - image: ghcr.io/acme/app:2\n",
    ),
    # 5b. status is never edited
    (
        "pod-status",
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app:1\n"
        "status:\n  containerStatuses:\n  - image: ghcr.io/acme/app:1\n",
        "ghcr.io/acme/app:2",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app:2\n"
        "status:\n  containerStatuses:\n  - image: ghcr.io/acme/app:1\n",
    ),
    # 7. a value any loader would retype is quoted (go-yaml reads 0X1F as a number)
    *[
        (
            f"typed-{tag}",
            "kustomization.yaml",
            "images:\n- name: app\n  newTag: old\n",
            f"app:{tag}",
            f'images:\n- name: app\n  newTag: "{tag}"\n',
        )
        for tag in ("0X1F", "0B11", "0O17", "0o17", "017", "09", "1_", "1__0", "2024-1-5", "1E3")
    ],
    # 8. a value added inside {…} is quoted for libyaml-based readers
    (
        "flow-map-insert",
        "values.yaml",
        'image: {repository: ghcr.io/acme/app, tag: "1"}\n',
        f"ghcr.io/acme/app:2@{D1}",
        f'image: {{repository: ghcr.io/acme/app, tag: "2", digest: "{D1}"}}\n',
    ),
    # 9. what only a named parse used to find
    (
        "explicit-key",
        "pod.yaml",
        "spec:\n  ? image\n  : ghcr.io/acme/app:1\n",
        "ghcr.io/acme/app:2",
        "spec:\n  ? image\n  : ghcr.io/acme/app:2\n",
    ),
    (
        "escaped-name",
        "pod.yaml",
        'image: "ghcr.io/acme/\\x61pp:1"\n',
        "ghcr.io/acme/app:2",
        'image: "ghcr.io/acme/app:2"\n',
    ),
    (
        "escaped-line-break-in-a-cr-only-file",
        "kustomization.yaml",
        'images:\r- {name: "ghcr.io/acme/ap\\\r    p", newTag: v2.3.4}\r',
        "ghcr.io/acme/app:3.0.0",
        'images:\r- {name: "ghcr.io/acme/ap\\\r    p", newTag: 3.0.0}\r',
    ),
    # 10. merge keys
    (
        "merge-override-and-shared-base",
        "values.yaml",
        "base: &b\n  repository: app\n  tag: 1.0.0\nweb:\n  <<: *b\nworker:\n  <<: *b\n"
        "  tag: 1.1.0\n",
        "app:1.2.0",
        "base: &b\n  repository: app\n  tag: 1.2.0\nweb:\n  <<: *b\nworker:\n  <<: *b\n"
        "  tag: 1.2.0\n",
    ),
    (
        "merge-base-read-by-another-image-gets-an-override",
        "values.yaml",
        "base: &b\n  repository: app\n  tag: 1.0.0\nweb:\n  <<: *b\nother:\n  <<: *b\n"
        "  repository: other\n",
        "app:1.2.0",
        "base: &b\n  repository: app\n  tag: 1.0.0\nweb:\n  <<: *b\n  tag: 1.2.0\nother:\n"
        "  <<: *b\n  repository: other\n",
    ),
    # 11. nested Helm maps of one image
    (
        "component-map-and-its-image-map",
        "values.yaml",
        "controller:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n  image:\n"
        "    repository: ghcr.io/acme/app\n    tag: 1.0.0\n",
        "ghcr.io/acme/app:1.1.0",
        "controller:\n  repository: ghcr.io/acme/app\n  tag: 1.1.0\n  image:\n"
        "    repository: ghcr.io/acme/app\n    tag: 1.1.0\n",
    ),
    # 11b. Argo CD entries written as block scalars
    (
        "argocd-block-scalar-entry",
        "app.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n"
        "    kustomize:\n      images:\n      - >-\n        web=ghcr.io/acme/app:1.0\n"
        "      - ghcr.io/acme/other:2\n",
        "ghcr.io/acme/app:1.1",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n"
        "    kustomize:\n      images:\n      - >-\n        web=ghcr.io/acme/app:1.1\n"
        "      - ghcr.io/acme/other:2\n",
    ),
    # 11c. images inside inline patches
    (
        "strategic-merge-inline-patch",
        "kustomization.yaml",
        "patches:\n- patch: |-\n    kind: Deployment\n    metadata:\n      name: web\n"
        "    spec:\n      template:\n        spec:\n          containers:\n"
        "          - name: web\n            image: ghcr.io/acme/app:1.0\n",
        "ghcr.io/acme/app:1.1",
        "patches:\n- patch: |-\n    kind: Deployment\n    metadata:\n      name: web\n"
        "    spec:\n      template:\n        spec:\n          containers:\n"
        "          - name: web\n            image: ghcr.io/acme/app:1.1\n",
    ),
    (
        "json6902-inline-patch-with-digest",
        "kustomization.yaml",
        "patchesJson6902:\n- target: {kind: Deployment, name: web}\n  patch: |\n"
        "    - op: replace\n      path: /spec/template/spec/containers/0/image\n"
        "      value: ghcr.io/acme/app:1.0\n",
        f"ghcr.io/acme/app:1.1@{D1}",
        "patchesJson6902:\n- target: {kind: Deployment, name: web}\n  patch: |\n"
        "    - op: replace\n      path: /spec/template/spec/containers/0/image\n"
        f"      value: ghcr.io/acme/app:1.1@{D1}\n",
    ),
    (
        "strategic-merge-list-item-crlf",
        "kustomization.yaml",
        "patchesStrategicMerge:\r\n- |\r\n  kind: Deployment\r\n  spec:\r\n    template:\r\n"
        "      spec:\r\n        containers:\r\n        - name: web\r\n"
        "          image: ghcr.io/acme/app:1.0\r\n",
        "ghcr.io/acme/app:1.1",
        "patchesStrategicMerge:\r\n- |\r\n  kind: Deployment\r\n  spec:\r\n    template:\r\n"
        "      spec:\r\n        containers:\r\n        - name: web\r\n"
        "          image: ghcr.io/acme/app:1.1\r\n",
    ),
    # 12. pinning a digest adds both missing keys
    (
        "kustomize-name-only-gets-tag-and-digest",
        "kustomization.yaml",
        "images:\n- name: app\n  newName: ghcr.io/acme/app\n",
        f"ghcr.io/acme/app:2@{D1}",
        f'images:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: "2"\n  digest: {D1}\n',
    ),
    (
        "helm-repository-only-gets-tag-and-digest",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n",
        f"ghcr.io/acme/app:2@{D1}",
        f'image:\n  repository: ghcr.io/acme/app\n  tag: "2"\n  digest: {D1}\n',
    ),
    # 16. every edit works with CR-only line endings, anchored first keys, the pure parser
    (
        "cr-only-remove-stale-digest-and-add-tag",
        "kustomization.yaml",
        f"images:\r- name: app\r  digest: {D1}\r- name: other\r  newTag: 2\r",
        "app:1.1",
        'images:\r- name: app\r  newTag: "1.1"\r- name: other\r  newTag: 2\r',
    ),
    (
        "cr-only-insert-two-keys",
        "kustomization.yaml",
        "images:\r- name: app\r",
        f"app:1.1@{D1}",
        f'images:\r- name: app\r  newTag: "1.1"\r  digest: {D1}\r',
    ),
    (
        "anchored-first-key-of-a-sequence-entry",
        "kustomization.yaml",
        "images:\n- &n name: app\n  newTag: '1'\n- name: x\n",
        f"app:2@{D1}",
        f"images:\n- &n name: app\n  newTag: '2'\n  digest: {D1}\n- name: x\n",
    ),
    (
        "pure-parser-fills-an-empty-tag-and-inserts",
        "values.yaml",
        "a: {image: a/b:1.0}\nhelm:\n  repository: ghcr.io/acme/app\n  tag:\n",
        f"ghcr.io/acme/app:2@{D1}",
        f'a: {{image: a/b:1.0}}\nhelm:\n  repository: ghcr.io/acme/app\n  tag: "2"\n'
        f"  digest: {D1}\n",
    ),
    # 17. found by the differential fuzzers (tests/test_fuzz_*.py)
    (
        "merged-registry-image-map-keeps-its-image-key",
        "values.yaml",
        "defaults: &base\n  registry: docker.io\n  image: nginx\n  tag: '1.0'\nweb:\n  <<: *base\n",
        "nginx:2.0",
        "defaults: &base\n  registry: docker.io\n  image: nginx\n  tag: '2.0'\nweb:\n  <<: *base\n",
    ),
    (
        "map-that-only-merges-a-registry-base",
        "values.yaml",
        "defaults: &base\n  registry: index.docker.io\n  image: acme/app\nweb:\n  <<: *base\n"
        "  tag:\n",
        "acme/app:3.2.1",
        "defaults: &base\n  registry: index.docker.io\n  image: acme/app\nweb:\n  <<: *base\n"
        "  tag: 3.2.1\n",
    ),
    (
        "directive-then-an-empty-document",
        "values.yaml",
        "%YAML 1.2\n---\n---\nimage:\n  repository: nginx\n",
        "nginx:2.0",
        '%YAML 1.2\n---\n---\nimage:\n  repository: nginx\n  tag: "2.0"\n',
    ),
    (
        "explicit-key-removed-with-its-indicator",
        "kustomization.yaml",
        f"images:\n- name: nginx\n  ? digest\n  : {D1}\n",
        "nginx:2.0",
        'images:\n- name: nginx\n  newTag: "2.0"\n',
    ),
    (
        "explicit-key-rewritten-as-another-key",
        "kustomization.yaml",
        "images:\n- name: nginx\n  ? newTag\n  : '1.0'\n",
        f"nginx@{D2}",
        f"images:\n- name: nginx\n  digest: {D2}\n",
    ),
    (
        "anchored-key-removed-with-its-anchor",
        "kustomization.yaml",
        f"images:\n- name: nginx\n  newTag: '1.0'\n  &k digest: {D1}\n",
        "nginx:2.0",
        "images:\n- name: nginx\n  newTag: '2.0'\n",
    ),
    (
        "tagged-entry-with-an-anchored-first-key",
        "kustomization.yaml",
        "images:\n- !!map\n  &k name: ghcr.io/acme/app\n",
        "ghcr.io/acme/app=registry.example.com/acme/renamed:2.0",
        "images:\n- !!map\n  &k name: ghcr.io/acme/app\n"
        '  newName: registry.example.com/acme/renamed\n  newTag: "2.0"\n',
    ),
    (
        "empty-value-in-a-flow-map",
        "values.yaml",
        "image: {repository: acme/app, tag: }\n",
        "acme/app:1.0",
        'image: {repository: acme/app, tag: "1.0"}\n',
    ),
    (
        "base-and-a-merging-map-that-adds-its-own-keys",
        "values.yaml",
        "defaults: &base\n  registry: index.docker.io\n  repository: acme/app\nweb:\n"
        "  image:\n    <<: *base\n    tag: 'on'\n",
        f"acme/app:1.0.0@{D2}",
        f"defaults: &base\n  registry: index.docker.io\n  repository: acme/app\n"
        f"  tag: 1.0.0\n  digest: {D2}\nweb:\n  image:\n    <<: *base\n    tag: '1.0.0'\n"
        f"    digest: {D2}\n",
    ),
    (
        "comment-line-between-a-tagged-map-and-its-first-key",
        "kustomization.yaml",
        "images: !!seq\n  - !!map\n# a comment\n    name: ghcr.io/acme/app\n",
        "ghcr.io/acme/app:1.0.0",
        "images: !!seq\n  - !!map\n# a comment\n    name: ghcr.io/acme/app\n    newTag: 1.0.0\n",
    ),
    (
        "definition-under-an-image-key-changes-with-its-aliases",
        "values.yaml",
        "appVersion: &v 1.0.0\nimage:\n  repository: acme/app\n  tag: *v\n",
        "acme/app:1.1.0",
        "appVersion: &v 1.1.0\nimage:\n  repository: acme/app\n  tag: *v\n",
    ),
    (
        "removed-anchor-read-only-by-a-pair-removed-too",
        "kustomization.yaml",
        "images:\n- name: acme/app\n  newTag: &a 1.0.0\n- name: acme/app\n  newTag: *a\n",
        f"acme/app@{D2}",
        f"images:\n- name: acme/app\n  digest: {D2}\n- name: acme/app\n  digest: {D2}\n",
    ),
    # "Also fix": a null repository is no image named null
    (
        "null-repository",
        "values.yaml",
        "image:\n  repository: null\n  tag: 1\n",
        "null:2",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "before", "image", "after"), [pytest.param(*c[1:], id=c[0]) for c in BYTES]
)
def test_bytes(
    run_bumper: Callable[..., Result],
    tmp_path: Path,
    name: str,
    before: str,
    image: str,
    after: str | None,
) -> None:
    write_tree(tmp_path, {name: before})
    result = run_bumper("set-image", image, ".", "--allow-missing")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / name).read_bytes().decode() == (before if after is None else after)
    again = run_bumper("set-image", image, ".", "--allow-missing", "--output", "json")
    assert json.loads(again.stdout)["changed"] is False


# id, file, before, IMAGE, the reason the reference is skipped (the file stays as it is)
SKIPPED: list[tuple[str, str, str, str, str]] = [
    # 3. a value also read from a place bumper never edits
    (
        "anchor-read-from-env",
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n"
        "    image: &i ghcr.io/acme/app:1\n    env:\n    - name: IMAGE\n      value: *i\n",
        "ghcr.io/acme/app:2",
        "also read at spec.containers[0].env[0].value (line 9), which bumper never edits",
    ),
    (
        "anchor-defined-in-a-label",
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    version: &v '1.0.0'\n"
        "spec:\n  image:\n    repository: ghcr.io/acme/app\n    tag: *v\n",
        "ghcr.io/acme/app:2.0.0",
        "also read at metadata.labels.version",
    ),
    (
        "anchor-read-from-configmap-data",
        "all.yaml",
        "x: &i ghcr.io/acme/app:1\nimage: *i\nkind: ConfigMap\n---\nimage: x\n",
        "ghcr.io/acme/app:2",
        "no reference",
    ),
    # 3b. a value also read from a place that is no reference to the image (fuzzers)
    (
        "anchor-defined-in-resources",
        "kustomization.yaml",
        "resources: [&b deploy.yaml]\nimages:\n- name: nginx\n  digest: *b\n",
        f"nginx@{D2}",
        "also read at resources[0], which is not a reference to nginx",
    ),
    (
        "tag-aliased-as-replica-count",
        "values.yaml",
        "image:\n  repository: acme/app\n  tag: &b ''\nreplicaCount: *b\n",
        "acme/app:1.0.0",
        "also read at replicaCount (line 4), which is not a reference to acme/app",
    ),
    (
        "image-aliased-as-pull-policy",
        "pod.yaml",
        "spec:\n  containers:\n  - image: &a ghcr.io/acme/app\n    imagePullPolicy: *a\n",
        "ghcr.io/acme/app:1.0.0",
        "spec.containers[0].imagePullPolicy (line 4), which is not a reference",
    ),
    (
        "a-rename-two-references-would-write-differently",
        "values.yaml",
        "image:\n  repository: &a index.docker.io/acme/app\nsidecar:\n  image: *a\n",
        "acme/app=registry.example.com/acme/renamed:2.0",
        "values.yaml:2  index.docker.io/acme/app  skipped: shares an anchored value",
    ),
    (
        "merged-base-would-gain-a-key-another-image-reads",
        "values.yaml",
        "defaults: &base\n  registry: ghcr.io\n  repository: acme/app\nweb:\n  image:\n"
        "    <<: *base\n    repository: ghcr.io/acme/app\n",
        f"ghcr.io/acme/app@{D2}",
        "shared through an anchor with ghcr.io/ghcr.io/acme/app",
    ),
    # 3c. parts of one reference that are one anchored value
    (
        "tag-and-digest-one-anchor",
        "values.yaml",
        "image: {repository: acme/app, tag: &a '5', digest: *a}\n",
        "acme/app=registry.example.com/acme/renamed:1.0.0",
        "two of its parts are one anchored value",
    ),
    (
        "new-name-and-new-tag-one-anchor",
        "kustomization.yaml",
        "images:\n- name: nginx\n  newName: &b nginx\n  newTag: *b\n",
        "nginx=registry.example.com/acme/renamed:2.0",
        "two of its parts are one anchored value",
    ),
    (
        "name-and-new-tag-one-anchor",
        "kustomization.yaml",
        "images:\n- name: &b nginx\n  newTag: *b\n",
        "nginx:2.0",
        "two of its parts are one anchored value",
    ),
    (
        "registry-and-tag-one-anchor",
        "values.yaml",
        "image:\n  registry: &a ghcr.io\n  repository: acme/app\n  tag: *a\n",
        f"ghcr.io/acme/app@{D2}",
        "two of its parts are one anchored value",
    ),
    (
        "removed-value-anchors-a-later-alias",
        "kustomization.yaml",
        "images:\n- name: nginx\n  newTag: &b '1.0'\n- name: other\n  newTag: *b\n",
        f"nginx@{D2}",
        "its newTag would be removed, but its anchor &b is read again at line 5",
    ),
    (
        "removed-value-anchors-an-alias-in-a-reference-left-alone",
        "kustomization.yaml",
        "images:\n- name: nginx\n  newTag: &b '1.0'\n- name: nginx\n  newTag: *b\n"
        "  digest: '{{ .digest }}'\n",
        f"nginx@{D2}",
        "kustomization.yaml:3  nginx  skipped: its newTag would be removed, but its anchor &b "
        "is read again at line 5",
    ),
    # 5b. maps that are not image maps
    (
        "custom-resource-spec-with-a-repository",
        "rook.yaml",
        "apiVersion: cassandra.rook.io/v1alpha1\nkind: Cluster\nspec:\n"
        "  repository: ghcr.io/acme/app\n  version: 3.11.1\n  mode: scylla\n"
        "  datacenter:\n    name: us\n  annotations: {}\n  sidecarImage: {}\n",
        "ghcr.io/acme/app:4.0.0",
        "not clearly a Helm image map",
    ),
    (
        "big-settings-map-with-hub-tag-image",
        "values.yaml",
        "global:\n  hub: docker.io/istio\n  image: ghcr.io/acme/app\n  tag: 1.20.0\n"
        + "".join(f"  setting{i}: {i}\n" for i in range(20)),
        f"ghcr.io/acme/app@{D1}",
        "not clearly a Helm image map",
    ),
]


@pytest.mark.parametrize(
    ("name", "before", "image", "reason"), [pytest.param(*c[1:], id=c[0]) for c in SKIPPED]
)
def test_skipped_with_a_reason(
    run_bumper: Callable[..., Result],
    tmp_path: Path,
    name: str,
    before: str,
    image: str,
    reason: str,
) -> None:
    write_tree(tmp_path, {name: before})
    result = run_bumper("set-image", image, name)
    assert (tmp_path / name).read_text() == before
    assert reason in result.stderr, result.stderr


def test_inline_patch_renders_the_new_image_with_kubectl(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    """An overlay that pins images in inline patches renders the bumped images."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - name: web\n        image: ghcr.io/acme/app:1.0.0\n"
        "      - name: side\n        image: ghcr.io/acme/side:1.0.0\n"
    )
    overlay = (
        "resources:\n- ../base\npatches:\n- patch: |-\n    apiVersion: apps/v1\n"
        "    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n"
        "        spec:\n          containers:\n          - name: web\n"
        "            image: ghcr.io/acme/app:1.2.0\n- target:\n    kind: Deployment\n"
        "    name: web\n  patch: |-\n    - op: replace\n"
        "      path: /spec/template/spec/containers/1/image\n"
        "      value: ghcr.io/acme/side:1.5.0\n"
    )
    write_tree(
        tmp_path,
        {
            "base/deploy.yaml": deployment,
            "base/kustomization.yaml": "resources:\n- deploy.yaml\n",
            "overlay/kustomization.yaml": overlay,
        },
    )

    def rendered() -> list[str]:
        out = subprocess.run(
            [kubectl, "kustomize", str(tmp_path / "overlay")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        spec = yaml.safe_load(out)["spec"]["template"]["spec"]
        return [c["image"] for c in spec["containers"]]

    assert rendered() == ["ghcr.io/acme/app:1.2.0", "ghcr.io/acme/side:1.5.0"]
    assert run_bumper("set-image", "ghcr.io/acme/app:1.3.0", "overlay").exit_code == 0
    assert run_bumper("set-image", f"ghcr.io/acme/side:1.6.0@{D1}", "overlay").exit_code == 0
    assert rendered() == ["ghcr.io/acme/app:1.3.0", f"ghcr.io/acme/side:1.6.0@{D1}"]
    assert (tmp_path / "base/deploy.yaml").read_text() == deployment


RENAME_BASE = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
    "    spec:\n      containers:\n      - name: web\n        image: ghcr.io/acme/app:0.9.0\n"
)


PATCHED_BY_A_STRING = (
    "resources:\n- ../base\nimages:\n- name: ghcr.io/acme/app\n  newTag: 1.0.0\npatches:\n"
    "- target: {kind: Deployment, name: web}\n"
    '  patch: "- op: replace\\u000a  path: /spec/template/spec/containers/0/image\\u000a'
    '  value: ghcr.io/acme/app:2.0.0\\u000a"\n'
)


@pytest.mark.parametrize(
    ("overlay", "after", "rendered"),
    [
        pytest.param(
            f"resources:\n- ../base\nimages:\n- name: ghcr.io/acme/app\n  newTag: 1.0.0\n"
            f"  digest: {D1}\n",
            f"resources:\n- ../base\nimages:\n- name: registry.example.com/acme/renamed\n"
            f"  newTag: 1.0.0\n  digest: {D1}\n",
            f"registry.example.com/acme/renamed:1.0.0@{D1}",
            id="base-renamed-too-the-name-follows",
        ),
        pytest.param(
            "resources:\n- https://github.com/acme/base?ref=v1\nimages:\n"
            "- name: ghcr.io/acme/app\n  newTag: 0.9.0\n",
            "resources:\n- https://github.com/acme/base?ref=v1\nimages:\n"
            "- name: ghcr.io/acme/app\n  newName: registry.example.com/acme/renamed\n"
            "  newTag: 1.0.0\n",
            None,
            id="remote-base-the-entry-gets-new-name",
        ),
        pytest.param(
            PATCHED_BY_A_STRING,
            PATCHED_BY_A_STRING,
            "ghcr.io/acme/app:1.0.0",  # as before: the patch naming the old image is skipped
            id="a-patch-keeps-the-old-name-the-entry-is-left-alone",
        ),
        pytest.param(
            "resources:\n- ../base\n- https://github.com/acme/base?ref=v1\nimages:\n"
            "- name: ghcr.io/acme/app\n  newTag: 0.9.0\n",
            "resources:\n- ../base\n- https://github.com/acme/base?ref=v1\nimages:\n"
            "- name: ghcr.io/acme/app\n  newTag: 0.9.0\n",
            None,
            id="local-and-remote-bases-the-entry-is-left-alone",
        ),
    ],
)
def test_a_rename_keeps_overlay_entries_matching_their_base(
    run_bumper: Callable[..., Result],
    tmp_path: Path,
    overlay: str,
    after: str,
    rendered: str | None,
) -> None:
    """A rename of a base and an overlay in one change: the overlay's entry must still
    match the (renamed) base, or kustomize drops its tag and digest. A rerun, which finds
    the base already renamed, decides the same: it changes nothing."""
    write_tree(
        tmp_path,
        {
            "base/deploy.yaml": RENAME_BASE,
            "base/kustomization.yaml": "resources:\n- deploy.yaml\n",
            "overlay/kustomization.yaml": overlay,
        },
    )
    result = run_bumper(
        "set-image", "ghcr.io/acme/app=registry.example.com/acme/renamed:1.0.0", "."
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "overlay/kustomization.yaml").read_text() == after
    if after == overlay:
        assert "skipped: renamed in only part of what this kustomization builds from" in (
            result.stderr
        )
    again = run_bumper(
        "set-image", "ghcr.io/acme/app=registry.example.com/acme/renamed:1.0.0", ".", "-o", "json"
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False
    kubectl = shutil.which("kubectl")
    if kubectl is None or rendered is None:
        return
    out = subprocess.run(
        [kubectl, "kustomize", str(tmp_path / "overlay")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    image = yaml.safe_load(out)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == rendered


# --- 16. the fallback parser reads what libyaml reads -----------------------------------

FALLBACK_TEXTS = {
    "comment-after-a-key-then-value-below": "kind:  # c\n  Application\n\n  \n",
    "empty-block-value": "image:\n  repository: acme/app\n  tag:\n",
    "empty-value-then-comment": "a:\n  tag: # c\n  x: 1\n",
    "empty-value-then-blank-line": "a:\n  tag:\n\n  x: 1\n",
    "empty-flow-value": "image: {repository: acme/app, tag: }\n",
    "empty-flow-value-before-a-break": "{a:\n  , b: 1}\n",
    "explicit-key-with-comments": "? a # c\n# d\n:\nb: 1\n",
    "empty-quoted-values": "a: ''\nb: \"\"\n",
    "empty-value-with-properties": "a: &t !!str\nb: *t\n",
    "tagged-map-with-anchored-first-key": "- !!map\n  &k name: x\n",
}


def _spans(documents: list[Any]) -> list[tuple[Any, ...]]:
    from bumper.edit.yamltext import Alias, Mapping, Scalar

    out: list[tuple[Any, ...]] = []
    stack = [doc.root for doc in reversed(documents)]
    while stack:
        node = stack.pop()
        if isinstance(node, Scalar):
            out.append(("scalar", node.value, node.style, node.start, node.end))
        elif isinstance(node, Alias):
            out.append(("alias", node.anchor, node.start, node.end))
        elif isinstance(node, Mapping):
            out.append(("map", node.start, node.end))
            stack += [part for pair in reversed(node.pairs) for part in reversed(pair)]
        elif node is not None:
            out.append(("seq", node.start, node.end))
            stack += list(reversed(node.items))
    return out


@pytest.mark.parametrize("text", FALLBACK_TEXTS.values(), ids=FALLBACK_TEXTS.keys())
def test_the_fallback_parser_gives_libyamls_spans(text: str) -> None:
    from bumper.edit import yamltext

    assert _spans(yamltext._parse_python(text, text)) == _spans(yamltext._parse_c(text, text, None))


# --- 4. CI configuration is not a manifest ---------------------------------------------

WORKFLOW = (
    "on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
    "    - uses: actions/checkout@v4\n      with: {repository: ghcr.io/acme/app, ref: main}\n"
    "    - uses: acme/bumper@v1\n      with:\n        image: ghcr.io/acme/app:1\n"
)
CONFIG_FILES = {
    ".github/workflows/release.yml": WORKFLOW,
    ".github/dependabot.yml": "version: 2\nupdates:\n- image: ghcr.io/acme/app:1\n",
    "ci/workflow.yaml": WORKFLOW,  # a workflow outside .github/: known by its content
    ".gitlab-ci.yml": "build:\n  image: ghcr.io/acme/app:1\n  script: [make]\n",
    ".pre-commit-config.yaml": "repos:\n- repo: local\n  image: ghcr.io/acme/app:1\n",
    "mkdocs.yml": "site_name: x\nimage: ghcr.io/acme/app:1\n",
    ".golangci.yml": "run:\n  image: ghcr.io/acme/app:1\n",
    ".goreleaser.yaml": "dockers:\n- image: ghcr.io/acme/app:1\n",
    ".travis.yml": "image: ghcr.io/acme/app:1\n",
    "bitbucket-pipelines.yml": "image: ghcr.io/acme/app:1\n",
    "azure-pipelines.yml": "container:\n  image: ghcr.io/acme/app:1\n",
    "action.yml": "name: x\nruns:\n  using: docker\n  image: ghcr.io/acme/app:1\n",
}


def test_a_walk_never_edits_ci_configuration(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {**CONFIG_FILES, "k8s/pod.yaml": "image: ghcr.io/acme/app:1\n"})
    result = run_bumper("set-image", "ghcr.io/acme/app:2", ".")
    assert result.exit_code == 0, result.stderr
    tree = read_tree(tmp_path)
    assert tree["k8s/pod.yaml"] == b"image: ghcr.io/acme/app:2\n"
    assert {name: tree[name].decode() for name in CONFIG_FILES} == CONFIG_FILES


@pytest.mark.parametrize("name", sorted(CONFIG_FILES))
def test_naming_ci_configuration_is_refused(
    run_bumper: Callable[..., Result], tmp_path: Path, name: str
) -> None:
    write_tree(tmp_path, {name: CONFIG_FILES[name]})
    result = run_bumper("set-image", "ghcr.io/acme/app:2", name)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and "never edits CI configuration" in line, line
    assert (tmp_path / name).read_text() == CONFIG_FILES[name]


# --- 6, 11d, 20. symlinks, special files, one file under several names ------------------


def test_walk_follows_symlinks_only_to_regular_files_inside(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    pod = "image: ghcr.io/acme/app:1\n"
    write_tree(tmp_path, {"outside/x.yaml": pod, "tree/real.yaml": pod})
    tree = tmp_path / "tree"
    (tree / "out.yaml").symlink_to("../outside/x.yaml")
    (tree / "zero.yaml").symlink_to("/dev/zero")
    (tree / "again.yaml").symlink_to("real.yaml")
    os.mkfifo(tree / "fifo.yaml")
    result = run_bumper("set-image", "ghcr.io/acme/app:2", "tree")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "outside/x.yaml").read_text() == pod
    assert (tree / "real.yaml").read_text() == "image: ghcr.io/acme/app:2\n"
    assert (tree / "again.yaml").is_symlink()
    assert result.stderr.count("→ 2") == 1  # one file, reported once, under its own name
    assert "tree/real.yaml:1" in result.stderr
    assert "tree/out.yaml:1:1: a symlink to a file outside the folder walked" in result.stderr
    assert "tree/fifo.yaml:1:1: not a regular file (a FIFO)" in result.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
        (lambda p: p.symlink_to("/dev/zero"), "not a regular file (a character device)"),
        (lambda p: p.symlink_to("missing.yaml"), "a symlink to a missing file"),
    ],
)
def test_naming_a_special_file_is_one_clear_line(
    run_bumper: Callable[..., Result], tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    make(tmp_path / "x.yaml")
    result = run_bumper("set-image", "ghcr.io/acme/app:2", "x.yaml")
    assert result.exit_code == 1
    assert result.stderr == f"bumper: error: x.yaml: {message}; nothing written\n" or (
        result.stderr == f"bumper: error: x.yaml: {message}\n"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"image: app:1\nx: 'a\0b'\n", "x.yaml:2:6: invalid YAML: character U+0000 is not allowed"),
        ("image: app:1\n".encode("utf-32"), "x.yaml:1:1: UTF-32 (little-endian) files"),
        ("image: app:1\n".encode("utf-32-be"), "x.yaml:1:1: UTF-32 (big-endian) files"),
        ("image: app:1\n".encode("utf-16"), "x.yaml:1:1: UTF-16 (little-endian) files"),
        (b"a: 1\nb: *nope\n", "x.yaml:2:4: alias *nope is not defined before it"),
    ],
)
def test_messages_say_the_true_cause(
    run_bumper: Callable[..., Result], tmp_path: Path, data: bytes, message: str
) -> None:
    (tmp_path / "x.yaml").write_bytes(data)
    result = run_bumper("set-image", "app:2", "x.yaml")
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("bad", "warning"),
    [
        ("b: *nope\n", "w/broken.yaml:5:4: alias *nope is not defined before it"),
        # Every loader refuses a standard tag on a node of another kind (walk fuzzer find).
        ("b: !!seq\nc: 1\n", "w/broken.yaml:5:4: !!seq needs a sequence, not a scalar"),
        ("b: !!str {c: 1}\n", "w/broken.yaml:5:4: !!str needs a scalar, not a mapping"),
        (
            "b: &s [1]\nc:\n  <<: *s\n",
            "w/broken.yaml:7:7: a merge key (<<) needs a mapping, an alias to one, "
            "or a list of them",
        ),
    ],
)
def test_a_walk_never_edits_a_file_that_does_not_parse(
    run_bumper: Callable[..., Result], tmp_path: Path, bad: str, warning: str
) -> None:
    """The document naming the image parses; another one in the file does not."""
    broken = f"a: 1\n---\nimage: ghcr.io/acme/app:1\n---\n{bad}---\nc: 1\n"
    write_tree(tmp_path, {"w/broken.yaml": broken, "w/ok.yaml": "image: ghcr.io/acme/app:1\n"})
    result = run_bumper("set-image", "ghcr.io/acme/app:2", "w")
    assert result.exit_code == 0
    assert (tmp_path / "w/broken.yaml").read_text() == broken
    assert f"warning: {warning}" in result.stderr
    named = run_bumper("set-image", "ghcr.io/acme/app:2", "w/broken.yaml")
    assert named.exit_code == 1
    assert f"bumper: error: {warning}; nothing written" in named.stderr


def test_a_walk_reads_files_with_a_byte_order_mark_and_names_utf16_ones(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    utf16 = "image: ghcr.io/acme/app:1\n".encode("utf-16")
    write_tree(tmp_path, {"bom.yaml": "\ufeffimage: ghcr.io/acme/app:1\n", "u16.yaml": utf16})
    result = run_bumper("set-image", "ghcr.io/acme/app:2", ".")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "bom.yaml").read_bytes() == "\ufeffimage: ghcr.io/acme/app:2\n".encode()
    assert (tmp_path / "u16.yaml").read_bytes() == utf16
    assert "warning: u16.yaml:1:1: UTF-16 (little-endian) files are not supported" in result.stderr


# --- 13, 14, 15. processes, signals, owners ---------------------------------------------


def test_parallel_runs_for_different_images_lose_no_update(tmp_path: Path) -> None:
    count = 10
    body = "".join(f"- name: c{i}\n  image: reg.local/app{i}:1.0.0\n" for i in range(count))
    (tmp_path / "pod.yaml").write_text("containers:\n" + body)
    runs = [
        subprocess.Popen(
            [*BUMPER, "set-image", f"reg.local/app{i}:1.0.1", "pod.yaml"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(count)
    ]
    assert [run.wait(timeout=120) for run in runs] == [0] * count
    text = (tmp_path / "pod.yaml").read_text()
    assert [i for i in range(count) if f"app{i}:1.0.1" not in text] == []


def test_sigterm_leaves_all_files_old_or_all_new_and_no_temp_files(tmp_path: Path) -> None:
    files = 1500
    folder = tmp_path / "m"
    folder.mkdir()
    outcomes = set()
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5):
        for i in range(files):
            (folder / f"f{i:04}.yaml").write_text("image: reg.local/app:1.0.0\n")
        run = subprocess.Popen(
            [*BUMPER, "set-image", "reg.local/app:1.0.1", "m"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(delay)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)
        new = sum("1.0.1" in p.read_text() for p in folder.iterdir())
        assert new in (0, files), (delay, new)
        assert not [p for p in folder.iterdir() if p.name.endswith(".bumper")]
        if run.returncode != 0:
            assert run.returncode == 128 + signal.SIGTERM
            last = err.strip().splitlines()[-1]
            assert last.startswith("bumper: error: stopped by SIGTERM"), last
            assert ("nothing written" in last) == (new == 0), last
        outcomes.add(new)
    assert outcomes  # every delay ended one way or the other


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_owner_group_and_mode_are_kept(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("image: ghcr.io/acme/app:1\n")
    os.chown(path, 1234, 2345)
    path.chmod(0o640)
    assert run_bumper("set-image", "ghcr.io/acme/app:2", "pod.yaml").exit_code == 0
    info = path.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (1234, 2345, 0o640)


# --- 18, 19. output never breaks ---------------------------------------------------------


def test_a_file_name_that_is_not_utf8_on_a_strict_stdout(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(b"caf\xe9.yaml")).write_text("image: ghcr.io/acme/app:1\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [*BUMPER, "set-image", "ghcr.io/acme/app:2", ".", "--output", "json"],
        cwd=tmp_path, env=env, capture_output=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed"] is True
    ascii_run = subprocess.run(
        [*BUMPER, "set-image", "ghcr.io/acme/app:3", "."],
        cwd=tmp_path, env={**env, "PYTHONIOENCODING": "ascii:strict"}, capture_output=True,
    )  # fmt: skip
    assert ascii_run.returncode == 0, ascii_run.stderr


def test_json_is_valid_on_a_stdout_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "ünï ✓.yaml").write_text("image: ghcr.io/acme/app:1\n")
    done = subprocess.run(
        [*BUMPER, "set-image", "ghcr.io/acme/app:2", ".", "--output", "json"],
        cwd=tmp_path, env={**os.environ, "PYTHONIOENCODING": "latin-1:strict"},
        capture_output=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.decode("ascii"))["files"] == ["ünï ✓.yaml"]


@pytest.mark.parametrize(
    "args",
    [
        ("set-image", "ghcr.io/acme/app:2", "missing.yaml"),
        ("set-image", "Bad/Name:1", "."),
        ("images", "missing/"),
    ],
)
def test_json_output_is_json_even_for_errors(
    run_bumper: Callable[..., Result], args: tuple[str, ...]
) -> None:
    result = run_bumper(*args, "--output", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert f"bumper: error: {document['error']}\n" == result.stderr


def test_dry_run_diff_is_a_patch_git_applies(tmp_path: Path) -> None:
    files = {
        "separators.yaml": 'image: ghcr.io/acme/app:1\nnote: "a\u2028b\u2029c\x85d"\n',
        "cr-only.yaml": "image: ghcr.io/acme/app:1\rx: 1\r",
        "no-final-newline.yaml": "a: 1\nimage: ghcr.io/acme/app:1",
        "byte-order-mark.yaml": "\ufeffimage: ghcr.io/acme/app:1\n",
    }
    write_tree(tmp_path, files)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    done = subprocess.run(
        [*BUMPER, "set-image", "ghcr.io/acme/app:2", ".", "--dry-run"],
        cwd=tmp_path, capture_output=True, check=True,
    )  # fmt: skip
    (tmp_path.parent / "p.diff").write_bytes(done.stdout)
    subprocess.run(["git", "apply", str(tmp_path.parent / "p.diff")], cwd=tmp_path, check=True)
    for name, text in files.items():
        assert (tmp_path / name).read_bytes().decode() == text.replace("app:1", "app:2")


# --- "Also fix" -----------------------------------------------------------------------


def test_images_and_set_image_agree_on_the_line(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(
        tmp_path,
        {
            "kustomization.yaml": "images:\n- name: app\n  newName: ghcr.io/acme/app\n"
            "  newTag: 1.0.0\n",
            "values.yaml": "image:\n  repository: ghcr.io/acme/app\n  pullPolicy: x\n"
            "  tag: 3.0.0\n",
            "pod.yaml": "spec:\n  containers:\n  - image: ghcr.io/acme/app:1.0.0\n",
        },
    )
    listed = json.loads(run_bumper("images", ".", "--output", "json").stdout)["images"]
    bumped = json.loads(
        run_bumper("set-image", "ghcr.io/acme/app:2.0.0", ".", "--output", "json").stdout
    )
    changes = {(c["file"], c["line"]) for c in bumped["changes"]}
    skips = {(s["file"], s["line"]) for s in bumped["skipped"]}
    assert {(i["file"], i["line"]) for i in listed} == changes | skips
    assert ("values.yaml", 4) in skips  # the downgrade is reported where the tag is


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        (
            "kustomization.yaml",
            "images:\n- name: acme/app\n  newTag: &t 1.0.0\n- name: acme/app\n"
            "  newName: acme/app\n  newTag: *t\n",
            [3, 6],
        ),
        (
            "values.yaml",
            "a:\n  image:\n    repository: acme/app\n    tag: &t 1.0.0\nb:\n  image:\n"
            "    repository: acme/app\n    tag: *t\n",
            [4, 8],
        ),
        ("pod.yaml", "x-app: &i acme/app:1.0.0\nspec:\n  containers:\n  - image: *i\n", [4]),
    ],
)
def test_a_reference_read_through_an_alias_is_reported_where_the_alias_is(
    run_bumper: Callable[..., Result], tmp_path: Path, name: str, text: str, lines: list[int]
) -> None:
    write_tree(tmp_path, {name: text})
    listed = json.loads(run_bumper("images", ".", "--output", "json").stdout)["images"]
    bumped = json.loads(run_bumper("set-image", "acme/app:2.0.0", ".", "--output", "json").stdout)
    assert [c["line"] for c in bumped["changes"]] == lines
    assert sorted(i["line"] for i in listed) == lines


def test_placeholders_are_listed_with_a_note(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(
        tmp_path,
        {"values.yaml": 'a:\n  image: "ghcr.io/acme/app:{{ .Values.tag }}"\nb:\n  image: ${X}\n'},
    )
    note = "  (holds a template placeholder)"
    lines = run_bumper("images", ".").stdout.splitlines()
    assert lines == [
        f"values.yaml:2\tghcr.io/acme/app\t{{{{ .Values.tag }}}}\t-\timage{note}",
        f"values.yaml:4\t${{X}}\t-\t-\timage{note}",
    ]


@pytest.mark.parametrize("digest", ["md5:" + "0" * 32, "sha1:" + "0" * 40])
def test_only_registry_digest_algorithms_are_accepted(
    run_bumper: Callable[..., Result], tmp_path: Path, digest: str
) -> None:
    write_tree(tmp_path, {"pod.yaml": "image: app:1\n"})
    result = run_bumper("set-image", f"app@{digest}", ".")
    assert result.exit_code == 1
    assert "is not one registries accept (sha256, sha384, sha512)" in result.stderr
