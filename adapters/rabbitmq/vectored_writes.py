"""Everything pika has buffered for a connection goes out with one system call.

pika keeps each frame group it is asked to send (a publish, an ack) as a buffer of its own and writes
each with a ``send`` of its own. With ``TCP_NODELAY`` (pika's default) each is then a segment of its
own, which RabbitMQ reads and wakes for one by one. The relay publishes a batch of events at once, and a
worker acks a batch of messages at once (``workers.consumer``): here a batch's buffers leave together,
with one ``sendmsg``, in the order pika buffered them.

pika offers no hook for this, so it is set on the transport of each connection docfleet opens itself,
and only where that transport is the plain TCP one whose buffering this relies on; any other (TLS, or
a pika whose internals changed) keeps pika's own writes.
"""

from __future__ import annotations

import types
from collections import deque
from itertools import islice
from typing import Any

from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport

MAX_BUFFERS_PER_CALL = 512  # under Linux's IOV_MAX of 1024


def write_buffers_together(connection: Any) -> bool:
    """Makes ``connection`` (a pika ``BlockingConnection`` or ``SelectConnection``, open) write all its
    buffered frames with one ``sendmsg``; whether it could."""
    impl = getattr(connection, "_impl", connection)
    transport = getattr(impl, "_transport", None)
    if not isinstance(transport, _AsyncPlaintextTransport):
        return False
    if not isinstance(getattr(transport, "_tx_buffers", None), deque):
        return False
    if not isinstance(getattr(transport, "_tx_buffered_byte_count", None), int):
        return False
    if not hasattr(getattr(transport, "_sock", None), "sendmsg"):
        return False
    transport._produce = types.MethodType(produce_together, transport)
    return True


def produce_together(transport: Any) -> None:
    """pika's ``_produce``, one call per ``MAX_BUFFERS_PER_CALL`` buffers. A partial write keeps the
    rest, first in line, for the next time the socket is writable; errors reach pika as a ``send``'s
    would (a full socket buffer: wait for writability; anything else: the connection is aborted)."""
    buffers: deque[bytes] = transport._tx_buffers
    while buffers:
        if len(buffers) == 1:
            sent = transport._sock.send(buffers[0])
        else:
            sent = transport._sock.sendmsg(list(islice(buffers, MAX_BUFFERS_PER_CALL)))
        transport._tx_buffered_byte_count -= sent
        if not _drop_sent(buffers, sent):
            return


def _drop_sent(buffers: deque[bytes], sent: int) -> bool:
    """Removes ``sent`` bytes from the front; False if a buffer was only partly sent."""
    while sent:
        head = buffers[0]
        if len(head) > sent:
            buffers[0] = head[sent:]
            return False
        buffers.popleft()
        sent -= len(head)
    return True
