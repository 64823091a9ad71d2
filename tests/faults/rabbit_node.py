"""A RabbitMQ node of the scenario's own, so that stopping RabbitMQ touches no one else's work.

It runs the machine's RabbitMQ installation under its own node name, ports and data directory, as the
``rabbitmq`` user with the same Erlang cookie as the shared node, so ``rabbitmqctl -n <node>`` reaches it.
Its directory comes from ``mkdtemp`` rather than the test's tmp_path, which the ``rabbitmq`` user may not
enter. It needs root (the installation's scripts switch to the ``rabbitmq`` user); elsewhere the scenario
is skipped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port

SERVICE_USER = "rabbitmq"


@dataclass(frozen=True)
class PrivateNode:
    name: str
    amqp_url: str

    def ctl(self, *args: str, timeout: float = 120.0) -> None:
        subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.name, *args], check=True, capture_output=True, timeout=timeout
        )


def skip_unless_possible() -> None:
    if os.geteuid() != 0 or shutil.which("rabbitmq-server") is None:
        pytest.skip("a private RabbitMQ node needs root and a local RabbitMQ installation")
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pytest.skip(f"no {SERVICE_USER!r} user to run a private RabbitMQ node as")


def _prepare(base: Path, amqp_port: int, config: str) -> None:
    for directory in ("mnesia", "log"):
        (base / directory).mkdir()
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{amqp_port}\n{config}")
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq-env.conf").write_text("")  # not the shared node's: its NODENAME, its flags
    for path in (base, *base.rglob("*")):
        shutil.chown(path, SERVICE_USER, SERVICE_USER)


def _environment(name: str, base: Path, amqp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(base / "node.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


@contextmanager
def private_rabbitmq(config: str = "") -> Iterator[PrivateNode]:
    """A fresh node (vhost ``/``, user guest), started and then shut down and removed; ``config``: more
    lines of its ``rabbitmq.conf``."""
    skip_unless_possible()
    base = Path(tempfile.mkdtemp(prefix="docfleet-faults-rabbitmq-"))
    amqp_port, name = free_port(), f"docfleet-faults-{uuid.uuid4().hex[:10]}@localhost"
    _prepare(base, amqp_port, config)
    node = PrivateNode(name, f"amqp://guest:guest@127.0.0.1:{amqp_port}/%2F")
    with (base / "server.out").open("wb") as out:
        server = subprocess.Popen(
            ["rabbitmq-server"],
            env=_environment(name, base, amqp_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _await_startup(node, server, base / "server.out")
        yield node
    finally:
        _shut_down(node, server)
        shutil.rmtree(base, ignore_errors=True)


def _await_startup(node: PrivateNode, server: subprocess.Popen[bytes], output: Path) -> None:
    """Until the node runs RabbitMQ; ``await_startup`` fails at once while the node is not up at all."""
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, f"the private RabbitMQ node exited:\n{output.read_text()[-3000:]}"
        try:
            node.ctl("await_startup", "--timeout", "60", timeout=90)
            return
        except subprocess.CalledProcessError:
            assert time.monotonic() < deadline, f"no private RabbitMQ node:\n{output.read_text()[-3000:]}"
            time.sleep(0.5)


def _shut_down(node: PrivateNode, server: subprocess.Popen[bytes]) -> None:
    """``rabbitmqctl shutdown``, then SIGKILL for whatever of the node is left (one that never finished
    booting does not answer; the scripts run it in a session of its own, out of reach of the server's)."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        node.ctl("shutdown", timeout=60)
    for pid in _processes_of(node.name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def _processes_of(name: str) -> list[int]:
    """The processes started with ``RABBITMQ_NODENAME=<name>`` in their environment."""
    marker = f"RABBITMQ_NODENAME={name}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found
