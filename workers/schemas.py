"""Writes the contract's JSON Schemas from its pydantic models: ``python -m workers.schemas [--check]``.

``schemas/envelope.json`` (a Dramatiq message), ``schemas/envelope_sent.json`` (one as a producer sends
it), ``schemas/commands/<actor>.json`` (each actor's kwargs),
``schemas/results/list_folder.json`` and ``schemas/events/<Type>.json`` (the events on doc.events).
``--check`` writes nothing and exits 1 when a file on disk is missing, different or no longer generated.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from adapters.event_codec import EVENTS_EXCHANGE, SCHEMA_VERSION
from workers.contract import ACTOR_KWARGS, COMMANDS_QUEUE, QUERIES_QUEUE, queue_of
from workers.contract_events import EVENTS, ListFolderFailure, ListFolderResult
from workers.middleware.envelope import Envelope

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


def generated() -> dict[str, str]:
    """Each schema's text, by its path under ``schemas/``."""
    envelope = _schema(Envelope, "Dramatiq message envelope")
    schemas = {"envelope.json": envelope, "envelope_sent.json": _as_sent(envelope)}
    for actor, kwargs in ACTOR_KWARGS.items():
        schemas[f"commands/{actor}.json"] = _schema(kwargs, actor, {"x-queue": queue_of(actor)})
    schemas["results/list_folder.json"] = _schema(ListFolderResult, "list_folder result")
    schemas["results/list_folder_failure.json"] = _schema(ListFolderFailure, "list_folder failure")
    for event_type, (model, routing_key) in EVENTS.items():
        extra = {
            "x-exchange": EVENTS_EXCHANGE,
            "x-routing-key": routing_key,
            "x-schema-version": SCHEMA_VERSION,
        }
        # Events may gain optional fields within schema_version 1 (contract §6): a consumer validating
        # with the published schema must take them. docfleet's own models stay closed, for its tests.
        schemas[f"events/{event_type}.json"] = {
            **_schema(model, event_type, extra),
            "additionalProperties": True,
        }
    return {path: json.dumps(schema, indent=2, ensure_ascii=True) + "\n" for path, schema in schemas.items()}


def _schema(model: type[BaseModel], title: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body = model.model_json_schema()
    body.pop("title", None)
    return {"$schema": DIALECT, "title": title, **(extra or {}), **body}


def _as_sent(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope as a producer sends it: to one of the two queues, with no options. The others carry
    Dramatiq's bookkeeping on its own retries, which a producer's message must not."""
    properties = {
        **envelope["properties"],
        "queue_name": {
            "description": "The queue it is published to.",
            "enum": [COMMANDS_QUEUE, QUERIES_QUEUE],
        },
        "options": {"description": "Always {}.", "type": "object", "maxProperties": 0},
    }
    sent = {key: value for key, value in envelope.items() if key != "$defs"}
    return {**sent, "title": "Dramatiq message envelope, as a producer sends it", "properties": properties}


def stale(root: Path = SCHEMAS_DIR) -> list[str]:
    """Paths under ``root`` that differ from what the models generate, are missing, or are left over."""
    expected = generated()
    on_disk = {str(path.relative_to(root)) for path in root.rglob("*.json")}
    differing = [path for path, text in expected.items() if _read(root / path) != text]
    return sorted({*differing, *(on_disk - expected.keys())})


def write(root: Path = SCHEMAS_DIR) -> list[str]:
    """Writes every schema that changed and removes leftovers; returns the paths it touched."""
    touched = stale(root)
    expected = generated()
    for path in touched:
        target = root / path
        if path in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[path], encoding="utf-8")
        else:
            target.unlink()
    return touched


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report schemas that are not current")
    parser.add_argument("--out", type=Path, default=SCHEMAS_DIR, help="the schemas directory")
    options = parser.parse_args(argv)
    if options.check:
        outdated = stale(options.out)
        for path in outdated:
            print(f"not current: schemas/{path}", file=sys.stderr)
        return 1 if outdated else 0
    for path in write(options.out):
        print(f"wrote schemas/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
