"""The delivery modes, registered in one place, and :func:`deliver`, which picks one.

Each mode is a function ``(bump, request, env) -> DeliveryResult`` in its own module;
adding a mode is that module and one line here (and its choice in
:func:`bumper.delivery.contract.mode_of`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bumper.delivery import apicommit, gitpush, pullrequest
from bumper.delivery.contract import Deliver, DeliveryRequest, DeliveryResult, mode_of

MODES: dict[str, Deliver] = {
    "commit": gitpush.commit_mode,
    "push": gitpush.push_mode,
    "api": apicommit.api_mode,
    "pull-request": pullrequest.pull_request_mode,
}


def deliver(
    bump: Any, request: DeliveryRequest, env: Mapping[str, str] | None = None
) -> DeliveryResult:
    """Land ``bump`` (a :data:`~bumper.delivery.contract.BumpFn`; pull requests also read
    its ``name``, ``images``, ``version`` and ``allow_downgrade``) as ``request`` says,
    with the same result whatever the mode. Raises BumperError with one clear line."""
    env = os.environ if env is None else env
    mode = mode_of(request)
    if mode is None:
        raise ValueError("the request delivers nothing: write the plan's files instead")
    return MODES[mode](bump, request, env)
