"""flightnb.sql.commands, where the Flight SQL command code lived, still answers for one release."""

from __future__ import annotations

import importlib

import pytest

from flightnb.protocol import commands


def test_old_module_gives_the_same_objects_with_a_deprecation_warning() -> None:
    old = importlib.import_module("flightnb.sql.commands")
    for name in commands.__all__:
        with pytest.warns(DeprecationWarning, match=f"flightnb.protocol.commands.{name}"):
            assert getattr(old, name) is getattr(commands, name)


def test_old_module_refuses_names_it_never_had() -> None:
    old = importlib.import_module("flightnb.sql.commands")
    with pytest.raises(AttributeError, match="no_such_name"):
        old.no_such_name  # noqa: B018


def test_importing_a_name_from_the_old_module_warns_there() -> None:
    with pytest.warns(DeprecationWarning, match="is deprecated") as caught:
        from flightnb.sql.commands import pack  # noqa: F401
    assert caught[0].filename == __file__
