"""What pika buffered leaves in as few writes as possible, in order, and a partial write loses nothing."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import pytest

from adapters.rabbitmq.vectored_writes import MAX_BUFFERS_PER_CALL, produce_together, write_buffers_together


class FakeSocket:
    """Accepts up to ``accept`` bytes per call (all by default), remembering what each call was given."""

    def __init__(self, accept: int | None = None, error: OSError | None = None) -> None:
        self.calls: list[list[bytes]] = []
        self._accept, self._error = accept, error

    def send(self, data: bytes) -> int:
        return self.sendmsg([data])

    def sendmsg(self, buffers: list[bytes]) -> int:
        if self._error is not None:
            raise self._error
        self.calls.append(list(buffers))
        total = sum(len(buffer) for buffer in buffers)
        return total if self._accept is None else min(total, self._accept)


def transport_with(buffers: list[bytes], sock: FakeSocket) -> SimpleNamespace:
    return SimpleNamespace(
        _tx_buffers=deque(buffers), _tx_buffered_byte_count=sum(map(len, buffers)), _sock=sock
    )


def test_every_buffer_leaves_in_one_call_in_order() -> None:
    sock = FakeSocket()
    transport = transport_with([b"ack-1", b"ack-2", b"ack-3"], sock)
    produce_together(transport)
    assert sock.calls == [[b"ack-1", b"ack-2", b"ack-3"]]
    assert not transport._tx_buffers
    assert transport._tx_buffered_byte_count == 0


def test_a_partial_write_keeps_the_rest_first_in_line() -> None:
    sock = FakeSocket(accept=7)
    transport = transport_with([b"abcde", b"fghij", b"klm"], sock)
    produce_together(transport)
    assert len(sock.calls) == 1  # the socket is full: wait until it is writable again
    assert list(transport._tx_buffers) == [b"hij", b"klm"]
    assert transport._tx_buffered_byte_count == 6


def test_more_buffers_than_one_call_takes_go_out_in_several() -> None:
    sock = FakeSocket()
    buffers = [f"frame-{index}".encode() for index in range(MAX_BUFFERS_PER_CALL + 3)]
    transport = transport_with(buffers, sock)
    produce_together(transport)
    assert [len(call) for call in sock.calls] == [MAX_BUFFERS_PER_CALL, 3]
    assert [buffer for call in sock.calls for buffer in call] == buffers
    assert transport._tx_buffered_byte_count == 0


def test_a_failed_write_reaches_pika_and_loses_nothing() -> None:
    transport = transport_with([b"ack-1", b"ack-2"], FakeSocket(error=BlockingIOError()))
    with pytest.raises(BlockingIOError):
        produce_together(transport)
    assert list(transport._tx_buffers) == [b"ack-1", b"ack-2"]
    assert transport._tx_buffered_byte_count == 10


def test_a_connection_without_pikas_plain_transport_keeps_its_own_writes() -> None:
    assert write_buffers_together(SimpleNamespace(_impl=SimpleNamespace(_transport=None))) is False
    assert write_buffers_together(object()) is False
