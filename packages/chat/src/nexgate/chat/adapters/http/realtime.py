"""The chat WebSocket (``/api/v1/chat/ws``): authentication, frames, fan-out, backpressure.

Authentication: the access token in the ``Authorization`` header at the handshake (native
apps), or a first frame ``{"type":"auth","accessToken"}`` (or ``"ticket"`` from ``POST
/ws-tickets``) within 10 s (browsers). Credentials in the query string are refused (4401):
query strings end up in proxy and server logs.

Events come from the per-user log: each notice on the user's Redis channel carries its
``userSeq``; a socket that sees a gap reads the missing events from PostgreSQL before sending
the new one, and ``heartbeat {latestUserSeq}`` lets a client notice a notice that never came.
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import msgspec
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from litestar import Controller, Request, WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import BaseRouteHandler
from litestar.status_codes import HTTP_201_CREATED

from nexgate.chat.adapters.http.controllers import send as send_message
from nexgate.chat.adapters.http.schemas import MessageOut, SendIn
from nexgate.chat.adapters.realtime import TICKET_TTL_S, TYPING_TTL_S
from nexgate.chat.adapters.wiring import ChatWiring, Unit
from nexgate.chat.application import chat as use_cases
from nexgate.chat.domain.model import ACCEPTED
from nexgate.kernel.errors import DomainError, NotAuthenticated
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenVerifier

log = structlog.get_logger("nexgate.chat.ws")

CLOSE_UNAUTHORIZED = 4401
CLOSE_SESSION_REVOKED = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY = 1008
MAX_FRAME_BYTES = 64 * 1024
BAD_FRAMES_ALLOWED = 5
BAD_FRAMES_WINDOW_S = 60.0
QUERY_CREDENTIALS = {"ticket", "token", "access_token", "accesstoken", "authorization", "jwt"}


class TicketOut(msgspec.Struct, rename="camel"):
    ticket: str
    expires_in: int


class _Frame(msgspec.Struct, rename="camel"):
    type: str
    conversation_id: uuid.UUID | None = None
    access_token: str | None = None
    ticket: str | None = None
    state: str = "start"
    up_to_seq: int | None = None
    up_to_user_seq: int | None = None
    client_message_id: str | None = None
    text: str | None = None
    media_file_ids: list[uuid.UUID] = []
    reply_to_message_id: uuid.UUID | None = None


def token_expiry(token: str) -> float:
    """The ``exp`` of a token the verifier already accepted (so its payload is trusted)."""
    payload = token.split(".")[1]
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


@dataclass
class _Auth:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: float


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


@dataclass
class _Socket:
    socket: WebSocket[Any, Any, Any]
    auth: _Auth
    queue: MemoryObjectSendStream[bytes]
    last_user_seq: int
    bad_frames: deque[float] = field(default_factory=deque)
    reauth_sent: bool = False
    closing: _Closed | None = None
    stopped: anyio.Event = field(default_factory=anyio.Event)

    def stop(self, reason: _Closed) -> None:
        self.closing = reason
        self.stopped.set()

    def push(self, frame: bytes) -> None:
        try:
            self.queue.send_nowait(frame)
        except anyio.WouldBlock:
            # The client reads slower than its events arrive: they stay in the log, it resumes by sync.
            raise _Closed(CLOSE_TRY_AGAIN_LATER, "slow_consumer") from None

    def push_json(self, frame: dict[str, Any]) -> None:
        self.push(msgspec.json.encode(frame))


def realtime_handlers(chat: ChatWiring) -> list[type[Controller] | BaseRouteHandler]:
    settings = chat.settings
    database = chat.runtime.database()

    class TicketController(Controller):
        path = "/api/v1/chat"
        tags = ["chat"]
        guards = [requires_principal]

        @post(
            "/ws-tickets",
            status_code=HTTP_201_CREATED,
            summary="A 30 s single-use ticket for the first frame of /chat/ws",
        )
        async def issue_ticket(
            self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
        ) -> TicketOut:
            expires_at = token_expiry(request.scope["auth"])
            ticket = await chat.tickets.issue(principal.user_id, principal.session_id, expires_at)
            return TicketOut(ticket=ticket, expires_in=TICKET_TTL_S)

    async def verify(socket: WebSocket[Any, Any, Any], token: str) -> _Auth:
        verifier: TokenVerifier = socket.app.state.token_verifier
        principal = await verifier.verify(token)
        return _Auth(principal.user_id, principal.session_id, token_expiry(token))

    async def authenticate(socket: WebSocket[Any, Any, Any]) -> _Auth:
        principal = socket.scope.get("user")
        if isinstance(principal, Principal):  # the Authorization header (native apps)
            return _Auth(principal.user_id, principal.session_id, token_expiry(socket.scope["auth"]))
        with anyio.move_on_after(settings.auth_timeout_s):
            raw = await socket.receive_data(mode="text")
            try:
                frame = msgspec.json.decode(raw, type=_Frame)
            except (msgspec.ValidationError, msgspec.DecodeError):
                raise _Closed(CLOSE_UNAUTHORIZED, "auth_required") from None
            if frame.type != "auth":
                raise _Closed(CLOSE_UNAUTHORIZED, "auth_required")
            if frame.access_token:
                try:
                    return await verify(socket, frame.access_token)
                except NotAuthenticated:
                    raise _Closed(CLOSE_UNAUTHORIZED, "invalid_token") from None
            bound = await chat.tickets.consume(frame.ticket or "")
            if bound is None:
                raise _Closed(CLOSE_UNAUTHORIZED, "invalid_ticket")
            return _Auth(*bound)
        raise _Closed(CLOSE_AUTH_TIMEOUT, "auth_timeout")

    async def in_unit(work: Callable[[Unit], Awaitable[Any]]) -> Any:
        """One transaction; its events are announced after the commit, as over HTTP."""
        async with database.sessions() as session:
            async with session.begin():
                unit = chat.unit(session)
                result = await work(unit)
            await chat.bus.publish_events(unit.events.appended)
        return result

    async def typing(user_id: uuid.UUID, frame: _Frame) -> None:
        if frame.conversation_id is None or frame.state not in ("start", "stop"):
            raise DomainError("A typing frame names a conversation.", code="invalid_frame")
        conversation_id = frame.conversation_id
        async with database.sessions() as session:
            unit = chat.unit(session)
            if await unit.store.get_member(conversation_id, user_id) is None:
                raise DomainError("No such conversation.", code="conversation_not_found")
            members = await unit.store.members_of(conversation_id)
            others = [m.user_id for m in members if m.user_id != user_id]
            for other in others:  # a block in either direction stops typing too
                if not await unit.policy.may_contact(user_id, other):
                    raise DomainError("You cannot message this user.", code="messaging_not_allowed")
        if any(m.request_state != ACCEPTED for m in members):
            return  # nothing crosses a request
        if not await chat.bus.typing(user_id, conversation_id, start=frame.state == "start"):
            return  # over one per second: dropped silently
        event: dict[str, Any] = {
            "type": "typing",
            "conversationId": str(conversation_id),
            "userId": str(user_id),
            "state": frame.state,
        }
        if frame.state == "start":
            event["expiresAt"] = datetime.fromtimestamp(time.time() + TYPING_TTL_S, UTC).isoformat()
        await chat.bus.publish(others, event)

    async def announce_presence(user_id: uuid.UUID, online: bool) -> None:
        """A ``presence`` frame to the contacts' sockets when the user's first socket opens or
        the last one closes. Best effort, like typing: ``GET /presence`` stays the truth."""
        try:
            async with database.sessions() as session:
                unit = chat.unit(session)
                audience = await use_cases.presence_audience(
                    actor=user_id, store=unit.store, policy=unit.policy
                )
            if audience:
                frame: dict[str, Any] = {
                    "type": "presence",
                    "userId": str(user_id),
                    "online": online,
                    "lastSeenAt": None,
                }
                if not online:
                    frame["lastSeenAt"] = _iso(time.time())
                await chat.bus.publish(audience, frame)
        except Exception:
            log.exception("chat.presence.announce_failed")

    async def handle(conn: _Socket, frame: _Frame) -> None:
        user_id = conn.auth.user_id
        if frame.type == "ping":
            conn.push_json({"type": "pong"})
        elif frame.type == "typing":
            await typing(user_id, frame)
        elif frame.type == "send":
            if frame.conversation_id is None or frame.client_message_id is None:
                raise DomainError(
                    "A send frame names a conversation and a clientMessageId.", code="invalid_frame"
                )
            await chat.limiter.hit(
                "chat.send", f"u:{user_id}", limit=settings.send_limit, window_s=settings.send_window_s
            )
            data = SendIn(
                client_message_id=frame.client_message_id, text=frame.text,
                media_file_ids=frame.media_file_ids, reply_to_message_id=frame.reply_to_message_id,
            )  # fmt: skip
            conversation_id = frame.conversation_id
            sent = await in_unit(lambda unit: send_message(chat, unit, user_id, conversation_id, data))
            out = msgspec.to_builtins(MessageOut.of(sent.message))
            conn.push_json(
                {"type": "ack", "clientMessageId": frame.client_message_id, "messageId": out["id"],
                 "seq": out["seq"], "userSeq": sent.user_seq or None, "created": sent.created}
            )  # fmt: skip
        elif frame.type == "read":
            if frame.conversation_id is None or frame.up_to_seq is None:
                raise DomainError("A read frame names a conversation and upToSeq.", code="invalid_frame")
            conversation_id, up_to = frame.conversation_id, frame.up_to_seq
            await in_unit(
                lambda unit: use_cases.mark_read(
                    actor=user_id, conversation_id=conversation_id, up_to_seq=up_to, store=unit.store,
                    events=unit.events,
                )
            )  # fmt: skip
        elif frame.type == "delivered":
            if frame.up_to_user_seq is None:
                raise DomainError("A delivered frame carries upToUserSeq.", code="invalid_frame")
            up_to_user_seq = frame.up_to_user_seq
            await in_unit(
                lambda unit: use_cases.mark_delivered(
                    actor=user_id, up_to_user_seq=up_to_user_seq, store=unit.store, events=unit.events
                )
            )
        elif frame.type == "auth":
            if not frame.access_token:
                raise DomainError("Re-authenticate with accessToken.", code="invalid_frame")
            try:
                fresh = await verify(conn.socket, frame.access_token)
            except NotAuthenticated:
                raise DomainError("That token is not valid.", code="invalid_token") from None
            if fresh.user_id != conn.auth.user_id:
                raise _Closed(CLOSE_UNAUTHORIZED, "user_mismatch")
            conn.auth = fresh
            conn.reauth_sent = False
            conn.push_json({"type": "reauthed", "expiresAt": _iso(fresh.expires_at)})
        else:
            raise DomainError("Unknown frame type.", code="unknown_type")

    def bad_frame(conn: _Socket, code: str, client_message_id: str | None = None) -> None:
        now = time.monotonic()
        conn.bad_frames.append(now)
        while conn.bad_frames and conn.bad_frames[0] < now - BAD_FRAMES_WINDOW_S:
            conn.bad_frames.popleft()
        if len(conn.bad_frames) > BAD_FRAMES_ALLOWED:
            raise _Closed(CLOSE_POLICY, "too_many_bad_frames")
        conn.push_json({"type": "error", "code": code, "clientMessageId": client_message_id})

    async def reader(conn: _Socket) -> None:
        while True:
            raw = await conn.socket.receive_data(mode="text")
            if len(raw) > MAX_FRAME_BYTES:
                bad_frame(conn, "frame_too_large")
                continue
            try:
                frame = msgspec.json.decode(raw, type=_Frame)
            except (msgspec.ValidationError, msgspec.DecodeError):
                bad_frame(conn, "invalid_frame")
                continue
            try:
                await handle(conn, frame)
            except DomainError as exc:
                if exc.code in ("invalid_frame", "unknown_type", "invalid_token"):
                    bad_frame(conn, exc.code, frame.client_message_id)
                else:
                    conn.push_json(
                        {"type": "error", "code": exc.code, "clientMessageId": frame.client_message_id}
                    )

    def deliverer(conn: _Socket) -> Callable[[bytes], None]:
        """Called by the process's hub for each notice on the user's channel."""
        session_id = str(conn.auth.session_id)

        def deliver(data: bytes) -> None:
            if conn.closing is not None:
                return
            if b'"session.revoked"' in data[:40]:
                if msgspec.json.decode(data).get("sessionId") == session_id:
                    conn.stop(_Closed(CLOSE_SESSION_REVOKED, "session_revoked"))
                return
            try:
                conn.push(data)
            except _Closed as closed:
                conn.stop(closed)

        return deliver

    async def watch(conn: _Socket) -> None:
        await conn.stopped.wait()
        assert conn.closing is not None
        raise conn.closing

    async def latest_user_seq(user_id: uuid.UUID) -> int:
        async with database.sessions() as session:
            return await chat.unit(session).events.latest(user_id)

    async def writer(conn: _Socket, frames: MemoryObjectReceiveStream[bytes]) -> None:
        async for data in frames:
            if data.startswith(b'{"type":"event"'):
                user_seq = msgspec.json.decode(data)["userSeq"]
                if user_seq <= conn.last_user_seq:
                    continue  # already sent (a repaired gap, or a duplicate notice)
                if user_seq > conn.last_user_seq + 1:
                    # A notice was lost: the log has the missing events, in order.
                    async with database.sessions() as session:
                        missing = await chat.unit(session).events.since(
                            conn.auth.user_id, conn.last_user_seq, user_seq - conn.last_user_seq - 1
                        )
                    for row in missing:
                        frame = {
                            "type": "event",
                            "userSeq": row.user_seq,
                            "event": row.type,
                            "data": row.payload,
                        }
                        await conn.socket.send_text(msgspec.json.encode(frame).decode())
                conn.last_user_seq = user_seq
            await conn.socket.send_text(data.decode())

    async def ticker(conn: _Socket, socket_id: str) -> None:
        next_beat = time.monotonic() + settings.heartbeat_s
        while True:
            await anyio.sleep(min(1.0, settings.heartbeat_s))
            now = time.time()
            if now >= conn.auth.expires_at:
                raise _Closed(CLOSE_UNAUTHORIZED, "token_expired")
            if not conn.reauth_sent and now >= conn.auth.expires_at - settings.reauth_before_s:
                conn.reauth_sent = True
                conn.push_json({"type": "reauth_required", "expiresAt": _iso(conn.auth.expires_at)})
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + settings.heartbeat_s
                await chat.presence.touch(conn.auth.user_id, socket_id)
                conn.push_json(
                    {"type": "heartbeat", "latestUserSeq": await latest_user_seq(conn.auth.user_id)}
                )

    @websocket("/api/v1/chat/ws")
    async def chat_socket(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        try:
            if QUERY_CREDENTIALS & {k.lower() for k in socket.query_params}:
                raise _Closed(CLOSE_UNAUTHORIZED, "query_credentials_refused")
            auth = await authenticate(socket)
            denylist: SessionDenylist = socket.app.state.session_denylist
            if await denylist.is_revoked(auth.session_id):
                raise _Closed(CLOSE_UNAUTHORIZED, "session_revoked")
            if auth.expires_at <= time.time():
                raise _Closed(CLOSE_UNAUTHORIZED, "token_expired")
            await serve(socket, auth)
        except _Closed as closed:
            with contextlib.suppress(Exception), anyio.move_on_after(2):
                await socket.close(code=closed.code, reason=closed.reason)
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("chat.ws.failed")
            with contextlib.suppress(Exception), anyio.move_on_after(2):
                await socket.close(code=1011, reason="internal_error")

    async def serve(socket: WebSocket[Any, Any, Any], auth: _Auth) -> None:
        user_id = auth.user_id
        socket_id = uuid.uuid4().hex
        send_stream, receive_stream = anyio.create_memory_object_stream[bytes](settings.socket_queue)
        conn = _Socket(socket, auth, send_stream, 0)
        deliver = deliverer(conn)
        await chat.hub.join(user_id, deliver)
        try:
            first = not await chat.presence.online([user_id])
            await chat.presence.touch(user_id, socket_id)
            if first:
                await announce_presence(user_id, online=True)
            # Read after the subscription is confirmed: any later event reaches this socket.
            latest = conn.last_user_seq = await latest_user_seq(user_id)
            await socket.send_json({"type": "ready", "userId": str(user_id), "latestUserSeq": latest})
            closed: _Closed | None = None
            try:
                async with anyio.create_task_group() as group:

                    async def run(step: Awaitable[None]) -> None:
                        nonlocal closed
                        try:
                            await step
                        except _Closed as exc:
                            closed = exc
                        except WebSocketDisconnect:
                            pass
                        group.cancel_scope.cancel()

                    group.start_soon(run, watch(conn))
                    group.start_soon(run, writer(conn, receive_stream))
                    group.start_soon(run, ticker(conn, socket_id))
                    group.start_soon(run, reader(conn))
            finally:
                if closed is not None:
                    raise closed
        finally:
            await chat.presence.gone(user_id, socket_id)
            await chat.hub.leave(user_id, deliver)
            send_stream.close()
            receive_stream.close()
            if not await chat.presence.online([user_id]):
                await announce_presence(user_id, online=False)

    return [TicketController, chat_socket]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
