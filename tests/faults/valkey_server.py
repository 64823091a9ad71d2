"""A Valkey-protocol server of the scenario's own (``valkey-server`` or ``redis-server``), on a free port,
with no persistence: it can be killed and started again on the same port without touching anyone else's."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import valkey

from tests.support.processes import free_port, valkey_server_or_skip


class PrivateValkey:
    def __init__(self, workdir: Path) -> None:
        program = valkey_server_or_skip()
        self._program, self._workdir, self.port = program, workdir, free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self._workdir / "valkey.log").open("ab") as log:
            self._process = subprocess.Popen(
                [self._program, *arguments, "--dir", str(self._workdir)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            assert self._process.poll() is None, (self._workdir / "valkey.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the private Valkey server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(30)

    def _answers(self) -> bool:
        client = valkey.Valkey.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except (valkey.ConnectionError, OSError):
            return False
        finally:
            client.close()  # type: ignore[no-untyped-call]


@contextmanager
def private_valkey(workdir: Path) -> Iterator[PrivateValkey]:
    server = PrivateValkey(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
