"""The authenticated caller, as every use case receives it."""

from __future__ import annotations

import uuid

import msgspec


class Principal(msgspec.Struct, frozen=True):
    """Who is acting: taken from a verified access token, never from the request body."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    roles: frozenset[str] = frozenset()
    #: The token's ``jti``: lets logs and audits tie an action to one token.
    token_id: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles
