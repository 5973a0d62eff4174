"""The chat WebSocket (``/api/v1/chat/ws``) and the tickets that open it.

A browser cannot set Authorization on a websocket, so it first asks ``POST /ws-tickets``
(bearer token) for a 30-second single-use ticket and connects with ``?ticket=``. The socket
listens on its user's Redis channel (`RealtimeBus`), so a message sent through any api replica
reaches every socket of its members; it closes with 4401 when its session is revoked.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import msgspec
from litestar import Controller, WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import BaseRouteHandler
from litestar.status_codes import HTTP_201_CREATED

from nexgate.chat.adapters.realtime import TICKET_TTL_S, RealtimeBus, SocketTickets
from nexgate.chat.adapters.sql.repository import SqlChatStore, SqlContactPolicy
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.security.revocation import SessionDenylist

CLOSE_UNAUTHORIZED = 4401


class TicketOut(msgspec.Struct, rename="camel"):
    ticket: str
    expires_in: int


class _Frame(msgspec.Struct, rename="camel"):
    type: str
    conversation_id: uuid.UUID | None = None


def realtime_handlers(runtime: Runtime) -> list[type[Controller] | BaseRouteHandler]:
    prefix = runtime.settings.redis_prefix
    tickets = SocketTickets(runtime.redis, prefix)
    bus = RealtimeBus(runtime.redis, prefix)

    class TicketController(Controller):
        path = "/api/v1/chat"
        tags = ["chat"]
        guards = [requires_principal]

        @post("/ws-tickets", status_code=HTTP_201_CREATED, summary="A 30 s single-use ticket for /chat/ws")
        async def issue_ticket(self, principal: NamedDependency[Principal]) -> TicketOut:
            ticket = await tickets.issue(principal.user_id, principal.session_id)
            return TicketOut(ticket=ticket, expires_in=TICKET_TTL_S)

    async def typing(user_id: uuid.UUID, frame: _Frame) -> str | None:
        """Relays a typing signal to the other members; the error code when refused."""
        if frame.conversation_id is None:
            return "invalid_frame"
        async with runtime.database().sessions() as session:
            store = SqlChatStore(session)
            if await store.get_member(frame.conversation_id, user_id) is None:
                return "conversation_not_found"
            others = [
                m.user_id for m in await store.members_of(frame.conversation_id) if m.user_id != user_id
            ]
            policy = SqlContactPolicy(session)
            for other in others:  # a block in either direction stops typing too
                if not await policy.may_contact(user_id, other):
                    return "messaging_not_allowed"
        if await bus.may_signal_typing(user_id, frame.conversation_id):  # else dropped silently
            event = {"type": "typing", "conversationId": str(frame.conversation_id), "userId": str(user_id)}
            await bus.publish(others, event)
        return None

    @websocket("/api/v1/chat/ws")
    async def chat_socket(socket: WebSocket[Any, Any, Any]) -> None:
        bound = await tickets.consume(socket.query_params.get("ticket", ""))
        if bound is None:
            await socket.close(code=CLOSE_UNAUTHORIZED, reason="invalid_ticket")
            return
        user_id, session_id = bound
        denylist: SessionDenylist = socket.app.state.session_denylist
        if await denylist.is_revoked(session_id):
            await socket.close(code=CLOSE_UNAUTHORIZED, reason="session_revoked")
            return
        pubsub = await bus.subscribe(user_id)
        try:
            await socket.accept()
            await socket.send_json({"type": "ready", "userId": str(user_id)})
            async with anyio.create_task_group() as group:

                async def pump() -> None:
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is None or message.get("type") != "message":
                            continue
                        data: bytes = message["data"]
                        event = msgspec.json.decode(data)
                        if event.get("type") == "session.revoked":
                            if event.get("sessionId") == str(session_id):
                                await socket.close(code=CLOSE_UNAUTHORIZED, reason="session_revoked")
                                group.cancel_scope.cancel()
                                return
                            continue
                        await socket.send_text(data.decode())

                group.start_soon(pump)
                try:
                    while True:
                        raw = await socket.receive_data(mode="text")
                        try:
                            frame = msgspec.json.decode(raw, type=_Frame)
                        except (msgspec.ValidationError, msgspec.DecodeError):
                            await socket.send_json({"type": "error", "code": "invalid_frame"})
                            continue
                        error = await typing(user_id, frame) if frame.type == "typing" else "unknown_type"
                        if error is not None:
                            await socket.send_json({"type": "error", "code": error})
                except WebSocketDisconnect:
                    pass
                group.cancel_scope.cancel()
        finally:
            await pubsub.aclose()

    return [TicketController, chat_socket]
