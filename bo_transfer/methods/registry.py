"""The method registry: names to :class:`~bo_transfer.methods.base.Method`
classes, and instantiation with validated options."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bo_transfer.errors import UserError
from bo_transfer.registry import Registry

if TYPE_CHECKING:
    from bo_transfer.methods.base import Method

METHODS: Registry[type[Method]] = Registry("method", group="bo_transfer.methods")


def register_method(
    name: str, summary: str = "", citation: str = "", bib_key: str = ""
) -> Callable:
    """Class decorator registering a :class:`Method` subclass under ``name``."""

    def decorator(cls: type[Method]) -> type[Method]:
        cls.name = name
        cls.summary = summary or (inspect.getdoc(cls) or "").split("\n")[0]
        cls.citation = citation
        cls.bib_key = bib_key
        METHODS.add(name, cls)
        return cls

    return decorator


def method_options(cls: type[Method]) -> list[str]:
    """Names of the options a method accepts."""
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p != "self"]


def make_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method; bad options raise a one-line UserError."""
    cls = METHODS.get(name)
    options = dict(options or {})
    valid = method_options(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"method {name!r} has no option {unknown[0]!r}; "
            f"valid: {', '.join(valid) if valid else 'none'}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"method {name!r}: {exc}") from None
