"""How many times RabbitMQ delivered a message again after the worker holding it stopped, by message id."""

from __future__ import annotations

from typing import cast

import valkey

COUNT_TTL_SECONDS = 86_400  # a count outlives any redelivery loop; a day later it starts again from 0

# One less, never below 0 (a count forgotten or expired meanwhile is left gone), in one step.
_UNCOUNT = """
local left = redis.call('DECR', KEYS[1])
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
"""


class RedeliveryCounter:
    """Counts in Valkey, shared by the fleet: each worker process that takes the message again adds one."""

    def __init__(self, client: valkey.Valkey, prefix: str, *, ttl_seconds: int = COUNT_TTL_SECONDS) -> None:
        self._client = client
        self._prefix = f"{prefix}redelivered:"
        self._ttl_seconds = ttl_seconds
        self._uncount = client.register_script(_UNCOUNT)

    def count(self, message_id: str) -> int:
        """Adds this delivery and returns how many there were; raises ``valkey.ValkeyError`` when Valkey
        cannot answer."""
        key = self._prefix + message_id
        with self._client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._ttl_seconds)
            counted, _ = pipe.execute()  # type: ignore[no-untyped-call]
        return int(counted)

    def uncount(self, message_id: str) -> None:
        """Takes back one delivery, whose turn ended without its process dying; raises
        ``valkey.ValkeyError`` when Valkey cannot answer."""
        self._uncount(keys=[self._prefix + message_id])

    def counted(self, message_id: str) -> int:
        """How many redeliveries of the message were counted (within the count's lifetime), adding none."""
        found = self._client.get(self._prefix + message_id)
        return 0 if found is None else int(cast(bytes, found))

    def forget(self, message_id: str) -> None:
        """Starts the message's count again from 0."""
        self._client.delete(self._prefix + message_id)
