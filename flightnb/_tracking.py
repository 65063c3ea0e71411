"""A weak registry of what flightnb opened and has not closed yet.

gRPC channels, private loop threads and servers register themselves when they open and
leave when they are closed. The registry holds only weak references, so it keeps nothing
alive; one that is garbage-collected without having been closed is remembered as such,
because collection closes nothing on time (a channel's connection, a server's port and a
loop's thread outlive the last reference). The test suite reads it after every test to
fail a test that leaves something open; nothing in flightnb itself depends on it.

Opening and closing cost one dict operation each, on paths that open a connection or
start a thread anyway, never per call or per batch. Dict operations are atomic under the
GIL, so the registry needs no lock (a lock here could deadlock: a weak-reference callback
runs wherever the garbage collector happens to run).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import sysconfig
import weakref
from types import FrameType

__all__ = [
    "Resource",
    "caller_site",
    "closed",
    "collected_unclosed",
    "groups_made",
    "new_group",
    "open_resources",
    "opened",
]


@dataclasses.dataclass(frozen=True)
class Resource:
    """One thing flightnb opened: what it is, and where the code that opened it was.

    Attributes
    ----------
    token : int
        Unique, in the order things were opened.
    kind : str
        ``"gRPC channel"``, ``"loop thread"`` or ``"server"``.
    what : str
        A one-line description (a target, a location), never a credential.
    site : str
        ``file:line (function)`` of the first caller outside flightnb, or of flightnb's
        own code when nothing else is on the stack (a coroutine run on an event loop).
    group : int
        What opened it, when that was made earlier (:func:`new_group`: the channels of one
        client share the client's number); 0 for none.
    """

    token: int
    kind: str
    what: str
    site: str
    group: int = 0

    def __str__(self) -> str:
        return f"{self.what}, opened at {self.site}"


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_STDLIB = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
_tokens = itertools.count(1)
_groups = itertools.count(1)
_last_group = 0
_open: dict[int, Resource] = {}
# Keeps the weak references (and so their callbacks) alive while their resource is open.
_references: dict[int, weakref.ref[object]] = {}
_collected: list[Resource] = []


def caller_site() -> str:
    """Where the code that asked flightnb to open something is: ``file:line (function)``.

    The first frame outside flightnb and the standard library. Failing that (a coroutine
    running on flightnb's event loop has only the loop below it), the innermost flightnb
    function that is not a constructor: the one that made the client.
    """
    frame: FrameType | None = sys._getframe(1)
    maker: FrameType | None = None
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename.startswith(_PACKAGE):
            if maker is None and frame.f_code.co_name != "__init__":
                maker = frame
        elif not filename.startswith(_STDLIB):
            break
        frame = frame.f_back
    chosen = frame if frame is not None else maker
    if chosen is None:
        return "an unknown place"
    return f"{chosen.f_code.co_filename}:{chosen.f_lineno} ({chosen.f_code.co_name})"


def new_group() -> int:
    """A number for something that opens resources later (a client opens its channels
    on first use), so that they can be traced to when it was made."""
    global _last_group
    _last_group = next(_groups)
    return _last_group


def groups_made() -> int:
    """The last number :func:`new_group` gave (they only grow)."""
    return _last_group


def opened(owner: object, kind: str, what: str, site: str | None = None, *, group: int = 0) -> int:
    """Register something ``owner`` opened; returns the token to pass to :func:`closed`.

    ``owner`` is only referenced weakly: if it is collected before :func:`closed` is
    called, the resource is remembered as collected unclosed.
    """
    token = next(_tokens)
    where = site if site is not None else caller_site()
    _open[token] = Resource(token, kind, what, where, group)
    _references[token] = weakref.ref(owner, lambda _: _forget_collected(token))
    return token


def closed(token: int) -> None:
    """Mark a registered resource closed (closing twice is harmless)."""
    _open.pop(token, None)
    _references.pop(token, None)


def _forget_collected(token: int) -> None:
    resource = _open.pop(token, None)
    _references.pop(token, None)
    if resource is not None:
        _collected.append(resource)


def open_resources() -> list[Resource]:
    """What is open now, oldest first."""
    return sorted(_open.copy().values(), key=lambda r: r.token)


def collected_unclosed() -> list[Resource]:
    """What was garbage-collected without being closed since the last call; then forgets it."""
    taken = []
    while _collected:
        taken.append(_collected.pop(0))
    return taken
