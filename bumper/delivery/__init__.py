"""Delivery: land a planned change in git, race-safely, without starting workflows again.

:func:`deliver` is the one entry point: it picks the mode a request asks for from the
registry (:data:`~bumper.delivery.contract.MODES`) and returns the same
:class:`~bumper.delivery.contract.DeliveryResult` whatever the mode. Each mode lives in
its own module and registers itself: ``gitpush`` (commit, push), ``apicommit`` (api),
``pullrequest`` (pull-request).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bumper.delivery import apicommit, gitpush, pullrequest  # noqa: F401 (they register)
from bumper.delivery.contract import MODES, DeliveryRequest, DeliveryResult, mode_of


def deliver(
    bump: Any, request: DeliveryRequest, env: Mapping[str, str] | None = None
) -> DeliveryResult:
    """Land ``bump`` (a :data:`~bumper.delivery.contract.BumpFn`; pull requests also read
    its ``name``, ``images``, ``version`` and ``allow_downgrade``) as ``request`` says.
    Raises BumperError with one clear line."""
    env = os.environ if env is None else env
    mode = mode_of(request)
    if mode is None:
        raise ValueError("the request delivers nothing: write the plan's files instead")
    return MODES[mode](bump, request, env)
