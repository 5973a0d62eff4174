"""Thin controllers: decode, call a use case, encode; announce the unit's events after commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.http.schemas import (
    ConversationOut,
    DeliveredIn,
    EditIn,
    EventOut,
    MemberSettingsIn,
    MessageOut,
    MessagePage,
    OpenConversationIn,
    PresenceOut,
    ReactionIn,
    ReadIn,
    SendIn,
    SettingsIn,
    SettingsOut,
    SyncOut,
    UnreadOut,
)
from nexgate.chat.adapters.media import DEFAULT_VARIANT
from nexgate.chat.adapters.wiring import ChatWiring, Unit
from nexgate.chat.application import chat as use_cases
from nexgate.chat.domain.model import ConversationView
from nexgate.chat.settings import ChatSettings
from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.http.ratelimit import rate_limit
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal

_CURSOR_TYPES = (datetime, uuid.UUID)
# Read once at import: the guard below is built with the class.
_SETTINGS = ChatSettings()
T = TypeVar("T")


def announced(content: T, unit: Unit, wiring: ChatWiring, status: int = HTTP_200_OK) -> Response[T]:
    """The response, and after the commit (the SQLAlchemy plugin commits before the response
    starts; background tasks run after it) a notice per appended event on its user's channel."""
    background = BackgroundTask(wiring.bus.publish_events, list(unit.events.appended))
    return Response(content, status_code=status, background=background if unit.events.appended else None)


async def conversation_out(view: ConversationView, unit: Unit, wiring: ChatWiring) -> ConversationOut:
    members = [view.me, *([view.other] if view.other else [])]
    visible = await use_cases.read_visible(unit.store, members)
    return ConversationOut.of(view, wiring.clock.now(), visible)


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
        chat: NamedDependency[ChatWiring],
    ) -> Response[ConversationOut]:
        unit = chat.unit(db_session)
        view, created = await use_cases.open_direct(
            actor=principal.user_id, participant_ids=data.participant_ids, store=unit.store,
            policy=unit.policy, limiter=chat.limiter, clock=chat.clock,
        )  # fmt: skip
        out = await conversation_out(view, unit, chat)
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/conversations", summary="My conversations, most recent activity first")
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        chat: NamedDependency[ChatWiring],
        folder: FromQuery[str] = "inbox",
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ConversationOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
        unit = chat.unit(db_session)
        found = await use_cases.list_conversations(
            actor=principal.user_id, folder=folder, after=after, limit=size, store=unit.store
        )
        page = Page.from_rows(
            found, size, key=lambda v: (v.conversation.last_activity_at, v.conversation.id), codec=cursors
        )
        return Page(
            items=[await conversation_out(v, unit, chat) for v in page.items], next_cursor=page.next_cursor
        )

    @get("/conversations/{conversation_id:uuid}", summary="One of my conversations")
    async def read(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> ConversationOut:
        unit = chat.unit(db_session)
        view = await use_cases.get_conversation(
            actor=principal.user_id, conversation_id=conversation_id, store=unit.store
        )
        return await conversation_out(view, unit, chat)

    @patch("/conversations/{conversation_id:uuid}/me", summary="Archive, mute or pin for me")
    async def update_me(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[MemberSettingsIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[ConversationOut]:
        unit = chat.unit(db_session)
        view = await use_cases.update_my_settings(
            actor=principal.user_id, conversation_id=conversation_id, changes=data.changes(),
            store=unit.store, events=unit.events,
        )  # fmt: skip
        return announced(await conversation_out(view, unit, chat), unit, chat)

    @delete(
        "/conversations/{conversation_id:uuid}/me",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete the chat for me (until a new message)",
    )
    async def clear_me(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[None]:
        unit = chat.unit(db_session)
        await use_cases.clear_for_me(
            actor=principal.user_id, conversation_id=conversation_id, store=unit.store, events=unit.events
        )
        return announced(None, unit, chat, HTTP_204_NO_CONTENT)

    async def _respond(
        self, conversation_id: uuid.UUID, accept: bool, principal: Principal, db_session: AsyncSession,
        chat: ChatWiring,
    ) -> Response[ConversationOut]:  # fmt: skip
        unit = chat.unit(db_session)
        view = await use_cases.respond_to_request(
            actor=principal.user_id, conversation_id=conversation_id, accept=accept,
            store=unit.store, outbox=unit.outbox, events=unit.events,
        )  # fmt: skip
        return announced(await conversation_out(view, unit, chat), unit, chat)

    @post("/conversations/{conversation_id:uuid}/accept", status_code=200, summary="Accept a message request")
    async def accept(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[ConversationOut]:
        return await self._respond(conversation_id, True, principal, db_session, chat)

    @post(
        "/conversations/{conversation_id:uuid}/decline", status_code=200, summary="Decline a message request"
    )
    async def decline(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[ConversationOut]:
        return await self._respond(conversation_id, False, principal, db_session, chat)

    @post(
        "/conversations/{conversation_id:uuid}/messages",
        guards=[rate_limit("chat.send", limit=_SETTINGS.send_limit, window_s=_SETTINGS.send_window_s)],
        summary="Send a message (a retry with the same clientMessageId answers 200 with the original)",
    )
    async def send(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[SendIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[MessageOut]:
        unit = chat.unit(db_session)
        sent = await send(chat, unit, principal.user_id, conversation_id, data)
        statuses = await use_cases.statuses_of(unit.store, principal.user_id, [sent.message])
        out = MessageOut.of(sent.message, statuses.get(sent.message.id))
        return announced(out, unit, chat, HTTP_201_CREATED if sent.created else HTTP_200_OK)

    @get("/conversations/{conversation_id:uuid}/messages", summary="Messages by seq (before=, after=)")
    async def messages(
        self,
        conversation_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
        before: FromQuery[int | None] = None,
        after: FromQuery[int | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> MessagePage:
        size = validate_limit(limit, default=50)
        found = await use_cases.list_messages(
            actor=principal.user_id, conversation_id=conversation_id, before=before, after=after, limit=size,
            store=chat.unit(db_session).store,
        )  # fmt: skip
        items = found.messages
        has_more = len(items) > size
        if has_more:
            items = items[:size] if after is not None else items[1:]
        return MessagePage(
            items=[MessageOut.of(m, found.statuses.get(m.id)) for m in items], has_more=has_more
        )

    @post("/conversations/{conversation_id:uuid}/read", status_code=200, summary="Mark read up to a seq")
    async def mark_read(
        self,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[ReadIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[dict[str, int]]:
        unit = chat.unit(db_session)
        member = await use_cases.mark_read(
            actor=principal.user_id, conversation_id=conversation_id, up_to_seq=data.up_to_seq,
            store=unit.store, events=unit.events,
        )  # fmt: skip
        return announced(
            {"lastReadSeq": member.last_read_seq, "unreadCount": member.unread_count}, unit, chat
        )

    @post("/delivered", status_code=200, summary="A device received my events up to a userSeq")
    async def delivered(
        self,
        data: JSONBody[DeliveredIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[None]:
        unit = chat.unit(db_session)
        await use_cases.mark_delivered(
            actor=principal.user_id, up_to_user_seq=data.up_to_user_seq, store=unit.store, events=unit.events
        )
        return announced(None, unit, chat, HTTP_204_NO_CONTENT)

    @get("/unread", summary="My unread totals")
    async def unread(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> UnreadOut:
        return UnreadOut.of(
            await use_cases.unread(actor=principal.user_id, store=chat.unit(db_session).store)
        )

    @get("/sync", summary="My events after a cursor (410 cursor_expired once they were purged)")
    async def sync(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
        since: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> SyncOut:
        size = validate_limit(limit, default=100)
        raw = since if since is not None else (cursor or "0")
        if not raw.isdigit() or len(raw) > 18:
            raise ValidationFailed(
                "The cursor is a number given by sync or a heartbeat.", code="invalid_cursor"
            )
        after = int(raw)
        log = chat.unit(db_session).events
        latest = await log.latest(principal.user_id)
        rows = await log.since(principal.user_id, after, size + 1)
        await use_cases.check_cursor(latest=latest, since=after, first_seq=rows[0].user_seq if rows else None)
        has_more = len(rows) > size
        rows = rows[:size]
        return SyncOut(
            events=[
                EventOut(user_seq=r.user_seq, type=r.type, data=r.payload, created_at=r.created_at)
                for r in rows
            ],
            next_cursor=str(rows[-1].user_seq if rows else after),
            has_more=has_more,
        )

    @get("/settings", summary="My chat settings")
    async def get_settings(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> SettingsOut:
        found = await chat.unit(db_session).store.read_receipts([principal.user_id])
        return SettingsOut(read_receipts=found[principal.user_id])

    @patch("/settings", summary="Change my chat settings (readReceipts)")
    async def patch_settings(
        self,
        data: JSONBody[SettingsIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> SettingsOut:
        store = chat.unit(db_session).store
        if data.read_receipts is not None:
            await store.set_read_receipts(principal.user_id, data.read_receipts)
        found = await store.read_receipts([principal.user_id])
        return SettingsOut(read_receipts=found[principal.user_id])

    @get("/presence", summary="Online state and last seen of people I share a conversation with")
    async def presence(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
        user_ids: Annotated[str, QueryParameter(name="userIds")],
    ) -> list[PresenceOut]:
        try:
            wanted = list(dict.fromkeys(uuid.UUID(u) for u in user_ids.split(",") if u))
        except ValueError:
            raise ValidationFailed(
                "userIds is a comma-separated list of ids.", code="validation_failed"
            ) from None
        if not 1 <= len(wanted) <= 100:
            raise ValidationFailed("Ask for 1 to 100 users.", code="validation_failed")
        unit = chat.unit(db_session)
        visible = await use_cases.presence_visible(
            actor=principal.user_id, user_ids=wanted, store=unit.store, policy=unit.policy
        )
        online = await chat.presence.online(visible)
        seen = await chat.presence.last_seen(visible)
        return [
            PresenceOut(user_id=u, online=u in online, last_seen_at=seen.get(u) if u in visible else None)
            for u in wanted
        ]


async def send(
    chat: ChatWiring, unit: Unit, actor: uuid.UUID, conversation_id: uuid.UUID, data: SendIn
) -> Any:
    """The one send path for HTTP and the socket's ``send`` frame."""
    return await use_cases.send_message(
        actor=actor, conversation_id=conversation_id, client_message_id=data.client_message_id,
        text=data.text, media_file_ids=data.media_file_ids, reply_to_message_id=data.reply_to_message_id,
        store=unit.store, policy=unit.policy, media=chat.media, outbox=unit.outbox, events=unit.events,
        presence=chat.presence, clock=chat.clock,
    )  # fmt: skip


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
        chat: NamedDependency[ChatWiring],
    ) -> Response[MessageOut]:
        unit = chat.unit(db_session)
        message = await use_cases.edit_message(
            actor=principal.user_id, message_id=message_id, text=data.text, store=unit.store,
            events=unit.events, clock=chat.clock,
        )  # fmt: skip
        return announced(MessageOut.of(message), unit, chat)

    @delete(
        "/{message_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a message for me, or my message for everyone (24 hours)",
    )
    async def remove(
        self,
        message_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
        delete_scope: Annotated[str, QueryParameter(name="scope")] = "everyone",
    ) -> Response[None]:
        unit = chat.unit(db_session)
        if delete_scope == "me":
            await use_cases.delete_for_me(
                actor=principal.user_id, message_id=message_id, store=unit.store, events=unit.events,
                clock=chat.clock,
            )  # fmt: skip
        elif delete_scope == "everyone":
            await use_cases.delete_for_everyone(
                actor=principal.user_id, message_id=message_id, store=unit.store, outbox=unit.outbox,
                events=unit.events, media=chat.media, clock=chat.clock,
            )  # fmt: skip
        else:
            raise ValidationFailed("scope is me or everyone.", code="validation_failed")
        return announced(None, unit, chat, HTTP_204_NO_CONTENT)

    async def _react(
        self, message_id: uuid.UUID, emoji: str | None, principal: Principal, db_session: AsyncSession,
        chat: ChatWiring,
    ) -> Response[MessageOut]:  # fmt: skip
        unit = chat.unit(db_session)
        message = await use_cases.react(
            actor=principal.user_id, message_id=message_id, emoji=emoji, store=unit.store,
            policy=unit.policy, events=unit.events, clock=chat.clock,
        )  # fmt: skip
        return announced(MessageOut.of(message), unit, chat)

    @put("/{message_id:uuid}/reaction", summary="Set my reaction (replaces the previous one)")
    async def react(
        self,
        message_id: FromPath[uuid.UUID],
        data: JSONBody[ReactionIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[MessageOut]:
        return await self._react(message_id, data.emoji, principal, db_session, chat)

    @delete("/{message_id:uuid}/reaction", status_code=HTTP_204_NO_CONTENT, summary="Remove my reaction")
    async def unreact(
        self,
        message_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
    ) -> Response[None]:
        response = await self._react(message_id, None, principal, db_session, chat)
        return Response(None, status_code=HTTP_204_NO_CONTENT, background=response.background)

    @get(
        "/{message_id:uuid}/media/{file_id:uuid}",
        summary="Redirect to a fresh signed URL of an attachment (members only)",
    )
    async def media(
        self,
        message_id: FromPath[uuid.UUID],
        file_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        chat: NamedDependency[ChatWiring],
        variant: FromQuery[str | None] = None,
    ) -> Redirect:
        item = await use_cases.attachment(
            actor=principal.user_id, message_id=message_id, file_id=file_id, store=chat.unit(db_session).store
        )
        url = await chat.media.signed_url(file_id, variant or DEFAULT_VARIANT.get(item.kind, "medium"))
        return Redirect(url, status_code=302, headers={"Cache-Control": "no-store"})
