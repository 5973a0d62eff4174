"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.http.schemas import (
    ConversationOut,
    EditIn,
    MemberSettingsIn,
    MessageOut,
    MessagePage,
    OpenConversationIn,
    ReactionIn,
    ReadIn,
    SendIn,
    UnreadOut,
)
from nexgate.chat.adapters.media import UnavailableMediaGateway
from nexgate.chat.adapters.realtime import RealtimeBus
from nexgate.chat.adapters.sql.models import tables
from nexgate.chat.adapters.sql.repository import SqlChatStore, SqlContactPolicy
from nexgate.chat.application import chat as use_cases
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.http.ratelimit import rate_limit
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.sql.outbox import SqlOutbox

_CURSOR_TYPES = (datetime, uuid.UUID)
SEND_LIMIT = 20
SEND_WINDOW_S = 10.0


class ConversationController(Controller):
    path = "/api/v1/chat"
    tags = ["chat"]
    guards = [requires_principal]

    @post("/conversations", summary="Open (or find) the direct conversation with a user")
    async def open(
        self,
        data: JSONBody[OpenConversationIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> Response[ConversationOut]:
        view, created = await use_cases.open_direct(
            actor=principal.user_id,
            participant_ids=data.participant_ids,
            store=SqlChatStore(db_session),
            policy=SqlContactPolicy(db_session),
            clock=clock,
        )
        return Response(
            ConversationOut.of(view, clock.now()), status_code=HTTP_201_CREATED if created else HTTP_200_OK
        )

    @get("/conversations", summary="My conversations, most recent activity first")
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        clock: NamedDependency[Clock],
        folder: FromQuery[str] = "inbox",
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ConversationOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
        found = await use_cases.list_conversations(
            actor=principal.user_id,
            folder=folder,
            after=after,
            limit=size,
            store=SqlChatStore(db_session),  # type: ignore[arg-type]
        )
        page = Page.from_rows(
            found, size, key=lambda v: (v.conversation.last_activity_at, v.conversation.id), codec=cursors
        )
        now = clock.now()
        return Page(items=[ConversationOut.of(v, now) for v in page.items], next_cursor=page.next_cursor)

    @get("/conversations/{conversation_id:uuid}", summary="One of my conversations")
    async def read(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> ConversationOut:
        view = await use_cases.get_conversation(
            actor=principal.user_id, conversation_id=conversation_id, store=SqlChatStore(db_session)
        )
        return ConversationOut.of(view, clock.now())

    @patch("/conversations/{conversation_id:uuid}/me", summary="Archive, mute or pin for me")
    async def update_me(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[MemberSettingsIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> ConversationOut:
        view = await use_cases.update_my_settings(
            actor=principal.user_id, conversation_id=conversation_id, changes=data.changes(),
            store=SqlChatStore(db_session),
        )  # fmt: skip
        return ConversationOut.of(view, clock.now())

    @delete(
        "/conversations/{conversation_id:uuid}/me", summary="Delete the chat for me (until a new message)"
    )
    async def clear_me(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await use_cases.clear_for_me(
            actor=principal.user_id, conversation_id=conversation_id, store=SqlChatStore(db_session)
        )

    async def _respond(
        self,
        conversation_id: uuid.UUID,
        accept: bool,
        principal: Principal,
        db_session: AsyncSession,
        clock: Clock,
    ) -> ConversationOut:
        view = await use_cases.respond_to_request(
            actor=principal.user_id, conversation_id=conversation_id, accept=accept,
            store=SqlChatStore(db_session), outbox=SqlOutbox(db_session, tables),
        )  # fmt: skip
        return ConversationOut.of(view, clock.now())

    @post("/conversations/{conversation_id:uuid}/accept", status_code=200, summary="Accept a message request")
    async def accept(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> ConversationOut:
        return await self._respond(conversation_id, True, principal, db_session, clock)

    @post(
        "/conversations/{conversation_id:uuid}/decline", status_code=200, summary="Decline a message request"
    )
    async def decline(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> ConversationOut:
        return await self._respond(conversation_id, False, principal, db_session, clock)

    @post(
        "/conversations/{conversation_id:uuid}/messages",
        guards=[rate_limit("chat.send", limit=SEND_LIMIT, window_s=SEND_WINDOW_S)],
        summary="Send a message (a retry with the same clientMessageId answers 200 with the original)",
    )
    async def send(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[SendIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        chat_realtime: NamedDependency[RealtimeBus],
    ) -> Response[MessageOut]:
        if not 1 <= len(data.client_message_id) <= 64:
            raise ValidationFailed("clientMessageId holds 1 to 64 characters.", code="validation_failed")
        sent = await use_cases.send_message(
            actor=principal.user_id,
            conversation_id=conversation_id,
            client_message_id=data.client_message_id,
            text=data.text,
            media_file_ids=data.media_file_ids,
            reply_to_message_id=data.reply_to_message_id,
            store=SqlChatStore(db_session),
            policy=SqlContactPolicy(db_session),
            media=UnavailableMediaGateway(),
            outbox=SqlOutbox(db_session, tables),
            clock=clock,
        )
        out = MessageOut.of(sent.message)
        if not sent.created:
            return Response(out, status_code=HTTP_200_OK)
        # Every member's sockets (the sender's other devices too), after the commit: the
        # SQLAlchemy plugin commits before the response starts; background tasks run after it.
        members = await SqlChatStore(db_session).members_of(conversation_id)
        event = {"type": "message.created", "data": msgspec.to_builtins(out)}
        return Response(
            out,
            status_code=HTTP_201_CREATED,
            background=BackgroundTask(chat_realtime.publish, [m.user_id for m in members], event),
        )

    @get("/conversations/{conversation_id:uuid}/messages", summary="Messages by seq (before=, after=)")
    async def messages(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        before: FromQuery[int | None] = None,
        after: FromQuery[int | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> MessagePage:
        size = validate_limit(limit, default=50)
        found = list(
            await use_cases.list_messages(
                actor=principal.user_id,
                conversation_id=conversation_id,
                before=before,
                after=after,
                limit=size,
                store=SqlChatStore(db_session),
            )
        )
        has_more = len(found) > size
        if has_more:
            found = found[:size] if after is not None else found[1:]
        return MessagePage(items=[MessageOut.of(m) for m in found], has_more=has_more)

    @post("/conversations/{conversation_id:uuid}/read", status_code=200, summary="Mark read up to a seq")
    async def mark_read(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[ReadIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, int]:
        member = await use_cases.mark_read(
            actor=principal.user_id, conversation_id=conversation_id, up_to_seq=data.up_to_seq,
            store=SqlChatStore(db_session),
        )  # fmt: skip
        return {"lastReadSeq": member.last_read_seq, "unreadCount": member.unread_count}

    @get("/unread", summary="My unread totals")
    async def unread(
        self, principal: NamedDependency[Principal], db_session: NamedDependency[AsyncSession]
    ) -> UnreadOut:
        return UnreadOut.of(await use_cases.unread(actor=principal.user_id, store=SqlChatStore(db_session)))


class MessageController(Controller):
    path = "/api/v1/chat/messages"
    tags = ["chat"]
    guards = [requires_principal]

    @patch("/{message_id:uuid}", summary="Edit my message (15 minutes)")
    async def edit(
        self,
        message_id: FromPath[uuid.UUID],
        data: JSONBody[EditIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> MessageOut:
        message = await use_cases.edit_message(
            actor=principal.user_id,
            message_id=message_id,
            text=data.text,
            store=SqlChatStore(db_session),
            clock=clock,
        )
        return MessageOut.of(message)

    @delete("/{message_id:uuid}", summary="Delete a message for me, or my message for everyone (24 hours)")
    async def remove(
        self,
        message_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        delete_scope: Annotated[str, QueryParameter(name="scope")] = "everyone",
    ) -> None:
        if delete_scope == "me":
            await use_cases.delete_for_me(
                actor=principal.user_id, message_id=message_id, store=SqlChatStore(db_session), clock=clock
            )
            return
        if delete_scope != "everyone":
            raise ValidationFailed("scope is me or everyone.", code="validation_failed")
        await use_cases.delete_for_everyone(
            actor=principal.user_id, message_id=message_id, store=SqlChatStore(db_session),
            outbox=SqlOutbox(db_session, tables), clock=clock,
        )  # fmt: skip

    @put("/{message_id:uuid}/reaction", summary="Set my reaction (replaces the previous one)")
    async def react(
        self,
        message_id: FromPath[uuid.UUID],
        data: JSONBody[ReactionIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> MessageOut:
        message = await use_cases.react(
            actor=principal.user_id, message_id=message_id, emoji=data.emoji, store=SqlChatStore(db_session),
            policy=SqlContactPolicy(db_session), clock=clock,
        )  # fmt: skip
        return MessageOut.of(message)

    @delete("/{message_id:uuid}/reaction", summary="Remove my reaction")
    async def unreact(
        self,
        message_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> None:
        await use_cases.react(
            actor=principal.user_id, message_id=message_id, emoji=None, store=SqlChatStore(db_session),
            policy=SqlContactPolicy(db_session), clock=clock,
        )  # fmt: skip
