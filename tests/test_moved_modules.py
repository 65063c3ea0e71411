"""The one-call modules moved into flightnb.functions; their old paths answer for one release.

``flightnb.read``, ``flightnb.streaming``, ``flightnb.write``, ``flightnb.sinks`` and
``flightnb.sources`` are now small modules that serve each old name, the very same object,
with a DeprecationWarning naming its new place.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import flightnb.functions
from flightnb.client import operations

#: Each old module, where it moved, and the names it had (its ``__all__``).
MOVED = {
    "flightnb.read": ("flightnb.functions.read", ["read_flight", "read_flight_async"]),
    "flightnb.streaming": (
        "flightnb.functions.streaming",
        [
            "Chooser",
            "client_for",
            "open_flight",
            "open_flight_async",
            "plan_and_stream",
            "resolve_source",
        ],
    ),
    "flightnb.write": (
        "flightnb.functions.write",
        [
            "DEFAULT_CHUNK_ROWS",
            "PutSummary",
            "as_arrow_table",
            "exchange_flight",
            "exchange_flight_async",
            "write_flight",
            "write_flight_async",
        ],
    ),
    "flightnb.sinks": (
        "flightnb.functions.sinks",
        [
            "MANIFEST_NAME",
            "SINK_SUFFIXES",
            "FlightSinkError",
            "WriteSummary",
            "check_sink",
            "write_dataset",
            "write_ipc",
            "write_parquet",
            "write_sink",
        ],
    ),
    "flightnb.sources": (
        "flightnb.functions.sources",
        ["async_client", "blocking_client", "open_async", "open_blocking"],
    ),
}
OLD_NAMES = [(old, new, name) for old, (new, names) in MOVED.items() for name in names]


def _ids(value: object) -> str:
    return str(value)


@pytest.mark.parametrize(("old", "new", "name"), OLD_NAMES, ids=_ids)
def test_an_old_name_is_the_moved_object(old: str, new: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize(("old", "new", "name"), OLD_NAMES, ids=_ids)
def test_an_old_name_warns_naming_its_new_place(old: str, new: str, name: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(
        DeprecationWarning, match=rf"^{old}\.{name} is deprecated.*use {new}\.{name}$"
    ):
        getattr(module, name)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_keeps_its_names_for_a_star_import(old: str) -> None:
    new, names = MOVED[old]
    assert importlib.import_module(old).__all__ == names
    namespace: dict[str, object] = {}
    with pytest.warns(DeprecationWarning, match=new):
        exec(f"from {old} import *", namespace)
    assert {name for name in namespace if not name.startswith("__")} == set(names)


def test_importing_the_old_modules_does_not_warn() -> None:
    code = "; ".join(f"import {old}" for old in MOVED)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_importing_the_old_modules_loads_neither_the_new_ones_nor_the_client() -> None:
    code = "; ".join(f"import {old}" for old in MOVED) + (
        "; import sys; print(sorted(m for m in sys.modules "
        "if m.startswith(('flightnb.functions', 'flightnb.client', 'grpc'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_old_name_warns_where_it_is_imported() -> None:
    with pytest.warns(DeprecationWarning, match="flightnb.functions.read") as caught:
        from flightnb.read import read_flight
    assert read_flight is flightnb.functions.read_flight
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}


def test_an_old_module_reached_as_an_attribute_still_answers() -> None:
    code = "import flightnb; print(flightnb.write.write_flight.__module__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "flightnb.functions.write"
    assert "use flightnb.functions.write.write_flight" in done.stderr


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_name_an_old_module_never_had_is_an_attribute_error(old: str) -> None:
    with pytest.raises(AttributeError, match=rf"module '{old}' has no attribute 'no_such_name'"):
        importlib.import_module(old).no_such_name  # noqa: B018


def test_the_old_streaming_module_still_serves_stream_options() -> None:
    # stream_options left flightnb.streaming for flightnb.client.operations a release before.
    old = importlib.import_module("flightnb.streaming")
    with pytest.warns(DeprecationWarning, match="use flightnb.client.operations.stream_options"):
        moved = old.stream_options
    assert moved is operations.stream_options


def test_the_functions_package_holds_only_functions_of_its_modules() -> None:
    for name in flightnb.functions.__all__:
        value = getattr(flightnb.functions, name)
        assert callable(value) and value.__name__ == name, name
        assert value.__module__.startswith("flightnb.functions."), name
