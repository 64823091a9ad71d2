"""A TLS front for one of the machine's services, as a managed service would have: it terminates TLS
with a certificate of a throwaway CA and passes the bytes on, in plain, to the service behind it.

RabbitMQ (amqps) and Valkey (rediss) speak TLS from the first byte. Postgres asks for it first, in plain:
an 8-byte SSLRequest, answered ``S`` before the handshake (``postgres=True``)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)  # answered N: libpq then asks for TLS


@dataclass
class TlsFront:
    port: int
    sessions: int = 0  # TLS handshakes completed
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_session(self) -> None:
        with self._lock:
            self.sessions += 1


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()


async def _postgres_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
) -> bool:
    request = await reader.readexactly(8)
    if request == _GSSENC_REQUEST:
        writer.write(b"N")
        request = await reader.readexactly(8)
    if request != _SSL_REQUEST:
        return False  # a client not asking for TLS: this front only serves TLS
    writer.write(b"S")
    await writer.drain()
    await writer.start_tls(context)
    return True


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(front: TlsFront, target_port: int, context: ssl.SSLContext, postgres: bool) -> Handler:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if postgres and not await _postgres_handshake(reader, writer, context):
                writer.close()
                return
            front.count_session()
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    return serve


@contextmanager
def tls_front(target_port: int, context: ssl.SSLContext, *, postgres: bool = False) -> Iterator[TlsFront]:
    """A front on a free port of 127.0.0.1, served by a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"tls-front-{target_port}", daemon=True)
    thread.start()
    front = TlsFront(port=0)
    handler = _handler(front, target_port, context, postgres)
    start = asyncio.start_server(handler, "127.0.0.1", 0, ssl=None if postgres else context)
    server = asyncio.run_coroutine_threadsafe(start, loop).result(10)
    front.port = server.sockets[0].getsockname()[1]
    try:
        yield front
    finally:
        server.close()
        asyncio.run_coroutine_threadsafe(_cancel_connections(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _cancel_connections() -> None:
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()
