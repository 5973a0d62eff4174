"""Every message contract follows the rules of ARCHITECTURE.md section 3.

- its tag is ``<context>.<snake_fact>.v<N>`` and lives in ``nexgate.contracts.<context>``;
- it is a frozen, kw-only msgspec Struct with ``id`` (UUID) and ``occurred_at`` (datetime);
- it survives a JSON round trip, alone and as a member of the union of every contract;
- the checked-in AsyncAPI documents (tests/contract/test_asyncapi.py keeps them fresh)
  describe every contract of the contexts they host.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Union

import msgspec
import pytest
from polyfactory.factories.msgspec_factory import MsgspecFactory

import nexgate.contracts
from nexgate.contracts import Contract, registered_contracts
from nexgate.kernel.contexts import select_contexts

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO / "contracts" / "asyncapi"
#: Snapshot file -> the NEXGATE_CONTEXTS it was generated with (as in test_asyncapi.py).
DOCUMENTS = {"nexgate.json": "all", "skeleton.json": "skeleton"}

TAG = re.compile(
    r"^(?P<context>[a-z][a-z0-9_]*)\.(?P<fact>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)$"
)


def _import_every_contract_module() -> dict[str, type[Contract]]:
    for module in pkgutil.walk_packages(nexgate.contracts.__path__, "nexgate.contracts."):
        importlib.import_module(module.name)
    return registered_contracts()


CONTRACTS = _import_every_contract_module()


def test_there_are_contracts() -> None:
    assert "skeleton.note_created.v1" in CONTRACTS


@pytest.mark.parametrize("tag", sorted(CONTRACTS))
def test_tag_names_a_fact_of_the_module_context(tag: str) -> None:
    cls = CONTRACTS[tag]
    match = TAG.match(tag)
    assert match, f"{cls.__qualname__}: tag {tag!r} is not <context>.<snake_fact>.v<N>"
    context = match["context"]
    assert cls.__module__ == f"nexgate.contracts.{context}", (
        f"{cls.__qualname__} ({tag}) lives in {cls.__module__}; a {context} fact belongs in "
        f"nexgate.contracts.{context}"
    )
    assert cls.publisher_context() == context
    assert cls.tag() == tag


@pytest.mark.parametrize("tag", sorted(CONTRACTS))
def test_is_a_frozen_kw_only_struct_with_id_and_time(tag: str) -> None:
    cls = CONTRACTS[tag]
    assert issubclass(cls, msgspec.Struct)
    assert issubclass(cls, Contract)
    assert cls.__struct_config__.frozen, f"{cls.__qualname__} must be frozen"
    parameters = inspect.signature(cls).parameters.values()
    positional = [p.name for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    # msgspec does not inherit kw_only for a subclass's own fields.
    assert not positional, f"{cls.__qualname__}: pass kw_only=True (positional fields: {positional})"
    fields = {f.name: f.type for f in msgspec.structs.fields(cls)}
    assert fields.get("id") is uuid.UUID
    assert fields.get("occurred_at") is datetime


@pytest.mark.parametrize("tag", sorted(CONTRACTS))
def test_round_trips_through_json(tag: str) -> None:
    cls = CONTRACTS[tag]
    message = MsgspecFactory.create_factory(cls).build()
    wire = msgspec.json.encode(message)

    assert json.loads(wire)["type"] == tag
    assert msgspec.json.decode(wire, type=cls) == message
    # The tag alone picks the class out of every contract (what a consumer of several does).
    every_contract = Union[tuple(CONTRACTS.values())]  # noqa: UP007
    decoded = msgspec.json.decode(wire, type=every_contract)
    assert type(decoded) is cls
    assert decoded == message


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, channel address) of every operation in an AsyncAPI 3 document."""
    return {
        (operation["action"], document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]["address"])
        for operation in document["operations"].values()
    }


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_asyncapi_document_sends_every_contract_of_its_contexts(name: str) -> None:
    document = json.loads((SNAPSHOTS / name).read_text())
    hosted = {spec.name for spec in select_contexts(DOCUMENTS[name])}
    documented = _documented(document)
    expected = {tag for tag, cls in CONTRACTS.items() if cls.publisher_context() in hosted}
    missing = sorted(tag for tag in expected if ("send", tag) not in documented)
    assert not missing, f"contracts/asyncapi/{name} does not describe {missing}: run `just docs`"
    if name == "skeleton.json":  # the template proves the check is not vacuous
        assert expected == {"skeleton.note_created.v1"}


def test_a_subclass_without_a_tag_is_not_a_contract() -> None:
    class NoteFacts(Contract):  # an abstract base with shared fields, not a message
        note_id: uuid.UUID

    assert NoteFacts not in registered_contracts().values()
    with pytest.raises(TypeError, match="no contract tag"):
        NoteFacts.tag()


def _run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter: contract classes cannot be removed from the registry."""
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_two_classes_with_one_tag_are_refused() -> None:
    result = _run_isolated(
        """
        from nexgate.contracts import Contract, registered_contracts

        class First(Contract, tag="skeleton.duplicate_fact.v1", kw_only=True):
            pass

        class Second(Contract, tag="skeleton.duplicate_fact.v1", kw_only=True):
            pass

        try:
            registered_contracts()
        except TypeError as error:
            print("refused:", error)
        else:
            raise SystemExit("registered_contracts() accepted a duplicate tag")
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused: contract tag 'skeleton.duplicate_fact.v1' is used by two classes" in result.stdout
