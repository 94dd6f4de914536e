"""One small registry used by both pair families and methods."""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bo_transfer.errors import UserError, error_line

T = TypeVar("T")

#: Environment variable naming extra modules (comma-separated) to import before
#: the first lookup. It registers unpackaged methods and pairs in every process
#: of a sweep, worker processes included, since they inherit the environment.
#: A module is looked up where Python looks, then in the working directory
#: (``mymodule.py`` next to you needs no ``PYTHONPATH``; see :func:`plugin_path`).
PLUGINS_ENV = "BO_TRANSFER_PLUGINS"


def closest(name: str, known: list[str], n: int = 3) -> list[str]:
    """The known names closest to ``name``, best first (may be empty)."""
    return difflib.get_close_matches(name, known, n=n, cutoff=0.4)


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """One line naming the unknown value and what would be valid."""
    near = closest(name, known)
    if near:
        return f"unknown {kind} {name!r}; did you mean {', '.join(map(repr, near))}?"
    return f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}"


def plugin_modules() -> list[str]:
    """The modules ``BO_TRANSFER_PLUGINS`` names (comma-separated, spaces allowed)."""
    value = os.environ.get(PLUGINS_ENV, "")
    if not value.strip():
        return []
    names = [part.strip() for part in value.split(",")]
    if not all(names):
        raise UserError(
            f"{PLUGINS_ENV}={value!r} has an empty module name; "
            "give module names separated by commas, e.g. 'my_methods,my_pairs'"
        )
    return names


def plugin_path() -> None:
    """Make the working directory importable for plugin modules, in this
    process and every process it starts.

    ``bo-transfer`` (a console script) does not put the working directory on
    ``sys.path`` as ``python -m`` does, so ``BO_TRANSFER_PLUGINS=mymodule``
    would not find ``./mymodule.py``. The directory goes last on ``sys.path``
    (an installed module of the same name still wins, as it would for any
    import) and, as an absolute path, into ``PYTHONPATH``, which worker
    processes inherit whatever their own working directory (Dask, Slurm).
    """
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if here not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([p for p in paths if p] + [here])


class Registry(Generic[T]):
    """Name -> object mapping with a registration decorator.

    Duplicate names raise, unknown names answer with the closest known names.
    Third-party packages add entries through the entry-point group
    ``group``: each entry point is imported once, on first lookup, and is
    expected to register its objects on import. Modules named in the
    ``BO_TRANSFER_PLUGINS`` environment variable are imported the same way.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def _load_plugins(self) -> None:
        if self._plugins_loaded or self.group is None:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            try:
                ep.load()
            except Exception as exc:  # a broken plugin is the user's to fix: one line
                raise UserError(
                    f"plugin {ep.value!r} (entry point {self.group}) failed to load: "
                    f"{error_line(exc)}"
                ) from None
        modules = plugin_modules()
        if modules:
            plugin_path()
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise UserError(
                    f"{PLUGINS_ENV}: importing {module!r} failed: {error_line(exc)}"
                ) from None

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise UserError(unknown_name_message(self.kind, name, list(self._items))) from None

    def names(self) -> list[str]:
        self._load_plugins()
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
