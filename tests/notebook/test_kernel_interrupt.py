"""Interrupting a Jupyter kernel during a long read cancels the gRPC call on the wire."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from jupyter_client.manager import start_new_kernel

BATCH = pa.record_batch({"x": pa.array(range(1000), pa.int64())})


class _SlowServer(paflight.FlightServerBase):
    """Streams a batch every 50 ms for a minute; records whether the client cancelled."""

    def __init__(self) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.cancelled = threading.Event()
        self.streaming = threading.Event()  # a few batches are out: the read is under way

    def do_get(self, context: Any, ticket: Any) -> paflight.GeneratorStream:
        def batches() -> Iterator[pa.RecordBatch]:
            finished = False
            try:
                for sent in range(1200):
                    if context.is_cancelled():
                        break
                    time.sleep(0.05)
                    yield BATCH
                    if sent == 5:
                        self.streaming.set()
                finished = not context.is_cancelled()
            finally:
                # A client that goes away either shows up in is_cancelled() or makes pyarrow
                # stop pulling (the generator is closed at its yield).
                if not finished:
                    self.cancelled.set()

        return paflight.GeneratorStream(BATCH.schema, batches())


def _run(client: Any, code: str, timeout: float = 60) -> dict[str, Any]:
    # After a cell fails, ipykernel aborts requests that arrive in a short window
    # (stop_on_error): resend a request that was aborted rather than executed.
    for _ in range(10):
        reply = client.execute_interactive(code, timeout=timeout, store_history=False)
        if reply["content"]["status"] != "aborted":
            break
        time.sleep(0.5)
    return reply["content"]  # type: ignore[no-any-return]


@pytest.mark.timeout(180)
def test_interrupt_cancels_the_read_and_keeps_the_kernel_usable() -> None:
    server = _SlowServer()
    threading.Thread(target=server.serve, daemon=True).start()
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        assert _run(client, "import flightnb")["status"] == "ok"
        location = f"grpc://127.0.0.1:{server.port}"
        message_id = client.execute(
            f"table = flightnb.read_flight({location!r}, ticket='slow', progress=False)"
        )
        assert server.streaming.wait(30)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != message_id:
            reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"  # the read takes a minute
        # The server saw the cancellation: the call was cancelled on the wire.
        assert server.cancelled.wait(15)
        # And the kernel goes on working, flightnb included.
        again = _run(
            client,
            "try:\n"
            f"    flightnb.read_flight({location!r}, ticket='slow', timeout=0.5, progress=False)\n"
            "except flightnb.FlightTimedOutError:\n"
            "    print('timed out as asked')\n",
        )
        assert again["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        server.shutdown()
