"""Per-reference policy markers: where they are found, what they mean, and strict errors
that name file:line. Also Flux's $imagepolicy markers with the objects they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bumper.edit.inventory import list_images
from bumper.errors import UsageError
from bumper.registry.flux import load_flux_index
from bumper.registry.markers import FluxMarker, Marker, comment_of, find_markers
from tests.conftest import write_tree


@pytest.mark.parametrize(
    ("line", "comment"),
    [
        ("image: app:1.0 # bumper: skip", " bumper: skip"),
        ("# whole line", " whole line"),
        ("image: app:1.0#not-a-comment", None),
        ('image: "app:1.0 # inside quotes" # after', " after"),
        ("image: 'it''s # quoted' # after", " after"),
        ("note: it's plain # comment", " comment"),
        ('- {image: "a#b", tag: 1}  # flow', " flow"),
        ('image: "unclosed # never', None),
        ("image: app:1.0", None),
    ],
)
def test_comments_are_found_outside_quoted_scalars(line: str, comment: str | None) -> None:
    assert comment_of(line) == comment


def _markers(tmp_path: Path, files: dict[str, str]) -> dict[tuple[str, str], object]:
    """(file, image name) → marker."""
    write_tree(tmp_path, files)
    found, problems = list_images([str(tmp_path)])
    assert not problems
    prefix = str(tmp_path) + "/"
    return {(f.path.removeprefix(prefix), f.name): m for f, m in find_markers(found).items()}


def _policy(marker: object) -> str:
    assert isinstance(marker, Marker) and marker.policy is not None
    return marker.policy.describe()


def test_where_markers_are_read(tmp_path: Path) -> None:
    markers = _markers(
        tmp_path,
        {
            "deploy.yaml": (
                "spec:\n"
                "  containers:\n"
                "    - name: a\n"
                "      image: ghcr.io/acme/a:1.0.0  # bumper: policy=semver:^1\n"
                "    - name: b\n"
                "      # bumper: policy=semver:~1.4\n"
                "      image: ghcr.io/acme/b:1.4.0\n"
                "    - name: c\n"
                "      image: ghcr.io/acme/c:1.0.0\n"
                "      imagePullPolicy: Always  # bumper: skip\n"
            ),
            "values.yaml": (
                "web:\n"
                "  image:\n"
                "    registry: ghcr.io\n"
                "    repository: acme/web\n"
                "    tag: 2.0.0  # bumper: policy=numerical\n"
                "  replicas: 2\n"
                "api:\n"
                "  image:\n"
                "    # bumper: policy=alphabetical:desc\n"
                "    repository: ghcr.io/acme/api\n"
                "    tag: b\n"
            ),
            "kustomization.yaml": (
                "images:\n"
                "  - name: ghcr.io/acme/k\n"
                "    newTag: 1.0.0  # bumper: policy=semver:>=1.2\n"
                "  # bumper: skip\n"
                "  - name: ghcr.io/acme/l\n"
                "    newTag: 1.0.0\n"
                "  - name: ghcr.io/acme/m\n"
                "    newTag: 1.0.0\n"
            ),
        },
    )
    assert {key: _policy(m) if not m.skip else "skip" for key, m in markers.items()} == {  # type: ignore[attr-defined]
        ("deploy.yaml", "ghcr.io/acme/a"): "semver:^1",
        ("deploy.yaml", "ghcr.io/acme/b"): "semver:~1.4",
        # Helm map: the marker on its tag: line; the one above a map's first key.
        ("values.yaml", "ghcr.io/acme/web"): "numerical",
        ("values.yaml", "ghcr.io/acme/api"): "alphabetical:desc",
        # kustomize entries: on the newTag: line, or above the entry's "- ".
        ("kustomization.yaml", "ghcr.io/acme/k"): "semver:>=1.2",
        ("kustomization.yaml", "ghcr.io/acme/l"): "skip",
    }


def test_marker_values_and_quoting(tmp_path: Path) -> None:
    markers = _markers(
        tmp_path,
        {
            "a.yaml": (
                "image: ghcr.io/acme/a:main-7  # bumper: policy=numerical"
                " filter-tags='^main-(?P<n>\\d+)$' extract=$n exclude=-rc pin-digest=true\n"
            ),
            "b.yaml": "image: ghcr.io/acme/b:1.0.0  # bumper: policy='semver:>=1.4 <2'\n",
        },
    )
    a, b = markers[("a.yaml", "ghcr.io/acme/a")], markers[("b.yaml", "ghcr.io/acme/b")]
    assert isinstance(a, Marker) and a.policy is not None
    assert a.pin_digest is True
    assert a.policy.select(["main-9", "main-10", "main-11-rc", "other-99"], "main-7").tag == (
        "main-10"
    )
    assert _policy(b) == "semver:>=1.4 <2"


@pytest.mark.parametrize(
    ("comment", "error"),
    [
        ("bumper:", "bumper marker: empty (give skip or KEY=VALUE; keys: policy, filter-tags"),
        ("bumper: polcy=semver", "unknown key 'polcy' (known: policy, filter-tags, extract"),
        ("bumper: policy=semver policy=numerical", "policy given twice"),
        ("bumper: policy", "'policy' is not skip or KEY=VALUE"),
        ("bumper: policy=", "policy has an empty value"),
        ("bumper: skip policy=semver", "skip cannot be combined with policy"),
        ("bumper: policy=semver:^1.x.3", "invalid semver range '^1.x.3'"),
        ("bumper: filter-tags=( ", "invalid filter-tags regex '('"),
        ("bumper: pin-digest=yes", "pin-digest must be true or false, not 'yes'"),
        ("bumper: filter-tags='^a b", "unclosed ' quote"),
        ("bumper: policy='semver'x", "text right after the closing ' quote"),
        ('{"$imagepolicy": "just-a-name"}', '"$imagepolicy" must be "NAMESPACE:NAME[:FIELD]"'),
    ],
)
def test_bad_markers_are_usage_errors_naming_file_and_line(
    tmp_path: Path, comment: str, error: str
) -> None:
    with pytest.raises(UsageError) as raised:
        _markers(tmp_path, {"app.yaml": f"kind: Pod\nimage: ghcr.io/acme/app:1.0.0  # {comment}\n"})
    assert raised.value.location == f"{tmp_path}/app.yaml:2"
    assert error in raised.value.message
    assert raised.value.exit_code == 2


def test_two_markers_for_one_reference_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        _markers(
            tmp_path,
            {
                "values.yaml": (
                    "image:\n"
                    "  repository: ghcr.io/acme/web  # bumper: policy=semver\n"
                    "  tag: 1.0.0  # bumper: skip\n"
                )
            },
        )
    assert str(raised.value) == (
        f"{tmp_path}/values.yaml:3: two markers for ghcr.io/acme/web (lines 2 and 3); keep one"
    )


def test_ordinary_comments_are_not_markers(tmp_path: Path) -> None:
    markers = _markers(
        tmp_path,
        {
            "a.yaml": (
                "# bumper is great\n"
                "image: ghcr.io/acme/a:1.0.0  # pinned for bumper: reasons\n"
                "other: ghcr.io/acme/a:1.0.0  # {not json\n"
            )
        },
    )
    assert markers == {}


FLUX = """\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  image: ghcr.io/acme/podinfo
  exclusionList: ["^.*-debug$"]
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: podinfo, namespace: flux-system}
spec:
  imageRepositoryRef: {name: podinfo}
  filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts'}
  policy: {numerical: {order: asc}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: stable}
spec:
  imageRepositoryRef: {name: podinfo, namespace: flux-system}
  policy: {semver: {range: ">=1.0.0 <2"}}
"""


def test_flux_markers_use_the_image_policy_in_the_scanned_paths(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "flux.yaml": FLUX,
            "app.yaml": (
                "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                '        - image: ghcr.io/acme/podinfo:main-aaa-1 # {"$imagepolicy": '
                '"flux-system:podinfo"}\n'
            ),
        },
    )
    found, _ = list_images([str(tmp_path / "app.yaml")])
    markers = find_markers(found)
    marker = markers[found[0]]
    assert isinstance(marker, FluxMarker)
    index = load_flux_index([str(tmp_path)])
    resolved = index.resolve("flux-system", "podinfo")
    assert not isinstance(resolved, str)
    assert resolved.image == "ghcr.io/acme/podinfo"
    tags = ["main-aaa-1", "main-bbb-20", "main-ccc-3", "main-ddd-99-debug", "1.5.0"]
    assert resolved.policy.select(tags, "main-aaa-1").tag == "main-bbb-20"
    stable = index.resolve("apps", "stable")  # no namespace: matches any
    assert not isinstance(stable, str)
    assert stable.policy.select(["1.2.0", "2.0.0", "1.9.0-debug"], "1.0.0").tag == "1.2.0"
    assert index.resolve("flux-system", "nope") == (
        "Flux ImagePolicy flux-system/nope is not in the scanned paths"
    )
