"""The `Contract` base: frozen, kw-only msgspec Structs with an id, a time and a tag.

The tag (``"commerce.order_paid.v1"``) is the routing key on the publishing
context's exchange and the key of the registry below; its first segment names
the publishing context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import uuid_utils


def _new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def _now() -> datetime:
    return datetime.now(UTC)


class Contract(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", rename="camel"):
    """Base of every message. Subclasses pass ``tag="<context>.<fact>.v<n>"``."""

    id: uuid.UUID = msgspec.field(default_factory=_new_id)
    occurred_at: datetime = msgspec.field(default_factory=_now)

    @classmethod
    def tag(cls) -> str:
        tag = _explicit_tag(cls)
        if tag is None:
            raise TypeError(f"{cls.__qualname__} has no contract tag")
        return tag

    @classmethod
    def publisher_context(cls) -> str:
        return cls.tag().split(".", 1)[0]

    # FastStream builds its AsyncAPI schema through pydantic, which cannot describe
    # msgspec Structs (ag2ai/faststream#2101). These two hooks let pydantic validate
    # by delegating to msgspec and describe the type with msgspec's own JSON schema.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, cls) else msgspec.convert(v, cls),
            serialization=core_schema.plain_serializer_function_ser_schema(msgspec.to_builtins),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        _, defs = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")

        def inline(node: Any) -> Any:  # pydantic cannot follow msgspec's $defs
            if isinstance(node, dict):
                if "$ref" in node:
                    return inline(defs[node["$ref"].rsplit("/", 1)[1]])
                return {k: inline(v) for k, v in node.items()}
            if isinstance(node, list):
                return [inline(v) for v in node]
            return node

        return inline(defs[cls.__name__])


def _explicit_tag(cls: type[Contract]) -> str | None:
    """The ``tag=`` a class passed, or None.

    With ``tag_field`` set, msgspec tags a class that passes no tag with its own class
    name; such a class (an abstract base with shared fields) is not a contract.
    """
    tag = cls.__struct_config__.tag
    return tag if isinstance(tag, str) and tag != cls.__name__ else None


def registered_contracts() -> dict[str, type[Contract]]:
    """Every concrete contract class imported so far, by tag.

    Built from the subclass tree rather than a side registry: msgspec applies
    the ``tag=`` option after ``__init_subclass__`` runs, so classes cannot
    register themselves there.
    """
    found: dict[str, type[Contract]] = {}
    pending: list[type[Contract]] = list(Contract.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        tag = _explicit_tag(cls)
        if tag is not None:
            if tag in found and found[tag] is not cls:
                raise TypeError(f"contract tag {tag!r} is used by two classes")
            found[tag] = cls
    return found


def contract_for(tag: str) -> type[Contract]:
    """The class registered for ``tag``; KeyError when no imported module defines it."""
    return registered_contracts()[tag]
