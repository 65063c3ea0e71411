"""What the Flight SQL client and the embedded server both speak, and nothing else.

The modules here know protobuf, Arrow and SQL text, never a connection: they import neither
``grpc`` nor the client, so :mod:`flightnb.server` can use them without loading the client,
and the client without loading a database.

* :mod:`flightnb.protocol.commands`: Flight SQL messages packed into and out of ``Any``.
* :mod:`flightnb.protocol.dialects`: how each server's SQL quotes identifiers and writes values.
"""
