"""Plain scalars every loader reads as strings, and how to write a value so it stays one.

A tag written plain must load as a string in every YAML reader a GitOps pipeline runs:
go-yaml v3 (kustomize, Argo CD, Flux), go-yaml v2 through sigs.k8s.io/yaml (kubectl,
the API machinery), PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.1 and 1.2). A value any
of them would read as a number, boolean, null, timestamp or merge key is written
quoted. Over-quoting is harmless (a quoted scalar is a string everywhere); under-quoting
breaks deploys (kustomize: "cannot unmarshal number into newTag").
"""

from __future__ import annotations

import functools
import re

# PyYAML's implicit resolvers (yaml/resolver.py), YAML 1.1.
_PYYAML = re.compile(
    r"""(?x)^(?:
        yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      | [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
      | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
      | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
      | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
      | [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
      | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
      | << | ~|null|Null|NULL | =
      | [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
      | [0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?
    )$"""
)

# go-yaml's resolveMap: v2 (YAML 1.1 booleans, through sigs.k8s.io/yaml) and v3 together.
_GO_WORDS = frozenset(
    """y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF
    ~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF
    <<""".split()  # noqa: SIM905 (a word list reads better as words)
)
# strconv.ParseInt(s, 0, 64) / ParseUint after go-yaml removed every '_': sign, then a
# 0b/0o/0x prefix (either case), a leading 0 (octal) or decimal digits. Out-of-range
# values fail in Go but are quoted here all the same.
_GO_INT = re.compile(r"[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# parseTimestamp: four digits and '-' first, then one of time.Parse's layouts.
_GO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?"
    r"(?:Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


def _go_yaml_reads_non_string(value: str) -> bool:
    """go-yaml's resolve() for a plain scalar (v2 and v3), as far as a value can be
    anything but a string."""
    if value in _GO_WORDS or not value:
        return True
    hint = value[0]
    if hint in "0123456789+-":
        if _GO_TIMESTAMP.fullmatch(value):
            return True
        plain = value.replace("_", "")
        return bool(_GO_INT.fullmatch(plain) or _GO_FLOAT.fullmatch(plain))
    if hint == ".":
        return bool(_GO_FLOAT.fullmatch(value))
    return False


@functools.lru_cache(maxsize=1)
def _ruamel_resolvers() -> tuple[object, ...]:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2))


def _ruamel_reads_non_string(value: str) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    for resolver in _ruamel_resolvers():
        tag = str(resolver.resolve(ScalarNode, value, (True, False)))  # type: ignore[attr-defined]
        if not tag.endswith(":str"):
            return True
    return False


# Only these first characters can start a plain scalar that some loader does not read
# as a string; everything else skips the checks below.
_MAYBE_TYPED = frozenset("~nNyYtTfFoO0123456789+-.=<")


@functools.lru_cache(maxsize=1024)
def reads_as_non_string(value: str) -> bool:
    """True when ``value``, written as a plain scalar, would load as a number, boolean,
    null, timestamp or merge key in go-yaml, PyYAML or ruamel.yaml (YAML 1.1 or 1.2)."""
    if not value:
        return True
    if value[0] not in _MAYBE_TYPED:
        return False
    return (
        _go_yaml_reads_non_string(value)
        or bool(_PYYAML.match(value))
        or _ruamel_reads_non_string(value)
    )


_PLAIN_UNSAFE_START = set("-?:,[]{}#&*!|>'\"%@` \t")
_PLAIN_UNSAFE_INSIDE = re.compile(r"[\n\r\t\x85\u2028\u2029]|: | #|:$")
_FLOW_UNSAFE = re.compile(r"[,\[\]{}:]")


def needs_quotes(value: str, *, flow: bool = False) -> bool:
    """True when ``value`` written plain would not read back as this same string.

    ``flow``: inside ``{…}``/``[…]``, where ``,[]{}`` end a plain scalar and libyaml-based
    readers (PyYAML, older yq) refuse a ``:`` in one.
    """
    if reads_as_non_string(value):
        return True
    if value[0] in _PLAIN_UNSAFE_START and not (
        value[0] in "-?:" and len(value) > 1 and not value[1].isspace()
    ):
        return True
    if value[-1].isspace() or _PLAIN_UNSAFE_INSIDE.search(value):
        return True
    return bool(_FLOW_UNSAFE.search(value)) if flow else bool(re.search(r"[,\[\]{}]", value))


def render_scalar(value: str, style: str, *, flow: bool = False) -> str:
    """Write ``value`` in the given quote style; a plain value that would not read back
    as this string is written double-quoted."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or needs_quotes(value, flow=flow):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + escaped + '"'
    return value
