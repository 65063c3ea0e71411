"""Old names kept for one release: a module ``__getattr__`` that warns, then answers.

A module whose public name was renamed serves the old name through the function
:func:`renamed_names` makes, so ``from module import OldName`` keeps working (and gives the
very same object, so ``isinstance`` checks by the old name hold) while saying what to use
instead. Type checkers see the old name through a ``TYPE_CHECKING`` alias in that module.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

__all__ = ["renamed_names"]


def renamed_names(
    module: str, namespace: Mapping[str, object], renamed: Mapping[str, tuple[str, str]]
) -> Callable[[str], object]:
    """A module ``__getattr__`` serving each old name of ``renamed`` with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module's name (``__name__``), as the warning shows it.
    namespace : mapping
        The module's ``globals()``; the new name is looked up there when the old one is used.
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
