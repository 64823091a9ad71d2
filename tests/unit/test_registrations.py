"""The hand-kept lists a new command must join agree with the contract's models, so that one left out fails
here rather than in production: the models of ``workers.contract`` are the source (docs/contributing.md)."""

from __future__ import annotations

import inspect
from typing import Any, get_args, get_type_hints

from domain.commands import Command
from domain.use_cases.dispatch import HANDLERS, rejection
from workers.actors import ACTORS
from workers.client import DocfleetClient
from workers.contract import ACTOR_KWARGS, COMMANDS, ID_FIELDS, REJECTION_IDS
from workers.contract_fields import ID_PATTERN

CLIENT_ONLY = {"message_id", "timeout"}  # the client's own options, not the message's


def test_every_command_has_its_handler() -> None:
    assert set(HANDLERS) == set(get_args(Command))


def test_every_command_actor_reads_as_a_command_with_a_handler() -> None:
    read_as = {get_type_hints(model.to_domain)["return"] for model in COMMANDS.values()}
    assert read_as == set(HANDLERS)


def test_every_actor_of_the_contract_is_an_actor_of_the_workers() -> None:
    assert sorted(actor.actor_name for actor in ACTORS) == sorted(ACTOR_KWARGS)


def _id_arguments(model: Any) -> set[str]:
    properties = model.model_json_schema()["properties"]
    return {
        name
        for name, schema in properties.items()
        if ID_PATTERN in {option.get("pattern") for option in [schema, *schema.get("anyOf", [])]}
    }


def test_the_ids_logged_with_a_message_are_every_id_argument_of_every_actor() -> None:
    """``ID_FIELDS`` names the ids a message's log lines carry: an id argument left out of it would
    silently be missing from them."""
    id_arguments = set().union(*(_id_arguments(model) for model in ACTOR_KWARGS.values()))

    assert id_arguments, "the schemas name no id argument: the pattern test above went wrong"
    assert set(ID_FIELDS) == id_arguments


def test_the_client_has_a_method_per_actor_taking_its_arguments() -> None:
    for actor, model in ACTOR_KWARGS.items():
        method = getattr(DocfleetClient, actor)
        parameters = set(inspect.signature(method).parameters) - {"self"} - CLIENT_ONLY
        assert parameters == set(model.model_fields), actor


def test_the_ids_a_rejection_names_are_those_the_rejection_takes() -> None:
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    taken = [name for name, p in inspect.signature(rejection).parameters.items() if p.kind == keyword_only]
    assert list(REJECTION_IDS) == taken
