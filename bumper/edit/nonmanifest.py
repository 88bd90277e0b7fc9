"""YAML that is not a Kubernetes manifest: CI configuration and tool settings.

A repository's root often holds YAML with ``image:`` keys or ``repository:`` maps that
mean something else (a CI job's container, a checkout step's ``with:``). bumper never
edits them: a walk leaves them out, and naming one explicitly is refused.
"""

from __future__ import annotations

from bumper.edit.yamltext import Document, Mapping, Scalar

# Folders of CI systems: everything in them configures CI.
CI_FOLDERS = frozenset({".github", ".gitlab", ".circleci", ".buildkite", ".woodpecker"})

# File names (any folder) of CI systems and developer tools, and what they are.
CONFIG_FILES = {
    ".gitlab-ci.yml": "a GitLab CI configuration",
    ".travis.yml": "a Travis CI configuration",
    ".drone.yml": "a Drone CI configuration",
    ".woodpecker.yml": "a Woodpecker CI configuration",
    "bitbucket-pipelines.yml": "a Bitbucket Pipelines configuration",
    "azure-pipelines.yml": "an Azure Pipelines configuration",
    "appveyor.yml": "an AppVeyor configuration",
    ".appveyor.yml": "an AppVeyor configuration",
    ".pre-commit-config.yaml": "a pre-commit configuration",
    ".pre-commit-hooks.yaml": "a pre-commit hooks definition",
    "dependabot.yml": "a Dependabot configuration",
    "dependabot.yaml": "a Dependabot configuration",
    "mkdocs.yml": "an MkDocs configuration",
    "mkdocs.yaml": "an MkDocs configuration",
    ".golangci.yml": "a golangci-lint configuration",
    ".golangci.yaml": "a golangci-lint configuration",
    ".goreleaser.yml": "a GoReleaser configuration",
    ".goreleaser.yaml": "a GoReleaser configuration",
    "codecov.yml": "a Codecov configuration",
    ".codecov.yml": "a Codecov configuration",
    ".yamllint": "a yamllint configuration",
    ".yamllint.yml": "a yamllint configuration",
    ".yamllint.yaml": "a yamllint configuration",
    ".readthedocs.yml": "a Read the Docs configuration",
    ".readthedocs.yaml": "a Read the Docs configuration",
    ".mergify.yml": "a Mergify configuration",
}


def config_by_path(relative: str) -> str | None:
    """What a file is when its path says it is CI or tool configuration, else None."""
    parts = relative.replace("\\", "/").split("/")
    if any(part in CI_FOLDERS for part in parts[:-1]):
        return f"CI configuration (in {next(p for p in parts[:-1] if p in CI_FOLDERS)}/)"
    return CONFIG_FILES.get(parts[-1])


def config_by_content(documents: list[Document]) -> str | None:
    """What a parsed file is when its content is a GitHub workflow or Action, else None."""
    for doc in documents:
        root = doc.root
        if not isinstance(root, Mapping):
            continue
        keys = {k.value for k, _ in root.pairs if isinstance(k, Scalar)}
        if "jobs" in keys and "on" in keys and _is_map(doc, root, "jobs"):
            return "a GitHub workflow"
        runs = doc.resolve(root.get("runs"))
        if isinstance(runs, Mapping) and runs.get("using") is not None and "name" in keys:
            return "a GitHub Action's metadata"
    return None


def _is_map(doc: Document, mapping: Mapping, key: str) -> bool:
    return isinstance(doc.resolve(mapping.get(key)), Mapping)


def refusal(what: str) -> str:
    """Why a named file that is not a manifest is refused (after its name)."""
    return f"{what}, not a Kubernetes manifest: bumper never edits CI configuration"
