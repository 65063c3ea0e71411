"""``DataFrame.flight`` whatever the import order: register when pandas or polars is imported.

``%load_ext flightnb`` registers the accessors of the libraries already imported, and puts a
small finder on ``sys.meta_path`` that notices the first import of the others: once pandas
(or polars) has finished importing, ``flightnb.pandas`` (``flightnb.polars``) is imported,
which registers the accessor with the library's own extension API. Neither library is ever
imported because of flightnb.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from flightnb.convert import register_accessors

__all__ = ["install_accessor_hook"]

_log = logging.getLogger("flightnb.notebook")

LIBRARIES = ("pandas", "polars")


class _RegisteringLoader(importlib.abc.Loader):
    """Runs the library's own loader, then registers flightnb's accessor for it."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its real loader (resource readers and reloads go through it).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            importlib.import_module(f"flightnb.{self._name}")
        except Exception:  # never break the user's import because of an accessor
            _log.debug("could not register the %s accessor", self._name, exc_info=True)


class _AccessorFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of pandas / polars when they are first imported."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in LIBRARIES or fullname in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, _AccessorFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _RegisteringLoader(spec.loader, fullname)
            return spec  # type: ignore[no-any-return]
        return None


def install_accessor_hook() -> None:
    """Register the accessors now for imported libraries, and on import for the others."""
    register_accessors()
    if not any(isinstance(finder, _AccessorFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AccessorFinder())
