"""Old names kept for one release: a module ``__getattr__`` that warns, then answers.

A module whose public name was renamed serves the old name through the function
:func:`renamed_names` makes, so ``from module import OldName`` keeps working (and gives the
very same object, so ``isinstance`` checks by the old name hold) while saying what to use
instead. Type checkers see the old name through a ``TYPE_CHECKING`` alias in that module.

A module that moved leaves a small module at its old path whose ``__getattr__``
:func:`moved_names` makes: each old name is the object of the same name in the module it
moved to, imported only when an old name is first used, so importing the old module neither
warns nor loads the new one.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping

__all__ = ["moved_names", "renamed_names"]


def renamed_names(
    module: str, namespace: Mapping[str, object], renamed: Mapping[str, tuple[str, str]]
) -> Callable[[str], object]:
    """A module ``__getattr__`` serving each old name of ``renamed`` with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module's name (``__name__``), as the warning shows it.
    namespace : mapping
        The module's ``globals()`` (or any mapping: see :func:`moved_names`); the new name is
        looked up there when the old one is used.
    renamed : mapping of str to (str, str)
        Old name to (new name in ``namespace``, what the user should do instead).
    """

    def __getattr__(name: str) -> object:
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, advice = renamed[name]
        warnings.warn(
            f"{module}.{name} is deprecated and will be removed in the next release: {advice}",
            DeprecationWarning,
            stacklevel=2,
        )
        return namespace[new]

    return __getattr__


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` serving names that moved to other modules, with a warning.

    Parameters
    ----------
    module : str
        The old module's name (``__name__``), as the warning shows it.
    moved : mapping of str to str
        Old name to the module it now lives in, under the same name; the warning says to use
        ``that.module.name``.
    """
    return renamed_names(
        module,
        _MovedNames(moved),
        {name: (name, f"use {target}.{name}") for name, target in moved.items()},
    )


class _MovedNames(Mapping[str, object]):
    """Each moved name's object, looked up in its new module (imported on first use)."""

    def __init__(self, moved: Mapping[str, str]) -> None:
        self._moved = dict(moved)

    def __getitem__(self, name: str) -> object:
        return getattr(importlib.import_module(self._moved[name]), name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._moved)

    def __len__(self) -> int:
        return len(self._moved)
