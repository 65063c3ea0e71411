"""The exception tree: documented where users read it, complete, and local faults kept apart.

The tree at the top of ``flightnb/errors.py`` (and its copy on the client page of the docs) is
checked against every exception class defined anywhere in the package, found by importing each
module. A caller's mistake must be a ``ValueError`` or ``TypeError`` and never the class a
server's INVALID_ARGUMENT maps to.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import flightnb
import flightnb.errors
import flightnb.functions.write
from flightnb.codec import FlightDataDecoder, FlightDataEncoder
from flightnb.errors import FlightArgumentError, FlightArgumentTypeError, FlightUsageError

ROOT = Path(__file__).resolve().parents[1]

# Exceptions of flightnb's that are not FlightErrors, and why they never reach a caller as such.
NOT_IN_THE_TREE = {
    # Caught by the SQL client and raised again as FlightDecodeError; the server turns it
    # into INVALID_ARGUMENT.
    "flightnb.protocol.commands.CommandDecodeError",
    # The %flight magic turns it into IPython's one-line UsageError.
    "flightnb.notebook.placeholders.MissingParameterError",
    # Server side: each becomes the status of the call the server answers.
    "flightnb.server.errors.ServerError",
    "flightnb.server.tickets.TicketError",
    # The doctor CLI prints it as one line on stderr and exits with status 2.
    "flightnb.doctor.cli._UsageError",
    # Private signals inside the call seam, mapped to FlightErrors before they leave it.
    "flightnb.transport.calls._EndedWhileWriting",
    "flightnb.transport.calls._SendFailed",
}

_LINE = re.compile(r"^(?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>\w+)")


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a flightnb module, by dotted name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(flightnb.__path__, "flightnb."):
        if "._proto" in info.name or info.name == "flightnb.__main__":
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def _documented_tree() -> str:
    doc = flightnb.errors.__doc__ or ""
    start = doc.index("    FlightError\n")
    block = doc[start : doc.index("\n\n", start)]
    return "\n".join(line[4:] for line in block.split("\n"))


def _parents(tree: str) -> dict[str, str | None]:
    """Each class name of a drawn tree, with the name it hangs under."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in tree.split("\n"):
        match = _LINE.match(line)
        assert match, line
        depth = len(match["indent"]) // 4 + (1 if "── " in line else 0)
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def test_the_documented_tree_is_every_flight_error_with_its_base() -> None:
    classes = _exception_classes()
    flight_errors = {
        cls.__name__: cls for cls in classes.values() if issubclass(cls, flightnb.FlightError)
    }
    parents = _parents(_documented_tree())
    assert set(parents) == set(flight_errors)
    for name, parent in parents.items():
        cls = flight_errors[name]
        flight_bases = [b.__name__ for b in cls.__bases__ if issubclass(b, flightnb.FlightError)]
        assert flight_bases == ([parent] if parent else []), name


def test_every_other_exception_class_is_accounted_for() -> None:
    others = {
        name
        for name, cls in _exception_classes().items()
        if not issubclass(cls, flightnb.FlightError)
    }
    assert others == NOT_IN_THE_TREE


def test_the_client_page_shows_the_same_tree() -> None:
    page = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")
    assert f"```\n{_documented_tree()}\n```" in page


def test_every_public_error_is_exported() -> None:
    names = {n for n in flightnb.errors.__all__ if n.endswith("Error")}
    assert names <= set(flightnb.__all__)


def test_usage_errors_are_value_or_type_errors_and_never_a_servers_invalid_argument() -> None:
    assert issubclass(FlightArgumentError, ValueError)
    assert issubclass(FlightArgumentTypeError, TypeError)
    for cls in (FlightUsageError, FlightArgumentError, FlightArgumentTypeError):
        assert issubclass(cls, flightnb.FlightError)
        assert not issubclass(cls, flightnb.FlightInvalidArgumentError)
    assert flightnb.errors.error_class_for_code("INVALID_ARGUMENT") is (
        flightnb.FlightInvalidArgumentError
    )


def _raised_by_name(name: str) -> list[str]:
    """Where flightnb's code raises ``name(...)`` directly."""
    found = []
    for path in sorted((ROOT / "flightnb").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_usage_base_is_never_raised_itself() -> None:
    assert _raised_by_name("FlightUsageError") == []


def test_no_local_check_raises_the_servers_invalid_argument() -> None:
    # Only the call seam makes it, from a server's status (error_class_for_code).
    assert _raised_by_name("FlightInvalidArgumentError") == []


MISTAKES: dict[str, tuple[Callable[[], Any], type[Exception]]] = {
    "unknown scheme": (lambda: flightnb.AsyncFlightClient("http://127.0.0.1:1"), ValueError),
    "no port": (lambda: flightnb.read_flight("grpc://127.0.0.1", ticket="t"), ValueError),
    "two requests": (
        lambda: flightnb.read_flight("grpc://127.0.0.1:1", ticket="a", path="b"),
        ValueError,
    ),
    "unknown to=": (
        lambda: flightnb.read_flight("grpc://127.0.0.1:1", ticket="a", to="excel"),
        ValueError,
    ),
    "half a client certificate": (
        lambda: flightnb.AsyncFlightClient("grpc+tls://127.0.0.1:1", cert_chain=b"pem"),
        ValueError,
    ),
    "an int as a ticket": (lambda: flightnb.types.as_ticket(42), TypeError),
    "a dict as data": (lambda: flightnb.functions.write.as_arrow_table({"x": [1]}), TypeError),
    "not FlightData, to the decoder": (lambda: FlightDataDecoder().receive(42), TypeError),  # type: ignore[arg-type]
    "a batch of another schema, to the encoder": (
        lambda: FlightDataEncoder(pa.schema([("a", pa.int64())])).encode_batch(
            pa.record_batch({"b": ["x"]})
        ),
        ValueError,
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_callers_mistake_is_a_usage_error(mistake: str) -> None:
    call, builtin = MISTAKES[mistake]
    with pytest.raises(FlightUsageError) as caught:
        call()
    assert isinstance(caught.value, builtin)
    assert not isinstance(caught.value, flightnb.FlightInvalidArgumentError)
    assert caught.value.code is None
