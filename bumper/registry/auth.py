"""``WWW-Authenticate`` challenges and the tokens they lead to.

A registry answers 401 with ``Bearer realm=…,service=…,scope=…`` (ask the realm for a
token for that scope) or ``Basic realm=…`` (send the username and password). Tokens are
cached per registry and scope until shortly before they expire.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?=\s|$|,)")
_PARAM = re.compile(rf'\s*,?\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))')

# Docker's default when the token answer has no expires_in.
DEFAULT_TOKEN_SECONDS = 60
EXPIRY_MARGIN = 10


@dataclass(frozen=True)
class Challenge:
    """One challenge: ``scheme`` lowercased (``bearer``, ``basic``) and its parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value (quoted values may hold commas)."""
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            break
        position = scheme.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(header, position)
            # A bare token after a comma is the next challenge's scheme, not a parameter.
            if param is None:
                break
            key, quoted, plain = param.groups()
            params[key.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
            position = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def pick_challenge(header: str | None) -> Challenge | None:
    """The challenge to answer: Bearer when offered, else Basic, else None."""
    challenges = parse_challenges(header or "")
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


@dataclass
class _Token:
    value: str
    expires: float


class TokenCache:
    """Bearer tokens per (registry host, scope); each is fetched once even when many
    threads ask at the same time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._clock = clock

    def get(self, host: str, scope: str) -> str | None:
        """A cached token that is still valid, else None."""
        token = self._tokens.get((host, scope))
        if token is not None and token.expires > self._clock():
            return token.value
        return None

    def fetch(self, host: str, scope: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """The cached token, or a new one from ``fetch() -> (token, expires_in)``."""
        with self._guard:
            lock = self._locks.setdefault((host, scope), threading.Lock())
        with lock:
            cached = self.get(host, scope)
            if cached is not None:
                return cached
            value, seconds = fetch()
            lifetime = max(seconds - EXPIRY_MARGIN, 1) if seconds > EXPIRY_MARGIN else seconds
            self._tokens[(host, scope)] = _Token(value, self._clock() + lifetime)
            return value

    def forget(self, host: str, scope: str) -> None:
        """Drop a token the registry refused (revoked or expired early)."""
        with self._guard:
            self._tokens.pop((host, scope), None)
