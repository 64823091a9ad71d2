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


class _TlsSession:
    """The server's side of one TLS session, on memory buffers: asyncio's own TLS drops the alert a failed
    handshake writes (a client certificate missing or refused), which a real server sends, and which
    tells the client why."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    async def handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        while True:
            try:
                self._tls.do_handshake()
                writer.write(self._outgoing.read())
                return True
            except ssl.SSLWantReadError:
                writer.write(self._outgoing.read())
                data = await reader.read(65536)
                if not data:
                    return False
                self._incoming.write(data)
            except ssl.SSLError:
                writer.write(self._outgoing.read())  # the alert
                await writer.drain()
                return False

    def decrypt(self, data: bytes) -> tuple[bytes, bytes]:
        """The plain bytes ``data`` completes, and what the session must send back (a key update's)."""
        self._incoming.write(data)
        plain = bytearray()
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            while chunk := self._tls.read(65536):
                plain += chunk
        return bytes(plain), self._outgoing.read()

    def encrypt(self, data: bytes) -> bytes:
        self._tls.write(data)
        return self._outgoing.read()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, convert: Callable[[bytes], bytes]
) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(convert(data))
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()


async def _postgres_asks_for_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    request = await reader.readexactly(8)
    if request == _GSSENC_REQUEST:
        writer.write(b"N")
        request = await reader.readexactly(8)
    if request != _SSL_REQUEST:
        return False  # a client not asking for TLS: this front only serves TLS
    writer.write(b"S")
    await writer.drain()
    return True


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(front: TlsFront, target_port: int, context: ssl.SSLContext, postgres: bool) -> Handler:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _TlsSession(context)
        try:
            if postgres and not await _postgres_asks_for_tls(reader, writer):
                writer.close()
                return
            if not await session.handshake(reader, writer):
                writer.close()
                return
            front.count_session()
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return

        def decrypted(data: bytes) -> bytes:
            plain, reply = session.decrypt(data)
            if reply:
                writer.write(reply)
            return plain

        upstream_writer.write(decrypted(b""))  # what came with the handshake's last flight
        await asyncio.gather(
            _pipe(reader, upstream_writer, decrypted), _pipe(upstream_reader, writer, session.encrypt)
        )

    return serve


@contextmanager
def tls_front(target_port: int, context: ssl.SSLContext, *, postgres: bool = False) -> Iterator[TlsFront]:
    """A front on a free port of 127.0.0.1, served by a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"tls-front-{target_port}", daemon=True)
    thread.start()
    front = TlsFront(port=0)
    handler = _handler(front, target_port, context, postgres)
    start = asyncio.start_server(handler, "127.0.0.1", 0)
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
