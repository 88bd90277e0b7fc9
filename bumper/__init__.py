"""bumper: GitOps image bumps that change one line per reference and nothing else.

The library API, the same steps the CLI and the Action run (imported lazily, so that
``import bumper`` and the CLI's start-up stay cheap):

- plan (pure): :func:`plan_set_image`, :func:`plan_images` → :class:`Plan` (``.changes``,
  ``.skips``, ``.diff()``, ``.apply()``); :func:`list_images` → every reference;
- build: :func:`build_and_push` (:class:`BuildOptions` → :class:`BuildResult`);
- registry: :class:`RegistryClient`, :func:`resolve_digest`, :func:`check_exists`;
- deliver: :func:`deliver` (:class:`DeliveryRequest` → :class:`DeliveryResult`);
- the whole release: :func:`release` (:class:`ReleaseRequest` → :class:`ReleaseResult`),
  and the lifecycle: :func:`promote_request`, :func:`rollback_request`, :func:`history`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bumper.build.engine import build_and_push
    from bumper.build.options import BuildOptions, BuildResult
    from bumper.delivery.contract import (
        DeliverOptions,
        DeliveryRequest,
        DeliveryResult,
        PullRequestOptions,
    )
    from bumper.delivery.modes import deliver
    from bumper.edit.inventory import list_images
    from bumper.edit.plan import Plan, plan_images, plan_set_image
    from bumper.edit.reference import Reference, parse_reference
    from bumper.errors import BumperError
    from bumper.lifecycle import history, promote_request, rollback_request
    from bumper.pipeline import PlanOptions, ReleaseRequest, ReleaseResult
    from bumper.pipeline import run as release
    from bumper.registry.client import RegistryClient, check_exists, resolve_digest

_LAZY = {
    "BumperError": ("bumper.errors", "BumperError"),
    "Plan": ("bumper.edit.plan", "Plan"),
    "plan_set_image": ("bumper.edit.plan", "plan_set_image"),
    "plan_images": ("bumper.edit.plan", "plan_images"),
    "list_images": ("bumper.edit.inventory", "list_images"),
    "Reference": ("bumper.edit.reference", "Reference"),
    "parse_reference": ("bumper.edit.reference", "parse_reference"),
    "BuildOptions": ("bumper.build.options", "BuildOptions"),
    "BuildResult": ("bumper.build.options", "BuildResult"),
    "build_and_push": ("bumper.build.engine", "build_and_push"),
    "RegistryClient": ("bumper.registry.client", "RegistryClient"),
    "resolve_digest": ("bumper.registry.client", "resolve_digest"),
    "check_exists": ("bumper.registry.client", "check_exists"),
    "DeliverOptions": ("bumper.delivery.contract", "DeliverOptions"),
    "DeliveryRequest": ("bumper.delivery.contract", "DeliveryRequest"),
    "DeliveryResult": ("bumper.delivery.contract", "DeliveryResult"),
    "PullRequestOptions": ("bumper.delivery.contract", "PullRequestOptions"),
    "deliver": ("bumper.delivery.modes", "deliver"),
    "PlanOptions": ("bumper.pipeline", "PlanOptions"),
    "ReleaseRequest": ("bumper.pipeline", "ReleaseRequest"),
    "ReleaseResult": ("bumper.pipeline", "ReleaseResult"),
    "release": ("bumper.pipeline", "run"),
    "history": ("bumper.lifecycle", "history"),
    "promote_request": ("bumper.lifecycle", "promote_request"),
    "rollback_request": ("bumper.lifecycle", "rollback_request"),
}

__all__ = [
    "BuildOptions",
    "BuildResult",
    "BumperError",
    "DeliverOptions",
    "DeliveryRequest",
    "DeliveryResult",
    "Plan",
    "PlanOptions",
    "PullRequestOptions",
    "Reference",
    "RegistryClient",
    "ReleaseRequest",
    "ReleaseResult",
    "__version__",
    "build_and_push",
    "check_exists",
    "deliver",
    "history",
    "list_images",
    "parse_reference",
    "plan_images",
    "plan_set_image",
    "promote_request",
    "release",
    "resolve_digest",
    "rollback_request",
]


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'bumper' has no attribute {name!r}")
    import importlib

    module, attribute = found
    return getattr(importlib.import_module(module), attribute)
