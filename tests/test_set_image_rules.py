"""The rewrite rules as a table: input file, command, expected bytes.

Each case names one file, its content, the IMAGE argument, and the exact content
expected afterwards (``None``: the file must stay byte-identical and exit 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import write_tree

D0 = "sha256:" + "0" * 64
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64

CASES: list[tuple[str, str, str, str, str | None]] = [
    # id, file name, before, IMAGE, after
    # --- image strings in workloads -------------------------------------------------
    (
        "deployment-tag",
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: app\n          image: ghcr.io/acme/app:1.4.1\n",
        "ghcr.io/acme/app:1.4.2",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: app\n          image: ghcr.io/acme/app:1.4.2\n",
    ),
    (
        "init-and-regular-containers",
        "pod.yaml",
        "kind: Pod\nspec:\n  initContainers:\n  - image: ghcr.io/acme/app:1.0.0\n"
        "  containers:\n  - image: ghcr.io/acme/app:1.0.0 # main\n",
        "ghcr.io/acme/app:2.0.0",
        "kind: Pod\nspec:\n  initContainers:\n  - image: ghcr.io/acme/app:2.0.0\n"
        "  containers:\n  - image: ghcr.io/acme/app:2.0.0 # main\n",
    ),
    (
        "cronjob",
        "cron.yaml",
        "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          containers:\n          - image: 'ghcr.io/acme/app:1.0.0'\n",
        "ghcr.io/acme/app:1.1.0",
        "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          containers:\n          - image: 'ghcr.io/acme/app:1.1.0'\n",
    ),
    (
        "list-items",
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- kind: Deployment\n  spec:\n    template:\n"
        "      spec:\n        containers:\n        - image: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "apiVersion: v1\nkind: List\nitems:\n- kind: Deployment\n  spec:\n    template:\n"
        "      spec:\n        containers:\n        - image: ghcr.io/acme/app:1.0.1\n",
    ),
    (
        "untagged-gains-tag",
        "pod.yaml",
        "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app\n",
        "ghcr.io/acme/app:1.0.0",
        "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app:1.0.0\n",
    ),
    (
        "rollout-multidoc-with-markers",
        "rollout.yaml",
        "---\nkind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - image: ghcr.io/acme/app:1.0.0\n...\n---\nkind: Service\nspec: {}\n...\n",
        "ghcr.io/acme/app:1.2.0",
        "---\nkind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - image: ghcr.io/acme/app:1.2.0\n...\n---\nkind: Service\nspec: {}\n...\n",
    ),
    # --- matching: normalization, and what never matches --------------------------
    (
        "docker-hub-spellings",
        "pods.yaml",
        "a:\n  image: nginx:1.25\nb:\n  image: library/nginx:1.25\nc:\n  image: docker.io/nginx:1.25\n"
        "d:\n  image: docker.io/library/nginx:1.25\ne:\n  image: index.docker.io/library/nginx:1.25\n",
        "nginx:1.27",
        "a:\n  image: nginx:1.27\nb:\n  image: library/nginx:1.27\nc:\n  image: docker.io/nginx:1.27\n"
        "d:\n  image: docker.io/library/nginx:1.27\ne:\n  image: index.docker.io/library/nginx:1.27\n",
    ),
    (
        "similar-names-untouched",
        "pods.yaml",
        "- image: ghcr.io/acme/app-worker:1.0.0\n- image: ghcr.io/acme/apps:1.0.0\n"
        "- image: ghcr.io/acme/team/app:1.0.0\n- image: ghcr.io/acme/app/sub:1.0.0\n"
        "- image: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "- image: ghcr.io/acme/app-worker:1.0.0\n- image: ghcr.io/acme/apps:1.0.0\n"
        "- image: ghcr.io/acme/team/app:1.0.0\n- image: ghcr.io/acme/app/sub:1.0.0\n"
        "- image: ghcr.io/acme/app:1.0.1\n",
    ),
    (
        "localhost-with-and-without-port",
        "pods.yaml",
        "- image: localhost/app:1\n- image: localhost:5000/app:1\n",
        "localhost:5000/app:2",
        "- image: localhost/app:1\n- image: localhost:5000/app:2\n",
    ),
    (
        "short-name-app-is-docker-hub",
        "pods.yaml",
        "- image: app:1.0.0\n- image: team/app:1.0.0\n- image: ghcr.io/acme/app:1.0.0\n",
        "app:1.1.0",
        "- image: app:1.1.0\n- image: team/app:1.0.0\n- image: ghcr.io/acme/app:1.0.0\n",
    ),
    # --- never: env, args, annotations, ConfigMap data, CRDs ----------------------
    (
        "env-args-annotations-untouched",
        "deploy.yaml",
        "kind: Deployment\nmetadata:\n  annotations:\n    image: ghcr.io/acme/app:1.0.0\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/acme/app:1.0.0\n"
        "        args: [--image, ghcr.io/acme/app:1.0.0]\n        env:\n"
        "        - name: IMAGE\n          value: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "kind: Deployment\nmetadata:\n  annotations:\n    image: ghcr.io/acme/app:1.0.0\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/acme/app:1.0.1\n"
        "        args: [--image, ghcr.io/acme/app:1.0.0]\n        env:\n"
        "        - name: IMAGE\n          value: ghcr.io/acme/app:1.0.0\n",
    ),
    (
        "configmap-and-crd-documents-untouched",
        "mixed.yaml",
        "kind: ConfigMap\ndata:\n  image: ghcr.io/acme/app:1.0.0\n---\n"
        "kind: CustomResourceDefinition\nspec:\n  image: ghcr.io/acme/app:1.0.0\n---\n"
        "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "kind: ConfigMap\ndata:\n  image: ghcr.io/acme/app:1.0.0\n---\n"
        "kind: CustomResourceDefinition\nspec:\n  image: ghcr.io/acme/app:1.0.0\n---\n"
        "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/app:1.0.1\n",
    ),
    # --- digests ------------------------------------------------------------------
    (
        "tag-change-drops-digest",
        "pod.yaml",
        f"- image: ghcr.io/acme/app:1.0.0@{D0}\n",
        "ghcr.io/acme/app:1.0.1",
        "- image: ghcr.io/acme/app:1.0.1\n",
    ),
    (
        "digest-only-drops-tag",
        "pod.yaml",
        "- image: ghcr.io/acme/app:1.0.0\n",
        f"ghcr.io/acme/app@{D1}",
        f"- image: ghcr.io/acme/app@{D1}\n",
    ),
    (
        "tag-and-digest",
        "pod.yaml",
        f"- image: ghcr.io/acme/app:1.0.0@{D0}\n",
        f"ghcr.io/acme/app:1.0.1@{D1}",
        f"- image: ghcr.io/acme/app:1.0.1@{D1}\n",
    ),
    (
        "same-tag-keeps-digest",
        "pod.yaml",
        f"- image: ghcr.io/acme/app:1.0.0@{D0}\n",
        "ghcr.io/acme/app:1.0.0",
        None,
    ),
    # --- quoting --------------------------------------------------------------------
    (
        "quote-styles-kept",
        "pods.yaml",
        "- image: \"ghcr.io/acme/app:1\"\n- image: 'ghcr.io/acme/app:1'\n- image: ghcr.io/acme/app:1\n",
        "ghcr.io/acme/app:2",
        "- image: \"ghcr.io/acme/app:2\"\n- image: 'ghcr.io/acme/app:2'\n- image: ghcr.io/acme/app:2\n",
    ),
    # --- kustomize ----------------------------------------------------------------
    (
        "kustomize-newname-match",
        "kustomization.yaml",
        "resources:\n- deploy.yaml\nimages:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: 1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "resources:\n- deploy.yaml\nimages:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: 1.0.1\n",
    ),
    (
        "kustomize-name-match-adds-tag",
        "kustomization.yaml",
        "images:\n  - name: ghcr.io/acme/app\n",
        "ghcr.io/acme/app:1.0.1",
        "images:\n  - name: ghcr.io/acme/app\n    newTag: 1.0.1\n",
    ),
    (
        "kustomize-name-not-matched-when-newname-differs",
        "kustomization.yaml",
        "images:\n- name: ghcr.io/acme/app\n  newName: ghcr.io/acme/other\n  newTag: 1.0.0\n"
        "- name: x\n  newName: ghcr.io/acme/app\n  newTag: 1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "images:\n- name: ghcr.io/acme/app\n  newName: ghcr.io/acme/other\n  newTag: 1.0.0\n"
        "- name: x\n  newName: ghcr.io/acme/app\n  newTag: 1.0.1\n",
    ),
    (
        "kustomize-numeric-tag-quoted",
        "kustomization.yaml",
        "kind: Kustomization\nimages:\n- name: ghcr.io/acme/app\n  newTag: v1\n",
        "ghcr.io/acme/app:1.20",
        'kind: Kustomization\nimages:\n- name: ghcr.io/acme/app\n  newTag: "1.20"\n',
    ),
    (
        "kustomize-tag-change-removes-digest",
        "kustomization.yaml",
        f"images:\n- name: ghcr.io/acme/app\n  newTag: 1.0.0\n  digest: {D0}\n# end\n",
        "ghcr.io/acme/app:1.0.1",
        "images:\n- name: ghcr.io/acme/app\n  newTag: 1.0.1\n# end\n",
    ),
    (
        "kustomize-digest-only-removes-tag-and-adds-digest",
        "kustomization.yaml",
        "images:\n- name: ghcr.io/acme/app\n  newTag: 1.0.0\n- name: other\n",
        f"ghcr.io/acme/app@{D1}",
        f"images:\n- name: ghcr.io/acme/app\n  digest: {D1}\n- name: other\n",
    ),
    (
        "kustomize-stale-digest-line-becomes-new-tag",
        "kustomization.yaml",
        f"images:\n- name: docker\n  newName: my-docker2\n  digest: {D0}",
        "my-docker2:v2",
        "images:\n- name: docker\n  newName: my-docker2\n  newTag: v2",
    ),
    (
        "kustomize-flow-entry",
        "kustomization.yaml",
        "images: [{name: ghcr.io/acme/app, newTag: 1.0.0}]\n",
        f"ghcr.io/acme/app:1.0.1@{D1}",
        # A ':' added inside {…} is quoted: libyaml-based readers refuse it plain.
        f'images: [{{name: ghcr.io/acme/app, newTag: 1.0.1, digest: "{D1}"}}]\n',
    ),
    (
        "kustomize-rename-adds-newname",
        "kustomization.yaml",
        "images:\n- name: ghcr.io/acme/app\n  newTag: 1.0.0\n",
        "ghcr.io/acme/app=registry.acme.io/app",
        "images:\n- name: ghcr.io/acme/app\n  newName: registry.acme.io/app\n  newTag: 1.0.0\n",
    ),
    (
        "flux-kustomization-spec-images",
        "flux.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  images:\n"
        "  - name: ghcr.io/acme/app\n    newTag: 1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  images:\n"
        "  - name: ghcr.io/acme/app\n    newTag: 1.0.1\n",
    ),
    # --- Helm values --------------------------------------------------------------
    (
        "helm-repository-tag",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0  # app version\n  pullPolicy: Always\n",
        "ghcr.io/acme/app:1.0.1",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.1  # app version\n  pullPolicy: Always\n",
    ),
    (
        "helm-registry-split-empty-tag-filled",
        "values.yaml",
        'image:\n  registry: ghcr.io\n  repository: acme/app\n  tag: ""\n',
        "ghcr.io/acme/app:1.0.1",
        'image:\n  registry: ghcr.io\n  repository: acme/app\n  tag: "1.0.1"\n',
    ),
    (
        "helm-docker-hub-split",
        "values.yaml",
        "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25.0\n",
        "bitnami/nginx:1.25.1",
        "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25.1\n",
    ),
    (
        "helm-stale-digest-emptied",
        "values.yaml",
        f"image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n  digest: {D0}\n",
        "ghcr.io/acme/app:1.0.1",
        'image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.1\n  digest: ""\n',
    ),
    (
        "helm-digest-added-after-last-key",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n  pullPolicy: IfNotPresent\nreplicas: 2\n",
        f"ghcr.io/acme/app:1.0.1@{D1}",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.1\n  pullPolicy: IfNotPresent\n"
        f"  digest: {D1}\nreplicas: 2\n",
    ),
    (
        "helm-numeric-tag-with-same-text-gets-quoted",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.20\n",
        "ghcr.io/acme/app:1.20",
        'image:\n  repository: ghcr.io/acme/app\n  tag: "1.20"\n',
    ),
    (
        "kustomize-numeric-tag-with-same-text-gets-quoted",
        "kustomization.yaml",
        "images:\n- name: ghcr.io/acme/app\n  newTag: 3\n",
        "ghcr.io/acme/app:3",
        'images:\n- name: ghcr.io/acme/app\n  newTag: "3"\n',
    ),
    (
        "helm-image-string",
        "values.yaml",
        'worker:\n  image: "ghcr.io/acme/app:1.0.0"\n',
        "ghcr.io/acme/app:1.0.1",
        'worker:\n  image: "ghcr.io/acme/app:1.0.1"\n',
    ),
    (
        "helm-registry-image-tag-variant",
        "values.yaml",
        "controller:\n  image:\n    registry: registry.k8s.io\n    image: ingress-nginx/controller\n"
        "    tag: v1.9.0\n    digest: null\n",
        "registry.k8s.io/ingress-nginx/controller:v1.10.0",
        "controller:\n  image:\n    registry: registry.k8s.io\n    image: ingress-nginx/controller\n"
        "    tag: v1.10.0\n    digest: null\n",
    ),
    (
        "helm-rename-registry",
        "values.yaml",
        "image:\n  registry: ghcr.io\n  repository: acme/app\n  tag: 1.0.0\n",
        "ghcr.io/acme/app=registry.acme.io/acme/app:2.0.0",
        "image:\n  registry: registry.acme.io\n  repository: acme/app\n  tag: 2.0.0\n",
    ),
    # --- Argo CD ---------------------------------------------------------------------
    (
        "argocd-application-images",
        "app.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize:\n"
        "      images:\n      - ghcr.io/acme/app:1.0.0\n      - app=ghcr.io/acme/app:1.0.0\n"
        "      - ghcr.io/acme/other:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize:\n"
        "      images:\n      - ghcr.io/acme/app:1.0.1\n      - app=ghcr.io/acme/app:1.0.1\n"
        "      - ghcr.io/acme/other:1.0.0\n",
    ),
    (
        "argocd-sources-with-digest",
        "app.yaml",
        "kind: Application\nspec:\n  sources:\n  - kustomize:\n      images: ['ghcr.io/acme/app:1.0.0']\n",
        f"ghcr.io/acme/app:1.0.1@{D1}",
        f"kind: Application\nspec:\n  sources:\n  - kustomize:\n      images: ['ghcr.io/acme/app:1.0.1@{D1}']\n",
    ),
    # --- compose ---------------------------------------------------------------------
    (
        "compose-services",
        "compose.yaml",
        'services:\n  web:\n    image: ghcr.io/acme/app:1.0.0\n    ports: ["8080:80"]\n'
        "  db:\n    image: postgres:16\n",
        "ghcr.io/acme/app:1.0.1",
        'services:\n  web:\n    image: ghcr.io/acme/app:1.0.1\n    ports: ["8080:80"]\n'
        "  db:\n    image: postgres:16\n",
    ),
    # --- anchors ---------------------------------------------------------------------
    (
        "anchor-changed-once",
        "compose.yaml",
        "x-app: &app\n  image: ghcr.io/acme/app:1.0.0\nservices:\n  web:\n    <<: *app\n"
        "  worker:\n    <<: *app\n",
        "ghcr.io/acme/app:1.0.1",
        "x-app: &app\n  image: ghcr.io/acme/app:1.0.1\nservices:\n  web:\n    <<: *app\n"
        "  worker:\n    <<: *app\n",
    ),
    (
        "scalar-anchor-through-alias",
        "pods.yaml",
        "x-img: &img ghcr.io/acme/app:1.0.0\na:\n  image: *img\nb:\n  image: *img\n",
        "ghcr.io/acme/app:1.0.1",
        "x-img: &img ghcr.io/acme/app:1.0.1\na:\n  image: *img\nb:\n  image: *img\n",
    ),
    # --- bytes -----------------------------------------------------------------------
    (
        "crlf-and-bom",
        "win.yaml",
        "\ufeffkind: Pod\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/acme/app:1.0.0\r\n",
        "ghcr.io/acme/app:1.0.1",
        "\ufeffkind: Pod\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/acme/app:1.0.1\r\n",
    ),
    (
        "no-final-newline-long-line-unicode",
        "pod.yaml",
        "# Überblick — "
        + "x" * 120
        + "\nspec:\n  containers:\n  - {name: a, image: ghcr.io/acme/app:1.0.0}",
        "ghcr.io/acme/app:1.0.1",
        "# Überblick — "
        + "x" * 120
        + "\nspec:\n  containers:\n  - {name: a, image: ghcr.io/acme/app:1.0.1}",
    ),
    (
        "crlf-key-insert",
        "values.yaml",
        "image:\r\n  repository: ghcr.io/acme/app\r\n  tag: 1.0.0\r\n",
        f"ghcr.io/acme/app:1.0.1@{D1}",
        f"image:\r\n  repository: ghcr.io/acme/app\r\n  tag: 1.0.1\r\n  digest: {D1}\r\n",
    ),
    (
        "flow-style-kept",
        "pod.yaml",
        "spec: {containers: [{name: a, image: ghcr.io/acme/app:1.0.0}, {name: b, image: x}]}\n",
        "ghcr.io/acme/app:1.0.1",
        "spec: {containers: [{name: a, image: ghcr.io/acme/app:1.0.1}, {name: b, image: x}]}\n",
    ),
    # --- templates are never edited ----------------------------------------------------
    (
        "placeholders-untouched",
        "compose.yaml",
        "services:\n  a:\n    image: ghcr.io/acme/app:${TAG}\n  b:\n    image: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:1.0.1",
        "services:\n  a:\n    image: ghcr.io/acme/app:${TAG}\n  b:\n    image: ghcr.io/acme/app:1.0.1\n",
    ),
    # --- downgrade guard -------------------------------------------------------------
    (
        "downgrade-skipped",
        "pod.yaml",
        "- image: ghcr.io/acme/app:v2.11.0\n",
        "ghcr.io/acme/app:v2.10.0",
        None,
    ),
    (
        "non-semver-not-compared",
        "pod.yaml",
        "- image: ghcr.io/acme/app:sha-bbbbbbb\n",
        "ghcr.io/acme/app:sha-aaaaaaa",
        "- image: ghcr.io/acme/app:sha-aaaaaaa\n",
    ),
    # --- anchors shared between references ---------------------------------------------
    (
        "anchored-empty-value-filled-after-its-anchor",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  tag: &t\n  pullPolicy: Always\n",
        "ghcr.io/acme/app:1.0.0",
        "image:\n  repository: ghcr.io/acme/app\n  tag: &t 1.0.0\n  pullPolicy: Always\n",
    ),
    (
        "tag-shared-by-two-helm-maps-changed-once",
        "values.yaml",
        "ver: &v 1.0.0\na:\n  repository: ghcr.io/acme/app\n  tag: *v\nb:\n  repository: ghcr.io/acme/app\n  tag: *v\n",
        "ghcr.io/acme/app:1.1.0",
        "ver: &v 1.1.0\na:\n  repository: ghcr.io/acme/app\n  tag: *v\nb:\n  repository: ghcr.io/acme/app\n  tag: *v\n",
    ),
    (
        "helm-maps-sharing-a-repository-anchor",
        "values.yaml",
        "a:\n  repository: &r ghcr.io/acme/app\n  tag: 1.0.0\nb:\n  repository: *r\n  tag: 2.0.0\n",
        "ghcr.io/acme/app:3.0.0",
        "a:\n  repository: &r ghcr.io/acme/app\n  tag: 3.0.0\nb:\n  repository: *r\n  tag: 3.0.0\n",
    ),
    (
        "value-shared-with-another-image-is-left-alone",
        "kustomization.yaml",
        "images:\n- name: ghcr.io/acme/app\n  newTag: &t 1.0.0\n- name: nginx\n  newTag: *t\n",
        "ghcr.io/acme/app:2.0.0",
        None,
    ),
    (
        "registry-anchor-shared-by-other-images-is-fine",
        "values.yaml",
        "a:\n  registry: &reg ghcr.io\n  repository: acme/app\n  tag: 1.0.0\nb:\n  registry: *reg\n  repository: acme/db\n  tag: 1.0.0\n",
        "ghcr.io/acme/app:2.0.0",
        "a:\n  registry: &reg ghcr.io\n  repository: acme/app\n  tag: 2.0.0\nb:\n  registry: *reg\n  repository: acme/db\n  tag: 1.0.0\n",
    ),
    # --- keys added in awkward places ----------------------------------------------------
    (
        "key-added-after-a-block-scalar",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n  notes: |\n    hi\n\nnext: 1\n",
        f"ghcr.io/acme/app@{D1}",
        f'image:\n  repository: ghcr.io/acme/app\n  tag: ""\n  notes: |\n    hi\n  digest: {D1}\n\nnext: 1\n',
    ),
    (
        "empty-last-value-at-end-of-file",
        "values.yaml",
        "image:\n  repository: ghcr.io/acme/app\n  digest:",
        f"ghcr.io/acme/app:2.0.0@{D1}",
        f"image:\n  repository: ghcr.io/acme/app\n  digest: {D1}\n  tag: 2.0.0",
    ),
    (
        "empty-value-in-a-flow-map",
        "values.yaml",
        "m0: {repository: ghcr.io/acme/app, digest: }\n",
        f"ghcr.io/acme/app:2.0@{D1}",
        f'm0: {{repository: ghcr.io/acme/app, digest: "{D1}", tag: "2.0"}}\n',
    ),
    (
        "added-line-takes-the-line-ending-of-its-neighbour",
        "values.yaml",
        "# x\r\nimage:\n  repository: ghcr.io/acme/app\n  tag: 1.0.0\n",
        f"ghcr.io/acme/app@{D1}",
        f'# x\r\nimage:\n  repository: ghcr.io/acme/app\n  tag: ""\n  digest: {D1}\n',
    ),
    (
        "kustomize-stale-key-first-then-missing-key-last",
        "kustomization.yaml",
        "images:\n- newTag: 1.0.0\n  name: ghcr.io/acme/app\n",
        f"ghcr.io/acme/app@{D1}",
        f"images:\n- name: ghcr.io/acme/app\n  digest: {D1}\n",
    ),
    (
        "flow-plain-value-gaining-a-colon-is-quoted",
        "pod.yaml",
        "spec: {containers: [{name: a, image: ghcr.io/acme/app}]}\n",
        "ghcr.io/acme/app:2.0.0",
        'spec: {containers: [{name: a, image: "ghcr.io/acme/app:2.0.0"}]}\n',
    ),
    (
        "block-scalar-image-is-edited-on-its-line",
        "pod.yaml",
        "image: >-\n  ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:2.0.0",
        "image: >-\n  ghcr.io/acme/app:2.0.0\n",
    ),
    (
        "helm-pod-annotations-untouched",
        "values.yaml",
        "podAnnotations:\n  image: ghcr.io/acme/app:1.0.0\nimage: ghcr.io/acme/app:1.0.0\n",
        "ghcr.io/acme/app:2.0.0",
        "podAnnotations:\n  image: ghcr.io/acme/app:1.0.0\nimage: ghcr.io/acme/app:2.0.0\n",
    ),
    # --- renames ---------------------------------------------------------------------
    (
        "rename-keeps-tag",
        "pod.yaml",
        "- image: ghcr.io/acme/app:1.0.0 # prod\n",
        "ghcr.io/acme/app=registry.acme.io/app",
        "- image: registry.acme.io/app:1.0.0 # prod\n",
    ),
    (
        "rename-with-tag",
        "pod.yaml",
        f"- image: ghcr.io/acme/app:1.0.0@{D0}\n",
        "ghcr.io/acme/app=registry.acme.io/app:2.0",
        "- image: registry.acme.io/app:2.0\n",
    ),
]


@pytest.mark.parametrize(
    ("name", "before", "image", "after"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule(
    run_bumper: Callable[..., Result],
    tmp_path: Path,
    name: str,
    before: str,
    image: str,
    after: str | None,
) -> None:
    write_tree(tmp_path, {name: before})
    mtime = (tmp_path / name).stat().st_mtime_ns
    result = run_bumper("set-image", image, ".")
    assert result.exit_code == 0, result.stderr
    content = (tmp_path / name).read_bytes().decode("utf-8")
    assert content == (before if after is None else after)
    if after is None:
        assert (tmp_path / name).stat().st_mtime_ns == mtime, "unchanged file was rewritten"


@pytest.mark.parametrize(
    ("tag", "written"),
    [
        ("1.20", '"1.20"'),
        ("010", '"010"'),
        ("1e3", '"1e3"'),
        ("yes", '"yes"'),
        ("on", '"on"'),
        ("123", '"123"'),
        ("0x1F", '"0x1F"'),
        ("1_000", '"1_000"'),
        ("1.4.2", "1.4.2"),
        ("2024.05.1", "2024.05.1"),
        ("v1.2.3", "v1.2.3"),
        ("sha-1a2b3c4", "sha-1a2b3c4"),
        ("latest", "latest"),
    ],
)
def test_plain_values_that_yaml_would_retype_are_quoted(
    run_bumper: Callable[..., Result], tmp_path: Path, tag: str, written: str
) -> None:
    write_tree(tmp_path, {"values.yaml": "image:\n  repository: ghcr.io/acme/app\n  tag: old\n"})
    result = run_bumper("set-image", f"ghcr.io/acme/app:{tag}", "values.yaml")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "values.yaml").read_text() == (
        f"image:\n  repository: ghcr.io/acme/app\n  tag: {written}\n"
    )


def test_rerun_is_a_no_op(run_bumper: Callable[..., Result], tmp_path: Path) -> None:
    for case in CASES:
        folder = tmp_path / case[0]
        write_tree(folder, {case[1]: case[2]})
    first = run_bumper("set-image", "ghcr.io/acme/app:9.9.9", ".", "--allow-missing")
    assert first.exit_code == 0, first.stderr
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = run_bumper("set-image", "ghcr.io/acme/app:9.9.9", ".", "--output", "json")
    assert second.exit_code == 0
    assert '"changed": false' in second.stdout
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


RENAMED = "registry.example.com/team/app"


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_rename_run_again_is_a_no_op_and_the_next_release_lands(
    run_bumper: Callable[..., Result], tmp_path: Path, case: tuple[str, ...]
) -> None:
    """A rerun of OLD=NEW:TAG finds only NEW once the first run renamed every reference:
    it is already up to date, and the next release with the same OLD=NEW argument sets
    NEW's tag, as ``set-image NEW:TAG`` would. References the first run skipped keep
    the old name: the rerun skips them again."""
    write_tree(tmp_path, {case[1]: case[2]})
    rename = f"ghcr.io/acme/app={RENAMED}:9.9.9"
    first = run_bumper("set-image", rename, ".", "--allow-missing", "--output", "json")
    assert first.exit_code == 0, first.stderr
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = run_bumper("set-image", rename, ".", "--allow-missing", "--output", "json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot
    renamed_all = json.loads(first.stdout)["changes"] and not json.loads(first.stdout)["skipped"]
    note = f"ghcr.io/acme/app: no reference left, already renamed to {RENAMED}"
    assert json.loads(again.stdout)["notes"] == ([note] if renamed_all else [])
    if renamed_all:
        later = run_bumper("set-image", rename.replace("9.9.9", "9.9.10"), ".", "--dry-run")
        plain = run_bumper("set-image", f"{RENAMED}:9.9.10", ".", "--dry-run")
        assert later.exit_code == plain.exit_code == 0, later.stderr
        assert later.stdout == plain.stdout != ""


def test_a_rename_to_a_name_that_is_absent_too_names_the_old_name(
    run_bumper: Callable[..., Result], tmp_path: Path
) -> None:
    write_tree(tmp_path, {"pod.yaml": "kind: Pod\nspec:\n  containers:\n  - image: other:1\n"})
    result = run_bumper("set-image", f"ghcr.io/acme/app={RENAMED}:1", ".")
    assert result.exit_code == 1
    assert result.stderr == (
        "bumper: error: no reference to ghcr.io/acme/app found in . "
        "(check the name, or pass --allow-missing)\n"
    )
