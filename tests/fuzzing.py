"""Hostile-but-valid YAML manifests and outside oracles for the differential fuzzers.

The generators build a *model* of each document (strings, maps, sequences, anchors,
aliases, merge keys) and then write it as YAML text in randomly chosen hostile styles:
explicit ``? key`` keys, escapes and line continuations in double-quoted scalars,
folded single-quoted scalars, block scalars with every chomping and indentation
indicator, flow collections with tabs and comments, redefined anchors, ``<<`` merges,
``!!str`` tags, ``---``/``...`` markers, directives, non-ASCII text. Because the model
is known, the loaded data of the text is known too: ``check_generated`` proves every
generated file means what the model says in both outside loaders (PyYAML/libyaml for
YAML 1.1, ruamel's pure loader for YAML 1.2), so a failure in an engine test is the
engine's, never the generator's.

Every choice is drawn so that hypothesis shrinks toward the plain, boring spelling:
a shrunk counterexample keeps only the hostile features it needs.

Bounds: ``fuzz_settings(n)`` runs ``n`` examples by default (with a fixed seed, for CI,
and without shrinking a failure); ``BUMPER_FUZZ_EXAMPLES=5000`` runs that many per
fuzzer and shrinks failures, ``BUMPER_FUZZ_SHRINK=1`` shrinks in a bounded run,
``BUMPER_FUZZ_RANDOM=1`` draws new examples on every run instead of the fixed sequence.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import ruamel.yaml
import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from bumper.edit import yamltext
from bumper.edit.plan import Plan, plan_set_image
from bumper.errors import BumperError

EXAMPLES_ENV = "BUMPER_FUZZ_EXAMPLES"
RANDOM_ENV = "BUMPER_FUZZ_RANDOM"
SHRINK_ENV = "BUMPER_FUZZ_SHRINK"


def fuzz_settings(default: int, *, share: int = 1) -> settings:
    """Hypothesis settings: ``default`` examples (fixed seed), or ``BUMPER_FUZZ_EXAMPLES``
    divided by ``share`` for fuzzers whose examples are ``share`` times as costly."""
    requested = os.environ.get(EXAMPLES_ENV)
    examples = max(1, int(requested) // share) if requested else default
    # Shrinking a failure can take minutes; the bounded run reports the failing example
    # as found, BUMPER_FUZZ_SHRINK=1 (or a long run) shrinks it to a minimal one.
    shrink = bool(requested or os.environ.get(SHRINK_ENV))
    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(
        max_examples=examples,
        phases=phases,
        derandomize=not os.environ.get(RANDOM_ENV),
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# ---------------------------------------------------------------------------------------
# Image names, tags, digests and the bump being made
# ---------------------------------------------------------------------------------------

DIGEST_OLD = "sha256:" + "a" * 64
DIGEST_NEW = "sha256:" + "b" * 64
DIGEST_OTHER = "sha256:" + "c" * 64

# Targets with the spellings that name the same repository.
SPELLINGS: dict[str, list[str]] = {
    "ghcr.io/acme/app": ["ghcr.io/acme/app"],
    "acme/app": ["acme/app", "docker.io/acme/app", "index.docker.io/acme/app"],
    "nginx": ["nginx", "library/nginx", "docker.io/library/nginx", "docker.io/nginx"],
}
# Repositories that share text with the targets but are other images.
OTHERS = [
    "ghcr.io/acme/app-worker",
    "ghcr.io/acme/apps",
    "ghcr.io/acme/team/app",
    "ghcr.io/acme/app/sub",
    "localhost:5000/acme/app",
    "registry.example.com:5000/nginx",
    "acme/nginx-exporter",
    "quay.io/acme/app",
]
# Tags a file may hold and a bump may write; many of them read as non-strings when
# written plain in one YAML version or another (and in go-yaml, what kubectl uses).
PLAIN_TAGS = ["1.0.0", "v2.3.4", "sha-1a2b3c4", "latest", "2024.05.1", "3.2.1-rc.1"]
TYPED_TAGS = [
    "09",
    "00",
    "0e0",
    "1_",
    "1__0",
    "0x_1F",
    "1_0.5",
    "0.",
    "5e-1",
    "0B1_1",
    "1.20",
    "3",
    "010",
    "0X1F",
    "0x1f",
    "0B11",
    "0b11",
    "0O17",
    "0o17",
    "1e3",
    "1E3",
    "1_000",
    "1.",
    "yes",
    "on",
    "y",
    "N",
    "off",
    "true",
    "Null",
    "NULL",
    "null",
    "2024-01-02",
    "1e-3",
    "0_1",
]
TAGS = PLAIN_TAGS + TYPED_TAGS


@dataclass(frozen=True)
class Bump:
    """One ``set-image`` argument: the repository to match and what to write."""

    match: str
    tag: str | None
    digest: str | None
    new_name: str | None = None

    @property
    def argument(self) -> str:
        new = format_ref(self.new_name or self.match, self.tag, self.digest)
        return f"{self.match}={new}" if self.new_name else new

    def wanted(self, name: str, tag: str | None, digest: str | None) -> tuple[str, Any, Any]:
        """What a reference ``name:tag@digest`` to the target holds after the bump (the
        README's rules: a tag change drops a digest that pinned the old tag, a
        digest-only change drops the old tag; the user's spelling is kept)."""
        new_name = name
        if self.new_name is not None and canonical(self.new_name) != canonical(name):
            new_name = self.new_name
        if self.tag is not None and self.digest is not None:
            return new_name, self.tag, self.digest
        if self.tag is not None:
            return new_name, self.tag, digest if tag == self.tag else None
        if self.digest is not None:
            return new_name, tag if digest == self.digest else None, self.digest
        return new_name, tag, digest


def format_ref(name: str, tag: str | None, digest: str | None) -> str:
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def split_ref(text: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` split (for the well-formed references generated here)."""
    name, _, digest = text.partition("@")
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        name = head
    else:
        tag = ""
    return name, tag or None, digest or None


def canonical(name: str) -> str:
    """The repository a name means (Docker Hub short forms expanded)."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return f"{domain}/{path}"


@st.composite
def bumps(draw: st.DrawFn, match: str, tags: list[str] | None = None) -> Bump:
    """A bump of ``match``: a tag, a digest, both, or a rename."""
    tag = draw(st.sampled_from(tags or TAGS))
    kind = draw(st.sampled_from(["tag", "tag+digest", "digest", "rename"]))
    if kind == "tag":
        return Bump(match, tag, None)
    if kind == "tag+digest":
        return Bump(match, tag, DIGEST_NEW)
    if kind == "digest":
        return Bump(match, None, DIGEST_NEW)
    return Bump(match, tag, None, new_name="registry.example.com/acme/renamed")


# ---------------------------------------------------------------------------------------
# The document model
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class S:
    """A string scalar (``value`` None: a null, written empty, ``~`` or ``null``).

    ``typed``: written plain although loaders read it as a number or boolean (a tag a
    user left unquoted: ``tag: 1.20``).
    ``must``: a reference the bump must change (see ``Expected``).
    """

    value: str | None
    anchor: str | None = None
    typed: bool = False
    block: int = 0  # how often (percent) it is written as a block scalar when it can be
    must: str | None = None
    shareable: bool = True  # may be anchored or aliased by the hostile pass


@dataclass(eq=False)
class M:
    pairs: list[tuple[str, Node]]
    anchor: str | None = None
    merges: list[str] = field(default_factory=list)
    must: str | None = None  # "helm"/"kustomize": an image map or entry of the target


@dataclass(eq=False)
class L:
    items: list[Node]
    anchor: str | None = None


@dataclass(eq=False)
class A:
    """An alias ``*name``."""

    name: str


Node = S | M | L | A


@dataclass
class Doc:
    """One document of a file: its root collection."""

    root: M | L


class GenFile:
    """A generated manifest file: its name, documents, and how its text is dressed.

    Not a dataclass: hypothesis prints a failing example with ``repr``, and the file's
    bytes say more than its model.
    """

    def __init__(
        self, name: str, docs: list[Doc], text: str = "", newline: str = "\n", bom: bool = False
    ) -> None:
        self.name = name
        self.docs = docs
        self.text = text  # LF text, before line-ending and BOM dressing
        self.newline = newline
        self.bom = bom

    def __repr__(self) -> str:
        return f"GenFile({self.name!r}, {self.data()!r})"

    def with_newline(self, newline: str) -> GenFile:
        return GenFile(self.name, self.docs, self.text, newline, self.bom)

    def data(self) -> bytes:
        text = self.text.replace("\n", self.newline)
        return ("\ufeff" if self.bom else "").encode() + text.encode("utf-8")


# ---------------------------------------------------------------------------------------
# Outside loaders
# ---------------------------------------------------------------------------------------


class LoadError(Exception):
    """An outside loader refused the text."""


def load_pyyaml(text: str) -> list[Any]:
    """YAML 1.1 as PyYAML with libyaml reads it (merge keys applied)."""
    try:
        return list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as error:
        raise LoadError(f"PyYAML: {error}") from None


def load_ruamel(text: str) -> list[Any]:
    """YAML 1.2 as ruamel's pure-Python safe loader reads it."""
    try:
        with warnings.catch_warnings():
            # Redefined anchors are valid YAML; ruamel warns about them.
            warnings.simplefilter("ignore", ruamel.yaml.error.ReusedAnchorWarning)
            return list(ruamel.yaml.YAML(typ="safe", pure=True).load_all(text))
    except ruamel.yaml.YAMLError as error:
        raise LoadError(f"ruamel: {error}") from None


LOADERS: dict[str, Callable[[str], list[Any]]] = {"pyyaml": load_pyyaml, "ruamel": load_ruamel}


@functools.cache
def loads_as(loader: str, text: str) -> Any:
    """What ``loader`` makes of ``k: text`` (plain), or a LoadError marker."""
    try:
        docs = LOADERS[loader](f"k: {text}\n")
    except LoadError:
        return LoadError
    return docs[0]["k"] if docs and isinstance(docs[0], dict) and "k" in docs[0] else LoadError


_PLAIN_CHARS = re.compile(r"[A-Za-z0-9_./@:+=~-][A-Za-z0-9_./@:+=~ ()äöüéß✓😀-]*")


@functools.cache
def plain_ok(value: str, flow: bool) -> bool:
    """True when ``value`` written plain reads back as this string in both loaders."""
    if not value or value != value.strip() or not _PLAIN_CHARS.fullmatch(value):
        return False
    if ": " in value or " #" in value or value.endswith(":") or value[0] in "-?:~":
        return False
    if flow and ":" in value:
        return False
    return all(loads_as(name, value) == value for name in LOADERS)


@functools.cache
def typed_value(loader: str, value: str) -> Any:
    return loads_as(loader, value)


# ---------------------------------------------------------------------------------------
# Expansion: the data a document means, resolved the way YAML says
# ---------------------------------------------------------------------------------------


@dataclass
class Expected:
    """The data of a file's documents (per loader), and where the target's references
    that the bump must change sit in it: ``(doc index, path, kind)``."""

    data: list[Any]
    musts: list[tuple[int, tuple[Any, ...], str]]


def expand(docs: list[Doc], loader: str) -> Expected:
    """The data of ``docs`` as ``loader`` reads it: aliases resolve to the most recent
    definition of their anchor *before* them; merge keys fill missing keys."""
    musts: list[tuple[int, tuple[Any, ...], str]] = []
    data = [_Expander(loader, index, musts).walk(doc.root, ()) for index, doc in enumerate(docs)]
    return Expected(data, musts)


class _Expander:
    """One document's expansion, in document order (anchors are per document)."""

    def __init__(self, loader: str, index: int, musts: list[tuple[int, tuple[Any, ...], str]]):
        self.loader = loader
        self.index = index
        self.musts = musts
        self.anchors: dict[str, Node] = {}
        self.values: dict[int, Any] = {}

    def walk(self, node: Node, path: tuple[Any, ...]) -> Any:
        if isinstance(node, A):
            return self.values[id(self.anchors[node.name])]
        if node.anchor:
            self.anchors[node.anchor] = node
        value: Any
        if isinstance(node, S):
            if node.value is None:
                value = None
            elif node.typed:
                value = typed_value(self.loader, node.value)
            else:
                value = node.value
        elif isinstance(node, L):
            value = [self.walk(item, (*path, i)) for i, item in enumerate(node.items)]
        else:
            value = {}
            for name in node.merges:
                for key, item in self.values[id(self.anchors[name])].items():
                    value.setdefault(key, item)
            for key, item in node.pairs:
                value[key] = self.walk(item, (*path, key))
        self.values[id(node)] = value
        if isinstance(node, (S, M)) and node.must:
            self.musts.append((self.index, path, node.must))
        return value


# ---------------------------------------------------------------------------------------
# The writer: model -> hostile YAML text
# ---------------------------------------------------------------------------------------

COMMENTS = [
    "a comment",
    "image: ghcr.io/acme/app:0.0.1",
    "ünïcödé ✓ 日本 🚀",
    "'quotes\" {[, & * ! | > %",
    "",
    "-- tag: 9.9.9",
]


class Writer:
    """Writes model documents as YAML text, every style choice drawn (shrinks to plain)."""

    def __init__(self, draw: st.DrawFn, step: int) -> None:
        self.draw = draw
        self.step = step
        self.block_tail = False  # the text so far ends with a block scalar

    # -- choices -------------------------------------------------------------------------
    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    # -- small pieces --------------------------------------------------------------------
    def trailing_comment(self) -> str:
        if not self.chance(12):
            return ""
        spaces = self.pick([" ", "  "])
        return f"{spaces}#{self.pick(['', ' '])}{self.pick(COMMENTS)}"

    def comment_lines(self, indent: int) -> str:
        out = ""
        while self.chance(8):
            # Right after a block scalar a blank line would be part of it (or end a
            # keep-chomped value differently) and a deeper comment would be content.
            tail = self.block_tail
            self.block_tail = False
            kind = "comment" if tail else self.pick(["comment", "blank", "spaces"])
            if kind == "comment":
                column = self.draw(st.integers(0, indent if tail else indent + 2))
                out += " " * column + "# " + self.pick(COMMENTS) + "\n"
            elif kind == "blank":
                out += "\n"
            else:
                out += " " * self.draw(st.integers(1, indent + 2)) + "\n"
        return out

    def properties(self, node: Node, scalar: bool) -> list[str]:
        props: list[str] = []
        if node.anchor:  # type: ignore[union-attr]
            props.append("&" + node.anchor)  # type: ignore[union-attr]
        if self.chance(6):
            if scalar and isinstance(node, S) and node.value is not None and not node.typed:
                props.append("!!str")
            elif isinstance(node, M):
                props.append("!!map")
            elif isinstance(node, L):
                props.append("!!seq")
        if len(props) == 2 and self.chance(50):
            props.reverse()
        return props

    def key(self, key: str, flow: bool) -> str:
        if key == "<<":
            return key
        styles = ["plain", "double", "single"] if plain_ok(key, flow) else ["double", "single"]
        style = self.pick(styles) if self.chance(15) else styles[0]
        if style == "plain":
            text = key
        elif style == "single":
            text = "'" + key.replace("'", "''") + "'"
        else:
            text = self.double(key, None)
        if not flow and self.chance(4):
            text = f"&k{self.draw(st.integers(0, 9))} {text}"
        return text

    # -- scalars -------------------------------------------------------------------------
    def double(self, value: str, indent: int | None) -> str:
        """A double-quoted scalar; with ``indent``, escaped and folded line breaks may
        continue it on lines indented that far."""
        out = ['"']
        for position, char in enumerate(value):
            before = value[position - 1] if position else ""
            if indent is not None and position and char not in " \t" and self.chance(4):
                out.append("\\\n" + " " * indent)  # an escaped line break: joins, no space
            code = ord(char)
            if char == '"':
                out.append('\\"')
            elif char == "\\":
                out.append("\\\\")
            elif (
                char == " "
                and indent is not None
                and before not in ("", " ", "\t")
                and value[position + 1 : position + 2] not in ("", " ", "\t")
                and self.chance(6)
            ):
                out.append("\n" + " " * indent)  # a folded line break reads as one space
            elif char in "\u2028\u2029" and self.chance(50):
                out.append(char)  # raw: a line break in YAML 1.1 and for str.splitlines
            elif code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029\ufeff":
                out.append(f"\\u{code:04x}")
            elif self.chance(5):
                forms = [f"\\U{code:08x}"]
                if code < 0x10000:
                    forms.append(f"\\u{code:04X}")
                if code < 0x100:
                    forms.append(f"\\x{code:02x}")
                if char == "/":
                    forms.append("\\/")
                if char == " ":
                    forms.append("\\ ")
                out.append(self.pick(forms))
            else:
                out.append(char)
        out.append('"')
        return "".join(out)

    def single(self, value: str, indent: int | None) -> str:
        out = ["'"]
        for position, char in enumerate(value):
            before = value[position - 1] if position else ""
            after = value[position + 1 : position + 2]
            if (
                char == " "
                and indent is not None
                and before not in ("", " ", "\t")
                and after not in ("", " ", "\t")
                and self.chance(6)
            ):
                out.append("\n" + " " * indent)
            else:
                out.append("''" if char == "'" else char)
        out.append("'")
        return "".join(out)

    def flow_scalar(self, node: S, flow: bool, indent: int) -> str:
        """A scalar in flow style (plain, single or double quoted) at ``indent``."""
        if node.value is None:
            return self.pick(["", "~", "null"]) if not flow else self.pick(["~", "null"])
        value = node.value
        if node.typed:
            return value
        printable = bool(re.fullmatch(r"[^\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]*", value))
        options = []
        if plain_ok(value, flow):
            options.append("plain")
        if printable:
            options.append("single")
        options.append("double")
        style = self.pick(options) if self.chance(35) else options[0]
        continuation = indent if self.chance(30) else None
        if style == "plain":
            return value
        if style == "single":
            return self.single(value, continuation)
        return self.double(value, continuation)

    def block_scalar(self, node: S, indent: int) -> str | None:
        """``|``/``>`` header and content lines for a scalar, or None when the value
        cannot be written that way. ``indent`` is the column of the owning key or dash."""
        value = node.value
        if (
            value is None
            or not value.strip()
            or re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\r]", value)
        ):
            return None
        if re.search(r"[\u2028\u2029\x85\ufeff]", value) or value[0] == "\n":
            return None
        lines = value.split("\n")
        keep_trailing = value.endswith("\n")
        body = lines[:-1] if keep_trailing else lines
        last = body[-1]
        if not keep_trailing:
            chomp = "-"
            if not last.strip():
                return None
        elif value.endswith("\n\n") or not last.strip() or last != last.rstrip(" "):
            chomp = "+"
        else:
            chomp = self.pick(["", "+"])
        first = next(line for line in body if line.strip())
        needs_indicator = first[0] == " " or body[0] != first
        indicator = self.draw(st.integers(1, 4)) if needs_indicator or self.chance(15) else 0
        content = indent + (indicator or self.step)
        folded = len(body) == 1 and last == last.strip() and "  " not in last and self.chance(40)
        header = (">" if folded else "|") + (str(indicator) if indicator else "") + chomp
        if self.chance(30):
            header = header[0] + header[1:][::-1]  # indicators in either order
        header += self.trailing_comment()
        out = [header + "\n"]
        if folded:
            words = last.split(" ")
            line = " " * content + words[0]
            for word in words[1:]:
                if self.chance(40):
                    out.append(line + "\n")
                    line = " " * content + word
                else:
                    line += " " + word
            out.append(line + "\n")
        else:
            for line in body:
                out.append((" " * content + line if line else "") + "\n")
        if chomp != "+":
            # Trailing blank lines belong to the scalar but not to its value.
            while self.chance(25):
                out.append(" " * self.draw(st.integers(0, content - 1)) + "\n")
        return "".join(out)

    # -- collections ---------------------------------------------------------------------
    def flow_node(self, node: Node, indent: int, with_properties: bool = True) -> str:
        """A node in flow style; continuation lines are indented past ``indent``."""
        if isinstance(node, A):
            return "*" + node.name
        props = self.properties(node, isinstance(node, S)) if with_properties else []
        prefix = " ".join(props) + " " if props else ""
        if isinstance(node, S):
            return prefix + self.flow_scalar(node, True, indent + self.step)
        if isinstance(node, L):
            items = [self.flow_node(item, indent) for item in node.items]
            return prefix + self.flow_join("[", items, "]", indent)
        items = []
        if node.merges:
            merged = [f"*{name} " for name in node.merges]
            items.append(
                "<<: " + (merged[0] if len(merged) == 1 else "[" + ", ".join(merged) + "]")
            )
        for key, value in node.pairs:
            key_text = self.key(key, flow=True)
            colon = ": " if not key_text.endswith(('"', "'")) else self.pick([": ", ":"])
            if self.chance(8):
                colon = ":\t"
            value_text = self.flow_node(value, indent)
            if isinstance(value, A):
                value_text += " "
            items.append(f"{key_text}{colon}{value_text}" if value_text else f"{key_text}:")
        return prefix + self.flow_join("{", items, "}", indent)

    def flow_join(self, open_: str, items: list[str], close: str, indent: int) -> str:
        if not items:
            return open_ + close
        pad = " " * (indent + self.step)
        out = open_ + self.pick(["", " ", "\t"])
        for position, item in enumerate(items):
            out += item
            if position < len(items) - 1:
                out += (
                    self.pick([", ", ",\t", ","])
                    if not self.chance(15)
                    else self.pick([f",\n{pad}", f", # {self.pick(COMMENTS)}\n{pad}", f"\n{pad}, "])
                )
        if self.chance(8):
            out += ","
        return out + self.pick(["", " "]) + close

    def can_flow(self, node: Node) -> bool:
        if isinstance(node, (A, S)):
            return True  # a double-quoted scalar can hold any string
        children = node.items if isinstance(node, L) else [v for _, v in node.pairs]
        return all(self.can_flow(child) for child in children)

    def value_after_key(self, node: Node, indent: int) -> str:
        """Text after ``key:`` for a value of a block mapping at ``indent``: a space and
        an inline value, or a newline and an indented block."""
        self.block_tail = False
        if isinstance(node, A):
            return " *" + node.name + self.trailing_comment() + "\n"
        props = self.properties(node, isinstance(node, S))
        head = (" " + " ".join(props)) if props else ""
        if isinstance(node, S):
            if node.block and self.chance(node.block):
                block = self.block_scalar(node, indent)
                if block is not None:
                    self.block_tail = True
                    return f"{head} {block}"
            if node.value is None and self.chance(50):
                return head + self.trailing_comment() + "\n"
            if self.chance(8) and node.value:
                deeper = indent + self.step
                text = self.flow_scalar(node, False, deeper)
                return f"{head}{self.trailing_comment()}\n{' ' * deeper}{text}\n"
            text = self.flow_scalar(node, False, indent + self.step)
            return f"{head} {text}{self.trailing_comment()}\n"
        empty = (isinstance(node, M) and not node.pairs and not node.merges) or (
            isinstance(node, L) and not node.items
        )
        if empty or (self.can_flow(node) and self.chance(15)):
            return f"{head} {self.flow_node_bare(node, indent)}{self.trailing_comment()}\n"
        if isinstance(node, L):
            deeper = indent + (0 if not props and self.chance(50) else self.step)
            return f"{head}{self.trailing_comment()}\n" + self.block_seq(node, deeper)
        return f"{head}{self.trailing_comment()}\n" + self.block_map(node, indent + self.step)

    def flow_node_bare(self, node: M | L, indent: int) -> str:
        """A collection in flow style whose properties are already written."""
        return self.flow_node(node, indent, with_properties=False)

    def block_map(self, node: M, indent: int, inline: bool = False) -> str:
        """A block mapping whose keys sit at column ``indent``; with ``inline`` the first
        key follows text already on its line (``- ``)."""
        out = ""
        pairs: list[tuple[str, Node]] = []
        if node.merges:
            if len(node.merges) == 1:
                pairs.append(("<<", A(node.merges[0])))
            else:
                pairs.append(("<<", L([A(name) for name in node.merges])))
        pairs.extend(node.pairs)
        for position, (key, value) in enumerate(pairs):
            first = inline and position == 0
            if not first:
                out += self.comment_lines(indent)
            pad = "" if first else " " * indent
            key_text = self.key(key, flow=False)
            if key != "<<" and not isinstance(value, A) and self.chance(6):
                # An explicit key: ``? key`` then ``: value`` on the next line.
                out += f"{pad}? {key_text}{self.trailing_comment()}\n{' ' * indent}:"
                out += self.value_after_key(value, indent)
                continue
            if isinstance(value, L) and key == "<<":
                out += f"{pad}<<: [{', '.join('*' + a.name for a in value.items)}]\n"  # type: ignore[union-attr]
                continue
            out += f"{pad}{key_text}:" + self.value_after_key(value, indent)
        return out

    def block_seq(self, node: L, indent: int) -> str:
        out = ""
        for item in node.items:
            out += self.comment_lines(indent)
            self.block_tail = False
            pad = " " * indent
            if isinstance(item, A):
                out += f"{pad}- *{item.name}{self.trailing_comment()}\n"
                continue
            props = self.properties(item, isinstance(item, S))
            head = " ".join(props)
            if isinstance(item, S):
                if item.block and self.chance(item.block):
                    block = self.block_scalar(item, indent)
                    if block is not None:
                        out += f"{pad}- {head + ' ' if head else ''}{block}"
                        self.block_tail = True
                        continue
                text = self.flow_scalar(item, False, indent + 2)
                out += f"{pad}- {head + ' ' if head else ''}{text}{self.trailing_comment()}\n"
                continue
            empty = (isinstance(item, M) and not item.pairs and not item.merges) or (
                isinstance(item, L) and not item.items
            )
            if empty or (self.can_flow(item) and self.chance(12)):
                flow = self.flow_node_bare(item, indent)
                out += f"{pad}- {head + ' ' if head else ''}{flow}{self.trailing_comment()}\n"
                continue
            if head or self.chance(10):
                # The collection starts on the next line.
                out += f"{pad}-{' ' + head if head else ''}{self.trailing_comment()}\n"
                if isinstance(item, M):
                    out += self.block_map(item, indent + 2)
                else:
                    out += self.block_seq(item, indent + 2)
                continue
            if isinstance(item, M):
                out += f"{pad}- " + self.block_map(item, indent + 2, inline=True)
            else:
                out += f"{pad}- " + self.block_seq(item, indent + 2)[indent + 2 :]
        return out

    # -- documents -----------------------------------------------------------------------
    def document(self, doc: Doc, first: bool, previous_ended: bool) -> tuple[str, bool]:
        """One document's text (with its ``---`` when needed); True when it ends with ``...``."""
        out = ""
        directive = previous_ended or first
        if directive and self.chance(5):
            out += self.pick(["%YAML 1.2\n", "%TAG !e! tag:example.com,2000:\n"])
            marker = True
        else:
            marker = not first or self.chance(30)
        out += self.comment_lines(0)
        root = doc.root
        if marker:
            out += "---"
            if self.can_flow(root) and self.chance(5):
                out += " " + self.flow_node(root, 0) + self.trailing_comment() + "\n"
                root = None  # type: ignore[assignment]
            else:
                out += self.trailing_comment() + "\n"
        if root is not None:
            out += self.comment_lines(0)
            if isinstance(root, M):
                props = self.properties(root, False)
                if props:
                    out += " ".join(props) + "\n"
                out += self.block_map(root, 0)
            else:
                out += self.block_seq(root, 0)
        ended = self.chance(8)
        if ended:
            out += "..." + self.trailing_comment() + "\n"
            self.block_tail = False
        return out, ended


def write_file(draw: st.DrawFn, gen: GenFile, dress: bool = True) -> GenFile:
    """Give ``gen`` its text; with ``dress``, also a line ending and maybe a BOM."""
    writer = Writer(draw, draw(st.sampled_from([2, 4, 3])))
    out = ""
    ended = False
    for position, doc in enumerate(gen.docs):
        text, ended = writer.document(doc, position == 0, ended)
        out += text
    out += writer.comment_lines(0)
    if not writer.block_tail and out.endswith("\n") and writer.chance(10):
        out = out[:-1]
    gen.text = out
    if dress:
        gen.newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        gen.bom = writer.chance(8)
    return gen


# ---------------------------------------------------------------------------------------
# Builders: manifest-shaped models holding the target's references among others
# ---------------------------------------------------------------------------------------


class Builder:
    """Builds document models for one target repository."""

    def __init__(self, draw: st.DrawFn, target: str) -> None:
        self.draw = draw
        self.target = target
        self.base_count = 0

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def name(self, target_share: int = 60) -> str:
        if self.chance(target_share):
            return self.pick(SPELLINGS[self.target])
        return self.pick(OTHERS)

    def tag_scalar(self) -> S:
        tag = self.pick(TAGS)
        typed = tag in TYPED_TAGS and self.chance(40)
        return S(tag, typed=typed)

    def ref(self, name: str | None = None) -> str:
        name = name or self.name()
        tag = self.pick([*PLAIN_TAGS, "1.20", "0X1F", "yes", None])
        digest = self.pick([None, None, DIGEST_OLD])
        return format_ref(name, tag, digest)

    def notes(self) -> S:
        """Free text that may be a block scalar (kept, clipped or stripped)."""
        lines = self.draw(
            st.lists(
                st.sampled_from(
                    [
                        "hello",
                        "  indented",
                        "key: value # not a comment",
                        "- item",
                        "",
                        "   ",
                        "ünï ✓ 🚀",
                        "image: ghcr.io/acme/app:1.0.0",
                        "tag: 9",
                    ]
                ),
                min_size=1,
                max_size=4,
            )
        )
        trailing = self.pick(["\n", "", "\n\n", "\n   \n", "\n\n\n", "\n  \n\n"])
        text = "\n".join(lines) + trailing
        if not text.strip():
            text = "hello" + trailing
        return S(text, block=40, shareable=False)

    def data_string(self) -> S:
        return S(
            self.pick(
                [
                    "plain words",
                    "Grüße ✓ 🚀",
                    "a\tb",
                    "quote ' and \" both",
                    "line\nbreak",
                    "x\u2028y",
                    "NEL\x85PS\u2029",
                    "{{ .Values.image }}",
                    f"{self.target}:0.0.1",
                    "1.20",
                    "",
                    "#not-comment",
                    "- not a list",
                ]
            )
        )

    # -- shapes --------------------------------------------------------------------------
    def container(self) -> M:
        name = self.name()
        image = S(
            self.ref(name), must="image" if canonical(name) == canonical(self.target) else None
        )
        pairs: list[tuple[str, Node]] = [("name", S(self.pick(["app", "side-car", "init"])))]
        pairs.append(("image", image))
        if self.chance(30):
            pairs.append(("imagePullPolicy", S("IfNotPresent")))
        if self.chance(30):
            pairs.append(
                ("env", L([M([("name", S("IMAGE")), ("value", S(self.ref(self.target)))])]))
            )
        if self.chance(25):
            pairs.append(("args", L([S("--image"), S(self.ref(self.target))])))
        if self.chance(15):
            pairs.append(("command", L([S("sh"), S("-c"), self.notes()])))
        if self.chance(20):
            self.draw(st.randoms()).shuffle(pairs)
        return M(pairs)

    def workload(self) -> Doc:
        kind = self.pick(["Deployment", "StatefulSet", "DaemonSet", "Job", "Pod", "CronJob"])
        pod_spec = M(
            [("containers", L([self.container() for _ in range(self.draw(st.integers(1, 3)))]))]
        )
        if self.chance(30):
            pod_spec.pairs.insert(0, ("initContainers", L([self.container()])))
        metadata = M([("name", S("web"))])
        if self.chance(40):
            metadata.pairs.append(("labels", M([("app", S("web")), ("image", S(self.target))])))
        if self.chance(40):
            metadata.pairs.append(
                ("annotations", M([("image", S(self.ref(self.target))), ("note", self.notes())]))
            )
        template = M([("metadata", M([("labels", M([("app", S("web"))]))])), ("spec", pod_spec)])
        if kind == "Pod":
            spec = pod_spec
        elif kind == "CronJob":
            spec = M(
                [
                    ("schedule", S("*/5 * * * *")),
                    ("jobTemplate", M([("spec", M([("template", template)]))])),
                ]
            )
        else:
            spec = M([("replicas", S("2", typed=True)), ("template", template)])
        api = "apps/v1" if kind not in ("Pod", "Job", "CronJob") else "batch/v1"
        pairs: list[tuple[str, Node]] = [
            ("apiVersion", S("v1" if kind == "Pod" else api, shareable=False)),
            ("kind", S(kind, shareable=False)),
            ("metadata", metadata),
            ("spec", spec),
        ]
        if self.chance(15):
            status = M([("image", S(self.ref(self.target))), ("imageID", S(DIGEST_OTHER))])
            pairs.append(("status", M([("containerStatuses", L([status]))])))
        return Doc(M(pairs))

    def helm_map(self, name: str | None = None, merged: list[str] | None = None) -> M:
        """A Helm image map: repository (+registry) or registry+image, tag, digest."""
        name = name or self.name()
        variant = self.pick(["repository", "registry+repository", "registry+image"])
        pairs: list[tuple[str, Node]] = []
        domain, _, path = name.partition("/")
        split = "/" in name and ("." in domain or ":" in domain)
        if variant != "repository" and split:
            pairs.append(("registry", S(domain)))
            pairs.append(("image" if variant == "registry+image" else "repository", S(path)))
        else:
            pairs.append(("repository", S(name)))
        if merged is None or self.chance(60):
            tag_form = self.pick(["tag", "tag", "empty", "null", "missing"])
            if tag_form == "tag":
                pairs.append(("tag", self.tag_scalar()))
            elif tag_form == "empty":
                pairs.append(("tag", S("")))
            elif tag_form == "null":
                pairs.append(("tag", S(None)))
            elif variant == "registry+image" and split:
                pairs.append(("tag", S("")))
        if self.chance(30):
            pairs.append(("digest", S(self.pick([DIGEST_OLD, ""]))))
        if self.chance(30):
            pairs.append(("pullPolicy", S("IfNotPresent")))
        if self.chance(40):
            pairs.append((self.pick(["notes", "description"]), self.notes()))
        if self.chance(15):
            self.draw(st.randoms()).shuffle(pairs)
        must = "helm" if canonical(name) == canonical(self.target) else None
        return M(pairs, merges=merged or [], must=must)

    def helm_values(self) -> Doc:
        pairs: list[tuple[str, Node]] = []
        merging: list[tuple[str, Node]] = []
        if self.chance(30):
            self.base_count += 1
            base = f"base{self.base_count}"
            base_map = self.helm_map()
            base_map.anchor = base
            # Other maps read the base through ``<<``: what bumping it means is a rule
            # of its own (10), so the base alone is no plain reference.
            base_map.must = None
            merging.append(("defaults", base_map))
            for key in ("web", "worker")[: self.draw(st.integers(1, 2))]:
                merged = self.helm_map(merged=[base])
                if self.chance(50):
                    merged.pairs = [
                        p for p in merged.pairs if p[0] not in ("repository", "registry", "image")
                    ]
                # A map that overrides the tag is a reference with that tag (whose name
                # may come from the base: ``must_violations`` reads it from the data).
                has_tag = any(k == "tag" for k, _ in merged.pairs)
                merged.must = "helm" if has_tag else None
                merging.append((key, M([("image", merged)])))
        pairs.append(("image", self.helm_map()))
        if self.chance(40):
            name = self.name()
            must = "image" if canonical(name) == canonical(self.target) else None
            pairs.append(("sidecar", M([("image", S(self.ref(name), must=must))])))
        if self.chance(30):
            pairs.append(("replicaCount", S("2", typed=True)))
        if self.chance(30):
            pairs.append(("podAnnotations", M([("image", S(self.ref(self.target)))])))
        if self.chance(30):
            pairs.append(("extraEnv", L([M([("name", S("X")), ("value", self.data_string())])])))
        if self.chance(20):
            pairs.append(("global", M([("image", M([("registry", S("ghcr.io"))]))])))
        if self.chance(20):
            self.draw(st.randoms()).shuffle(pairs)
        return Doc(M(merging + pairs))

    def kustomize_entry(self) -> M:
        name = self.name(50)
        pairs: list[tuple[str, Node]] = [("name", S(name))]
        matched = name
        if self.chance(25):
            matched = self.name(70)
            pairs.append(("newName", S(matched)))
        if self.chance(70):
            pairs.append(("newTag", self.tag_scalar()))
        if self.chance(30):
            pairs.append(("digest", S(DIGEST_OLD)))
        if self.chance(15):
            self.draw(st.randoms()).shuffle(pairs)
        must = "kustomize" if canonical(matched) == canonical(self.target) else None
        return M(pairs, must=must)

    def kustomization(self) -> Doc:
        pairs: list[tuple[str, Node]] = []
        if self.chance(70):
            pairs.append(("apiVersion", S("kustomize.config.k8s.io/v1beta1")))
            pairs.append(("kind", S("Kustomization")))
        pairs.append(("resources", L([S("deploy.yaml")])))
        pairs.append(
            ("images", L([self.kustomize_entry() for _ in range(self.draw(st.integers(1, 3)))]))
        )
        if self.chance(30):
            pairs.append(("commonLabels", M([("image", S(self.target))])))
        return Doc(M(pairs))

    def argocd(self) -> Doc:
        items: list[Node] = []
        for _ in range(self.draw(st.integers(1, 3))):
            name = self.name()
            alias = self.pick(["", "app=", "web="])
            must = "argo" if canonical(name) == canonical(self.target) else None
            items.append(S(alias + self.ref(name), block=40, must=must))
        source = M(
            [
                ("repoURL", S("https://git.example.com/acme/deploy.git")),
                ("path", S("overlays/prod")),
                ("kustomize", M([("images", L(items))])),
            ]
        )
        spec = M([("project", S("default")), ("source", source)])
        return Doc(
            M(
                [
                    ("apiVersion", S("argoproj.io/v1alpha1")),
                    ("kind", S("Application")),
                    ("metadata", M([("name", S("web"))])),
                    ("spec", spec),
                ]
            )
        )

    def compose(self) -> Doc:
        services = []
        for index in range(self.draw(st.integers(1, 2))):
            name = self.name()
            must = "image" if canonical(name) == canonical(self.target) else None
            service: list[tuple[str, Node]] = [("image", S(self.ref(name), must=must))]
            if self.chance(40):
                service.append(("environment", L([S(f"IMAGE={self.ref(self.target)}")])))
            services.append((f"svc{index}", M(service)))
        return Doc(M([("services", M(services))]))

    def never_edited(self) -> Doc:
        """Kubernetes documents whose strings are never references to bump."""
        kind = self.pick(["ConfigMap", "ImageRepository", "Secret"])
        if kind == "ConfigMap":
            data = M([("image", S(self.ref(self.target))), ("values.yaml", self.helm_text())])
            return Doc(M([("apiVersion", S("v1")), ("kind", S(kind)), ("data", data)]))
        if kind == "Secret":
            data = M([("image", S(self.ref(self.target)))])
            return Doc(M([("apiVersion", S("v1")), ("kind", S(kind)), ("stringData", data)]))
        spec = M([("image", S(self.target)), ("interval", S("5m"))])
        return Doc(
            M(
                [
                    ("apiVersion", S("image.toolkit.fluxcd.io/v1beta2")),
                    ("kind", S(kind)),
                    ("metadata", M([("name", S("app"))])),
                    ("spec", spec),
                ]
            )
        )

    def workflow(self) -> Doc:
        """A GitHub workflow: its ``with:`` maps look like image maps but are not."""
        checkout = M(
            [
                ("uses", S("actions/checkout@v4")),
                ("with", M([("repository", S(self.target)), ("ref", S("main"))])),
            ]
        )
        bumper = M(
            [
                ("uses", S("acme/bumper@v1")),
                ("with", M([("image", S(self.ref(self.target))), ("paths", S("k8s/"))])),
            ]
        )
        steps = L([checkout, bumper])
        jobs = M([("build", M([("runs-on", S("ubuntu-latest")), ("steps", steps)]))])
        return Doc(M([("on", M([("push", M([]))])), ("jobs", jobs)]))

    def helm_text(self) -> S:
        return S(f"image:\n  repository: {self.target}\n  tag: 1.0.0\n", block=40, shareable=False)


# ---------------------------------------------------------------------------------------
# The hostile anchor pass: anchors (often redefined), aliases to them, in document order
# ---------------------------------------------------------------------------------------

ANCHOR_POOL = ["a", "b"]


def share(draw: st.DrawFn, doc: Doc, percent: int) -> None:
    """Anchor some values (reusing names, so anchors get redefined) and replace some
    later values with aliases to what is defined at that point. A shared reference is
    no longer a plain ``must``: the rules for shared values decide what happens."""
    if percent == 0:
        return
    defined: dict[str, Node] = {}
    tainted: set[str] = set()  # anchored maps (merge bases) with a shared slot

    def roll(p: int) -> bool:
        return draw(st.integers(0, 99)) >= 100 - p

    def visit(node: Node) -> Node:
        if isinstance(node, A):
            return node
        if isinstance(node, S):
            if node.shareable and node.anchor is None and roll(percent):
                pool = [n for n, d in defined.items() if isinstance(d, S)]
                if pool:
                    return A(draw(st.sampled_from(pool)))
            if node.shareable and node.anchor is None and roll(percent):
                node.anchor = draw(st.sampled_from(ANCHOR_POOL))
                node.must = None
            if node.anchor:
                defined[node.anchor] = node
            return node
        if node.anchor:
            defined[node.anchor] = node
        if isinstance(node, M) and any(name in tainted for name in node.merges):
            node.must = None
        if isinstance(node, L):
            node.items = [visit(item) for item in node.items]
        else:
            new_pairs = []
            for key, value in node.pairs:
                # What a document is stays plain: sharing its kind would change the rules.
                new_value = value if key in ("kind", "apiVersion") else visit(value)
                if new_value is not value and node.must:
                    node.must = None  # a slot of a Helm map or kustomize entry is shared
                if isinstance(new_value, S) and new_value.anchor and node.must:
                    node.must = None
                new_pairs.append((key, new_value))
            node.pairs = new_pairs
            if node.anchor and node.must is None:
                tainted.add(node.anchor)
        return node

    visit(doc.root)


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------

BUILDERS = ["workload", "helm_values", "compose", "argocd", "never_edited"]


@st.composite
def gen_files(
    draw: st.DrawFn,
    target: str,
    *,
    max_files: int = 3,
    max_docs: int = 3,
    sharing: int = 6,
    dress: bool = True,
    ci_files: bool = False,
) -> list[GenFile]:
    """A small tree of manifest files for ``target`` (names relative to the tree);
    ``ci_files`` adds GitHub workflows a walk must leave alone (they are refused when
    named, so not for comparing a walk with named files)."""
    builder = Builder(draw, target)
    files: list[GenFile] = []
    names = [
        "deploy.yaml",
        "values.yaml",
        "app.yml",
        "sub/kustomization.yaml",
        "kustomization.yaml",
    ]
    if ci_files:
        names += [".github/workflows/release.yml", "ci.yml"]
    count = draw(st.integers(1, max_files))
    for name in draw(st.lists(st.sampled_from(names), min_size=count, max_size=count, unique=True)):
        if name.endswith("kustomization.yaml"):
            docs = [builder.kustomization()]
        elif name in (".github/workflows/release.yml", "ci.yml"):
            docs = [builder.workflow()]
        else:
            docs = []
            for _ in range(draw(st.integers(1, max_docs))):
                docs.append(getattr(builder, draw(st.sampled_from(BUILDERS)))())
        for doc in docs:
            share(draw, doc, sharing)
        files.append(write_file(draw, GenFile(name, docs), dress))
    return files


@st.composite
def targets(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(list(SPELLINGS)))


def check_generated(gen: GenFile) -> dict[str, list[Any]]:
    """Prove the generator: each loader reads ``gen``'s text as the model's data.

    Returns the loaded data per loader; PyYAML is left out when libyaml refuses a text
    YAML 1.2 allows (a ':' inside a plain scalar of a flow collection).
    """
    text = gen.data().decode("utf-8-sig")
    loaded: dict[str, list[Any]] = {}
    for name, loader in LOADERS.items():
        try:
            data = loader(text)
        except LoadError as error:
            # libyaml refuses a ':' inside a plain scalar of a flow collection, ruamel's
            # pure scanner some tabs that YAML 1.2 allows as separation in flow context.
            if name == "pyyaml" or (r"'\t'" in str(error) and "pyyaml" in loaded):
                continue
            raise AssertionError(f"GENERATOR made invalid YAML ({error}):\n{text}") from None
        expected = expand(gen.docs, name).data
        assert data == expected, f"GENERATOR: {name} reads\n{data}\nnot\n{expected}\nfrom\n{text}"
        loaded[name] = data
    return loaded


def draw_case(
    data: st.DataObject, **options: Any
) -> tuple[list[GenFile], Bump, dict[str, dict[str, list[Any]]]]:
    """A target, files naming it (``gen_files`` options), a bump, and what each file
    loads to (checked to be its model in both loaders)."""
    target = data.draw(targets(), label="target")
    files = data.draw(gen_files(target, **options), label="files")
    bump = data.draw(bumps(target), label="bump")
    return files, bump, {gen.name: check_generated(gen) for gen in files}


# ---------------------------------------------------------------------------------------
# Running the engine
# ---------------------------------------------------------------------------------------


@contextmanager
def tree(files: list[GenFile]) -> Iterator[Path]:
    """A temporary folder holding ``files`` (outside any git work tree)."""
    with tempfile.TemporaryDirectory(prefix="bumper-fuzz-") as name:
        root = Path(name)
        for gen in files:
            path = root / gen.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gen.data())
        yield root


@dataclass
class Outcome:
    """What a plan did, in a form two runs can be compared by: ``changes`` and
    ``skips`` as tuples keyed by file path relative to the tree, new bytes per file."""

    error: str | None
    changes: list[tuple[Any, ...]]
    skips: list[tuple[Any, ...]]
    problems: list[tuple[Any, ...]]
    written: dict[str, bytes]

    def without_positions(self) -> Outcome:
        return Outcome(
            self.error,
            [c[:1] + c[3:] for c in self.changes],
            [s[:1] + s[3:] for s in self.skips],
            self.problems,
            self.written,
        )


def relative(path: str, root: Path) -> str:
    """``path`` relative to the tree ``root`` (as the generated files are named)."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def run_plan(bump: Bump, root: Path, paths: list[Path]) -> Outcome:
    """Plan ``bump`` over ``paths`` (downgrades allowed, a missing reference accepted)."""
    try:
        plan: Plan = plan_set_image(bump.argument, paths, allow_downgrade=True, allow_missing=True)
    except BumperError as error:
        message = str(error).replace(str(root.resolve()) + "/", "").replace(str(root) + "/", "")
        return Outcome(message, [], [], [], {})
    except Exception as error:  # a crash: users would see a traceback
        return Outcome(f"CRASH {type(error).__name__}: {error}", [], [], [], {})
    changes = sorted(
        (relative(str(f.source.path), root), c.line, c.column, c.shape, c.name, c.old, c.new)
        for f in plan.files
        for c in f.changes
    )
    skips = sorted(
        (
            relative(str(f.source.path), root),
            s.line,
            s.column,
            s.shape,
            s.name,
            s.current,
            s.reason,
        )
        for f in plan.files
        for s in f.skips
    )
    problems = sorted((relative(p.path, root), p.line, p.column, p.message) for p in plan.problems)
    written = {relative(str(f.source.path), root): f.new_bytes() for f in plan.files if f.changed}
    return Outcome(None, changes, skips, problems, written)


def walked(bump: Bump, root: Path) -> Outcome:
    return run_plan(bump, root, [root])


def named(bump: Bump, root: Path, files: list[GenFile]) -> Outcome:
    return run_plan(bump, root, [root / gen.name for gen in files])


@contextmanager
def pure_parser() -> Iterator[None]:
    """Force the engine onto its fallback parser (ruamel's pure Python one) by making
    the libyaml path fail, as it does for inputs libyaml refuses."""

    def refuse(*_: object) -> list[yamltext.Document]:
        raise RuntimeError("libyaml unavailable (forced by the fuzzer)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamltext, "_parse_c", refuse)
        yield


def assert_no_internal_error(outcome: Outcome, context: str) -> None:
    """Valid input never ends in "internal error" nor in a crash."""
    error = outcome.error or ""
    assert "internal error" not in error and not error.startswith("CRASH"), f"{error}\n{context}"


def show(files: list[GenFile]) -> str:
    """The generated files, for a failure message."""
    return "\n".join(f"--- {gen.name}: {gen.data()!r}" for gen in files)


# ---------------------------------------------------------------------------------------
# The semantic oracle: what may change in the loaded data, and to what
# ---------------------------------------------------------------------------------------

PROTECTED_KEYS = frozenset(
    {
        "metadata",
        "annotations",
        "labels",
        "env",
        "envFrom",
        "environment",
        "args",
        "command",
        "status",
        "data",
        "stringData",
    }
)
NEVER_KINDS = frozenset(
    {
        "ConfigMap",
        "Secret",
        "CustomResourceDefinition",
        "ImageRepository",
        "ImagePolicy",
        "ImageUpdateAutomation",
    }
)


def _protected(key: Any) -> bool:
    return isinstance(key, str) and (
        key in PROTECTED_KEYS or key.endswith(("Annotations", "Labels"))
    )


def _is_target(name: Any, bump: Bump) -> bool:
    return isinstance(name, str) and canonical(name) == canonical(bump.match)


def _never(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if doc.get("kind") in NEVER_KINDS:
        return True
    return "jobs" in doc and ("on" in doc or True in doc)


def _helm_name(mapping: dict[Any, Any]) -> str | None:
    """The image a Helm values map names (as the README defines such maps), else None."""
    repo = mapping.get("repository")
    if "repository" not in mapping and ("tag" in mapping or "digest" in mapping):
        repo = mapping.get("image")
    if not isinstance(repo, str) or not repo:
        return None
    registry = mapping.get("registry")
    return f"{registry}/{repo}" if isinstance(registry, str) and registry else repo


def semantic_violations(
    before: list[Any], after: list[Any], bump: Bump, filename: str
) -> list[str]:
    """Every change in the data that the bump must not make (empty when all is well)."""
    problems: list[str] = []
    if len(before) != len(after):
        return [f"{len(before)} documents became {len(after)}"]
    kustomization = filename.endswith("kustomization.yaml")
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if _never(old):
            if old != new:
                problems.append(f"doc {index}: a document that is never edited changed")
            continue
        kustom_doc = kustomization or (isinstance(old, dict) and old.get("kind") == "Kustomization")
        _compare(old, new, (index,), bump, problems, kustom_doc)
    return problems


def _compare(
    old: Any, new: Any, path: tuple[Any, ...], bump: Bump, out: list[str], kustom: bool
) -> None:
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: list length {len(old)} -> {len(new)}")
            return
        argo = path[-2:] == ("kustomize", "images")
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if argo and isinstance(a, str) and a != b:
                _check_argo(a, b, (*path, i), bump, out)
            elif kustom and path[-1:] == ("images",) and len(path) == 2 and isinstance(a, dict):
                _check_kustomize_entry(a, b, (*path, i), bump, out)
            else:
                _compare(a, b, (*path, i), bump, out, kustom)
        return
    if isinstance(old, dict) and isinstance(new, dict):
        if _helm_name(old) is not None and _is_target(_helm_name(old), bump):
            _check_helm(old, new, path, bump, out)
            return
        if set(old) != set(new):
            out.append(f"{path}: keys {sorted(map(str, old))} -> {sorted(map(str, new))}")
            return
        for key in old:
            if old[key] == new[key]:
                continue
            if _protected(key):
                out.append(
                    f"{(*path, key)}: a protected value changed: {old[key]!r} -> {new[key]!r}"
                )
            elif key == "image" and isinstance(old[key], str):
                _check_image(old[key], new[key], (*path, key), bump, out)
            else:
                _compare(old[key], new[key], (*path, key), bump, out, kustom)
        return
    if old != new:
        out.append(f"{path}: {old!r} -> {new!r} (not a reference to the target)")


def _check_image(old: str, new: Any, path: tuple[Any, ...], bump: Bump, out: list[str]) -> None:
    name, tag, digest = split_ref(old)
    if not _is_target(name, bump):
        out.append(f"{path}: another image changed: {old!r} -> {new!r}")
        return
    expected = format_ref(*bump.wanted(name, tag, digest))
    if new != expected:
        out.append(f"{path}: {old!r} -> {new!r}, expected {expected!r}")


def _check_argo(old: str, new: Any, path: tuple[Any, ...], bump: Bump, out: list[str]) -> None:
    alias, sep, image = old.rpartition("=")
    name, tag, digest = split_ref(image)
    if not _is_target(name, bump):
        out.append(f"{path}: another Argo CD image changed: {old!r} -> {new!r}")
        return
    expected = (alias + sep) + format_ref(*bump.wanted(name, tag, digest))
    if new != expected:
        out.append(f"{path}: {old!r} -> {new!r}, expected {expected!r}")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _wanted_options(
    bump: Bump, name: str, raw_tag: Any, digest: str | None
) -> list[tuple[str, str | None, str | None]]:
    """What a map's reference may become. A tag the loader read as a number or boolean
    (``1.20`` as 1.2) has lost its text, so both "it was the target tag" and "it was
    not" are possible."""
    if raw_tag is None or isinstance(raw_tag, str):
        return [bump.wanted(name, raw_tag or None, digest)]
    options = [bump.wanted(name, str(raw_tag), digest)]
    if bump.tag is not None:
        options.append(bump.wanted(name, bump.tag, digest))
    return options


def _slot_ok(got: Any, want: str | None) -> bool:
    """A tag/digest slot holds ``want`` (a string), or, for None, is absent/null/empty."""
    return got == want if want is not None else got is None or got == ""


def helm_problem(old: dict[Any, Any], new: Any, bump: Bump) -> str | None:
    """Why ``new`` is not what the bump makes of the Helm image map ``old``, or None."""
    if not isinstance(new, dict):
        return f"became {new!r}"
    changed = [k for k in set(old) | set(new) if old.get(k) != new.get(k)]
    if extra := [
        k for k in changed if k not in ("tag", "digest", "registry", "repository", "image")
    ]:
        return f"keys {sorted(map(str, extra))} changed"
    if removed := set(old) - set(new):
        return f"keys {sorted(map(str, removed))} removed"
    name = _helm_name(old)
    assert name is not None
    new_name = _helm_name(new)
    for want_name, want_tag, want_digest in _wanted_options(
        bump, name, old.get("tag"), _text(old.get("digest"))
    ):
        if (
            new_name is not None
            and canonical(new_name) == canonical(want_name)
            and _slot_ok(new.get("tag"), want_tag)
            and _slot_ok(new.get("digest"), want_digest)
        ):
            return None
    options = _wanted_options(bump, name, old.get("tag"), _text(old.get("digest")))
    return f"{old!r} -> {new!r}, expected one of {options!r}"


def kustomize_problem(old: dict[Any, Any], new: Any, bump: Bump) -> str | None:
    """Why ``new`` is not what the bump makes of the kustomize entry ``old``, or None."""
    if not isinstance(new, dict):
        return f"became {new!r}"
    matched = old.get("newName") if old.get("newName") is not None else old.get("name")
    # A rename of the base the entry builds from in the same change: the entry's name
    # follows it (bumper.edit.overlays; the kubectl fuzzer checks the render).
    follows = (
        bump.new_name is not None
        and isinstance(new.get("name"), str)
        and canonical(new["name"]) == canonical(bump.new_name)
    )
    if old.get("name") != new.get("name") and not follows:
        return f"name changed {old.get('name')!r} -> {new.get('name')!r}"
    changed = [k for k in set(old) | set(new) if old.get(k) != new.get(k)]
    if extra := [k for k in changed if k not in ("name", "newName", "newTag", "digest")]:
        return f"keys {sorted(map(str, extra))} changed"
    effective = new.get("newName") if new.get("newName") is not None else new.get("name")
    for want_name, want_tag, want_digest in _wanted_options(
        bump, matched, old.get("newTag"), _text(old.get("digest"))
    ):
        if (
            isinstance(effective, str)
            and canonical(effective) == canonical(want_name)
            and _slot_ok(new.get("newTag"), want_tag)
            and _slot_ok(new.get("digest"), want_digest)
        ):
            return None
    options = _wanted_options(bump, matched, old.get("newTag"), _text(old.get("digest")))
    return f"{old!r} -> {new!r}, expected one of {options!r}"


def _check_helm(
    old: dict[Any, Any], new: dict[Any, Any], path: tuple[Any, ...], bump: Bump, out: list[str]
) -> None:
    if old != new and (problem := helm_problem(old, new, bump)):
        out.append(f"{path}: Helm image map: {problem}")


def _check_kustomize_entry(
    old: Any, new: Any, path: tuple[Any, ...], bump: Bump, out: list[str]
) -> None:
    matched = old.get("newName") if old.get("newName") is not None else old.get("name")
    if not _is_target(matched, bump):
        if old != new:
            out.append(f"{path}: an entry for another image changed: {old!r} -> {new!r}")
        return
    if old != new and (problem := kustomize_problem(old, new, bump)):
        out.append(f"{path}: kustomize entry: {problem}")


def get_path(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def must_violations(expected: Expected, after: list[Any], bump: Bump) -> list[str]:
    """References to the target that share nothing through anchors and still are not
    what the bump wants: references the bump missed."""
    out: list[str] = []
    for index, path, kind in expected.musts:
        old = get_path(expected.data[index], path)
        try:
            new = get_path(after[index], path)
        except (KeyError, IndexError, TypeError):
            out.append(f"{(index, *path)}: gone after the bump")
            continue
        problem: str | None = None
        if kind == "image":
            want = format_ref(*bump.wanted(*split_ref(old)))
            problem = None if new == want else f"{old!r} -> {new!r}, expected {want!r}"
        elif kind == "argo":
            alias, sep, image = old.rpartition("=")
            want = alias + sep + format_ref(*bump.wanted(*split_ref(image)))
            problem = None if new == want else f"{old!r} -> {new!r}, expected {want!r}"
        elif kind == "helm":
            name = _helm_name(old)
            problem = helm_problem(old, new, bump) if name and _is_target(name, bump) else None
        else:
            problem = kustomize_problem(old, new, bump)
        if problem:
            out.append(f"missed {kind} reference at {(index, *path)}: {problem}")
    return out


# ---------------------------------------------------------------------------------------
# kustomize trees for the kubectl oracle
# ---------------------------------------------------------------------------------------

KUSTOMIZE_TARGETS = ["ghcr.io/acme/app", "acme/app"]
PLACEHOLDER = "app-base"  # a base's short image name that overlays rename


class KustomizeBuilder(Builder):
    """A base (a Deployment and its kustomization) and an overlay with ``images:``
    entries and inline patches, all naming the target or others."""

    def entry(self, name: str) -> M:
        pairs: list[tuple[str, Node]] = [("name", S(name))]
        if name == PLACEHOLDER:
            pairs.append(("newName", S(self.name(70))))
        if self.chance(70):
            pairs.append(("newTag", S(self.pick(TAGS))))
        if self.chance(30):
            pairs.append(("digest", S(DIGEST_OLD)))
        if len(pairs) == 1:
            pairs.append(("newTag", S(self.pick(PLAIN_TAGS))))
        if self.chance(15):
            self.draw(st.randoms()).shuffle(pairs)
        return M(pairs)

    def entries(self) -> L:
        names = self.draw(
            st.lists(
                st.sampled_from([*SPELLINGS[self.target], PLACEHOLDER, *OTHERS[:2]]),
                min_size=1,
                max_size=3,
                unique_by=lambda name: canonical(name) if name != PLACEHOLDER else name,
            )
        )
        return L([self.entry(name) for name in names])

    def deployment(self, images: list[str]) -> Doc:
        containers = L(
            [M([("name", S(f"c{i}")), ("image", S(image))]) for i, image in enumerate(images)]
        )
        spec = M(
            [
                ("replicas", S("2", typed=True)),
                ("selector", M([("matchLabels", M([("app", S("web"))]))])),
                (
                    "template",
                    M(
                        [
                            ("metadata", M([("labels", M([("app", S("web"))]))])),
                            ("spec", M([("containers", containers)])),
                        ]
                    ),
                ),
            ]
        )
        return Doc(
            M(
                [
                    ("apiVersion", S("apps/v1", shareable=False)),
                    ("kind", S("Deployment", shareable=False)),
                    ("metadata", M([("name", S("web"))])),
                    ("spec", spec),
                ]
            )
        )

    def patch(self, count: int) -> M:
        """An inline patch that pins one container's image."""
        index = self.draw(st.integers(0, count - 1))
        image = self.ref(self.pick(SPELLINGS[self.target]))
        if self.chance(50):
            text = (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
                "  template:\n    spec:\n      containers:\n"
                f"      - name: c{index}\n        image: {image}\n"
            )
            return M([("patch", S(text, block=85, shareable=False))])
        text = (
            f"- op: replace\n  path: /spec/template/spec/containers/{index}/image\n"
            f"  value: {image}\n"
        )
        target = M([("kind", S("Deployment")), ("name", S("web"))])
        return M([("target", target), ("patch", S(text, block=85, shareable=False))])

    def tree(self) -> list[GenFile]:
        count = self.draw(st.integers(1, 3))
        images = [
            self.ref(self.pick([*SPELLINGS[self.target], PLACEHOLDER, OTHERS[0]]))
            for _ in range(count)
        ]
        base: list[tuple[str, Node]] = [("resources", L([S("deploy.yaml")]))]
        if self.chance(30):
            base.append(("images", self.entries()))
        overlay: list[tuple[str, Node]] = [
            ("apiVersion", S("kustomize.config.k8s.io/v1beta1", shareable=False)),
            ("kind", S("Kustomization", shareable=False)),
            ("resources", L([S("../base")])),
        ]
        if self.chance(80):
            overlay.append(("images", self.entries()))
        if self.chance(40):
            overlay.append(("patches", L([self.patch(count)])))
        return [
            GenFile("base/deploy.yaml", [self.deployment(images)]),
            GenFile("base/kustomization.yaml", [Doc(M(base))]),
            GenFile("overlay/kustomization.yaml", [Doc(M(overlay))]),
        ]


@st.composite
def kustomize_trees(draw: st.DrawFn, target: str) -> list[GenFile]:
    """A base and an overlay, hostile in spelling (as kubectl still reads them)."""
    files = KustomizeBuilder(draw, target).tree()
    for gen in files:
        for doc in gen.docs:
            share(draw, doc, 3)
        write_file(draw, gen)
        # go-yaml reads no BOM; a file kubectl cannot read is no oracle.
        gen.bom = False
    return files


def render(root: Path) -> tuple[list[Any] | None, str]:
    """``kubectl kustomize overlay``: the rendered documents, or None and the error."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(root / "overlay")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        return None, result.stderr.strip()
    return load_pyyaml(result.stdout), ""


def rendered_images(docs: list[Any]) -> dict[tuple[Any, ...], str]:
    """Every container image of the rendered documents, by path."""
    found: dict[tuple[Any, ...], str] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str) and "containers" in path:
                    found[(*path, key)] = value
                else:
                    walk(value, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index))

    walk(docs, ())
    return found


def without_images(docs: list[Any]) -> list[Any]:
    """The rendered documents with container images blanked (for comparing the rest)."""

    def strip(node: Any, in_containers: bool) -> Any:
        if isinstance(node, dict):
            return {
                key: (
                    "<image>"
                    if key == "image" and in_containers
                    else strip(value, in_containers or key in ("containers", "initContainers"))
                )
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [strip(item, in_containers) for item in node]
        return node

    return [strip(doc, False) for doc in docs]


# ---------------------------------------------------------------------------------------
# The command line, as a separate process
# ---------------------------------------------------------------------------------------


def cli(
    args: list[str], cwd: Path, *, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m bumper ARGS`` in ``cwd`` (bytes out; TimeoutExpired when it hangs)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("BUMPER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "bumper", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str | None:
    """Why ``result``'s stderr is not what users are promised (never a traceback)."""
    err = result.stderr.decode("utf-8", "replace")
    if "Traceback" in err:
        return f"a traceback:\n{err}"
    if result.returncode not in (0, 1, 2):
        return f"exit {result.returncode}: {err}"
    return None


# ---------------------------------------------------------------------------------------
# Breaking a valid file
# ---------------------------------------------------------------------------------------

# Ways to make YAML invalid, each kept only when the YAML 1.2 loader refuses the result.
BREAKS = [
    "undefined alias",
    "unclosed double quote",
    "unclosed flow mapping",
    "tab indentation",
    "bad indentation",
    "NUL byte",
    "invalid UTF-8",
    "duplicate key",
]


def break_file(data: bytes, how: str, position: int) -> bytes:
    """``data`` broken ``how``, the damage near ``position`` (a line number)."""
    newline = (
        b"\r\n" if b"\r\n" in data else b"\r" if b"\r" in data and b"\n" not in data else b"\n"
    )
    lines = data.split(newline)
    at = position % (len(lines) + 1)
    bad = {
        "undefined alias": b"broken: *nowhere",
        "unclosed double quote": b'broken: "never closed',
        "unclosed flow mapping": b"broken: {a: b",
        "tab indentation": b"broken:" + newline + b"\tkey: value",
        "bad indentation": b"broken: value" + newline + b"   - item",
        "NUL byte": b"broken: a\x00b",
        "invalid UTF-8": b"broken: caf\xe9",
        "duplicate key": b"kind: A" + newline + b"kind: B",
    }[how]
    return newline.join([*lines[:at], bad, *lines[at:]])


def refused_by_yaml12(data: bytes) -> bool:
    """True when the YAML 1.2 loader refuses ``data`` (or it is not UTF-8 text)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return True
    try:
        load_ruamel(text)
    except LoadError:
        return True
    except Exception:
        return True  # ruamel raises other errors for some invalid input (e.g. duplicates)
    return False
