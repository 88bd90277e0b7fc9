"""Flux's image automation objects, read from the scanned manifests.

A reference marked ``# {"$imagepolicy": "NS:NAME"}`` is updated with the policy of the
``ImagePolicy`` NS/NAME (``spec.policy`` semver range, alphabetical or numerical order;
``spec.filterTags`` pattern and extract) and the ``exclusionList`` of the
``ImageRepository`` it points to (Flux's default, ``^.*\\.sig$``, when it has none), so a
Flux user can run the same policies from CI. Objects without a namespace match any
namespace the marker names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bumper.edit.files import collect_sources
from bumper.errors import BumperError, UsageError
from bumper.registry.policy import TagPolicy, make_policy

FLUX_DEFAULT_EXCLUSIONS = (r"^.*\.sig$",)
_GROUP = "image.toolkit.fluxcd.io/"


@dataclass(frozen=True)
class FluxPolicy:
    """An ImagePolicy resolved with its ImageRepository: the image it scans and how."""

    namespace: str | None
    name: str
    image: str
    policy: TagPolicy


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


class FluxIndex:
    """The ImagePolicy and ImageRepository objects found under some paths."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str | None, str], tuple[str, dict[str, Any]]] = {}
        self._repositories: dict[tuple[str | None, str], dict[str, Any]] = {}

    def add(self, document: Any, origin: str) -> None:
        """Remember a document when it is one of Flux's image objects."""
        if not isinstance(document, Mapping):
            return
        api, kind = str(document.get("apiVersion") or ""), document.get("kind")
        name = _get(document, "metadata", "name")
        if not api.startswith(_GROUP) or not isinstance(name, str):
            return
        namespace = _get(document, "metadata", "namespace")
        key = (namespace if isinstance(namespace, str) else None, name)
        if kind == "ImagePolicy":
            self._policies[key] = (origin, dict(document))
        elif kind == "ImageRepository":
            self._repositories[key] = dict(document)

    @staticmethod
    def _find(table: Mapping[tuple[str | None, str], Any], namespace: str, name: str) -> Any:
        return table.get((namespace, name), table.get((None, name)))

    def resolve(self, namespace: str, name: str) -> FluxPolicy | str:
        """The policy NS/NAME, or a sentence saying why there is none."""
        found = self._find(self._policies, namespace, name)
        if found is None:
            return f"Flux ImagePolicy {namespace}/{name} is not in the scanned paths"
        origin, document = found
        ref = _get(document, "spec", "imageRepositoryRef") or {}
        repo_name = ref.get("name") if isinstance(ref, Mapping) else None
        repo_namespace = ref.get("namespace") if isinstance(ref, Mapping) else None
        if not isinstance(repo_name, str):
            raise UsageError(
                f"ImagePolicy {namespace}/{name}: spec.imageRepositoryRef.name is missing",
                location=origin,
            )
        repository = self._find(self._repositories, repo_namespace or namespace, repo_name)
        if repository is None:
            where = f"{repo_namespace or namespace}/{repo_name}"
            return f"Flux ImageRepository {where} is not in the scanned paths"
        image = _get(repository, "spec", "image")
        if not isinstance(image, str) or not image:
            raise UsageError(f"ImageRepository {repo_name}: spec.image is missing", location=origin)
        exclusions = _get(repository, "spec", "exclusionList")
        excludes = (
            [str(item) for item in exclusions]
            if isinstance(exclusions, list)
            else list(FLUX_DEFAULT_EXCLUSIONS)
        )
        try:
            policy = make_policy(
                _policy_spec(document),
                filter_tags=_get(document, "spec", "filterTags", "pattern") or None,
                extract=_get(document, "spec", "filterTags", "extract") or None,
                exclude=excludes,
                default_excludes=False,
                origin=f"ImagePolicy {namespace}/{name}",
            )
        except BumperError as error:
            raise UsageError(
                f"ImagePolicy {namespace}/{name}: {error.message}", location=origin
            ) from None
        return FluxPolicy(namespace, name, image, policy)


def _policy_spec(document: Mapping[str, Any]) -> str:
    policy = _get(document, "spec", "policy")
    if isinstance(policy, Mapping):
        semver_range = _get(policy, "semver", "range")
        if isinstance(semver_range, str):
            return f"semver:{semver_range}"
        for kind in ("alphabetical", "numerical"):
            if kind in policy:
                order = _get(policy, kind, "order") or "asc"
                return f"{kind}:{order}"
    name = _get(document, "metadata", "name")
    raise UsageError(f"ImagePolicy {name}: spec.policy has no semver, alphabetical or numerical")


def load_flux_index(paths: Iterable[str | Path], root: Path | None = None) -> FluxIndex:
    """Read every ImagePolicy and ImageRepository under ``paths`` (files that do not
    parse are left to the inventory, which reports them)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    index = FluxIndex()
    loader = YAML(typ="safe")
    for source in collect_sources([str(p) for p in paths] or ["."], root=root):
        try:
            data = source.path.read_bytes()
        except OSError:
            continue
        if b"image.toolkit.fluxcd.io" not in data:
            continue
        try:
            for document in loader.load_all(data):
                index.add(document, source.display)
        except (YAMLError, ValueError):
            continue
    return index
