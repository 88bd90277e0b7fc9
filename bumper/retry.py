"""The one retry loop: attempt, and when the target moved under us, wait, re-read and
attempt again.

Every flow that lands a change (a git push, a commit through the GitHub API, a pull
request's branch, files on disk another run is writing) is a pure function of what
it reads: on a race it re-reads, re-plans on the new state and tries again, with
jittered exponential backoff so racing pipelines spread out. Each wait is announced in
one line on stderr (the ``bumper`` logger); nothing is ever forced.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from bumper.errors import BumperError

log = logging.getLogger("bumper")

T = TypeVar("T")


class Race(Exception):
    """The attempt lost a race (the branch moved, a file changed): re-read and retry.
    ``reason`` says what happened, for the announcement."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped,
    half of it random so that racing pipelines spread out."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def until_landed(
    attempt: Callable[[int], T],
    *,
    attempts: int,
    what: str,
    refresh: Callable[[], object] | None = None,
    base_delay: float = 0.1,
    max_delay: float = 5.0,
    give_up: str = "raise --max-attempts",
) -> T:
    """Call ``attempt(n)`` until it returns; a :class:`Race` waits, calls ``refresh``
    (re-read the target) and tries again, up to ``attempts`` times. ``what`` names the
    target in messages ("branch 'main' of acme/manifests")."""
    last = ""
    for number in range(1, attempts + 1):
        try:
            return attempt(number)
        except Race as race:
            last = race.reason
            if number == attempts:
                break
            delay = backoff(number, base_delay, max_delay)
            log.info(
                "%s: %s; re-planning in %.2fs (attempt %d of %d)",
                what, race.reason, delay, number + 1, attempts,
            )  # fmt: skip
            time.sleep(delay)
            if refresh is not None:
                refresh()
    raise BumperError(
        f"gave up after {attempts} attempts: {what} kept moving under concurrent "
        f"updates ({last}); {give_up}"
    )
