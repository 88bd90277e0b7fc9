"""Property-based: manifests generated in many styles, bumped, compared with an oracle.

The generator writes each manifest from segments (literal text and image values) and
knows where every image value is, so it can build the expected output on its own:
every other byte must be identical, and the result must load to the original data
with only the intended values changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ruamel.yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bumper.edit.plan import plan_set_image

TARGET = "ghcr.io/acme/app"
SAME_REPO = ["ghcr.io/acme/app"]
OTHER_REPOS = [
    "ghcr.io/acme/app-worker",
    "ghcr.io/acme/apps",
    "ghcr.io/acme/team/app",
    "nginx",
    "docker.io/library/app",
    "ghcr.io/acme/app/sub",
]
TAGS = ["1.0.0", "v2.3.4", "sha-1a2b3c4", "latest", "2024.05.1", "1.20", "3"]
D_OLD = "sha256:" + "a" * 64
D_NEW = "sha256:" + "b" * 64
# Tags that YAML would read as numbers when plain, so a plain scalar must gain quotes.
NUMERIC_LOOKING = {"1.20", "3"}


@dataclass(frozen=True)
class ImageRef:
    """An ``image:`` string value written in a given quote style."""

    name: str
    tag: str | None
    digest: str | None
    style: str  # "", "'", '"'
    flow: bool = False  # inside {…}: a plain value gaining its first ':' is quoted

    def value(self) -> str:
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text


@dataclass(frozen=True)
class HelmTag:
    """A Helm ``tag:`` value for a map whose repository is ``name``."""

    name: str
    tag: str
    style: str


@dataclass(frozen=True)
class HelmDigestSlot:
    """Where a Helm map gains ``digest:`` (after its last key) when a digest is set."""

    name: str
    line: str  # "  digest: {digest}\n" with the map's indent and newline


Segment = str | ImageRef | HelmTag | HelmDigestSlot


def quote(value: str, style: str) -> str:
    return f"{style}{value}{style}"


def render(segments: list[Segment], new: tuple[str, str | None] | None) -> str:
    """The text; with ``new`` = (tag, digest), the expected text after the bump."""
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, str):
            out.append(seg)
        elif isinstance(seg, ImageRef):
            if new is not None and seg.name in SAME_REPO:
                tag, digest = new
                kept_digest = seg.digest if (digest is None and seg.tag == tag) else digest
                new_seg = ImageRef(seg.name, tag, kept_digest, seg.style, seg.flow)
                if seg.flow and seg.style == "" and ":" not in seg.value():
                    new_seg = ImageRef(seg.name, tag, kept_digest, '"', True)
                seg = new_seg
            out.append(quote(seg.value(), seg.style))
        elif isinstance(seg, HelmDigestSlot):
            if new is not None and new[1] is not None and seg.name in SAME_REPO:
                out.append(seg.line.format(digest=new[1]))
        else:
            tag, style = seg.tag, seg.style
            if new is not None and seg.name in SAME_REPO:
                tag = new[0]
                if style == "" and tag in NUMERIC_LOOKING:
                    style = '"'
            out.append(quote(tag, style))
    return "".join(out)


styles = st.sampled_from(["", "'", '"'])
image_refs = st.builds(
    ImageRef,
    name=st.sampled_from(SAME_REPO + OTHER_REPOS),
    tag=st.sampled_from([*TAGS, None]),
    digest=st.sampled_from([None, None, D_OLD]),
    style=styles,
)
comments = st.sampled_from(["", "  # pinned", ' # {"$imagepolicy": "flux-system:app"}'])


@st.composite
def container(draw: st.DrawFn, indent: str, nl: str) -> list[Segment]:
    ref = draw(image_refs)
    name = draw(st.sampled_from(["app", "side-car", "init"]))
    if draw(st.booleans()):
        flow_ref = ImageRef(ref.name, ref.tag, ref.digest, ref.style, flow=True)
        return [f"{indent}- {{name: {name}, image: ", flow_ref, f"}}{draw(comments)}{nl}"]
    extra = draw(
        st.sampled_from(
            [
                "",
                f"{indent}  args: [--image, {TARGET}:9.9.9]{nl}",
                f"{indent}  env:{nl}{indent}  - name: IMAGE{nl}"
                f"{indent}    value: {TARGET}:0.0.1{nl}",
            ]
        )
    )
    return [f"{indent}- name: {name}{nl}{indent}  image: ", ref, f"{draw(comments)}{nl}", extra]


@st.composite
def workload(draw: st.DrawFn, nl: str, step: int) -> list[Segment]:
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "Job", "Rollout"]))
    pad = " " * step
    inner = pad * 3
    segments: list[Segment] = [
        f"apiVersion: apps/v1{nl}kind: {kind}{nl}metadata:{nl}{pad}name: x # keep{nl}",
        f"{pad}annotations:{nl}{pad}{pad}image: {TARGET}:0.0.1{nl}",
        f"spec:{nl}{pad}template:{nl}{pad}{pad}spec:{nl}",
    ]
    for key in draw(
        st.lists(
            st.sampled_from(["initContainers", "containers"]), min_size=1, max_size=2, unique=True
        )
    ):
        segments.append(
            f"{pad}{pad}{pad}{key}:{nl}"
            if draw(st.booleans())
            else f"{pad}{pad}{pad}{key}:{nl}{nl}# a comment line{nl}"
        )
        for _ in range(draw(st.integers(1, 3))):
            segments.extend(draw(container(inner, nl)))
    return segments


@st.composite
def helm_values(draw: st.DrawFn, nl: str, step: int) -> list[Segment]:
    pad = " " * step
    name = draw(st.sampled_from(SAME_REPO + OTHER_REPOS[:2]))
    tag = HelmTag(name, draw(st.sampled_from(TAGS)), draw(styles))
    return [
        f"# values{nl}image:{nl}{pad}repository: {name}{nl}{pad}tag: ",
        tag,
        f"{draw(comments)}{nl}{pad}pullPolicy: IfNotPresent{nl}",
        HelmDigestSlot(name, f"{pad}digest: {{digest}}{nl}"),
        f"replicaCount: 2{nl}",
    ]


@st.composite
def compose(draw: st.DrawFn, nl: str, step: int) -> list[Segment]:
    pad = " " * step
    segments: list[Segment] = [f"services:{nl}"]
    for index in range(draw(st.integers(1, 3))):
        segments += [
            f"{pad}svc{index}:{nl}{pad}{pad}image: ",
            draw(image_refs),
            f'{nl}{pad}{pad}ports: ["80{index}:80"]{nl}',
        ]
    return segments


@st.composite
def manifests(draw: st.DrawFn) -> tuple[list[Segment], bool]:
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    step = draw(st.sampled_from([2, 4]))
    kinds = draw(
        st.lists(st.sampled_from([workload, helm_values, compose]), min_size=1, max_size=3)
    )
    segments: list[Segment] = []
    for index, kind in enumerate(kinds):
        if index or draw(st.booleans()):
            segments.append(f"---{nl}")
        segments.extend(draw(kind(nl, step)))
    if draw(st.booleans()) and isinstance(segments[-1], str) and segments[-1].endswith(nl):
        segments[-1] = segments[-1][: -len(nl)]
    return segments, draw(st.booleans())


def _load_all(text: str) -> list[Any]:
    yaml = ruamel.yaml.YAML(typ="safe", pure=True)
    return list(yaml.load_all(text))


def _differences(old: Any, new: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(old, dict) and isinstance(new, dict):
        assert set(old) <= set(new) and set(new) - set(old) <= {"digest"}, path
        added = [(*path, k) for k in new if k not in old]
        return added + [d for k in old for d in _differences(old[k], new[k], (*path, k))]
    if isinstance(old, list) and isinstance(new, list):
        assert len(old) == len(new), path
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in _differences(a, b, (*path, i))
        ]
    return [] if old == new else [path]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=manifests(), new_tag=st.sampled_from(TAGS), with_digest=st.booleans())
def test_only_the_image_values_change(
    tmp_path: Path, doc: tuple[list[Segment], bool], new_tag: str, with_digest: bool
) -> None:
    segments, bom = doc
    before = render(segments, None)
    digest = D_NEW if with_digest else None
    expected = render(segments, (new_tag, digest))
    path = tmp_path / "manifest.yaml"
    path.write_bytes(("\ufeff" if bom else "").encode() + before.encode())

    target = f"{TARGET}:{new_tag}" + (f"@{digest}" if digest else "")
    # A directory walk: the prefilter and the per-document parse must not lose anything.
    plan = plan_set_image(target, [tmp_path], allow_downgrade=True, allow_missing=True)
    plan.apply()

    after = path.read_bytes()
    assert after == ("\ufeff" if bom else "").encode() + expected.encode()
    for old_doc, new_doc in zip(_load_all(before), _load_all(expected), strict=True):
        for changed in _differences(old_doc, new_doc):
            assert changed[-1] in ("image", "tag", "digest"), changed
