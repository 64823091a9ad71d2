"""The broker module: one RabbitMQ broker with docfleet's middleware, JSON only, connecting to nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pika
from dramatiq.middleware import Middleware

from workers.broker import build_broker, with_connection_defaults
from workers.consumer import ScreeningRabbitmqBroker
from workers.middleware import EnvelopeEncoder, FreezeBootObjects, Outcomes
from workers.middleware.retries import RetriesOrDeadLetter
from workers.settings import Settings

EXPECTED_ORDER = [
    "RedeliveredOneAtATime",
    "ProcessLogging",
    "GracefulStop",
    "Metrics",
    "LogContext",
    "Resources",
    "PostgresOutage",
    "Outcomes",
    "SizeLimit",
    "RedeliveryLimit",
    "TimeLimit",
    "ShutdownNotifications",
    "RetriesOrDeadLetter",
    "CountNotFound",
    "CurrentMessage",
    "AnswersBeforeAck",
]


def test_the_broker_is_rabbitmq_with_confirms_a_heartbeat_and_docfleet_middleware_first() -> None:
    broker = build_broker(Settings.from_env())

    assert isinstance(broker, ScreeningRabbitmqBroker)
    assert broker.confirm_delivery is True
    assert isinstance(broker.parameters, pika.URLParameters)
    assert broker.parameters.heartbeat == 30
    assert [type(m).__name__ for m in broker.middleware] == EXPECTED_ORDER
    names = [type(m) for m in broker.middleware]
    assert names.index(Outcomes) < names.index(RetriesOrDeadLetter)  # so Outcomes sees what Retries decided


def test_the_worker_processes_connections_are_named_for_rabbitmqs_connection_list() -> None:
    broker = build_broker(Settings.from_env())
    assert isinstance(broker, ScreeningRabbitmqBroker)
    assert isinstance(broker.parameters, pika.URLParameters)
    assert broker.parameters.client_properties == {
        "connection_name": f"docfleet-worker pid {os.getpid()}",
        "product": "docfleet",
    }


def test_a_heartbeat_and_a_blocked_timeout_are_added_to_the_url_unless_it_has_them() -> None:
    assert (
        with_connection_defaults("amqp://guest:guest@host:5672/%2F")
        == "amqp://guest:guest@host:5672/%2F?heartbeat=30&blocked_connection_timeout=60.0"
    )
    assert (
        with_connection_defaults("amqp://host/vh?heartbeat=5&x=1&blocked_connection_timeout=9")
        == "amqp://host/vh?heartbeat=5&x=1&blocked_connection_timeout=9"
    )


def _run(code: str, **env: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=True,
    )
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_importing_the_actors_opens_no_connection() -> None:
    result = _run(
        """
        import json, socket
        attempts = []
        real_connect = socket.socket.connect
        def spy(self, address):
            attempts.append(repr(address))
            return real_connect(self, address)
        socket.socket.connect = spy
        socket.socket.connect_ex = spy
        import dramatiq, workers.actors
        print(json.dumps({"attempts": attempts, "broker": type(dramatiq.get_broker()).__name__,
                          "encoder": type(dramatiq.get_encoder()).__name__,
                          "actors": sorted(dramatiq.get_broker().actors)}))
        """
    )

    assert result["attempts"] == []
    assert result["broker"] == "ScreeningRabbitmqBroker"
    assert result["encoder"] == EnvelopeEncoder.__name__
    assert result["actors"] == [
        "add_member",
        "create_folder",
        "list_folder",
        "revoke_access",
        "share_document",
        "upload_document",
    ]


def test_only_the_worker_processes_broker_freezes_what_they_built_at_boot() -> None:
    """The module's broker, which ``dramatiq workers.actors`` runs; a broker a test builds (above) never
    freezes the test process's objects."""
    result = _run(
        """
        import json, dramatiq, workers.actors
        print(json.dumps({"middleware": [type(m).__name__ for m in dramatiq.get_broker().middleware]}))
        """
    )

    expected = list(EXPECTED_ORDER)
    expected.insert(expected.index("Resources") + 1, "FreezeBootObjects")  # once the Application is open
    assert result["middleware"] == expected


def test_no_docfleet_middleware_works_between_the_consumers_start_and_the_boot_hand_shake() -> None:
    """Work there puts back the moment a worker process tells Dramatiq's main process it is up, while
    messages already arrive (docs/reliability.md, "A worker process killed as it comes up")."""
    broker = build_broker(Settings.from_env(), freeze_boot_objects=True)
    ours = [type(m) for m in broker.middleware if type(m).__module__.partition(".")[0] == "workers"]

    assert FreezeBootObjects in ours
    assert [
        kind.__name__ for kind in ours if kind.after_worker_boot is not Middleware.after_worker_boot
    ] == []


def test_the_environment_can_ask_for_a_stub_broker() -> None:
    result = _run(
        """
        import json, dramatiq, workers.actors
        from dramatiq.brokers.stub import StubBroker
        print(json.dumps({"stub": isinstance(dramatiq.get_broker(), StubBroker)}))
        """,
        DOCFLEET_BROKER="stub",
    )

    assert result["stub"] is True


def test_a_bad_setting_stops_the_worker_module_with_one_line_and_exit_2() -> None:
    environment = {**os.environ, "CACHE_TTL_SECONDS": "0", "AMQP_URL": "amqp://guest:s3cret@h/%2F"}
    completed = subprocess.run(
        [sys.executable, "-c", "import workers.actors"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        "docfleet: invalid setting: CACHE_TTL_SECONDS: input should be greater than 0"
    ]


def test_the_results_store_waits_for_valkey_5_s_at_most_to_connect_and_to_answer() -> None:
    """Set, not left to the client library's default: a hung Valkey must fail a query's attempt."""
    from dramatiq.results.backends import RedisBackend

    from workers.broker import results_backend_for

    backend = results_backend_for(Settings.from_env())
    assert isinstance(backend, RedisBackend)
    options = backend.client.connection_pool.connection_kwargs

    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (5, 5)
