"""Keep gRPC core's log lines out of notebook cells.

gRPC's C core writes its log lines (``ssl_transport_security.cc ... Handshake failed``)
straight to the process's stderr, which a Jupyter kernel forwards into whatever cell runs
next; flightnb already reports every failure as an exception. gRPC reads ``GRPC_VERBOSITY``
once, when ``grpc`` is first imported, so this runs before flightnb imports it. A verbosity
the user set is kept; so is a gRPC imported before flightnb.
"""

from __future__ import annotations

import os
import sys

__all__ = ["quiet_grpc_in_kernels"]

KERNEL_VERBOSITY = "ERROR"


def quiet_grpc_in_kernels() -> bool:
    """In a Jupyter kernel, set ``GRPC_VERBOSITY=ERROR`` unless it is set; True if it did."""
    if "ipykernel" not in sys.modules or "GRPC_VERBOSITY" in os.environ:
        return False
    if "grpc" in sys.modules:
        return False  # too late: gRPC has read its settings
    os.environ["GRPC_VERBOSITY"] = KERNEL_VERBOSITY
    return True
