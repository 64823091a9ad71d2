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

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """The plain bytes ``data`` completes, and whether the client ended the session (close_notify).
        What the session has to send back (a key update's answer, an alert) waits in ``pending``."""
        self._incoming.write(data)
        plain = bytearray()
        try:
            while chunk := self._tls.read(65536):
                plain += chunk
        except ssl.SSLWantReadError:
            return bytes(plain), False
        except ssl.SSLZeroReturnError:
            return bytes(plain), True
        return bytes(plain), True  # read() gives b"" for a close_notify received before one is sent

    def encrypt(self, data: bytes) -> bytes:
        self._tls.write(data)
        return self._outgoing.read()

    def pending(self) -> bytes:
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        with contextlib.suppress(ssl.SSLError):
            self._tls.unwrap()
        return self._outgoing.read()


async def _from_client(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream: asyncio.StreamWriter,
    session: _TlsSession,
) -> None:
    """The client's bytes, decrypted, to the service, beginning with any that came with the handshake's
    last flight; the client's end (EOF or close_notify) passed on as a half-close."""
    data = b""
    try:
        while True:
            plain, ended = session.decrypt(data)
            writer.write(session.pending())
            upstream.write(plain)
            await upstream.drain()
            if ended or not (data := await reader.read(65536)):
                break
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(session.pending())  # the alert of a bad record, which tells the client why
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            upstream.write_eof()


async def _from_upstream(
    upstream: asyncio.StreamReader, writer: asyncio.StreamWriter, session: _TlsSession
) -> None:
    """The service's bytes, encrypted, to the client; its end told with close_notify."""
    try:
        while data := await upstream.read(65536):
            writer.write(session.encrypt(data))
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(session.close_notify())
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
        try:
            await asyncio.gather(
                _from_client(reader, writer, upstream_writer, session),
                _from_upstream(upstream_reader, writer, session),
            )
        except asyncio.CancelledError:
            pass  # the front stopping: asyncio would log the cancelled connection as an error
        finally:
            upstream_writer.close()

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
