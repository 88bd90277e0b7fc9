"""bumper: GitOps image bumps that change one line per reference and nothing else.

The public API is imported lazily so that ``import bumper`` (and the CLI's start-up)
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bumper.edit.plan import Plan, plan_set_image
    from bumper.edit.reference import Reference, parse_reference
    from bumper.errors import BumperError

__all__ = ["BumperError", "Plan", "Reference", "__version__", "parse_reference", "plan_set_image"]

_LAZY = {
    "BumperError": "bumper.errors",
    "Plan": "bumper.edit.plan",
    "plan_set_image": "bumper.edit.plan",
    "Reference": "bumper.edit.reference",
    "parse_reference": "bumper.edit.reference",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bumper' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
