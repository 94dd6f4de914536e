"""The method registry: names to :class:`~bo_transfer.methods.base.Method`
classes, and instantiation with validated options."""

from __future__ import annotations

import inspect
import types
import typing
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


def option_defaults(cls: type[Method]) -> list[tuple[str, Any]]:
    """Each option of a method with its default, in ``__init__``'s order (an
    option without a default gives ``inspect.Parameter.empty``'s name,
    ``"required"``)."""
    params = inspect.signature(cls.__init__).parameters
    return [
        (name, "required" if p.default is inspect.Parameter.empty else p.default)
        for name, p in params.items()
        if name != "self"
    ]


def option_types(cls: type[Method]) -> dict[str, Any]:
    """The annotated type of each option of ``cls.__init__`` (unannotated ones,
    and annotations that do not resolve, are left out)."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # a forward reference the method's module cannot resolve
        return {}
    return {name: hints[name] for name in method_options(cls) if name in hints}


#: How a type reads in a message.
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _fits(value: Any, kind: Any) -> bool | None:
    """Whether ``value`` (from TOML or Python) is of type ``kind``: a bool is
    neither an int nor a float, an int is a float (``2`` for ``2.0``). None
    for a type this check does not know (it is then not checked)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_fits(value, arg) for arg in typing.get_args(kind)]
        return True if any(verdicts) else (None if None in verdicts else False)
    if origin is typing.Literal:
        return value in typing.get_args(kind)
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (bool, str):
        return isinstance(value, kind)
    if origin in (list, tuple) or kind in (list, tuple):
        return isinstance(value, (list, tuple))
    return None


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(kind))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(kind)))
    if kind is type(None):
        return "none"
    return _TYPE_WORDS.get(kind, getattr(kind, "__name__", str(kind)))


def make_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method; bad options raise a one-line UserError.

    Each option's value must have the type its ``__init__`` parameter is
    annotated with: a method is never handed a value it would silently
    convert (``n_samples = 2.5`` running as 2 while the run key keeps 2.5).
    """
    cls = METHODS.get(name)
    options = dict(options or {})
    valid = method_options(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"method {name!r} has no option {unknown[0]!r}; "
            f"valid: {', '.join(valid) if valid else 'none'}"
        )
    types_ = option_types(cls)
    for option, value in options.items():
        if option in types_ and _fits(value, types_[option]) is False:
            raise UserError(
                f"method {name!r}: option {option!r} must be {_describe(types_[option])}, "
                f"got {value!r}"
            )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"method {name!r}: {exc}") from None
