"""The kernel's default Flight connection, as set by ``%flight connect``."""

from __future__ import annotations

import asyncio
from typing import Any

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.sync import FlightClient


class Connection:
    """A location plus client options; hands out a blocking client and, per event loop, an
    async one (grpc.aio channels belong to the loop that made them)."""

    def __init__(self, uri: str, **options: Any) -> None:
        self.uri = uri
        self._options = options
        # Validate the URI and options now, so `%flight connect` fails on a typo.
        self.client = FlightClient(uri, **options)
        self._async_clients: dict[int, AsyncFlightClient] = {}

    def async_client(self) -> AsyncFlightClient:
        """An async client bound to the running event loop, with the connection's login."""
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(id(loop))
        if client is None or client.closed:
            client = AsyncFlightClient(self.uri, **self._options)
            self._async_clients[id(loop)] = client
        client.adopt_credentials(self.client.async_client)
        return client

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        auth = "token" if self._options.get("token") else "none"
        headers = sorted(dict(self._options.get("headers") or {}))
        return f"Connection({self.uri!r}, auth={auth}, headers={headers})"
